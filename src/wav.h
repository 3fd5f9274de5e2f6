/* WAV (RIFF/WAVE) reader and header writer. Pure C, no Lua. */
#ifndef GPTAUDIO_WAV_H
#define GPTAUDIO_WAV_H

#include <stddef.h>

#include "pcm.h"

typedef struct {
  pcm_format format;          /* the sample layout of the data chunk */
  unsigned channels;          /* >= 1 */
  unsigned rate;              /* frames per second, >= 1 */
  const unsigned char *data;  /* first sample byte, inside the parsed bytes */
  size_t frames;              /* whole frames available (a partial last frame is dropped) */
} wav_info;

/* Parses a WAV held in memory. PCM 8/16/24/32-bit, IEEE float 32/64 and
   WAVE_FORMAT_EXTENSIBLE with either subformat; unknown and odd-sized chunks
   (padded to even) are skipped; a data size of 0 or 0xFFFFFFFF, or one larger
   than what is there, means "to the end of the bytes" (streamed WAVs).
   Returns NULL on success, else a static message saying what is wrong. */
const char *wav_parse(const unsigned char *bytes, size_t len, wav_info *out);

#define WAV_HEADER_BYTES 44

/* Writes the 44-byte canonical header for `data_bytes` bytes of samples, either
   16-bit PCM (float_samples = 0) or 32-bit IEEE float (float_samples = 1).
   Returns 0, or -1 when data_bytes does not fit a RIFF size field or the rate
   and channels do not fit the header (zero, or a block align over 16 bits). */
int wav_write_header(unsigned char out[WAV_HEADER_BYTES], unsigned rate,
                     unsigned channels, int float_samples, size_t data_bytes);

#endif
