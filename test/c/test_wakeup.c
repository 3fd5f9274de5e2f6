/* wakeup: a byte for an armed client when the watched fd turns readable,
   none while unarmed, one on poke, a second client after the first hangs up,
   nothing left behind by stop; the socket's folder under $TMPDIR when that
   is usable and short enough, else under /tmp. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tap.h"
#include "wakeup.h"

static int connect_to(const char *path)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  snprintf(address.sun_path, sizeof address.sun_path, "%s", path);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Whether a byte arrives on fd within ms milliseconds (and reads it). */
static int byte_within(int fd, int ms)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  char c;
  return poll(&p, 1, ms) == 1 && read(fd, &c, 1) == 1;
}

/* Starts a helper with TMPDIR set to root (unset for NULL); whether its socket
   path starts with expected + "/gptaudio-wakeup-", serves a client, and stop
   leaves nothing behind. */
static int lives_under(const char *root, const char *expected)
{
  char err[256], path[128], prefix[160];
  int watched[2], client, ok;
  wakeup *w;
  struct stat st;
  if (root)
    setenv("TMPDIR", root, 1);
  else
    unsetenv("TMPDIR");
  if (pipe(watched) != 0)
    return 0;
  w = wakeup_start(watched[0], err, sizeof err);
  if (!w) {
    printf("# %s\n", err);
    return 0;
  }
  snprintf(path, sizeof path, "%s", wakeup_path(w));
  snprintf(prefix, sizeof prefix, "%s/gptaudio-wakeup-", expected);
  ok = strncmp(path, prefix, strlen(prefix)) == 0 && strlen(path) == strlen(prefix) + strlen("XXXXXX/socket");
  if (!ok)
    printf("# %s is not under %s\n", path, expected);
  client = connect_to(path);
  ok = ok && client >= 0 && write(client, "a", 1) == 1 && write(watched[1], "x", 1) == 1;
  ok = ok && byte_within(client, 1000);
  if (client >= 0)
    close(client);
  wakeup_stop(w);
  *strrchr(path, '/') = '\0';
  ok = ok && stat(path, &st) != 0;
  close(watched[0]);
  close(watched[1]);
  return ok;
}

/* Where the socket goes as TMPDIR says. */
static void socket_folders(void)
{
  char root[] = "/tmp/test-wakeup-XXXXXX", slashed[64], longest[128], too_long[160];
  size_t room = sizeof ((struct sockaddr_un *)0)->sun_path - 1 - strlen("/gptaudio-wakeup-XXXXXX/socket");
  CHECK(mkdtemp(root) != NULL, "a folder to be TMPDIR");
  CHECK(lives_under(root, root), "under TMPDIR");
  snprintf(slashed, sizeof slashed, "%s//", root);
  CHECK(lives_under(slashed, root), "under TMPDIR, its trailing slashes dropped");
  /* The longest TMPDIR that still fits: a socket path of sun_path's size less its NUL. */
  snprintf(longest, sizeof longest, "%s/%0*d", root, (int)(room - strlen(root) - 1), 0);
  CHECK(strlen(longest) == 77 && mkdir(longest, 0700) == 0, "a TMPDIR of 77 bytes");
  CHECK(lives_under(longest, longest), "under a TMPDIR of 77 bytes, the socket path 107");
  snprintf(too_long, sizeof too_long, "%s0", longest);
  CHECK(mkdir(too_long, 0700) == 0 && lives_under(too_long, "/tmp"), "TMPDIR of 78 bytes: under /tmp");
  CHECK(lives_under("relative/folder", "/tmp"), "a relative TMPDIR: under /tmp");
  CHECK(lives_under("/nonexistent/folder", "/tmp"), "a TMPDIR where no folder can be made: under /tmp");
  CHECK(lives_under("", "/tmp"), "an empty TMPDIR: under /tmp");
  CHECK(lives_under(NULL, "/tmp"), "no TMPDIR: under /tmp");
  CHECK(rmdir(too_long) == 0 && rmdir(longest) == 0 && rmdir(root) == 0, "nothing left in TMPDIR");
}

int main(void)
{
  char err[256], path[128];
  int watched[2], client, second;
  wakeup *w;
  struct stat st;

  CHECK(pipe(watched) == 0, "a pipe to watch");
  w = wakeup_start(watched[0], err, sizeof err);
  CHECK(w != NULL, "the helper starts");
  snprintf(path, sizeof path, "%s", wakeup_path(w));
  CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "its path is a unix socket");
  client = connect_to(path);
  CHECK(client >= 0, "a client connects");

  CHECK(write(watched[1], "x", 1) == 1, "the watched fd turns readable");
  CHECK(!byte_within(client, 100), "no byte while the client has not armed");
  CHECK(write(client, "a", 1) == 1 && byte_within(client, 1000), "armed: a byte at once");
  CHECK(!byte_within(client, 100), "one byte per arming, though the fd stays readable");
  {
    char c;
    CHECK(read(watched[0], &c, 1) == 1, "the client handles the fd");
  }
  CHECK(write(client, "a", 1) == 1 && !byte_within(client, 100), "armed on a quiet fd: no byte");
  CHECK(write(watched[1], "y", 1) == 1 && byte_within(client, 1000), "the fd turns readable: a byte");

  wakeup_poke(w);
  CHECK(byte_within(client, 1000), "a poke: a byte, armed or not");

  close(client);
  second = connect_to(path);
  CHECK(second >= 0, "after a hang-up a second client connects");
  CHECK(write(second, "a", 1) == 1 && byte_within(second, 1000), "and is served (the fd is still readable)");
  close(second);

  wakeup_stop(w);
  CHECK(stat(path, &st) != 0, "stop removes the socket");
  close(watched[0]);
  close(watched[1]);
  socket_folders();
  return TAP_DONE();
}
