/* Fuzzes the WAV reader: parse, convert every frame, and check that what it
   reports lies inside the input; a 16-bit or float32 WAV must also survive a
   round trip through wav_write_header (when its byte rate fits 32 bits). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcm.h"
#include "wav.h"

#define CHUNK_SAMPLES 4096

static void convert_all(const wav_info *info)
{
  static float out[CHUNK_SAMPLES];
  size_t bytes = pcm_sample_bytes(info->format);
  size_t left = info->frames * info->channels;
  const unsigned char *p = info->data;
  while (left > 0) {
    size_t n = left < CHUNK_SAMPLES ? left : CHUNK_SAMPLES;
    pcm_to_float(info->format, p, n, out);
    p += n * bytes;
    left -= n;
  }
}

static void rewrite_and_reparse(const wav_info *info)
{
  size_t data_bytes = info->frames * info->channels * pcm_sample_bytes(info->format);
  unsigned char *copy;
  wav_info again;

  if (info->format != PCM_S16LE && info->format != PCM_F32LE)
    return;
  copy = malloc(WAV_HEADER_BYTES + data_bytes);
  if (wav_write_header(copy, info->rate, info->channels, info->format == PCM_F32LE, data_bytes) != 0) {
    /* Only a byte rate past 32 bits may stop a parsed header from being rewritten. */
    if ((uint64_t)info->rate * info->channels * pcm_sample_bytes(info->format) <= 0xFFFFFFFFu)
      abort();
    free(copy);
    return;
  }
  memcpy(copy + WAV_HEADER_BYTES, info->data, data_bytes);
  if (wav_parse(copy, WAV_HEADER_BYTES + data_bytes, &again) != NULL || again.format != info->format ||
      again.channels != info->channels || again.rate != info->rate || again.frames != info->frames ||
      memcmp(again.data, info->data, data_bytes) != 0)
    abort();
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  wav_info info;
  const char *err = wav_parse(data, size, &info);
  size_t frame_bytes;

  if (err != NULL) {
    if (strlen(err) == 0)
      abort();
    return 0;
  }
  frame_bytes = info.channels * pcm_sample_bytes(info.format);
  if (info.channels == 0 || info.rate == 0 || info.data < data || info.data > data + size ||
      info.frames > (size_t)(data + size - info.data) / frame_bytes)
    abort();
  convert_all(&info);
  rewrite_and_reparse(&info);
  return 0;
}
