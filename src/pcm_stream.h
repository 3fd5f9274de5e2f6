/* Reassembly of streamed 16-bit audio: successive chunks of s16le mono bytes,
   given raw (a chunked HTTP body) or as one base64 string per delta (each
   decoded on its own: joining base64 text corrupts audio), come out as whole
   float samples; a byte that ends one chunk mid-sample waits for the next.
   Pure C, no Lua.

   Memory: the stream owns one growable float buffer that feeds append to and
   pcm_stream_drain empties without freeing, plus a byte buffer for decoded
   base64 that is kept the same way; once they have grown to the largest
   delta, feeding allocates nothing. The struct may live anywhere (inside a
   Lua userdata, on the stack); its fields are read-only for callers. */
#ifndef GPTAUDIO_PCM_STREAM_H
#define GPTAUDIO_PCM_STREAM_H

#include <stddef.h>

typedef struct {
  float *samples;          /* samples decoded since the last drain */
  size_t count;            /* how many */
  size_t capacity;         /* floats allocated at samples */
  unsigned char *decoded;  /* scratch for one decoded base64 delta */
  size_t decoded_capacity;
  unsigned char carry;     /* the low byte of a sample whose high byte is still to come */
  int has_carry;
} pcm_stream;

enum {
  PCM_STREAM_OK = 0,
  PCM_STREAM_NOMEM = -1,       /* out of memory; the stream is unchanged */
  PCM_STREAM_BAD_BASE64 = -2   /* the delta is not base64; the stream is unchanged */
};

void pcm_stream_init(pcm_stream *s);
/* Frees the buffers; the stream is then as after pcm_stream_init. */
void pcm_stream_free(pcm_stream *s);

/* Appends the samples of n raw s16le bytes. Returns PCM_STREAM_OK or PCM_STREAM_NOMEM. */
int pcm_stream_feed_bytes(pcm_stream *s, const unsigned char *bytes, size_t n);

/* Decodes one base64 delta of n characters (padding optional) and appends its
   samples. Returns PCM_STREAM_OK, PCM_STREAM_NOMEM or PCM_STREAM_BAD_BASE64. */
int pcm_stream_feed_base64(pcm_stream *s, const char *text, size_t n);

/* Forgets the samples handed over so far (s->samples, s->count); keeps the
   memory and any carried byte. */
void pcm_stream_drain(pcm_stream *s);

/* Whether a byte is waiting for its pair: at the end of a stream, it was cut
   mid-sample. */
int pcm_stream_has_partial_sample(const pcm_stream *s);

#endif
