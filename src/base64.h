/* Standard base64 (RFC 4648, + and /). Pure C, no Lua. */
#ifndef GPTAUDIO_BASE64_H
#define GPTAUDIO_BASE64_H

#include <stddef.h>

/* Bytes base64_encode writes for n input bytes (padded); 0 on overflow. */
size_t base64_encoded_size(size_t n);

/* Encodes n bytes into out (base64_encoded_size(n) bytes, no NUL). Returns the length. */
size_t base64_encode(const unsigned char *in, size_t n, char *out);

/* An upper bound of the bytes n characters decode to. */
size_t base64_decoded_max(size_t n);

/* Decodes n characters into out (base64_decoded_max(n) bytes). Padding may be
   missing; anything else that is not base64 (a stray character, padding in the
   middle, a lone final character, non-zero trailing bits) fails.
   Returns 0 and sets *out_len, or -1 on invalid input. */
int base64_decode(const char *in, size_t n, unsigned char *out, size_t *out_len);

#endif
