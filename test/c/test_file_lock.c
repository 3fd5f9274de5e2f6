/* file_lock: one holder at a time, across descriptors of one process and
   across processes, released by unlock and by the holder's death. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file_lock.h"
#include "tap.h"

/* Whether a child process finds the lock taken (EWOULDBLOCK). */
static int taken_for_another_process(const char *path)
{
  int status;
  pid_t pid = fork();
  if (pid == 0) {
    int fd = file_lock(path);
    _exit(fd < 0 && errno == EWOULDBLOCK ? 0 : 1);
  }
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void)
{
  char dir[] = "/tmp/gptaudio-file-lock-XXXXXX", path[256];
  int first, second, status;
  pid_t pid;

  CHECK(mkdtemp(dir) != NULL, "a temporary directory");
  snprintf(path, sizeof path, "%s/results.lock", dir);
  first = file_lock(path);
  CHECK(first >= 0, "the first lock is taken, creating the file");
  errno = 0;
  second = file_lock(path);
  CHECK(second == -1 && errno == EWOULDBLOCK, "a second descriptor of this process is refused");
  CHECK(taken_for_another_process(path), "another process is refused");
  file_unlock(first);
  second = file_lock(path);
  CHECK(second >= 0, "after unlock the lock can be taken again");
  file_unlock(second);

  /* A holder that dies without unlocking releases the lock. */
  pid = fork();
  if (pid == 0) {
    if (file_lock(path) < 0)
      _exit(1);
    abort();
  }
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status), "a holder dies holding the lock");
  first = file_lock(path);
  CHECK(first >= 0, "the dead holder's lock is gone");
  file_unlock(first);

  snprintf(path, sizeof path, "%s/no/such/dir.lock", dir);
  errno = 0;
  CHECK(file_lock(path) == -1 && errno == ENOENT, "a lock file that cannot be made: -1, ENOENT");
  snprintf(path, sizeof path, "%s/results.lock", dir);
  unlink(path);
  rmdir(dir);
  return TAP_DONE();
}
