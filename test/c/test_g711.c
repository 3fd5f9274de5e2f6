/* G.711: the Recommendation's reconstruction values and line codes, every
   code's round trip, and the encoding of every int16 against the reference
   rule, written here as the Recommendation's reference software states it
   (shift until the mantissa fits, count the shifts) rather than by table. */
#include <stdint.h>
#include <stdlib.h>

#include "g711.h"
#include "tap.h"

static uint8_t reference_alaw(int16_t x)
{
  int ix = (x < 0 ? ~x : x) >> 4, exponent = 0;
  if (ix > 15) {
    exponent = 1;
    while (ix > 31) {
      ix >>= 1;
      exponent++;
    }
    ix = (ix - 16) + (exponent << 4);
  }
  if (x >= 0)
    ix |= 0x80;
  return (uint8_t)(ix ^ 0x55);
}

static uint8_t reference_mulaw(int16_t x)
{
  int absolute = ((x < 0 ? ~x : x) >> 2) + 33, segment = 1, i;
  if (absolute > 0x1FFF)
    absolute = 0x1FFF;
  for (i = absolute >> 6; i != 0; i >>= 1)
    segment++;
  return (uint8_t)((x >= 0 ? 0x80 : 0) | (8 - segment) << 4 | (15 - (absolute >> segment & 0x0F)));
}

/* Reconstruction values of Tables 1a and 2a: per segment, the first output
   and the step, in the tables' own units (A-law 1/8 and mu-law 1/4 of int16). */
static void test_reconstruction_tables(void)
{
  static const int alaw_first[8] = {1, 33, 66, 132, 264, 528, 1056, 2112};
  static const int alaw_step[8] = {2, 2, 4, 8, 16, 32, 64, 128};
  static const int mulaw_first[8] = {0, 33, 99, 231, 495, 1023, 2079, 4191};
  static const int mulaw_step[8] = {2, 4, 8, 16, 32, 64, 128, 256};
  int segment, step, alaw_ok = 1, mulaw_ok = 1;
  for (segment = 0; segment < 8; segment++)
    for (step = 0; step < 16; step++) {
      uint8_t a = (uint8_t)((0x80 | segment << 4 | step) ^ 0x55);
      uint8_t u = (uint8_t)(0x80 | (0x7F ^ (segment << 4 | step)));
      int a_value = alaw_first[segment] + step * alaw_step[segment];
      int u_value = mulaw_first[segment] + step * mulaw_step[segment];
      alaw_ok &= g711_alaw_decode(a) == 8 * a_value && g711_alaw_decode(a & 0x7F) == -8 * a_value;
      mulaw_ok &= g711_mulaw_decode(u) == 4 * u_value && g711_mulaw_decode(u & 0x7F) == -4 * u_value;
    }
  CHECK(alaw_ok, "A-law: the 128 reconstruction values of Table 1a, both signs (1 .. 4032 in 1/8 units)");
  CHECK(mulaw_ok, "mu-law: the 128 reconstruction values of Table 2a, both signs (0 .. 8031 in 1/4 units)");
}

static void test_line_codes(void)
{
  CHECK(g711_mulaw_encode(0) == 0xFF && g711_mulaw_encode(-1) == 0x7F && g711_mulaw_decode(0x7F) == 0,
        "mu-law: +0 is 0xFF, -0 is 0x7F (decodes to 0)");
  CHECK(g711_mulaw_encode(32767) == 0x80 && g711_mulaw_encode(-32768) == 0x00 &&
        g711_mulaw_decode(0x80) == 32124 && g711_mulaw_decode(0x00) == -32124,
        "mu-law: full scale is 0x80 / 0x00 = +-32124 (8031)");
  CHECK(g711_alaw_encode(0) == 0xD5 && g711_alaw_encode(-1) == 0x55 && g711_alaw_decode(0xD5) == 8 &&
        g711_alaw_decode(0x55) == -8, "A-law: the smallest codes are 0xD5 / 0x55 = +-8 (1)");
  CHECK(g711_alaw_encode(32767) == 0xAA && g711_alaw_encode(-32768) == 0x2A && g711_alaw_decode(0xAA) == 32256 &&
        g711_alaw_decode(0x2A) == -32256, "A-law: full scale is 0xAA / 0x2A = +-32256 (4032)");
}

