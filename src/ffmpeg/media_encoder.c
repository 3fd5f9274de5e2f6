/* The encoder: float32 frames go through libswresample to the encoder's rate
   and sample format, a FIFO cuts them into the encoder's frame size, and the
   muxer writes into a growing block of memory through a custom AVIO that can
   seek (mp4 and flac go back to fill in their headers). */
#include "media_encoder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>

#define CHUNK_FRAMES 4096
#define AVIO_BYTES 65536
/* Encoders with a variable frame size (flac) get frames of this many samples. */
#define VARIABLE_FRAME_SIZE 4096
#define MAX_BITRATE 512000

const media_write_format media_write_formats[] = {
  {"flac", "flac", "flac", 0},
  {"mp3", "libmp3lame", "mp3", 64000},
  {"opus", "libopus", "ogg", 32000},
  {"aac", "aac", "ipod", 64000},
  {NULL, NULL, NULL, 0},
};

const media_write_format *media_write_format_find(const char *name)
{
  const media_write_format *f;
  for (f = media_write_formats; f->name; f++)
    if (strcmp(f->name, name) == 0)
      return f;
  return NULL;
}

int media_write_format_available(const media_write_format *format)
{
  return avcodec_find_encoder_by_name(format->encoder) != NULL &&
         av_guess_format(format->muxer, NULL, NULL) != NULL;
}

/* ---- the output in memory ---- */

typedef struct memory_output {
  unsigned char *data;
  size_t size, capacity, pos;
} memory_output;

static int write_memory(void *opaque, uint8_t *buf, int n)
{
  memory_output *m = opaque;
  size_t end = m->pos + (size_t)n;
  if (end > m->capacity) {
    size_t cap = m->capacity ? m->capacity * 2 : AVIO_BYTES;
    unsigned char *grown;
    while (cap < end)
      cap *= 2;
    grown = realloc(m->data, cap);
    if (!grown)
      return AVERROR(ENOMEM);
    m->data = grown;
    m->capacity = cap;
  }
  if (m->pos > m->size)
    memset(m->data + m->size, 0, m->pos - m->size);
  memcpy(m->data + m->pos, buf, (size_t)n);
  m->pos = end;
  if (end > m->size)
    m->size = end;
  return n;
}

static int64_t seek_memory(void *opaque, int64_t offset, int whence)
{
  memory_output *m = opaque;
  int64_t base;
  switch (whence & ~AVSEEK_FORCE) {
  case AVSEEK_SIZE: return (int64_t)m->size;
  case SEEK_SET: base = 0; break;
  case SEEK_CUR: base = (int64_t)m->pos; break;
  case SEEK_END: base = (int64_t)m->size; break;
  default: return AVERROR(EINVAL);
  }
  if (base + offset < 0)
    return AVERROR(EINVAL);
  m->pos = (size_t)(base + offset);
  return (int64_t)m->pos;
}

/* ---- one encoding ---- */

typedef struct encoding {
  const media_write_format *format;
  memory_output out;
  AVIOContext *avio;
  AVFormatContext *mux;
  AVStream *stream;
  AVCodecContext *codec;
  SwrContext *swr;
  AVAudioFifo *fifo;
  AVFrame *frame;
  AVPacket *packet;
  uint8_t **converted; /* swr's output, one chunk */
  int converted_room;
  int64_t next_pts;
  char *why;
  size_t why_size;
} encoding;

static int fail(encoding *e, const char *what, int code)
{
  char text[AV_ERROR_MAX_STRING_SIZE];
  av_strerror(code, text, sizeof text);
  snprintf(e->why, e->why_size, "%s: %s", what, text);
  return -1;
}

static int supported_rate(const AVCodec *codec, int rate)
{
  const int *r = codec->supported_samplerates;
  int best = 0, highest = 0;
  if (!r)
    return rate;
  for (; *r; r++) {
    if (*r == rate)
      return rate;
    if (*r > rate && (best == 0 || *r < best))
      best = *r;
    if (*r > highest)
      highest = *r;
  }
  return best ? best : highest;
}

static enum AVSampleFormat supported_sample_format(const AVCodec *codec)
{
  const enum AVSampleFormat *f;
  for (f = codec->sample_fmts; f && *f != AV_SAMPLE_FMT_NONE; f++)
    if (*f == AV_SAMPLE_FMT_FLT || *f == AV_SAMPLE_FMT_FLTP)
      return *f;
  return codec->sample_fmts ? codec->sample_fmts[0] : AV_SAMPLE_FMT_FLT;
}

