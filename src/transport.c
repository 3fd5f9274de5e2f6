/* The engine's multi handle: the epoll set curl's socket callback keeps, the
   deadline its timer callback records, the event queue, and the step that
   drives curl. One transfer's easy handle is transfer.c's. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif

#include "transport_impl.h"

/* Ready sockets handled per wait; more stay ready (level-triggered) for the next step. */
#define MAX_READY 64

double transport_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int transport_global_init(void)
{
  static int ready;
  if (!ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
    ready = 1;
  return ready ? 0 : -1;
}

/* ---- the event queue ---- */

void queue_push(transport *t, queued_event *ev)
{
  ev->next = NULL;
  if (t->tail)
    t->tail->next = ev;
  else
    t->head = ev;
  t->tail = ev;
  t->queued++;
}

static queued_event *queue_shift(transport *t)
{
  queued_event *ev = t->head;
  t->head = ev->next;
  if (!t->head)
    t->tail = NULL;
  t->queued--;
  return ev;
}

static void event_free(queued_event *ev)
{
  if (ev->embedded)
    return;
  buffer_free(&ev->bytes);
  free(ev);
}

int queue_data(transport *t, transfer *tr, const char *bytes, size_t len)
{
  queued_event *ev = t->tail;
  if (ev && ev->view.type == EVENT_DATA && ev->view.transfer == tr)
    return buffer_append(&ev->bytes, bytes, len);
  ev = calloc(1, sizeof *ev);
  if (!ev)
    return -1;
  ev->view.transfer = tr;
  ev->view.type = EVENT_DATA;
  if (buffer_append(&ev->bytes, bytes, len)) {
    free(ev);
    return -1;
  }
  queue_push(t, ev);
  return 0;
}

static void queue_drop(transport *t, transfer *tr)
{
  queued_event **link = &t->head;
  t->tail = NULL;
  while (*link) {
    queued_event *ev = *link;
    if (ev->view.transfer == tr) {
      *link = ev->next;
      t->queued--;
      event_free(ev);
    } else {
      t->tail = ev;
      link = &ev->next;
    }
  }
}

static void queue_clear(transport *t)
{
  while (t->head)
    event_free(queue_shift(t));
}

/* Points the view at the bytes, which may have moved while data was appended. */
const transport_event *transport_event_peek(transport *t)
{
  queued_event *ev = t->head;
  transport_event *view;
  if (!ev)
    return NULL;
  view = &ev->view;
  if (view->type == EVENT_SSE) {
    view->name.bytes = ev->bytes.bytes ? ev->bytes.bytes : "";
    view->name.len = ev->event_len;
    view->data.bytes = view->name.bytes + ev->event_len;
    view->data.len = ev->data_len;
    view->id.bytes = view->data.bytes + ev->data_len;
    view->id.len = ev->id_len;
  } else if (view->type == EVENT_DATA) {
    view->data.bytes = ev->bytes.bytes ? ev->bytes.bytes : "";
    view->data.len = ev->bytes.len;
  }
  return view;
}

void transport_event_pop(transport *t)
{
  queued_event *ev = queue_shift(t);
  transfer *tr = ev->view.transfer;
  event_type type = ev->view.type;
  event_free(ev);
  transfer_reported(tr, type);
  if (type == EVENT_DONE)
    transport_unlist(t, tr);
}

size_t transport_queued(const transport *t)
{
  return t->queued;
}

/* ---- the active list ---- */

static void enlist(transport *t, transfer *tr)
{
  tr->prev = NULL;
  tr->next = t->active;
  if (t->active)
    t->active->prev = tr;
  t->active = tr;
  t->active_count++;
}

void transport_unlist(transport *t, transfer *tr)
{
  if (tr->prev)
    tr->prev->next = tr->next;
  else
    t->active = tr->next;
  if (tr->next)
    tr->next->prev = tr->prev;
  tr->prev = tr->next = NULL;
  t->active_count--;
  queue_drop(t, tr);
}

int transport_active(const transport *t)
{
  return t->active_count;
}

transfer *transport_first_active(const transport *t)
{
  return t->active;
}

/* ---- lifetime ---- */

void transport_release(transport *t)
{
  if (--t->refs == 0)
    free(t);
}

void transport_close(transport *t)
{
  if (t->closed)
    return;
  t->closed = 1;
  queue_clear(t);
  while (t->active)
    transfer_cancel(t->active);
  if (t->multi)
    curl_multi_cleanup(t->multi); /* its socket callbacks still need the epoll fd */
  t->multi = NULL;
  if (t->epfd >= 0)
    close(t->epfd);
  t->epfd = -1;
  t->deadline = -1;
}

int transport_is_closed(const transport *t)
{
  return t->closed;
}

void transport_free(transport *t)
{
  transport_close(t);
  transport_release(t);
}

/* ---- waiting and driving curl ---- */

/* The earliest first-byte deadline of a running transfer, or -1. */
static double first_byte_deadline(const transport *t)
{
  double earliest = -1;
  const transfer *tr;
  if (!t->first_byte_waits)
    return -1;
  for (tr = t->active; tr; tr = tr->next)
    if (tr->first_byte_deadline >= 0 && (earliest < 0 || tr->first_byte_deadline < earliest))
      earliest = tr->first_byte_deadline;
  return earliest;
}

static void expire_first_bytes(transport *t)
{
  double now;
  transfer *tr;
  if (!t->first_byte_waits)
    return;
  now = transport_now();
  for (tr = t->active; tr; tr = tr->next)
    if (tr->first_byte_deadline >= 0 && now >= tr->first_byte_deadline)
      transfer_expire(tr);
}

static double curl_deadline(const transport *t);

/* Seconds until the earliest deadline (0: due), or -1 when there is none. */
static double seconds_to_deadline(const transport *t)
{
  double curl_due = curl_deadline(t), byte_due = first_byte_deadline(t), due, left;
  if (curl_due < 0 && byte_due < 0)
    return -1;
  due = curl_due < 0 ? byte_due : byte_due < 0 ? curl_due : fmin(curl_due, byte_due);
  left = due - transport_now();
  return left > 0 ? left : 0;
}

static int wait_ms(const transport *t, double wait)
{
  double until = wait, left;
  if (t->queued)
    return 0;
  left = seconds_to_deadline(t);
  if (left >= 0 && left < until)
    until = left;
  if (until <= 0)
    return 0;
  if (until >= INT_MAX / 1000.0)
    return INT_MAX;
  return (int)ceil(until * 1000); /* rounding down would wake before the deadline and spin */
}

#ifdef __linux__

/* The socket callback: only the epoll set changes here. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
  transport *t = userp;
  struct epoll_event ev;
  (void)easy;
  (void)socketp;
  if (what == CURL_POLL_REMOVE) {
    /* curl may have closed the socket already, which removed it from the set
       (ENOENT or EBADF then, both harmless). */
    epoll_ctl(t->epfd, EPOLL_CTL_DEL, s, NULL);
    return 0;
  }
  memset(&ev, 0, sizeof ev);
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
  ev.data.fd = s;
  /* Only ENOMEM/ENOSPC can fail here; curl's own timeouts still end the transfer. */
  if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
    epoll_ctl(t->epfd, EPOLL_CTL_MOD, s, &ev);
  return 0;
}

