/* Streamed s16le reassembly: a carried low byte joins the first byte of the
   next chunk, and the rest converts straight into the float buffer. */
#include <stdint.h>
#include <stdlib.h>

#include "base64.h"
#include "pcm.h"
#include "pcm_stream.h"

void pcm_stream_init(pcm_stream *s)
{
  s->samples = NULL;
  s->count = 0;
  s->capacity = 0;
  s->decoded = NULL;
  s->decoded_capacity = 0;
  s->carry = 0;
  s->has_carry = 0;
}

void pcm_stream_free(pcm_stream *s)
{
  free(s->samples);
  free(s->decoded);
  pcm_stream_init(s);
}

/* Grows *buf to hold at least `needed` elements of `size` bytes, doubling so
   that a run of feeds costs amortised constant time. */
static int reserve(void **buf, size_t *capacity, size_t needed, size_t size)
{
  size_t grown = *capacity;
  void *p;
  if (needed <= grown)
    return 0;
  if (needed > SIZE_MAX / size)
    return -1;
  while (grown < needed)
    grown = grown > SIZE_MAX / size / 2 ? needed : grown < 256 ? 256 : grown * 2;
  p = realloc(*buf, grown * size);
  if (p == NULL)
    return -1;
  *buf = p;
  *capacity = grown;
  return 0;
}

int pcm_stream_feed_bytes(pcm_stream *s, const unsigned char *bytes, size_t n)
{
  size_t whole, appended;
  float *out;
  void *samples = s->samples;

  if (n == 0)
    return PCM_STREAM_OK;
  /* n / 2 + 1 bounds the samples of n bytes plus a carried byte, without overflow. */
  appended = n / 2 + 1;
  if (s->count > SIZE_MAX - appended ||
      reserve(&samples, &s->capacity, s->count + appended, sizeof(float)) != 0)
    return PCM_STREAM_NOMEM;
  s->samples = samples;
  out = s->samples + s->count;

  if (s->has_carry) {
    unsigned char pair[2];
    pair[0] = s->carry;
    pair[1] = bytes[0];
    pcm_to_float(PCM_S16LE, pair, 1, out++);
    bytes++;
    n--;
    s->has_carry = 0;
  }
  whole = n / 2;
  pcm_to_float(PCM_S16LE, bytes, whole, out);
  out += whole;
  if (n & 1) {
    s->carry = bytes[n - 1];
    s->has_carry = 1;
  }
  s->count = (size_t)(out - s->samples);
  return PCM_STREAM_OK;
}

int pcm_stream_feed_base64(pcm_stream *s, const char *text, size_t n)
{
  size_t len;
  void *decoded = s->decoded;

  if (reserve(&decoded, &s->decoded_capacity, base64_decoded_max(n), 1) != 0)
    return PCM_STREAM_NOMEM;
  s->decoded = decoded;
  if (base64_decode(text, n, s->decoded, &len) != 0)
    return PCM_STREAM_BAD_BASE64;
  return pcm_stream_feed_bytes(s, s->decoded, len);
}

void pcm_stream_drain(pcm_stream *s)
{
  s->count = 0;
}

int pcm_stream_has_partial_sample(const pcm_stream *s)
{
  return s->has_carry;
}
