/* base64: RFC 4648 vectors, every padding case, missing padding, each kind of
   invalid input, and round trips of every byte value and many lengths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "tap.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decodes a NUL-terminated text into a buffer sized exactly base64_decoded_max,
   so ASan sees any write past the documented bound. Returns -1 or the length. */
static long decode(const char *text, unsigned char *result)
{
  size_t n = strlen(text), len = 0;
  size_t max = base64_decoded_max(n);
  unsigned char *out = malloc(max ? max : 1);
  long r = -1;
  if (base64_decode(text, n, out, &len) == 0) {
    memcpy(result, out, len);
    r = (long)len;
  }
  free(out);
  return r;
}

static int decodes_to(const char *text, const char *expected)
{
  unsigned char result[256];
  long len = decode(text, result);
  return len == (long)strlen(expected) && memcmp(result, expected, (size_t)len) == 0;
}

static int encodes_to(const char *bytes, const char *expected)
{
  size_t n = strlen(bytes);
  size_t size = base64_encoded_size(n);
  char *out = malloc(size + 1);
  size_t len = base64_encode((const unsigned char *)bytes, n, out);
  int ok = len == size && len == strlen(expected) && memcmp(out, expected, len) == 0;
  free(out);
  return ok;
}

static int rejects(const char *text)
{
  unsigned char result[256];
  return decode(text, result) == -1;
}

static void test_rfc4648_vectors(void)
{
  static const char *const vectors[][2] = {
    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  static const char *const unpadded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  size_t i;
  for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "encode \"%s\" = \"%s\"", vectors[i][0], vectors[i][1]);
    CHECK(encodes_to(vectors[i][0], vectors[i][1]), name);
    snprintf(name, sizeof name, "decode \"%s\"", vectors[i][1]);
    CHECK(decodes_to(vectors[i][1], vectors[i][0]), name);
    snprintf(name, sizeof name, "decode \"%s\" (padding missing)", unpadded[i]);
    CHECK(decodes_to(unpadded[i], vectors[i][0]), name);
  }
}

static void test_sizes(void)
{
  CHECK(base64_encoded_size(0) == 0, "encoded size of 0 bytes is 0");
  CHECK(base64_encoded_size(1) == 4 && base64_encoded_size(2) == 4 && base64_encoded_size(3) == 4,
        "encoded size of 1..3 bytes is 4");
  CHECK(base64_encoded_size(4) == 8 && base64_encoded_size(300) == 400, "encoded size of 4 and 300 bytes");
  CHECK(base64_encoded_size(SIZE_MAX) == 0, "encoded size overflow gives 0");
  CHECK(base64_encoded_size(SIZE_MAX / 4 * 3) == SIZE_MAX / 4 * 4, "largest encodable size");
  CHECK(base64_decoded_max(0) == 0 && base64_decoded_max(2) == 1 && base64_decoded_max(3) == 2 &&
        base64_decoded_max(4) == 3 && base64_decoded_max(8) == 6 && base64_decoded_max(7) == 5,
        "decoded bound for 0, 2, 3, 4, 7, 8 characters");
  CHECK(base64_decoded_max(SIZE_MAX) <= SIZE_MAX / 4 * 3 + 2, "decoded bound of SIZE_MAX does not wrap");
}

static void test_padding_cases(void)
{
  CHECK(decodes_to("QQ==", "A"), "two pad characters");
  CHECK(decodes_to("QUI=", "AB"), "one pad character");
  CHECK(decodes_to("QUJD", "ABC"), "no pad needed");
  CHECK(decodes_to("QQ", "A"), "two pad characters missing");
  CHECK(decodes_to("QUI", "AB"), "one pad character missing");
  CHECK(rejects("QQ="), "half the padding is refused");
  CHECK(rejects("QQ==="), "three pad characters are refused");
  CHECK(rejects("QUJD="), "padding after a full quad is refused");
  CHECK(rejects("QUJD===="), "a quad of padding is refused");
  CHECK(rejects("="), "a lone pad character is refused");
  CHECK(rejects("=="), "two lone pad characters are refused");
  CHECK(rejects("Q==="), "one character with three pads is refused");
}

