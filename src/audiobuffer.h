/* The C side of gptaudio.AudioBuffer, for the C files that make buffers (the
   resampler, streamed audio, response decoders): interleaved float32 frames in
   a userdata whose sample array is malloc'ed apart and freed by __gc/__close,
   so an error raised halfway never leaks it. */
#ifndef GPTAUDIO_AUDIOBUFFER_H
#define GPTAUDIO_AUDIOBUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "compat.h"
#include "pcm.h"

#define GPTAUDIO_AUDIOBUFFER_MT "gptaudio.AudioBuffer"

/* Limits of every buffer; a value outside them is refused before any use. */
#define GPTAUDIO_AUDIO_MAX_RATE 768000
#define GPTAUDIO_AUDIO_MAX_CHANNELS 64
/* frames * channels: 2^30 samples (4 GiB of float32, over 3 hours of 48 kHz
   stereo) keeps every size, down to a 16-bit WAV's RIFF field, from overflowing. */
#define GPTAUDIO_AUDIO_MAX_SAMPLES ((size_t)1 << 30)

typedef struct gptaudio_audiobuffer {
  float *samples;    /* frames * channels interleaved; NULL once closed */
  size_t frames;     /* frames in use */
  size_t capacity;   /* frames allocated */
  unsigned rate;     /* 1 .. GPTAUDIO_AUDIO_MAX_RATE */
  unsigned channels; /* 1 .. GPTAUDIO_AUDIO_MAX_CHANNELS */
  int16_t *s16;      /* pointer()'s s16 copy; NULL when none is current */
  int closed;        /* __close ran: every later use raises */
} gptaudio_audiobuffer;

/* Whether a buffer of `channels` channels may hold `frames` frames. */
static inline int gptaudio_audio_fits(unsigned channels, size_t frames)
{
  return frames <= GPTAUDIO_AUDIO_MAX_SAMPLES / channels;
}

/* Pushes a new buffer of `frames` frames of silence and returns it. Raises when
   the size does not fit (check gptaudio_audio_fits first for sizes that come
   from data) or memory runs out. rate and channels must be within the limits. */
gptaudio_audiobuffer *gptaudio_audiobuffer_new(lua_State *L, unsigned rate,
                                               unsigned channels, size_t frames);

/* The open AudioBuffer at idx; raises naming the argument when it is not one
   or has been closed. */
gptaudio_audiobuffer *gptaudio_audiobuffer_check(lua_State *L, int idx);

/* Room for `more` frames after the last one: returns where they go (count
   them by adding to b->frames), or NULL when the total would not fit (the
   buffer is unchanged). Raises when memory runs out. Invalidates pointer(). */
float *gptaudio_audiobuffer_reserve(lua_State *L, gptaudio_audiobuffer *b, size_t more);

/* Appends `frames` frames of floats, or of bytes in `format` (little-endian,
   interleaved with b->channels; samples may be b->samples itself). Returns 0,
   or -1 when they would not fit. */
int gptaudio_audiobuffer_append(lua_State *L, gptaudio_audiobuffer *b,
                                const float *samples, size_t frames);
int gptaudio_audiobuffer_append_pcm(lua_State *L, gptaudio_audiobuffer *b, pcm_format format,
                                    const unsigned char *bytes, size_t frames);

/* Argument checks shared by the audio bindings. The value at `idx` (an
   argument, or a field read from the table at argument `arg`) as an integer
   in [lo, hi]; else raises "bad argument #arg (... `what` must be an integer
   from lo to hi)". The opt form gives `def` for nil. */
lua_Integer gptaudio_audio_checkint(lua_State *L, int idx, int arg, const char *what,
                                    lua_Integer lo, lua_Integer hi);
lua_Integer gptaudio_audio_optint(lua_State *L, int idx, int arg, const char *what,
                                  lua_Integer lo, lua_Integer hi, lua_Integer def);

/* A chunk of a stream at argument `arg`: an AudioBuffer of `rate` Hz and
   `channels` channels (else raises, naming `who`, the object that takes it), or pcm16 bytes made into a
   new buffer pushed on the stack. NULL, with nil, err pushed, when the bytes
   are not whole frames. */
gptaudio_audiobuffer *gptaudio_audio_checkchunk(lua_State *L, int arg, unsigned rate, unsigned channels,
                                                const char *who);

/* Raises naming argument `arg` when the table there has a key outside
   `known` (a NULL-terminated list): a misspelt option never passes silently. */
void gptaudio_audio_checkfields(lua_State *L, int arg, const char *const known[]);

/* The __index of a userdata whose methods are in its metatable and whose
   fields are named in `fields` (NULL-terminated), for the key at 2: a method
   of that name is pushed (GPTAUDIO_INDEX_METHOD; metamethods are not
   methods); else the field's position in `fields`, or GPTAUDIO_INDEX_NONE. */
#define GPTAUDIO_INDEX_METHOD (-1)
#define GPTAUDIO_INDEX_NONE (-2)
int gptaudio_index_lookup(lua_State *L, const char *const fields[]);

#endif