static int takes_channels(const AVCodec *codec, unsigned channels)
{
  const AVChannelLayout *l = codec->ch_layouts;
  if (!l)
    return 1;
  for (; l->nb_channels; l++)
    if ((unsigned)l->nb_channels == channels)
      return 1;
  return 0;
}

static int open_codec(encoding *e, unsigned rate, unsigned channels, long bitrate)
{
  const AVCodec *codec = avcodec_find_encoder_by_name(e->format->encoder);
  int ret;
  if (!codec) {
    snprintf(e->why, e->why_size, "this FFmpeg has no %s encoder for %s", e->format->encoder, e->format->name);
    return -1;
  }
  if (!takes_channels(codec, channels)) {
    snprintf(e->why, e->why_size, "%s cannot hold %u channels; use to_channels first", e->format->name,
             channels);
    return -1;
  }
  e->codec = avcodec_alloc_context3(codec);
  if (!e->codec)
    return fail(e, "cannot encode", AVERROR(ENOMEM));
  e->codec->sample_rate = supported_rate(codec, (int)rate);
  e->codec->sample_fmt = supported_sample_format(codec);
  av_channel_layout_default(&e->codec->ch_layout, (int)channels);
  if (e->format->bitrate_per_channel) {
    long b = bitrate ? bitrate : e->format->bitrate_per_channel * (long)channels;
    e->codec->bit_rate = b < MAX_BITRATE ? b : MAX_BITRATE;
  }
  e->codec->time_base = (AVRational){1, e->codec->sample_rate};
  if (e->mux->oformat->flags & AVFMT_GLOBALHEADER)
    e->codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if ((ret = avcodec_open2(e->codec, codec, NULL)) < 0)
    return fail(e, "cannot open the encoder", ret);
  if ((ret = avcodec_parameters_from_context(e->stream->codecpar, e->codec)) < 0)
    return fail(e, "cannot set up the stream", ret);
  e->stream->time_base = e->codec->time_base;
  return 0;
}

static int open_all(encoding *e, unsigned rate, unsigned channels, long bitrate)
{
  AVChannelLayout layout;
  unsigned char *buffer;
  int ret;
  if ((ret = avformat_alloc_output_context2(&e->mux, NULL, e->format->muxer, NULL)) < 0)
    return fail(e, "cannot make the container", ret);
  if (!(e->stream = avformat_new_stream(e->mux, NULL)))
    return fail(e, "cannot make the container", AVERROR(ENOMEM));
  if (open_codec(e, rate, channels, bitrate) != 0)
    return -1;
  buffer = av_malloc(AVIO_BYTES);
  if (buffer)
    e->avio = avio_alloc_context(buffer, AVIO_BYTES, 1, &e->out, NULL, write_memory, seek_memory);
  if (!e->avio) {
    av_free(buffer);
    return fail(e, "cannot encode", AVERROR(ENOMEM));
  }
  e->mux->pb = e->avio;
  av_channel_layout_default(&layout, (int)channels);
  ret = swr_alloc_set_opts2(&e->swr, &e->codec->ch_layout, e->codec->sample_fmt, e->codec->sample_rate,
                            &layout, AV_SAMPLE_FMT_FLT, (int)rate, 0, NULL);
  av_channel_layout_uninit(&layout);
  if (ret >= 0)
    ret = swr_init(e->swr);
  if (ret < 0)
    return fail(e, "cannot convert the samples", ret);
  e->converted_room = swr_get_out_samples(e->swr, CHUNK_FRAMES) + 64;
  if (av_samples_alloc_array_and_samples(&e->converted, NULL, (int)channels, e->converted_room,
                                         e->codec->sample_fmt, 0) < 0)
    return fail(e, "cannot encode", AVERROR(ENOMEM));
  e->fifo = av_audio_fifo_alloc(e->codec->sample_fmt, (int)channels, e->converted_room);
  e->frame = av_frame_alloc();
  e->packet = av_packet_alloc();
  if (!e->fifo || !e->frame || !e->packet)
    return fail(e, "cannot encode", AVERROR(ENOMEM));
  if ((ret = avformat_write_header(e->mux, NULL)) < 0)
    return fail(e, "cannot write the header", ret);
  return 0;
}