/* The timer callback: only records the deadline. It also runs inside
   curl_multi_add_handle, where calling back into curl is not allowed. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
  transport *t = userp;
  (void)multi;
  t->deadline = timeout_ms < 0 ? -1 : transport_now() + (double)timeout_ms / 1000.0;
  return 0;
}

static const char *watch_sockets(transport *t)
{
  t->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (t->epfd < 0)
    return strerror(errno);
  curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
  curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
  return NULL;
}

static void drive(transport *t, double wait)
{
  struct epoll_event ready[MAX_READY];
  int running, i, n = epoll_wait(t->epfd, ready, MAX_READY, wait_ms(t, wait));
  for (i = 0; i < n; i++) {
    int mask = 0;
    if (ready[i].events & (EPOLLIN | EPOLLHUP))
      mask |= CURL_CSELECT_IN;
    if (ready[i].events & EPOLLOUT)
      mask |= CURL_CSELECT_OUT;
    if (ready[i].events & EPOLLERR)
      mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(t->multi, ready[i].data.fd, mask, &running);
  }
  if (t->deadline >= 0 && transport_now() >= t->deadline)
    curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* curl calls the timer callback only when its earliest expiry changes. A
   transfer that ends within the action handling its start (a reused
   connection whose answer is already there), then leaves the multi handle,
   ends that expiry without a call (curl 7.88), and the recorded deadline
   stays in the past: every wait would be 0 and every loop would spin. So a
   deadline that has passed once the step's work is done is asked of curl. */
