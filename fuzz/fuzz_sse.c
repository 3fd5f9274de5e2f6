/* Fuzz target for the SSE parser: the input is a stream, fed whole, cut at
   positions derived from the input, and byte by byte. The dispatched events and
   the final status must be identical every time; the size bound also comes
   from the input, so the failing path is fuzzed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

typedef struct {
  unsigned char *bytes;
  size_t len, cap;
} transcript;

static void put(transcript *t, const void *src, size_t n) {
  if (t->len + n > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    while (cap < t->len + n) cap *= 2;
    t->bytes = realloc(t->bytes, cap);
    if (!t->bytes) abort();
    t->cap = cap;
  }
  memcpy(t->bytes + t->len, src, n);
  t->len += n;
}

/* Each field as its length then its bytes, so no two event lists look alike. */
static void put_field(transcript *t, const char *s, size_t n) {
  put(t, &n, sizeof n);
  put(t, s, n);
}

static int record(void *ud, const sse_event *ev) {
  transcript *t = ud;
  put_field(t, ev->event, ev->event_len);
  put_field(t, ev->data, ev->data_len);
  put_field(t, ev->id, ev->id_len);
  return 0;
}

/* Feeds data in pieces whose lengths next_piece picks; the final status goes last. */
static void run(const uint8_t *data, size_t size, size_t max, size_t (*next_piece)(uint32_t *), uint32_t seed,
                transcript *t) {
  sse_parser *p = sse_new(max);
  if (!p) abort();
  size_t fed = 0;
  int rc = 0;
  while (fed < size && rc == 0) {
    size_t piece = next_piece(&seed);
    if (piece > size - fed) piece = size - fed;
    rc = sse_feed(p, (const char *)data + fed, piece, record, t);
    fed += piece;
  }
  put(t, &rc, sizeof rc);
  sse_free(p);
}

static size_t whole(uint32_t *state) {
  (void)state;
  return SIZE_MAX;
}

static size_t one_byte(uint32_t *state) {
  (void)state;
  return 1;
}

/* xorshift32: pieces of 0 to 63 bytes, with an occasional larger one. */
static size_t scattered(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x % 16 == 0 ? x % 1024 : x % 64;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t seed = 2166136261u;  /* FNV-1a of the input: the cuts follow from it */
  size_t i;
  for (i = 0; i < size; i++) seed = (seed ^ data[i]) * 16777619u;
  if (seed == 0) seed = 1;
  size_t max = size && data[0] % 3 == 0 ? (size_t)data[0] / 3 + (size > 1 ? data[1] : 0) : 0;

  transcript reference = {0}, cut = {0}, bytewise = {0};
  run(data, size, max, whole, seed, &reference);
  run(data, size, max, scattered, seed, &cut);
  run(data, size, max, one_byte, seed, &bytewise);
  if (cut.len != reference.len || memcmp(cut.bytes, reference.bytes, reference.len) != 0) abort();
  if (bytewise.len != reference.len || memcmp(bytewise.bytes, reference.bytes, reference.len) != 0) abort();
  free(reference.bytes);
  free(cut.bytes);
  free(bytewise.bytes);
  return 0;
}
