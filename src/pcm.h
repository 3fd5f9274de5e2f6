/* PCM sample conversions between byte layouts and interleaved float32.
   Pure C, no Lua. int16 -> float is s / 32768; float -> int16 is
   round(x * 32768) clamped to [-32768, 32767], so 16-bit round trips are exact. */
#ifndef GPTAUDIO_PCM_H
#define GPTAUDIO_PCM_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  PCM_U8,      /* 8-bit unsigned, 128 is silence (WAV, LÖVE) */
  PCM_S16LE,
  PCM_S24LE,   /* packed, 3 bytes a sample */
  PCM_S32LE,
  PCM_F32LE,
  PCM_F64LE
} pcm_format;

/* Bytes one sample takes in the format. */
size_t pcm_sample_bytes(pcm_format format);

/* Converts `samples` samples from `in` (little-endian bytes of `format`) to float. */
void pcm_to_float(pcm_format format, const unsigned char *in, size_t samples, float *out);

/* One float to int16 by the rule above (NaN becomes 0). */
int16_t pcm_float_to_s16(float x);

/* Converts `samples` floats to s16le bytes (2 * samples bytes). */
void pcm_float_to_s16le(const float *in, size_t samples, unsigned char *out);

/* Converts `samples` floats to f32le bytes (4 * samples bytes). */
void pcm_float_to_f32le(const float *in, size_t samples, unsigned char *out);

#endif
