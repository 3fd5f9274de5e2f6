#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "byte_buffer.h"

int buffer_append(byte_buffer *b, const void *bytes, size_t len)
{
  if (len == 0)
    return 0;
  if (len > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : 256;
    char *grown;
    while (cap - b->len < len) {
      if (cap > SIZE_MAX / 2)
        return -1;
      cap *= 2;
    }
    grown = realloc(b->bytes, cap);
    if (!grown)
      return -1;
    b->bytes = grown;
    b->cap = cap;
  }
  memcpy(b->bytes + b->len, bytes, len);
  b->len += len;
  return 0;
}

void buffer_free(byte_buffer *b)
{
  free(b->bytes);
  b->bytes = NULL;
  b->len = b->cap = 0;
}