static void test_invalid_kinds(void)
{
  unsigned char result[256];
  static const char with_nul[] = "Zm9v\0mFy";
  size_t len;
  int c, pos, refused = 0, total = 0;

  CHECK(rejects("Zm9v!mFy"), "a stray character is refused");
  CHECK(rejects("Zm9v YmFy"), "a space is refused");
  CHECK(rejects("Zm9v\nYmFy"), "a newline is refused");
  CHECK(rejects("Zm9v-_Fy"), "the URL-safe alphabet is refused");
  CHECK(rejects("Zg==Zg=="), "padding in the middle is refused");
  CHECK(rejects("Zm=vYmFy"), "a pad character inside a quad is refused");
  CHECK(rejects("Z"), "a lone final character is refused");
  CHECK(rejects("Zm9vY"), "a lone character after a quad is refused");
  CHECK(rejects("Zh=="), "non-zero trailing bits after one byte are refused");
  CHECK(rejects("Zm9="), "non-zero trailing bits after two bytes are refused");
  CHECK(rejects("Zh"), "non-zero trailing bits without padding are refused");
  CHECK(base64_decode(with_nul, sizeof with_nul - 1, result, &len) == -1, "an embedded NUL is refused");

  /* Every byte that is not in the alphabet, at every position of a quad. */
  for (c = 0; c < 256; c++) {
    if (c == '=' || (c != 0 && strchr(alphabet, c)))
      continue;
    for (pos = 0; pos < 4; pos++) {
      char quad[4] = {'A', 'A', 'A', 'A'};
      quad[pos] = (char)c;
      total++;
      refused += base64_decode(quad, 4, result, &len) == -1;
    }
  }
  CHECK(total == 191 * 4 && refused == total,
        "each of the 191 non-alphabet bytes other than '=' is refused everywhere");
}

static void test_alphabet(void)
{
  unsigned char bytes[48];
  char text[64];
  size_t len = 0;
  CHECK(base64_decode(alphabet, 64, bytes, &len) == 0 && len == 48, "the whole alphabet decodes to 48 bytes");
  CHECK(base64_encode(bytes, 48, text) == 64 && memcmp(text, alphabet, 64) == 0,
        "and encodes back to the alphabet");
  CHECK(bytes[0] == 0x00 && bytes[1] == 0x10 && bytes[2] == 0x83 && bytes[45] == 0xF3 && bytes[46] == 0xDF &&
        bytes[47] == 0xBF,
        "alphabet bytes start 00 10 83 and end F3 DF BF");
}

static void test_round_trips(void)
{
  unsigned char bytes[1024], back[1024];
  char text[1368];
  size_t n, i, len;
  int ok = 1;
  uint32_t seed = 12345;

  for (i = 0; i < 256; i++)
    bytes[i] = (unsigned char)i;
  len = base64_encode(bytes, 256, text);
  CHECK(len == 344 && base64_decode(text, len, back, &len) == 0 && len == 256 &&
        memcmp(back, bytes, 256) == 0, "all 256 byte values round trip");

  for (n = 0; n <= sizeof bytes; n++) {
    size_t elen, dlen = (size_t)-1;
    for (i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      bytes[i] = (unsigned char)(seed >> 16);
    }
    elen = base64_encode(bytes, n, text);
    ok &= elen == base64_encoded_size(n);
    ok &= base64_decode(text, elen, back, &dlen) == 0 && dlen == n && memcmp(back, bytes, n) == 0;
    /* Without its padding the same text decodes the same. */
    while (elen > 0 && text[elen - 1] == '=')
      elen--;
    ok &= base64_decode(text, elen, back, &dlen) == 0 && dlen == n && memcmp(back, bytes, n) == 0;
  }
  CHECK(ok, "random bytes of every length 0..1024 round trip, padded and unpadded");
}

int main(void)
{
  test_rfc4648_vectors();
  test_sizes();
  test_padding_cases();
  test_invalid_kinds();
  test_alphabet();
  test_round_trips();
  return TAP_DONE();
}
