/* A child process whose standard streams are read and written without ever
   blocking: what the microphone and speaker sources use (parec, arecord,
   pacat, aplay), polled from the engine's timers so that the host's loop
   never waits on a device. Pure C, no Lua.

   The child starts through posix_spawnp (safe in a host with threads: no
   fork of a big process, close-on-exec descriptors). Its stdin is one end of
   a Unix socket pair, so that writing to a child that has died fails with
   EPIPE instead of killing the host with SIGPIPE; its stdout and stderr are
   pipes. The parent's ends are non-blocking. */
#ifndef GPTAUDIO_CHILD_PROCESS_H
#define GPTAUDIO_CHILD_PROCESS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
  pid_t pid;     /* 0 once reaped */
  int in_fd;     /* the child's stdin, -1 when closed or not asked for */
  int out_fd;    /* the child's stdout, -1 at its end */
  int err_fd;    /* the child's stderr, -1 at its end */
  int status;    /* waitpid's status once reaped */
} child_process;

enum { CHILD_STDOUT = 1, CHILD_STDERR = 2 };

enum { CHILD_STDIN_NULL = 0, CHILD_STDIN_PIPE = 1, CHILD_STDIN_INHERIT = 2 };

/* Starts argv[0] (searched on PATH) with argv. stdin_mode: CHILD_STDIN_NULL
   gives the child /dev/null, CHILD_STDIN_PIPE a stdin to child_write to,
   CHILD_STDIN_INHERIT this process's own (a terminal the child reads for us).
   Returns 0, or -1 with errno set (ENOENT: no such program). */
int child_spawn(child_process *c, char *const argv[], int stdin_mode);

/* Reads what the child wrote to stream (CHILD_STDOUT or CHILD_STDERR) without
   waiting: the count of bytes read (> 0), 0 at the end of the stream (the
   child closed it or died), or -1 with errno EAGAIN when nothing is there now
   (another errno: a real failure). */
ssize_t child_read(child_process *c, int stream, void *buf, size_t n);

/* Writes to the child's stdin without waiting: how many bytes went (maybe
   fewer than n, 0 when its pipe is full), or -1 with errno (EPIPE: the child
   no longer reads; EBADF: stdin is closed). */
ssize_t child_write(child_process *c, const void *buf, size_t n);

/* Closes the child's stdin: it reads the end of its input. */
void child_close_stdin(child_process *c);

/* Whether the child is still running; reaps it (without waiting) once it has
   ended, keeping its status. */
int child_running(child_process *c);

/* Ends the child: closes every stream, sends SIGTERM, waits up to
   grace_ms for it to end, then SIGKILL, and reaps it. Does nothing twice. */
void child_stop(child_process *c, int grace_ms);

#endif
