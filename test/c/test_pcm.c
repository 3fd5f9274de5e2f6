/* PCM conversions: exact floats for every layout, the exact 16-bit round trip,
   and float -> int16 rounding and clamping. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "pcm.h"
#include "tap.h"

static void test_sample_bytes(void)
{
  CHECK(pcm_sample_bytes(PCM_U8) == 1 && pcm_sample_bytes(PCM_S16LE) == 2 && pcm_sample_bytes(PCM_S24LE) == 3 &&
        pcm_sample_bytes(PCM_S32LE) == 4 && pcm_sample_bytes(PCM_F32LE) == 4 && pcm_sample_bytes(PCM_F64LE) == 8,
        "sample sizes 1, 2, 3, 4, 4, 8");
}

static void test_u8(void)
{
  static const unsigned char in[] = {0, 64, 128, 129, 255};
  float out[5];
  pcm_to_float(PCM_U8, in, 5, out);
  CHECK(out[0] == -1.0f && out[1] == -0.5f && out[2] == 0.0f && out[3] == 1.0f / 128 && out[4] == 127.0f / 128,
        "u8 0, 64, 128, 129, 255 -> -1, -0.5, 0, 1/128, 127/128");
}

static void test_s16(void)
{
  static const unsigned char in[] = {0x00, 0x80, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x00, 0xFF, 0x7F, 0x00, 0x40};
  float out[6];
  static unsigned char bytes[2 * 65536], back[2 * 65536];
  static float all[65536];
  int v, exact = 1;

  pcm_to_float(PCM_S16LE, in, 6, out);
  CHECK(out[0] == -1.0f && out[1] == -1.0f / 32768 && out[2] == 0.0f && out[3] == 1.0f / 32768 &&
        out[4] == 32767.0f / 32768 && out[5] == 0.5f, "s16 -32768, -1, 0, 1, 32767, 16384 -> s / 32768");

  for (v = -32768; v <= 32767; v++) {
    uint16_t u = (uint16_t)(int16_t)v;
    bytes[2 * (v + 32768)] = (unsigned char)(u & 0xFF);
    bytes[2 * (v + 32768) + 1] = (unsigned char)(u >> 8);
  }
  pcm_to_float(PCM_S16LE, bytes, 65536, all);
  for (v = -32768; v <= 32767; v++)
    exact &= all[v + 32768] == (float)v / 32768.0f && pcm_float_to_s16(all[v + 32768]) == v;
  CHECK(exact, "all 65536 int16 values: s / 32768 and back exactly");
  pcm_float_to_s16le(all, 65536, back);
  CHECK(memcmp(bytes, back, sizeof bytes) == 0, "all 65536 int16 values round trip as s16le bytes");
}

static void test_s24(void)
{
  static const unsigned char in[] = {0x00, 0x00, 0x80, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00,
                                     0x01, 0x00, 0x00, 0xFF, 0xFF, 0x7F, 0x00, 0x00, 0x40};
  float out[6];
  pcm_to_float(PCM_S24LE, in, 6, out);
  CHECK(out[0] == -1.0f && out[1] == -1.0f / 8388608 && out[2] == 0.0f && out[3] == 1.0f / 8388608 &&
        out[4] == 8388607.0f / 8388608 && out[5] == 0.5f, "s24 -8388608, -1, 0, 1, 8388607, 4194304 -> s / 8388608");
}

static void test_s32(void)
{
  static const unsigned char in[] = {0x00, 0x00, 0x00, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x40, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01, 0x00, 0x00};
  float out[6];
  pcm_to_float(PCM_S32LE, in, 6, out);
  CHECK(out[0] == -1.0f && out[1] == -1.0f / 2147483648.0f && out[2] == 0.0f && out[3] == 0.5f &&
        out[4] == 1.0f && out[5] == 256.0f / 2147483648.0f,
        "s32 -2^31, -1, 0, 2^30, 2^31-1, 256 -> s / 2^31 (2^31-1 rounds to 1.0f)");
}

static void test_floats(void)
{
  static const unsigned char f32[] = {0x00, 0x00, 0x80, 0x3E, 0x00, 0x00, 0x80, 0xBF, 0x00, 0x00, 0xC0, 0x3F};
  static const unsigned char f64[] = {0x9A, 0x99, 0x99, 0x99, 0x99, 0x99, 0xB9, 0x3F,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xE0, 0xBF};
  unsigned char bytes[12];
  float out[3];
  pcm_to_float(PCM_F32LE, f32, 3, out);
  CHECK(out[0] == 0.25f && out[1] == -1.0f && out[2] == 1.5f, "f32 0.25, -1, 1.5 as they are (out of range kept)");
  pcm_to_float(PCM_F64LE, f64, 2, out);
  CHECK(out[0] == (float)0.1 && out[1] == -0.5f, "f64 0.1, -0.5 -> nearest float");
  out[0] = 0.25f;
  out[1] = -1.0f;
  out[2] = 1.5f;
  pcm_float_to_f32le(out, 3, bytes);
  CHECK(memcmp(bytes, f32, sizeof f32) == 0, "floats to f32le bytes");
}

static void test_float_to_s16(void)
{
  CHECK(pcm_float_to_s16(1.0f) == 32767 && pcm_float_to_s16(-1.0f) == -32768, "1 -> 32767, -1 -> -32768");
  CHECK(pcm_float_to_s16(2.0f) == 32767 && pcm_float_to_s16(-2.0f) == -32768 &&
        pcm_float_to_s16(1e30f) == 32767 && pcm_float_to_s16(-1e30f) == -32768, "out of range clamps");
  CHECK(pcm_float_to_s16(INFINITY) == 32767 && pcm_float_to_s16(-INFINITY) == -32768, "infinities clamp");
  CHECK(pcm_float_to_s16(NAN) == 0 && pcm_float_to_s16(-NAN) == 0, "NaN -> 0");
  CHECK(pcm_float_to_s16(0.5f / 32768) == 1 && pcm_float_to_s16(-0.5f / 32768) == -1 &&
        pcm_float_to_s16(1.5f / 32768) == 2 && pcm_float_to_s16(-1.5f / 32768) == -2, "halves round away from zero");
  CHECK(pcm_float_to_s16(nextafterf(0.5f / 32768, 0.0f)) == 0 && pcm_float_to_s16(nextafterf(-0.5f / 32768, 0.0f)) == 0,
        "just under a half rounds toward zero");
  CHECK(pcm_float_to_s16(32766.5f / 32768) == 32767 && pcm_float_to_s16(-32767.5f / 32768) == -32768,
        "halves at the ends round to the ends");
  CHECK(pcm_float_to_s16(0.0f) == 0 && pcm_float_to_s16(-0.0f) == 0 && pcm_float_to_s16(1e-30f) == 0,
        "zeros and tiny values -> 0");
  CHECK(pcm_float_to_s16(0.3f) == 9830 && pcm_float_to_s16(-0.3f) == -9830, "0.3 -> 9830 (9830.4 rounds down)");
}

static void test_float_to_s16le(void)
{
  static const float in[] = {-1.0f, 32767.0f / 32768, 1.0f / 32768, -1.0f / 32768};
  static const unsigned char expected[] = {0x00, 0x80, 0xFF, 0x7F, 0x01, 0x00, 0xFF, 0xFF};
  unsigned char out[8];
  pcm_float_to_s16le(in, 4, out);
  CHECK(memcmp(out, expected, sizeof out) == 0, "floats to s16le bytes, little-endian two's complement");
}

int main(void)
{
  test_sample_bytes();
  test_u8();
  test_s16();
  test_s24();
  test_s32();
  test_floats();
  test_float_to_s16();
  test_float_to_s16le();
  return TAP_DONE();
}
