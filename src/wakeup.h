/* A helper thread that turns "this fd is readable" into a byte on a unix
   socket, for a host that can wait on sockets it connects itself but not on
   an fd it does not own (nginx's cosockets and the engine's epoll fd).

   Protocol on the connection: the client writes any byte to arm; once armed,
   when the watched fd becomes readable the helper writes one byte and
   disarms (the fd stays readable until the client has handled it: the arming
   byte says it has). wakeup_poke makes the helper write a byte at once, armed
   or not (new work for the client). One client at a time; after it hangs up,
   the next one may connect. */
#ifndef GPTAUDIO_WAKEUP_H
#define GPTAUDIO_WAKEUP_H

#include <stddef.h>

typedef struct wakeup wakeup;

/* Starts the helper watching watched_fd; NULL with a message in err on failure. */
wakeup *wakeup_start(int watched_fd, char *err, size_t err_size);
/* The path of the unix socket to connect to. */
const char *wakeup_path(const wakeup *w);
/* From any thread: the connected client gets a byte now. */
void wakeup_poke(wakeup *w);
/* Stops the thread, removes the socket and frees w. */
void wakeup_stop(wakeup *w);

#endif
