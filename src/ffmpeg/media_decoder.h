/* Decoding any audio libavformat and libavcodec know (m4a/AAC, mp3,
   ogg/vorbis, opus, flac, webm, mp4, aiff, caf, wav, ...) into interleaved
   float32 frames, a block at a time, from a file or from memory: the content
   is probed, never the name trusted. Converted by libswresample to the rate
   and channel count asked for, or kept as they are. No Lua. */
#ifndef GPTAUDIO_MEDIA_DECODER_H
#define GPTAUDIO_MEDIA_DECODER_H

#include <stddef.h>

/* The largest rate and channel count a source may declare (libswresample's
   own channel limit is 64). */
#define MEDIA_MAX_RATE 768000
#define MEDIA_MAX_CHANNELS 64

typedef struct media_decoder media_decoder;

typedef struct media_decode_options {
  unsigned rate;     /* output rate; 0: the source's */
  unsigned channels; /* output channels; 0: the source's */
  const char *hint;  /* a demuxer name tried when probing recognises nothing; NULL: none */
} media_decode_options;

typedef struct media_info {
  unsigned rate, channels;               /* of the frames read() gives */
  unsigned source_rate, source_channels; /* as the stream declares them */
  double duration;                       /* seconds the container declares; < 0 when it says nothing */
  const char *container, *codec;         /* libavformat's and libavcodec's short names */
} media_info;

/* A decoder over the file at path, or over size bytes at data (not copied:
   they must outlive the decoder). NULL with why filled when the bytes hold no
   decodable audio stream. options may be NULL. */
media_decoder *media_decoder_open_file(const char *path, const media_decode_options *options,
                                       char *why, size_t why_size);
media_decoder *media_decoder_open_memory(const void *data, size_t size, const media_decode_options *options,
                                         char *why, size_t why_size);

const media_info *media_decoder_info(const media_decoder *d);

/* Up to max_frames frames into out (max_frames * channels floats): the count,
   0 at the end, or -1 with why filled. */
long media_decoder_read(media_decoder *d, float *out, size_t max_frames, char *why, size_t why_size);

void media_decoder_close(media_decoder *d);

/* Whether this libavformat has the demuxer of that name ("mov", "ogg", ...). */
int media_demuxer_available(const char *name);

#endif
