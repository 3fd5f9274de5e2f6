/* file_kind: each kind a path can name, and a path that names nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_kind.h"
#include "tap.h"

int main(void)
{
  char dir[] = "/tmp/gptaudio-file-kind-XXXXXX", path[256];
  file_kind_t kind;
  FILE *f;

  CHECK(mkdtemp(dir) != NULL, "a temporary directory");
  CHECK(file_kind(dir, &kind) == 0 && kind == FILE_KIND_DIRECTORY, "a directory");
  snprintf(path, sizeof path, "%s/file", dir);
  f = fopen(path, "w");
  CHECK(f != NULL && fclose(f) == 0, "a file made");
  CHECK(file_kind(path, &kind) == 0 && kind == FILE_KIND_REGULAR, "a regular file");
  snprintf(path, sizeof path, "%s/link", dir);
  CHECK(symlink("file", path) == 0 && file_kind(path, &kind) == 0 && kind == FILE_KIND_REGULAR,
        "a symbolic link to a regular file is followed");
  unlink(path);
  snprintf(path, sizeof path, "%s/fifo", dir);
  CHECK(mkfifo(path, 0600) == 0 && file_kind(path, &kind) == 0 && kind == FILE_KIND_FIFO,
        "a FIFO, without blocking");
  unlink(path);
  CHECK(file_kind("/dev/zero", &kind) == 0 && kind == FILE_KIND_CHARACTER_DEVICE, "/dev/zero");
  snprintf(path, sizeof path, "%s/missing", dir);
  errno = 0;
  CHECK(file_kind(path, &kind) == -1 && errno == ENOENT, "nothing there: -1, ENOENT");
  CHECK(strcmp(file_kind_name(FILE_KIND_REGULAR), "regular file") == 0 &&
        strcmp(file_kind_name(FILE_KIND_FIFO), "FIFO") == 0 &&
        strcmp(file_kind_name(FILE_KIND_OTHER), "special file") == 0, "names");
  snprintf(path, sizeof path, "%s/file", dir);
  unlink(path);
  rmdir(dir);
  return TAP_DONE();
}
