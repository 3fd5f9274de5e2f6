/* What a path names: stat(2), before anything opens it (file_kind.h). */
#include <sys/stat.h>

#include "file_kind.h"

int file_kind(const char *path, file_kind_t *kind)
{
  struct stat st;
  if (stat(path, &st) != 0)
    return -1;
  if (S_ISREG(st.st_mode))
    *kind = FILE_KIND_REGULAR;
  else if (S_ISDIR(st.st_mode))
    *kind = FILE_KIND_DIRECTORY;
  else if (S_ISFIFO(st.st_mode))
    *kind = FILE_KIND_FIFO;
  else if (S_ISCHR(st.st_mode))
    *kind = FILE_KIND_CHARACTER_DEVICE;
  else if (S_ISBLK(st.st_mode))
    *kind = FILE_KIND_BLOCK_DEVICE;
  else if (S_ISSOCK(st.st_mode))
    *kind = FILE_KIND_SOCKET;
  else
    *kind = FILE_KIND_OTHER;
  return 0;
}

const char *file_kind_name(file_kind_t kind)
{
  switch (kind) {
  case FILE_KIND_REGULAR: return "regular file";
  case FILE_KIND_DIRECTORY: return "directory";
  case FILE_KIND_FIFO: return "FIFO";
  case FILE_KIND_CHARACTER_DEVICE: return "character device";
  case FILE_KIND_BLOCK_DEVICE: return "block device";
  case FILE_KIND_SOCKET: return "socket";
  default: return "special file";
  }
}
