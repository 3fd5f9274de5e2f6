/* What a path names before anything opens it: opening a FIFO blocks until a
   writer comes, and a directory or /dev/zero reads as nothing or for ever.
   Pure C, no Lua. */
#ifndef GPTAUDIO_FILE_KIND_H
#define GPTAUDIO_FILE_KIND_H

typedef enum {
  FILE_KIND_REGULAR,
  FILE_KIND_DIRECTORY,
  FILE_KIND_FIFO,
  FILE_KIND_CHARACTER_DEVICE,
  FILE_KIND_BLOCK_DEVICE,
  FILE_KIND_SOCKET,
  FILE_KIND_OTHER
} file_kind_t;

/* The kind of what path names, symbolic links followed, in *kind. Returns 0,
   or -1 with errno set (ENOENT: nothing there, EACCES, ELOOP, ...). */
int file_kind(const char *path, file_kind_t *kind);

/* "regular file", "directory", "FIFO", "character device", ... */
const char *file_kind_name(file_kind_t kind);

#endif
