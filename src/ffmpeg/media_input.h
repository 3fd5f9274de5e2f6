/* Where a decoder reads its bytes from: a file or a block of memory, handed
   to libavformat through a custom AVIO context that reads in small chunks, so
   a whole recording is never in memory at once. No Lua. */
#ifndef GPTAUDIO_MEDIA_INPUT_H
#define GPTAUDIO_MEDIA_INPUT_H

#include <stddef.h>
#include <stdio.h>

#include <libavformat/avio.h>

typedef struct media_input {
  FILE *file;                /* a file, or NULL for memory */
  const unsigned char *data; /* memory: not owned, must outlive the input */
  size_t size, pos;
  AVIOContext *avio;         /* reads through the callbacks below */
} media_input;

/* Opens the input over a file (path) or over size bytes at data; 0, or -1
   with why filled. The memory is not copied. */
int media_input_open_file(media_input *in, const char *path, char *why, size_t why_size);
int media_input_open_memory(media_input *in, const void *data, size_t size, char *why, size_t why_size);

/* Frees the AVIO context and closes the file; safe on an input never opened. */
void media_input_close(media_input *in);

#endif
