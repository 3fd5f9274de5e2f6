/* The custom AVIO over a file or memory. libavformat asks for at most
   CHUNK_BYTES at a time and seeks through the callbacks (mp4 readers jump to
   the index at the end), so the memory in use is one chunk whatever the size. */
#include "media_input.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#define CHUNK_BYTES 65536

static int read_memory(void *opaque, uint8_t *buf, int size)
{
  media_input *in = opaque;
  size_t left = in->size - in->pos;
  size_t n = (size_t)size < left ? (size_t)size : left;
  if (n == 0)
    return AVERROR_EOF;
  memcpy(buf, in->data + in->pos, n);
  in->pos += n;
  return (int)n;
}

static int64_t seek_memory(void *opaque, int64_t offset, int whence)
{
  media_input *in = opaque;
  int64_t base;
  switch (whence & ~AVSEEK_FORCE) {
  case AVSEEK_SIZE: return (int64_t)in->size;
  case SEEK_SET: base = 0; break;
  case SEEK_CUR: base = (int64_t)in->pos; break;
  case SEEK_END: base = (int64_t)in->size; break;
  default: return AVERROR(EINVAL);
  }
  if (offset < -base || offset > (int64_t)in->size - base)
    return AVERROR(EINVAL);
  in->pos = (size_t)(base + offset);
  return (int64_t)in->pos;
}

static int read_file(void *opaque, uint8_t *buf, int size)
{
  media_input *in = opaque;
  size_t n = fread(buf, 1, (size_t)size, in->file);
  if (n > 0)
    return (int)n;
  return ferror(in->file) ? AVERROR(EIO) : AVERROR_EOF;
}

static int64_t seek_file(void *opaque, int64_t offset, int whence)
{
  media_input *in = opaque;
  if ((whence & ~AVSEEK_FORCE) == AVSEEK_SIZE)
    return (int64_t)in->size;
  if (fseeko(in->file, (off_t)offset, whence & ~AVSEEK_FORCE) != 0)
    return AVERROR(errno);
  return (int64_t)ftello(in->file);
}

static int make_avio(media_input *in, int (*reader)(void *, uint8_t *, int),
                     int64_t (*seeker)(void *, int64_t, int), char *why, size_t why_size)
{
  unsigned char *chunk = av_malloc(CHUNK_BYTES);
  if (chunk)
    in->avio = avio_alloc_context(chunk, CHUNK_BYTES, 0, in, reader, NULL, seeker);
  if (!in->avio) {
    av_free(chunk);
    snprintf(why, why_size, "not enough memory to read audio");
    return -1;
  }
  return 0;
}

int media_input_open_memory(media_input *in, const void *data, size_t size, char *why, size_t why_size)
{
  memset(in, 0, sizeof *in);
  in->data = data;
  in->size = size;
  return make_avio(in, read_memory, seek_memory, why, why_size);
}

int media_input_open_file(media_input *in, const char *path, char *why, size_t why_size)
{
  struct stat st;
  memset(in, 0, sizeof *in);
  if (stat(path, &st) != 0) {
    snprintf(why, why_size, "cannot open it: %s", strerror(errno));
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, why_size, "not a regular file");
    return -1;
  }
  in->file = fopen(path, "rb");
  if (!in->file) {
    snprintf(why, why_size, "cannot open it: %s", strerror(errno));
    return -1;
  }
  in->size = (size_t)st.st_size;
  if (make_avio(in, read_file, seek_file, why, why_size) != 0) {
    media_input_close(in);
    return -1;
  }
  return 0;
}

void media_input_close(media_input *in)
{
  if (in->avio) {
    av_freep(&in->avio->buffer);
    avio_context_free(&in->avio);
  }
  if (in->file)
    fclose(in->file);
  in->file = NULL;
}