/* Sends one frame (NULL: the end) and writes every packet that comes out. */
static int encode_frame(encoding *e, AVFrame *frame)
{
  int ret = avcodec_send_frame(e->codec, frame);
  if (ret < 0)
    return fail(e, "cannot encode", ret);
  for (;;) {
    ret = avcodec_receive_packet(e->codec, e->packet);
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
      return 0;
    if (ret < 0)
      return fail(e, "cannot encode", ret);
    av_packet_rescale_ts(e->packet, e->codec->time_base, e->stream->time_base);
    e->packet->stream_index = e->stream->index;
    ret = av_interleaved_write_frame(e->mux, e->packet);
    if (ret < 0)
      return fail(e, "cannot write the audio", ret);
  }
}

/* Encodes whole frames from the FIFO; with `last`, what is left too. */
static int drain_fifo(encoding *e, int last)
{
  int size = e->codec->frame_size > 0 ? e->codec->frame_size : VARIABLE_FRAME_SIZE;
  while (av_audio_fifo_size(e->fifo) >= size || (last && av_audio_fifo_size(e->fifo) > 0)) {
    int n = av_audio_fifo_size(e->fifo) < size ? av_audio_fifo_size(e->fifo) : size;
    int ret;
    av_frame_unref(e->frame);
    e->frame->nb_samples = n;
    e->frame->format = e->codec->sample_fmt;
    e->frame->sample_rate = e->codec->sample_rate;
    if ((ret = av_channel_layout_copy(&e->frame->ch_layout, &e->codec->ch_layout)) < 0 ||
        (ret = av_frame_get_buffer(e->frame, 0)) < 0)
      return fail(e, "cannot encode", ret);
    if (av_audio_fifo_read(e->fifo, (void **)e->frame->data, n) != n)
      return fail(e, "cannot encode", AVERROR_BUG);
    e->frame->pts = e->next_pts;
    e->next_pts += n;
    if (encode_frame(e, e->frame) != 0)
      return -1;
  }
  return 0;
}

/* Converts `count` frames (NULL: what swr still holds) into the FIFO. */
static int push(encoding *e, const float *samples, int count)
{
  const uint8_t *in[1] = {(const uint8_t *)samples};
  int got = swr_convert(e->swr, e->converted, e->converted_room, samples ? in : NULL, count);
  if (got < 0)
    return fail(e, "cannot convert the samples", got);
  if (got > 0 && av_audio_fifo_write(e->fifo, (void **)e->converted, got) < got)
    return fail(e, "cannot encode", AVERROR(ENOMEM));
  return drain_fifo(e, 0);
}

static int run(encoding *e, const float *samples, size_t frames, unsigned channels)
{
  size_t done = 0;
  int ret;
  while (done < frames) {
    int n = frames - done < CHUNK_FRAMES ? (int)(frames - done) : CHUNK_FRAMES;
    if (push(e, samples + done * channels, n) != 0)
      return -1;
    done += (size_t)n;
  }
  if (push(e, NULL, 0) != 0 || drain_fifo(e, 1) != 0 || encode_frame(e, NULL) != 0)
    return -1;
  if ((ret = av_write_trailer(e->mux)) < 0)
    return fail(e, "cannot finish the file", ret);
  avio_flush(e->avio);
  return e->avio->error < 0 ? fail(e, "cannot write the audio", e->avio->error) : 0;
}

static void close_all(encoding *e)
{
  if (e->converted)
    av_freep(&e->converted[0]);
  av_freep(&e->converted);
  av_audio_fifo_free(e->fifo);
  av_frame_free(&e->frame);
  av_packet_free(&e->packet);
  swr_free(&e->swr);
  avcodec_free_context(&e->codec);
  avformat_free_context(e->mux);
  if (e->avio) {
    av_freep(&e->avio->buffer);
    avio_context_free(&e->avio);
  }
}

int media_encode(const media_write_format *format, const float *samples, size_t frames, unsigned rate,
                 unsigned channels, long bitrate, unsigned char **out, size_t *out_size, char *why,
                 size_t why_size)
{
  encoding e;
  int ret;
  memset(&e, 0, sizeof e);
  e.format = format;
  e.why = why;
  e.why_size = why_size;
  ret = open_all(&e, rate, channels, bitrate) == 0 && run(&e, samples, frames, channels) == 0 ? 0 : -1;
  close_all(&e);
  if (ret != 0) {
    free(e.out.data);
    return -1;
  }
  *out = e.out.data;
  *out_size = e.out.size;
  return 0;
}
