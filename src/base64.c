/* Standard base64. Table-driven both ways: the decoder looks every character
   up once and folds the "invalid" marks of a whole run together, so the loop
   has no branch per character (streamed audio decodes many MB of it). */
#include <stdint.h>

#include "base64.h"

static const char alphabet[64] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of each character; 255 (high bit set) marks anything else. */
static const unsigned char sextet[256] = {
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255, 255,  63,
   52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 255, 255, 255,
  255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
   15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255, 255,
  255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
   41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

#define INVALID 0x80u

size_t base64_encoded_size(size_t n)
{
  size_t groups = n / 3 + (n % 3 != 0);
  return groups > SIZE_MAX / 4 ? 0 : groups * 4;
}

size_t base64_encode(const unsigned char *in, size_t n, char *out)
{
  char *o = out;
  size_t i;
  for (i = 0; i + 3 <= n; i += 3, o += 4) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    o[0] = alphabet[v >> 18];
    o[1] = alphabet[v >> 12 & 63];
    o[2] = alphabet[v >> 6 & 63];
    o[3] = alphabet[v & 63];
  }
  if (n - i == 1) {
    o[0] = alphabet[in[i] >> 2];
    o[1] = alphabet[(in[i] & 3) << 4];
    o[2] = '=';
    o[3] = '=';
    o += 4;
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
    o[0] = alphabet[v >> 10];
    o[1] = alphabet[v >> 4 & 63];
    o[2] = alphabet[(v & 15) << 2];
    o[3] = '=';
    o += 4;
  }
  return (size_t)(o - out);
}

size_t base64_decoded_max(size_t n)
{
  size_t tail = n % 4;
  return n / 4 * 3 + (tail > 1 ? tail - 1 : 0);
}

int base64_decode(const char *in, size_t n, unsigned char *out, size_t *out_len)
{
  const unsigned char *s = (const unsigned char *)in;
  unsigned char *o = out;
  unsigned marks = 0;
  size_t pad = 0, tail, full, i;

  /* One or two '=' may close the text, and only to complete its last quad;
     an '=' anywhere else is looked up as invalid below. */
  if (n > 0 && s[n - 1] == '=')
    pad = n > 1 && s[n - 2] == '=' ? 2 : 1;
  if (pad && n % 4 != 0)
    return -1;
  n -= pad;
  tail = n % 4;
  if (tail == 1)
    return -1;
  full = n - tail;

  for (i = 0; i < full; i += 4, o += 3) {
    unsigned a = sextet[s[i]], b = sextet[s[i + 1]], c = sextet[s[i + 2]], d = sextet[s[i + 3]];
    uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
    marks |= a | b | c | d;
    o[0] = (unsigned char)(v >> 16);
    o[1] = (unsigned char)(v >> 8);
    o[2] = (unsigned char)v;
  }
  if (tail == 2) {
    unsigned a = sextet[s[full]], b = sextet[s[full + 1]];
    marks |= a | b | (b & 15 ? INVALID : 0); /* bits past the last byte must be 0 */
    *o++ = (unsigned char)(a << 2 | b >> 4);
  } else if (tail == 3) {
    unsigned a = sextet[s[full]], b = sextet[s[full + 1]], c = sextet[s[full + 2]];
    marks |= a | b | c | (c & 3 ? INVALID : 0);
    *o++ = (unsigned char)(a << 2 | b >> 4);
    *o++ = (unsigned char)(b << 4 | c >> 2);
  }
  if (marks & INVALID)
    return -1;
  *out_len = (size_t)(o - out);
  return 0;
}