static void test_round_trips(void)
{
  int code, alaw_ok = 1, mulaw_ok = 1, mulaw_values_ok = 1;
  for (code = 0; code < 256; code++) {
    int16_t u = g711_mulaw_decode((uint8_t)code);
    alaw_ok &= g711_alaw_encode(g711_alaw_decode((uint8_t)code)) == code;
    /* -0 (0x7F) decodes to 0, whose code is +0 (0xFF): the one value with two codes. */
    mulaw_ok &= g711_mulaw_encode(u) == (code == 0x7F ? 0xFF : code);
    mulaw_values_ok &= g711_mulaw_decode(g711_mulaw_encode(u)) == u;
  }
  CHECK(alaw_ok, "A-law: all 256 codes decode and encode back to themselves");
  CHECK(mulaw_ok, "mu-law: 255 codes encode back to themselves, -0 (0x7F) to +0 (0xFF)");
  CHECK(mulaw_values_ok, "mu-law: all 256 decoded values survive encode and decode exactly");
}

static void test_every_int16(void)
{
  int v, alaw_ok = 1, mulaw_ok = 1, alaw_error_ok = 1, mulaw_error_ok = 1, monotonic = 1;
  int16_t last_a = -32768, last_u = -32768;
  for (v = -32768; v <= 32767; v++) {
    int16_t x = (int16_t)v, a = g711_alaw_decode(g711_alaw_encode(x)), u = g711_mulaw_decode(g711_mulaw_encode(x));
    alaw_ok &= g711_alaw_encode(x) == reference_alaw(x);
    mulaw_ok &= g711_mulaw_encode(x) == reference_mulaw(x);
    /* Within a quantization step of the input (the step is 3 % of it, or 16
       and 8 near zero), and never backwards as the input grows. */
    alaw_error_ok &= abs(a - v) <= (abs(v) / 32 > 16 ? abs(v) / 32 : 16) + 512 * (abs(v) > 32256);
    mulaw_error_ok &= abs(u - v) <= (abs(v) / 16 > 8 ? abs(v) / 16 : 8) + 1024 * (abs(v) > 32124);
    monotonic &= a >= last_a && u >= last_u;
    last_a = a;
    last_u = u;
  }
  CHECK(alaw_ok, "A-law: every int16 encodes as the reference rule does");
  CHECK(mulaw_ok, "mu-law: every int16 encodes as the reference rule does");
  CHECK(alaw_error_ok && mulaw_error_ok, "every int16 decodes back within one quantization step");
  CHECK(monotonic, "decoded values never decrease as the input grows");
}

static void test_floats(void)
{
  static const uint8_t codes[4] = {0xFF, 0x80, 0x00, 0x7E};
  static const float in[5] = {0.0f, 0.5f, -0.5f, 2.0f, -2.0f};
  float out[4];
  uint8_t back[5];
  g711_to_float(G711_MULAW, codes, 4, out);
  CHECK(out[0] == 0.0f && out[1] == 32124.0f / 32768 && out[2] == -32124.0f / 32768 && out[3] == -8.0f / 32768,
        "codes to floats are the int16 values / 32768");
  g711_from_float(G711_ALAW, in, 5, back);
  CHECK(back[0] == 0xD5 && back[1] == g711_alaw_encode(16384) && back[2] == g711_alaw_encode(-16384) &&
        back[3] == 0xAA && back[4] == 0x2A, "floats to A-law round like pcm16 and clamp at full scale");
  g711_from_float(G711_MULAW, out, 4, back);
  CHECK(back[0] == 0xFF && back[1] == 0x80 && back[2] == 0x00 && back[3] == 0x7E,
        "mu-law floats encode back to their codes");
}

int main(void)
{
  test_reconstruction_tables();
  test_line_codes();
  test_round_trips();
  test_every_int16();
  test_floats();
  return TAP_DONE();
}
