/* wakeup: a byte for an armed client when the watched fd turns readable,
   none while unarmed, one on poke, a second client after the first hangs up,
   nothing left behind by stop. */
#include <poll.h>
#include <stdio.h>
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
  return TAP_DONE();
}
