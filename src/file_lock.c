/* An exclusive flock(2) on a lock file (file_lock.h). */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "file_lock.h"

int file_lock(const char *path)
{
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666);
  int saved;
  if (fd < 0)
    return -1;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR)
      continue;
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

void file_unlock(int fd)
{
  if (fd >= 0)
    close(fd);
}
