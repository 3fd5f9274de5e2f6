/* child_process: see child_process.h. */
#include "child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int set_nonblocking(int fd)
{
  int flags = fcntl(fd, F_GETFL);
  return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void close_fd(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

int child_spawn(child_process *c, char *const argv[], int stdin_mode)
{
  int with_stdin = stdin_mode == CHILD_STDIN_PIPE;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  int rc, saved;

  c->pid = 0;
  c->in_fd = c->out_fd = c->err_fd = -1;
  c->status = 0;
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    goto fail;
  if (with_stdin && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0)
    goto fail;
  if (posix_spawn_file_actions_init(&actions) != 0)
    goto fail;
  /* dup2 clears close-on-exec on the copies: only 0, 1 and 2 reach the child. */
  if (with_stdin)
    rc = posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  else if (stdin_mode == CHILD_STDIN_INHERIT)
    rc = 0;
  else
    rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  if (rc == 0)
    rc = posix_spawnp(&c->pid, argv[0], &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    c->pid = 0;
    errno = rc;
    goto fail;
  }
  close(out[1]);
  close(err[1]);
  c->out_fd = out[0];
  c->err_fd = err[0];
  if (with_stdin) {
    close(in[0]);
    c->in_fd = in[1];
    /* The child writes nothing back on its stdin. */
    shutdown(c->in_fd, SHUT_RD);
  }
  if (set_nonblocking(c->out_fd) != 0 || set_nonblocking(c->err_fd) != 0 ||
      (c->in_fd >= 0 && set_nonblocking(c->in_fd) != 0)) {
    saved = errno;
    child_stop(c, 0);
    errno = saved;
    return -1;
  }
  return 0;

fail:
  saved = errno;
  close_fd(&in[0]);
  close_fd(&in[1]);
  close_fd(&out[0]);
  close_fd(&out[1]);
  close_fd(&err[0]);
  close_fd(&err[1]);
  errno = saved;
  return -1;
}

ssize_t child_read(child_process *c, int stream, void *buf, size_t n)
{
  int *fd = stream == CHILD_STDERR ? &c->err_fd : &c->out_fd;
  ssize_t got;
  if (*fd < 0)
    return 0;
  do {
    got = read(*fd, buf, n);
  } while (got < 0 && errno == EINTR);
  if (got == 0)
    close_fd(fd);
  return got;
}

ssize_t child_write(child_process *c, const void *buf, size_t n)
{
  ssize_t sent;
  if (c->in_fd < 0) {
    errno = EBADF;
    return -1;
  }
  do {
    sent = send(c->in_fd, buf, n, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return 0;
  return sent;
}

void child_close_stdin(child_process *c)
{
  close_fd(&c->in_fd);
}

int child_running(child_process *c)
{
  pid_t got;
  if (c->pid <= 0)
    return 0;
  do {
    got = waitpid(c->pid, &c->status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got == 0)
    return 1;
  c->pid = 0; /* reaped now, or not ours to reap (ECHILD) */
  return 0;
}

static void sleep_ms(int ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

void child_stop(child_process *c, int grace_ms)
{
  int waited = 0;
  close_fd(&c->in_fd);
  close_fd(&c->out_fd);
  close_fd(&c->err_fd);
  if (!child_running(c))
    return;
  kill(c->pid, SIGTERM);
  while (waited < grace_ms && child_running(c)) {
    sleep_ms(1);
    waited++;
  }
  if (child_running(c)) {
    kill(c->pid, SIGKILL);
    while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
      ;
    c->pid = 0;
  }
}
