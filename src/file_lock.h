/* An exclusive advisory lock (flock(2)) on a lock file, so that two runs of
   one job refuse to share its files. The kernel drops the lock when the
   descriptor closes, and so when the process dies in any way: a crash never
   leaves a stale lock. Pure C, no Lua. */
#ifndef GPTAUDIO_FILE_LOCK_H
#define GPTAUDIO_FILE_LOCK_H

/* Opens (creating it, mode 0666 less the umask) the file at path and takes
   an exclusive lock on it without waiting. Returns the descriptor that holds
   the lock, or -1 with errno set: EWOULDBLOCK when another open file holds
   the lock (in this process or another), else why the file could not be
   opened or locked. */
int file_lock(const char *path);

/* Releases the lock: closes fd. */
void file_unlock(int fd);

#endif
