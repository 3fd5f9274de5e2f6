/* G.711 companding (ITU-T Rec. G.711): mu-law and A-law, one byte a sample,
   the telephone network's 8 kHz audio. Pure C, no Lua. Linear samples are
   int16; A-law keeps their 13 most significant bits and mu-law 14, as the
   Recommendation's reference software does (negative values by their one's
   complement, so -1 encodes like 0 with the sign bit clear). Decoding gives
   the Recommendation's reconstruction value (the middle of the interval),
   left-justified in 16 bits. */
#ifndef GPTAUDIO_G711_H
#define GPTAUDIO_G711_H

#include <stddef.h>
#include <stdint.h>

typedef enum { G711_MULAW, G711_ALAW } g711_law;

uint8_t g711_alaw_encode(int16_t linear);
int16_t g711_alaw_decode(uint8_t code);
uint8_t g711_mulaw_encode(int16_t linear);
int16_t g711_mulaw_decode(uint8_t code);

/* `samples` codes to floats (s / 32768), and floats to codes through
   pcm_float_to_s16's rounding and clamping. */
void g711_to_float(g711_law law, const uint8_t *codes, size_t samples, float *out);
void g711_from_float(g711_law law, const float *in, size_t samples, uint8_t *codes);

#endif
