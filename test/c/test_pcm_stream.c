/* Streamed s16le reassembly: any split of the bytes, raw or as base64 deltas,
   gives the same samples as one feed; odd bytes carry; bad deltas change nothing. */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "pcm.h"
#include "pcm_stream.h"
#include "tap.h"

#define N_BYTES 37 /* odd: the stream ends mid-sample */

static unsigned char bytes[N_BYTES];
static float one_shot[N_BYTES / 2];

static void make_bytes(void)
{
  static const unsigned char head[] = {0x00, 0x80, 0xFF, 0x7F, 0x00, 0x00, 0xFF, 0xFF, 0x01, 0x00};
  size_t i;
  memcpy(bytes, head, sizeof head);
  for (i = sizeof head; i < N_BYTES; i++)
    bytes[i] = (unsigned char)(i * 37 + 11);
  pcm_to_float(PCM_S16LE, bytes, N_BYTES / 2, one_shot);
}

/* Feeds bytes[from, to) as one raw chunk or as one base64 delta. */
static int feed(pcm_stream *s, size_t from, size_t to, int as_base64)
{
  char text[64];
  size_t n;
  if (!as_base64)
    return pcm_stream_feed_bytes(s, bytes + from, to - from);
  n = base64_encode(bytes + from, to - from, text);
  return pcm_stream_feed_base64(s, text, n);
}

static int equals_one_shot(const pcm_stream *s, size_t samples)
{
  return s->count == samples && (samples == 0 || memcmp(s->samples, one_shot, samples * sizeof(float)) == 0);
}

static void test_one_shot(void)
{
  pcm_stream s;
  pcm_stream_init(&s);
  CHECK(pcm_stream_feed_bytes(&s, bytes, N_BYTES) == PCM_STREAM_OK && s.count == 18, "37 bytes give 18 samples");
  CHECK(s.samples[0] == -1.0f && s.samples[1] == 32767.0f / 32768 && s.samples[2] == 0.0f &&
        s.samples[3] == -1.0f / 32768 && s.samples[4] == 1.0f / 32768, "samples are s / 32768");
  CHECK(pcm_stream_has_partial_sample(&s), "and one byte is left over");
  pcm_stream_free(&s);
  CHECK(s.samples == NULL && s.count == 0 && !pcm_stream_has_partial_sample(&s), "free leaves a fresh stream");
}

static void test_every_split(int as_base64)
{
  size_t i, j;
  int ok2 = 1, ok3 = 1;
  for (i = 0; i <= N_BYTES; i++) {
    pcm_stream s;
    pcm_stream_init(&s);
    ok2 &= feed(&s, 0, i, as_base64) == PCM_STREAM_OK && feed(&s, i, N_BYTES, as_base64) == PCM_STREAM_OK;
    ok2 &= equals_one_shot(&s, N_BYTES / 2) && pcm_stream_has_partial_sample(&s);
    pcm_stream_free(&s);
    for (j = i; j <= N_BYTES; j++) {
      pcm_stream_init(&s);
      ok3 &= feed(&s, 0, i, as_base64) == PCM_STREAM_OK && feed(&s, i, j, as_base64) == PCM_STREAM_OK &&
             feed(&s, j, N_BYTES, as_base64) == PCM_STREAM_OK;
      ok3 &= equals_one_shot(&s, N_BYTES / 2) && pcm_stream_has_partial_sample(&s);
      pcm_stream_free(&s);
    }
  }
  CHECK(ok2, as_base64 ? "base64 deltas split at every point equal one feed"
                       : "raw bytes split at every point equal one feed");
  CHECK(ok3, as_base64 ? "base64 deltas split at every pair of points equal one feed"
                       : "raw bytes split at every pair of points equal one feed");
}