static void refresh_deadline(transport *t)
{
  long timeout_ms;
  if (t->deadline < 0 || transport_now() < t->deadline)
    return;
  if (curl_multi_timeout(t->multi, &timeout_ms) == CURLM_OK)
    on_timer(t->multi, timeout_ms, t);
}

static double curl_deadline(const transport *t)
{
  return t->deadline;
}

#else /* no epoll: curl waits and drives itself */

static const char *watch_sockets(transport *t)
{
  (void)t;
  return NULL;
}

static void drive(transport *t, double wait)
{
  int running;
  curl_multi_poll(t->multi, NULL, 0, wait_ms(t, wait), NULL);
  curl_multi_perform(t->multi, &running);
}

static void refresh_deadline(transport *t)
{
  (void)t; /* the deadline is asked of curl each time */
}

static double curl_deadline(const transport *t)
{
  long ms = -1;
  curl_multi_timeout(t->multi, &ms);
  return ms < 0 ? -1 : transport_now() + (double)ms / 1000.0;
}

#endif

static void collect_done(transport *t)
{
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(t->multi, &left))) {
    char *tr;
    if (msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &tr);
    transfer_finish((transfer *)tr, msg->data.result);
  }
}

void transport_step(transport *t, double wait)
{
  if (t->closed)
    return;
  drive(t, wait);
  collect_done(t);
  expire_first_bytes(t);
  refresh_deadline(t);
}

int transport_pollfd(const transport *t)
{
  return t->closed ? -1 : t->epfd;
}

double transport_timeout(const transport *t)
{
  if (t->closed)
    return -1;
  return t->queued ? 0 : seconds_to_deadline(t);
}

/* ---- the transport itself ---- */

transport *transport_new(const char **failure)
{
  transport *t = calloc(1, sizeof *t);
  *failure = NULL;
  if (!t)
    return NULL;
  t->refs = 1;
  t->epfd = -1;
  t->deadline = -1;
  t->multi = curl_multi_init();
  if (!t->multi) {
    free(t);
    return NULL;
  }
  curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  *failure = watch_sockets(t);
  if (*failure) {
    curl_multi_cleanup(t->multi);
    free(t);
    return NULL;
  }
  return t;
}

add_result transport_add(transport *t, const transfer_spec *spec, transfer **out, char *why, size_t why_size)
{
  add_result result = transfer_spec_check(spec, why, why_size);
  transfer *tr;
  *out = NULL;
  if (result != TRANSFER_ADDED)
    return result;
  if (t->closed) {
    snprintf(why, why_size, "Transport is closed");
    return TRANSFER_INVALID;
  }
  tr = transfer_create(t, spec, &result, why, why_size);
  if (!tr)
    return result;
  enlist(t, tr);
  tr->state = TRANSFER_RUNNING;
  if (curl_multi_add_handle(t->multi, tr->easy) != CURLM_OK) {
    transfer_free(tr);
    snprintf(why, why_size, "curl refused the transfer");
    return TRANSFER_REFUSED;
  }
  tr->in_multi = 1;
  transfer_arm(tr);
  *out = tr;
  return TRANSFER_ADDED;
}
