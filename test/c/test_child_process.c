/* child_process: output read without waiting, a round trip through cat, a
   missing program, stderr apart, a dead reader gives EPIPE (not SIGPIPE),
   and stop ends a child that ignores its input. */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child_process.h"
#include "tap.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads stream until its end (or 5 s), polling as the engine's timers do. */
static size_t read_all(child_process *c, int stream, char *buf, size_t cap, int *would_block)
{
  size_t total = 0;
  double start = now();
  while (now() - start < 5 && total < cap) {
    ssize_t got = child_read(c, stream, buf + total, cap - total);
    if (got == 0)
      break;
    if (got > 0)
      total += (size_t)got;
    else if (errno == EAGAIN) {
      ++*would_block;
      usleep(1000);
    } else
      break;
  }
  return total;
}

int main(void)
{
  child_process c;
  char buf[256];
  int would_block = 0;
  size_t n;
  double start;

  {
    char *argv[] = {"sh", "-c", "sleep 0.05; printf hello; printf oops >&2", NULL};
    CHECK(child_spawn(&c, argv, CHILD_STDIN_NULL) == 0, "spawns sh");
    errno = 0;
    CHECK(child_read(&c, CHILD_STDOUT, buf, sizeof buf) == -1 && errno == EAGAIN,
          "nothing written yet: EAGAIN at once, no wait");
    n = read_all(&c, CHILD_STDOUT, buf, sizeof buf, &would_block);
    CHECK(n == 5 && memcmp(buf, "hello", 5) == 0, "stdout read whole");
    n = read_all(&c, CHILD_STDERR, buf, sizeof buf, &would_block);
    CHECK(n == 4 && memcmp(buf, "oops", 4) == 0, "stderr read apart");
    CHECK(child_read(&c, CHILD_STDOUT, buf, sizeof buf) == 0, "the end stays the end");
    start = now();
    while (child_running(&c) && now() - start < 5)
      usleep(1000);
    CHECK(c.pid == 0 && WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "reaped with status 0");
  }
  {
    char *argv[] = {"cat", NULL};
    CHECK(child_spawn(&c, argv, CHILD_STDIN_PIPE) == 0, "spawns cat with a stdin");
    CHECK(child_write(&c, "round trip", 10) == 10, "writes to its stdin");
    child_close_stdin(&c);
    n = read_all(&c, CHILD_STDOUT, buf, sizeof buf, &would_block);
    CHECK(n == 10 && memcmp(buf, "round trip", 10) == 0, "cat gives it back, then its end");
    errno = 0;
    CHECK(child_write(&c, "x", 1) == -1 && errno == EBADF, "stdin closed: EBADF");
    child_stop(&c, 100);
    CHECK(c.pid == 0, "stopped");
  }
  {
    char *argv[] = {"gptaudio-no-such-program", NULL};
    errno = 0;
    CHECK(child_spawn(&c, argv, CHILD_STDIN_NULL) == -1 && errno == ENOENT, "a missing program: ENOENT");
    CHECK(c.out_fd == -1 && c.err_fd == -1 && c.in_fd == -1 && c.pid == 0, "nothing left open");
  }
  {
    char *argv[] = {"true", NULL};
    ssize_t sent;
    int i;
    CHECK(child_spawn(&c, argv, CHILD_STDIN_PIPE) == 0, "spawns true, which reads nothing");
    start = now();
    while (child_running(&c) && now() - start < 5)
      usleep(1000);
    errno = 0;
    sent = 0;
    for (i = 0; i < 10 && sent >= 0; i++)
      sent = child_write(&c, "data", 4);
    CHECK(sent == -1 && errno == EPIPE, "writing to a dead child: EPIPE, and this process lives");
    child_stop(&c, 0);
  }
  {
    char *argv[] = {"sh", "-c", "trap '' TERM; sleep 10", NULL};
    CHECK(child_spawn(&c, argv, CHILD_STDIN_NULL) == 0, "spawns a child that ignores SIGTERM");
    usleep(50000);
    start = now();
    child_stop(&c, 50);
    CHECK(c.pid == 0 && now() - start < 2, "stop kills it after the grace time");
    child_stop(&c, 50);
    CHECK(c.pid == 0, "stopping twice does nothing");
  }
  CHECK(would_block > 0, "reads found nothing to read at times and returned at once");
  return TAP_DONE();
}
