/* Fuzzes G.711 both ways: any bytes decode as codes of either law and encode
   back to themselves (mu-law's -0 to +0); the same bytes read as int16 encode
   to codes whose decoding stays within one quantization step and which
   encode again to themselves. */
#include <stdint.h>
#include <stdlib.h>

#include "g711.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_code(uint8_t code)
{
  int16_t a = g711_alaw_decode(code), u = g711_mulaw_decode(code);
  if (g711_alaw_encode(a) != code || g711_mulaw_encode(u) != (code == 0x7F ? 0xFF : code))
    abort();
}

static void check_linear(int16_t x)
{
  int v = x, mag = abs(v);
  uint8_t a = g711_alaw_encode(x), u = g711_mulaw_encode(x);
  int a_error = abs(g711_alaw_decode(a) - v), u_error = abs(g711_mulaw_decode(u) - v);
  /* The step is about 1/16 of the magnitude, at least 16 (A-law) or 8 (mu-law) near
     zero, plus the clipping above the largest reconstruction value. */
  if (a_error > (mag / 32 > 16 ? mag / 32 : 16) + (mag > 32256 ? 512 : 0) ||
      u_error > (mag / 16 > 8 ? mag / 16 : 8) + (mag > 32124 ? 1024 : 0))
    abort();
  if (g711_alaw_encode(g711_alaw_decode(a)) != a || g711_mulaw_decode(g711_mulaw_encode(g711_mulaw_decode(u))) !=
                                                      g711_mulaw_decode(u))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t i;
  float samples[64];
  uint8_t codes[64];
  for (i = 0; i < size; i++)
    check_code(data[i]);
  for (i = 0; i + 1 < size; i += 2)
    check_linear((int16_t)(uint16_t)(data[i] | data[i + 1] << 8));
  /* The float paths agree with the integer ones. */
  for (i = 0; i < size && i < 64; i++)
    codes[i] = data[i];
  g711_to_float(G711_ALAW, codes, i, samples);
  g711_from_float(G711_ALAW, samples, i, codes);
  while (i-- > 0)
    if (codes[i] != data[i])
      abort();
  return 0;
}
