/* The wake-up helper thread (wakeup.h). */
#include "wakeup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The socket is <root>/gptaudio-wakeup-XXXXXX/socket, and all of it must fit sun_path. */
#define DIR_TEMPLATE "/gptaudio-wakeup-XXXXXX"
#define SOCKET_NAME "/socket"
#define PATH_ROOM sizeof ((struct sockaddr_un *)0)->sun_path
#define FALLBACK_ROOT "/tmp"

struct wakeup {
  int watched;     /* the fd whose readability is reported; -1 once it went bad */
  int listener;    /* the unix socket clients connect to */
  int control[2];  /* a pipe: 'p' poke, 's' stop */
  pthread_t thread;
  char dir[PATH_ROOM - (sizeof SOCKET_NAME - 1)];
  char path[PATH_ROOM];
};

/* Makes the socket's folder in w->dir: under $TMPDIR (without trailing
   slashes) when it is an absolute path short enough for the whole socket
   path, and under /tmp when it is not or the folder cannot be made there (an
   nginx worker runs as another user than the one whose TMPDIR it was handed).
   A relative one would name another place once the process changes directory.
   0, or -1 with errno set. */
static int make_dir(wakeup *w)
{
  const size_t longest = PATH_ROOM - sizeof DIR_TEMPLATE - sizeof SOCKET_NAME + 1;
  const char *root = secure_getenv("TMPDIR");
  size_t len = root ? strlen(root) : 0;
  while (len > 1 && root[len - 1] == '/')
    len--;
  if (len > 0 && root[0] == '/' && len <= longest) {
    snprintf(w->dir, sizeof w->dir, "%.*s%s", (int)len, root, DIR_TEMPLATE);
    if (mkdtemp(w->dir))
      return 0;
  }
  snprintf(w->dir, sizeof w->dir, "%s%s", FALLBACK_ROOT, DIR_TEMPLATE);
  return mkdtemp(w->dir) ? 0 : -1;
}

static void send_byte(int *client)
{
  if (*client < 0) return;
  if (send(*client, "w", 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EINTR) {
    close(*client);
    *client = -1;
  }
}

static void *run(void *arg)
{
  wakeup *w = arg;
  int client = -1, armed = 0;
  for (;;) {
    struct pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = (struct pollfd){ .fd = w->control[0], .events = POLLIN };
    fds[n++] = (struct pollfd){ .fd = client >= 0 ? client : w->listener, .events = POLLIN };
    if (client >= 0 && armed && w->watched >= 0) fds[n++] = (struct pollfd){ .fd = w->watched, .events = POLLIN };
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) {
      char commands[64];
      ssize_t got = read(w->control[0], commands, sizeof commands);
      if (got > 0 && memchr(commands, 's', (size_t)got)) break;
      send_byte(&client);
    }
    if (fds[1].revents) {
      if (client < 0) {
        client = accept4(w->listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        armed = 0;
      } else {
        char bytes[64];
        ssize_t got = recv(client, bytes, sizeof bytes, 0);
        if (got > 0) {
          armed = 1;
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          close(client); /* the client hung up: wait for the next one */
          client = -1;
          armed = 0;
        }
      }
    }
    if (n == 3 && fds[2].revents) {
      if (fds[2].revents & (POLLNVAL | POLLERR)) w->watched = -1; /* closed under us: report nothing more */
      send_byte(&client);
      armed = 0;
    }
  }
  if (client >= 0) close(client);
  return NULL;
}

static wakeup *fail(wakeup *w, char *err, size_t err_size, const char *what)
{
  snprintf(err, err_size, "wakeup: %s: %s", what, strerror(errno));
  if (w->listener >= 0) close(w->listener);
  if (w->control[0] >= 0) close(w->control[0]);
  if (w->control[1] >= 0) close(w->control[1]);
  if (w->path[0]) unlink(w->path);
  if (w->dir[0]) rmdir(w->dir);
  free(w);
  return NULL;
}

wakeup *wakeup_start(int watched_fd, char *err, size_t err_size)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  wakeup *w = calloc(1, sizeof *w);
  if (!w) {
    snprintf(err, err_size, "wakeup: out of memory");
    return NULL;
  }
  w->watched = watched_fd;
  w->listener = w->control[0] = w->control[1] = -1;
  if (make_dir(w) != 0) {
    char what[PATH_ROOM + 16];
    int why = errno;
    snprintf(what, sizeof what, "mkdtemp %s", w->dir);
    errno = why;
    w->dir[0] = '\0';
    return fail(w, err, err_size, what);
  }
  snprintf(w->path, sizeof w->path, "%s" SOCKET_NAME, w->dir);
  snprintf(address.sun_path, sizeof address.sun_path, "%s", w->path);
  w->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (w->listener < 0) return fail(w, err, err_size, "socket");
  if (bind(w->listener, (struct sockaddr *)&address, sizeof address) < 0) {
    w->path[0] = '\0';
    return fail(w, err, err_size, "bind");
  }
  if (listen(w->listener, 1) < 0) return fail(w, err, err_size, "listen");
  if (pipe2(w->control, O_CLOEXEC | O_NONBLOCK) < 0) return fail(w, err, err_size, "pipe");
  errno = pthread_create(&w->thread, NULL, run, w);
  if (errno) return fail(w, err, err_size, "pthread_create");
  return w;
}

const char *wakeup_path(const wakeup *w)
{
  return w->path;
}

void wakeup_poke(wakeup *w)
{
  ssize_t ignored = write(w->control[1], "p", 1); /* a full pipe already holds a poke */
  (void)ignored;
}

void wakeup_stop(wakeup *w)
{
  while (write(w->control[1], "s", 1) < 0 && errno == EINTR) {
  }
  pthread_join(w->thread, NULL);
  close(w->listener);
  close(w->control[0]);
  close(w->control[1]);
  unlink(w->path);
  rmdir(w->dir);
  free(w);
}
