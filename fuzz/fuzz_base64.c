/* Fuzzes the base64 decoder: whatever it accepts must be the canonical
   encoding of what it decoded (padding aside), and must round-trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static size_t without_padding(const char *text, size_t n)
{
  while (n > 0 && text[n - 1] == '=')
    n--;
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  unsigned char *decoded = malloc(base64_decoded_max(size) + 1);
  unsigned char *again;
  char *encoded;
  size_t len, elen, again_len;

  if (base64_decode(text, size, decoded, &len) != 0) {
    free(decoded);
    return 0;
  }
  if (len > base64_decoded_max(size))
    abort();
  encoded = malloc(base64_encoded_size(len) + 1);
  elen = base64_encode(decoded, len, encoded);
  if (elen != base64_encoded_size(len) || elen % 4 != 0 ||
      without_padding(encoded, elen) != without_padding(text, size) ||
      memcmp(encoded, text, without_padding(text, size)) != 0)
    abort();
  again = malloc(base64_decoded_max(elen) + 1);
  if (base64_decode(encoded, elen, again, &again_len) != 0 || again_len != len || memcmp(again, decoded, len) != 0)
    abort();
  free(again);
  free(encoded);
  free(decoded);
  return 0;
}
