/* Encoding interleaved float32 frames into a compressed file in memory:
   flac, mp3 (libmp3lame), opus in ogg (libopus) and aac in m4a (FFmpeg's own
   aac), each through libavcodec and libavformat. No Lua. */
#ifndef GPTAUDIO_MEDIA_ENCODER_H
#define GPTAUDIO_MEDIA_ENCODER_H

#include <stddef.h>

typedef struct media_write_format {
  const char *name;        /* as encode() and save() take it */
  const char *encoder;     /* libavcodec's encoder */
  const char *muxer;       /* libavformat's muxer */
  long bitrate_per_channel; /* the default, bits/s; 0 for lossless */
} media_write_format;

/* The formats this file knows, NULL-terminated by a zero name; and the one
   named, or NULL. */
extern const media_write_format media_write_formats[];
const media_write_format *media_write_format_find(const char *name);

/* Whether this libavcodec and libavformat have the format's encoder and muxer. */
int media_write_format_available(const media_write_format *format);

/* Encodes frames * channels samples at rate into *out (malloc'ed, *out_size
   bytes; the caller frees it). bitrate 0 takes the format's default. The rate
   goes to the nearest one the encoder takes when it takes few (opus: 48 kHz
   and below). 0, or -1 with why filled. */
int media_encode(const media_write_format *format, const float *samples, size_t frames, unsigned rate,
                 unsigned channels, long bitrate, unsigned char **out, size_t *out_size, char *why,
                 size_t why_size);

#endif
