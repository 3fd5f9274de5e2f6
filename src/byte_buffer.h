/* A growable byte array. Pure C, no Lua. It doubles, so appending is
   amortised O(1). A zeroed struct is an empty buffer. */
#ifndef GPTAUDIO_BYTE_BUFFER_H
#define GPTAUDIO_BYTE_BUFFER_H

#include <stddef.h>

typedef struct {
  char *bytes;
  size_t len, cap;
} byte_buffer;

/* Returns 0, or -1 when memory runs out (the buffer is then unchanged). */
int buffer_append(byte_buffer *b, const void *bytes, size_t len);
void buffer_free(byte_buffer *b);

#endif
