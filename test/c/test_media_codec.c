/* The FFmpeg parts without Lua: every compressed format encodes a tone and
   decodes back to the same length and pitch, from memory and from a file;
   rates and channel counts are converted on request; and bytes that are no
   audio, or are cut short, give an error with a reason. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "media_decoder.h"
#include "media_encoder.h"
#include "tap.h"

#define RATE 24000
#define FRAMES 24000 /* one second */
#define PI 3.14159265358979

static float tone[FRAMES];

/* Decodes everything the decoder holds; the frame count, or -1. */
static long read_all(media_decoder *d, float **out)
{
  size_t cap = 4096, n = 0;
  unsigned ch = media_decoder_info(d)->channels;
  char why[256];
  *out = malloc(cap * ch * sizeof(float));
  for (;;) {
    long got;
    if (n + 1024 > cap) {
      cap *= 2;
      *out = realloc(*out, cap * ch * sizeof(float));
    }
    got = media_decoder_read(d, *out + n * ch, 1024, why, sizeof why);
    if (got < 0)
      return -1;
    if (got == 0)
      return (long)n;
    n += (size_t)got;
  }
}

/* The correlation of a and b over n samples, b shifted by the best lag within ±max_lag. */
static double best_correlation(const float *a, const float *b, long n, long max_lag)
{
  double best = -1;
  long lag, i;
  for (lag = -max_lag; lag <= max_lag; lag++) {
    double ab = 0, aa = 0, bb = 0;
    for (i = max_lag; i < n - max_lag; i++) {
      ab += a[i] * b[i + lag];
      aa += a[i] * a[i];
      bb += b[i + lag] * b[i + lag];
    }
    if (aa > 0 && bb > 0 && ab / sqrt(aa * bb) > best)
      best = ab / sqrt(aa * bb);
  }
  return best;
}

static void round_trip(const char *name)
{
  const media_write_format *format = media_write_format_find(name);
  unsigned char *bytes = NULL;
  size_t size = 0;
  char why[256], label[400];
  media_decode_options to_source = {RATE, 1, NULL};
  media_decoder *d;
  float *back = NULL;
  long frames;
  CHECK(format != NULL && media_write_format_available(format), name);
  if (!format)
    return;
  snprintf(label, sizeof label, "%s: encodes one second of a tone", name);
  CHECK(media_encode(format, tone, FRAMES, RATE, 1, 0, &bytes, &size, why, sizeof why) == 0 && size > 100, label);
  d = media_decoder_open_memory(bytes, size, &to_source, why, sizeof why);
  snprintf(label, sizeof label, "%s: opens from memory (%s)", name, d ? "ok" : why);
  CHECK(d != NULL, label);
  if (d) {
    frames = read_all(d, &back);
    snprintf(label, sizeof label, "%s: decodes to one second within 30 ms (%ld frames)", name, frames);
    CHECK(labs(frames - FRAMES) <= RATE * 3 / 100, label);
    snprintf(label, sizeof label, "%s: the tone comes back (correlation above 0.98)", name);
    CHECK(frames > FRAMES / 2 && best_correlation(tone, back, FRAMES / 2, 200) > 0.98, label);
    media_decoder_close(d);
    free(back);
  }
  free(bytes);
}

static void from_a_file_converted(void)
{
  const media_write_format *flac = media_write_format_find("flac");
  unsigned char *bytes = NULL;
  size_t size = 0;
  char path[] = "/tmp/test_media_XXXXXX", why[256];
  media_decode_options options = {48000, 2, NULL};
  media_decoder *d;
  float *back = NULL;
  long frames;
  int fd = mkstemp(path);
  CHECK(media_encode(flac, tone, FRAMES, RATE, 1, 0, &bytes, &size, why, sizeof why) == 0, "flac for a file");
  CHECK(fd >= 0 && write(fd, bytes, size) == (ssize_t)size, "the file is written");
  close(fd);
  d = media_decoder_open_file(path, &options, why, sizeof why);
  CHECK(d != NULL, "the file opens");
  if (d) {
    const media_info *info = media_decoder_info(d);
    CHECK(info->rate == 48000 && info->channels == 2 && info->source_rate == RATE && info->source_channels == 1,
          "rate and channels are converted as asked, the source's are told");
    CHECK(fabs(info->duration - 1.0) < 0.001, "the declared duration is known before reading");
    frames = read_all(d, &back);
    CHECK(labs(frames - 48000) <= 48, "48 kHz: twice the frames");
    CHECK(frames > 1000 && fabsf(back[2000] - back[2001]) < 1e-6f, "both channels carry the mono source");
    media_decoder_close(d);
    free(back);
  }
  unlink(path);
  free(bytes);
}

static void bad_bytes(void)
{
  static const unsigned char noise[] = "this is not audio at all, just a sentence of text";
  const media_write_format *mp3 = media_write_format_find("mp3");
  unsigned char *bytes = NULL;
  size_t size = 0;
  char why[256] = "";
  media_decoder *d = media_decoder_open_memory(noise, sizeof noise, NULL, why, sizeof why);
  CHECK(d == NULL && strlen(why) > 0, "text is no audio, and why says so");
  CHECK(media_decoder_open_memory(noise, 0, NULL, why, sizeof why) == NULL, "no bytes at all is no audio");
  CHECK(media_decoder_open_file("/no/such/file.mp3", NULL, why, sizeof why) == NULL && strstr(why, "No such file"),
        "a missing file says so");
  CHECK(media_decoder_open_file("/tmp", NULL, why, sizeof why) == NULL && strstr(why, "regular"),
        "a directory is no file");
  CHECK(media_encode(mp3, tone, FRAMES, RATE, 1, 0, &bytes, &size, why, sizeof why) == 0, "mp3 to cut");
  d = media_decoder_open_memory(bytes, size / 3, NULL, why, sizeof why);
  if (d) {
    float *back = NULL;
    long frames = read_all(d, &back);
    CHECK(frames < FRAMES / 2, "a third of an mp3 decodes to at most its part");
    media_decoder_close(d);
    free(back);
  } else {
    CHECK(strlen(why) > 0, "a third of an mp3 fails with a reason");
  }
  free(bytes);
}

int main(void)
{
  int i;
  av_log_set_level(AV_LOG_QUIET);
  for (i = 0; i < FRAMES; i++)
    tone[i] = (float)(0.5 * sin(2 * PI * 440 * i / RATE));
  round_trip("flac");
  round_trip("mp3");
  round_trip("opus");
  round_trip("aac");
  CHECK(media_write_format_find("wma") == NULL, "an unknown format is not found");
  from_a_file_converted();
  bad_bytes();
  CHECK(media_demuxer_available("mov") && !media_demuxer_available("no-such-demuxer"), "demuxers are known by name");
  return TAP_DONE();
}
