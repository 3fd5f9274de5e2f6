/* Fuzzes the decoder through the custom AVIO from memory: any bytes either
   fail to open with a reason, or decode block by block into frames that keep
   the declared rate and channel count, are finite numbers, and end. Decoding
   is also asked for a conversion (24 kHz mono), as the chat route does. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "media_decoder.h"

#define BLOCK_FRAMES 4096
/* A guard against a decoder that never ends: far more audio than any input
   this size could hold at the highest rate. */
#define MAX_BLOCKS 100000

static void decode_all(const uint8_t *data, size_t size, const media_decode_options *options)
{
  static float block[BLOCK_FRAMES * MEDIA_MAX_CHANNELS];
  char why[256] = "";
  media_decoder *d = media_decoder_open_memory(data, size, options, why, sizeof why);
  const media_info *info;
  long got;
  int blocks = 0;
  if (!d) {
    if (strlen(why) == 0)
      abort();
    return;
  }
  info = media_decoder_info(d);
  if (info->rate == 0 || info->rate > MEDIA_MAX_RATE || info->channels == 0 || info->channels > MEDIA_MAX_CHANNELS)
    abort();
  while ((got = media_decoder_read(d, block, BLOCK_FRAMES, why, sizeof why)) > 0) {
    long i;
    if (got > BLOCK_FRAMES || ++blocks > MAX_BLOCKS)
      abort();
    for (i = 0; i < got * (long)info->channels; i++)
      if (!isfinite(block[i]))
        abort();
  }
  if (got < 0 && strlen(why) == 0)
    abort();
  media_decoder_close(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const media_decode_options chat = {24000, 1, NULL};
  av_log_set_level(AV_LOG_QUIET);
  decode_all(data, size, NULL);
  decode_all(data, size, &chat);
  return 0;
}
