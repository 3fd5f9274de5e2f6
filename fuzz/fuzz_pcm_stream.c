/* Fuzzes streamed-PCM reassembly. Input: a separator byte, a mode byte, then
   a body split into deltas at each separator. Mode 0 feeds the deltas as raw
   bytes, 1 base64-encodes each delta first, 2 feeds each as base64 text as it
   is (mostly invalid). Samples are drained after every feed. Whatever the
   split, the samples must equal one feed of the bytes the accepted deltas
   carry, and the left-over byte must match their parity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "pcm.h"
#include "pcm_stream.h"

typedef struct {
  unsigned char *bytes;
  size_t len;
  float *samples;
  size_t count;
} collected;

static void feed_delta(pcm_stream *s, int mode, const uint8_t *delta, size_t n, collected *c)
{
  int r;
  if (mode == 0) {
    r = pcm_stream_feed_bytes(s, delta, n);
    if (r == PCM_STREAM_OK) {
      memcpy(c->bytes + c->len, delta, n);
      c->len += n;
    }
  } else {
    char *text = (char *)delta;
    size_t tlen = n, dlen;
    if (mode == 1) {
      text = malloc(base64_encoded_size(n) + 1);
      tlen = base64_encode(delta, n, text);
    }
    r = pcm_stream_feed_base64(s, text, tlen);
    if (r == PCM_STREAM_OK) {
      if (base64_decode(text, tlen, c->bytes + c->len, &dlen) != 0)
        abort(); /* the stream accepted what base64 refuses */
      c->len += dlen;
    } else if (r != PCM_STREAM_BAD_BASE64 || mode == 1) {
      abort();
    }
    if (mode == 1)
      free(text);
  }
  if (r == PCM_STREAM_NOMEM)
    abort();
  if (s->count > 0)
    memcpy(c->samples + c->count, s->samples, s->count * sizeof(float));
  c->count += s->count;
  pcm_stream_drain(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  pcm_stream s;
  collected c;
  const uint8_t *body, *start, *p;
  size_t body_len;
  float *expected;
  uint8_t separator;
  int mode;

  if (size < 2)
    return 0;
  separator = data[0];
  mode = data[1] % 3;
  body = data + 2;
  body_len = size - 2;

  c.bytes = malloc(body_len + 1);
  c.len = 0;
  c.samples = malloc((body_len + 1) * sizeof(float));
  c.count = 0;
  pcm_stream_init(&s);
  for (start = body, p = body; p <= body + body_len; p++) {
    if (p == body + body_len || *p == separator) {
      feed_delta(&s, mode, start, (size_t)(p - start), &c);
      start = p + 1;
    }
  }

  expected = malloc((c.len / 2 + 1) * sizeof(float));
  pcm_to_float(PCM_S16LE, c.bytes, c.len / 2, expected);
  if (c.count != c.len / 2 || memcmp(c.samples, expected, c.count * sizeof(float)) != 0 ||
      pcm_stream_has_partial_sample(&s) != (int)(c.len & 1))
    abort();
  free(expected);
  pcm_stream_free(&s);
  free(c.samples);
  free(c.bytes);
  return 0;
}