static void test_byte_by_byte(void)
{
  pcm_stream s;
  size_t i;
  int ok = 1;
  pcm_stream_init(&s);
  for (i = 0; i < N_BYTES; i++) {
    ok &= feed(&s, i, i + 1, 1) == PCM_STREAM_OK;
    ok &= s.count == (i + 1) / 2 && pcm_stream_has_partial_sample(&s) == (int)((i + 1) & 1);
  }
  CHECK(ok && equals_one_shot(&s, N_BYTES / 2), "one-byte base64 deltas: a sample every second delta");
  pcm_stream_free(&s);
}

static void test_drain_keeps_carry(void)
{
  pcm_stream s;
  const float *before;
  pcm_stream_init(&s);
  pcm_stream_feed_bytes(&s, bytes, 3);
  before = s.samples;
  pcm_stream_drain(&s);
  CHECK(s.count == 0 && pcm_stream_has_partial_sample(&s), "drain empties the samples, keeps the carried byte");
  pcm_stream_feed_bytes(&s, bytes + 3, 1);
  CHECK(s.count == 1 && s.samples[0] == one_shot[1] && s.samples == before,
        "the carried byte completes the next sample in the same memory");
  pcm_stream_free(&s);
}

static void test_bad_delta_changes_nothing(void)
{
  pcm_stream s;
  pcm_stream_init(&s);
  pcm_stream_feed_bytes(&s, bytes, 5);
  CHECK(pcm_stream_feed_base64(&s, "AAA*", 4) == PCM_STREAM_BAD_BASE64, "a bad delta is reported");
  CHECK(pcm_stream_feed_base64(&s, "AAAAA", 5) == PCM_STREAM_BAD_BASE64, "a lone final character is reported");
  CHECK(s.count == 2 && pcm_stream_has_partial_sample(&s), "and leaves the samples and carry as they were");
  pcm_stream_feed_bytes(&s, bytes + 5, N_BYTES - 5);
  CHECK(equals_one_shot(&s, N_BYTES / 2), "the stream goes on as if it had not been fed");
  pcm_stream_free(&s);
}

static void test_empty_feeds(void)
{
  pcm_stream s;
  pcm_stream_init(&s);
  pcm_stream_feed_bytes(&s, bytes, 1);
  CHECK(pcm_stream_feed_bytes(&s, bytes, 0) == PCM_STREAM_OK && pcm_stream_feed_base64(&s, "", 0) == PCM_STREAM_OK &&
        s.count == 0 && pcm_stream_has_partial_sample(&s), "empty chunks and empty deltas change nothing");
  pcm_stream_free(&s);
}

static void test_long_stream(void)
{
  pcm_stream s;
  size_t i;
  int ok = 1;
  unsigned char three[3];
  pcm_stream_init(&s);
  /* 10000 three-byte chunks; byte `at` belongs to sample at / 2, whose value is at / 2 - 16384. */
  for (i = 0; i < 10000; i++) {
    size_t j;
    for (j = 0; j < 3; j++) {
      size_t at = 3 * i + j, k = at / 2;
      unsigned value = (unsigned)(k - 16384) & 0xFFFF;
      three[j] = (unsigned char)(at & 1 ? value >> 8 : value & 0xFF);
    }
    ok &= pcm_stream_feed_bytes(&s, three, 3) == PCM_STREAM_OK;
  }
  CHECK(ok && s.count == 15000 && !pcm_stream_has_partial_sample(&s),
        "30000 bytes in 3-byte chunks give 15000 samples");
  for (i = 0; i < s.count; i++)
    ok &= s.samples[i] == (float)((int)i - 16384) / 32768.0f;
  CHECK(ok && s.capacity >= 15000, "each sample is exact after the buffer grew");
  pcm_stream_free(&s);
}

int main(void)
{
  make_bytes();
  test_one_shot();
  test_every_split(0);
  test_every_split(1);
  test_byte_by_byte();
  test_drain_keeps_carry();
  test_bad_delta_changes_nothing();
  test_empty_feeds();
  test_long_stream();
  return TAP_DONE();
}
