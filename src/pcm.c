/* PCM sample conversions. Bytes are assembled explicitly so the code is the
   same on any host byte order; memcpy moves bit patterns into floats. */
#include <string.h>

#include "pcm.h"

size_t pcm_sample_bytes(pcm_format format)
{
  switch (format) {
  case PCM_U8: return 1;
  case PCM_S16LE: return 2;
  case PCM_S24LE: return 3;
  case PCM_S32LE: return 4;
  case PCM_F32LE: return 4;
  case PCM_F64LE: return 8;
  }
  return 0;
}

static uint32_t load_u32le(const unsigned char *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t load_u64le(const unsigned char *p)
{
  return (uint64_t)load_u32le(p) | (uint64_t)load_u32le(p + 4) << 32;
}

void pcm_to_float(pcm_format format, const unsigned char *in, size_t samples, float *out)
{
  size_t i;
  switch (format) {
  case PCM_U8:
    for (i = 0; i < samples; i++)
      out[i] = (float)((int)in[i] - 128) / 128.0f;
    break;
  case PCM_S16LE:
    for (i = 0; i < samples; i++, in += 2)
      out[i] = (float)(int16_t)(uint16_t)(in[0] | in[1] << 8) / 32768.0f;
    break;
  case PCM_S24LE:
    for (i = 0; i < samples; i++, in += 3) {
      /* Place the 24 bits at the top of 32 so the cast carries the sign. */
      int32_t s = (int32_t)((uint32_t)in[0] << 8 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 24);
      out[i] = (float)(s / 256) / 8388608.0f;
    }
    break;
  case PCM_S32LE:
    for (i = 0; i < samples; i++, in += 4)
      out[i] = (float)((double)(int32_t)load_u32le(in) / 2147483648.0);
    break;
  case PCM_F32LE:
    for (i = 0; i < samples; i++, in += 4) {
      uint32_t bits = load_u32le(in);
      memcpy(&out[i], &bits, sizeof bits);
    }
    break;
  case PCM_F64LE:
    for (i = 0; i < samples; i++, in += 8) {
      uint64_t bits = load_u64le(in);
      double d;
      memcpy(&d, &bits, sizeof d);
      out[i] = (float)d;
    }
    break;
  }
}

int16_t pcm_float_to_s16(float x)
{
  /* x * 32768 is exact in double, and so is adding 0.5: rounding half away
     from zero without the float error of x * 32768 + 0.5f. */
  double v = (double)x * 32768.0;
  if (v != v)
    return 0;
  if (v >= 32767.0)
    return 32767;
  if (v <= -32768.0)
    return -32768;
  return (int16_t)(v >= 0.0 ? (int)(v + 0.5) : -(int)(-v + 0.5));
}

void pcm_float_to_s16le(const float *in, size_t samples, unsigned char *out)
{
  size_t i;
  for (i = 0; i < samples; i++, out += 2) {
    uint16_t s = (uint16_t)pcm_float_to_s16(in[i]);
    out[0] = (unsigned char)(s & 0xFF);
    out[1] = (unsigned char)(s >> 8);
  }
}

void pcm_float_to_f32le(const float *in, size_t samples, unsigned char *out)
{
  size_t i;
  for (i = 0; i < samples; i++, out += 4) {
    uint32_t bits;
    memcpy(&bits, &in[i], sizeof bits);
    out[0] = (unsigned char)(bits & 0xFF);
    out[1] = (unsigned char)(bits >> 8 & 0xFF);
    out[2] = (unsigned char)(bits >> 16 & 0xFF);
    out[3] = (unsigned char)(bits >> 24);
  }
}
