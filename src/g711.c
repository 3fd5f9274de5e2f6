/* G.711 by its segment tables: a magnitude's segment is the first whose upper
   end holds it; within a segment the 16 quantization steps are equal. */
#include "g711.h"
#include "pcm.h"

#define SEGMENTS 8
/* A-law: upper ends of the 8 segments of the 12-bit magnitude (Table 1/G.711). */
static const int16_t ALAW_SEGMENT_END[SEGMENTS] = {15, 31, 63, 127, 255, 511, 1023, 2047};
/* mu-law: upper ends of the 8 segments of the 13-bit magnitude plus the bias
   of 33 that moves mu-law's thresholds onto powers of two (Table 2/G.711). */
static const int16_t MULAW_SEGMENT_END[SEGMENTS] = {63, 127, 255, 511, 1023, 2047, 4095, 8191};
#define MULAW_BIAS 33
/* Even bits of A-law codes are inverted on the line; every mu-law bit is. */
#define ALAW_TOGGLE 0x55
#define SIGN_BIT 0x80

static int segment_of(const int16_t *ends, int magnitude)
{
  int segment = 0;
  while (segment < SEGMENTS - 1 && magnitude > ends[segment])
    segment++;
  return segment;
}

/* The magnitude without its `drop_bits` low bits; a negative value's is its
   one's complement, so the two halves of the range mirror each other. */
static int magnitude_of(int16_t linear, int drop_bits)
{
  return (linear >= 0 ? linear : ~linear) >> drop_bits;
}

uint8_t g711_alaw_encode(int16_t linear)
{
  int magnitude = magnitude_of(linear, 4);
  int segment = segment_of(ALAW_SEGMENT_END, magnitude);
  /* Segments 0 and 1 share a step of 1; each later one doubles it. */
  int step_bits = segment > 0 ? segment - 1 : 0;
  int code = segment << 4 | (magnitude >> step_bits & 0x0F);
  if (linear >= 0)
    code |= SIGN_BIT;
  return (uint8_t)(code ^ ALAW_TOGGLE);
}

int16_t g711_alaw_decode(uint8_t code)
{
  int bits = code ^ ALAW_TOGGLE;
  int segment = bits >> 4 & 0x07;
  int mantissa = bits & 0x0F;
  int value;
  if (segment > 0)
    mantissa += 16; /* the leading one the code leaves out */
  /* In 16-bit units the step of segments 0 and 1 is 16; the middle is +8. */
  value = (mantissa << 4) + 8;
  if (segment > 1)
    value <<= segment - 1;
  return (int16_t)(bits & SIGN_BIT ? value : -value);
}

uint8_t g711_mulaw_encode(int16_t linear)
{
  int biased = magnitude_of(linear, 2) + MULAW_BIAS;
  int segment, code;
  if (biased > MULAW_SEGMENT_END[SEGMENTS - 1])
    biased = MULAW_SEGMENT_END[SEGMENTS - 1];
  segment = segment_of(MULAW_SEGMENT_END, biased);
  code = segment << 4 | (biased >> (segment + 1) & 0x0F);
  return (uint8_t)((linear >= 0 ? SIGN_BIT : 0) | (0x7F ^ code));
}

int16_t g711_mulaw_decode(uint8_t code)
{
  int bits = ~code & 0xFF;
  int segment = bits >> 4 & 0x07;
  int mantissa = bits & 0x0F;
  /* In 16-bit units: the biased interval's middle, then the bias (33 * 4) off. */
  int value = ((mantissa << 3) + 4 * MULAW_BIAS) << segment;
  value -= 4 * MULAW_BIAS;
  return (int16_t)(code & SIGN_BIT ? value : -value);
}

void g711_to_float(g711_law law, const uint8_t *codes, size_t samples, float *out)
{
  size_t i;
  for (i = 0; i < samples; i++)
    out[i] = (float)(law == G711_ALAW ? g711_alaw_decode(codes[i]) : g711_mulaw_decode(codes[i])) / 32768.0f;
}

void g711_from_float(g711_law law, const float *in, size_t samples, uint8_t *codes)
{
  size_t i;
  for (i = 0; i < samples; i++) {
    int16_t s = pcm_float_to_s16(in[i]);
    codes[i] = law == G711_ALAW ? g711_alaw_encode(s) : g711_mulaw_encode(s);
  }
}
