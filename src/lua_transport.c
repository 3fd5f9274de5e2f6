/* core.transport(): one libcurl multi handle driven by curl_multi_socket_action
   over an epoll set, and the C-side queue its transfers' callbacks fill. The
   Transfer type (one easy handle) is in lua_transfer.c.

local t = core.transport()            -- userdata "gptaudio.Transport": one curl multi handle + one epoll fd
local x = t:add(spec)                 -- starts a transfer now (curl_multi_add_handle); returns userdata "gptaudio.Transfer"
                                      -- (or nil, gptaudio.Error when a multipart file cannot be read or memory runs out)
  spec = {
    url = "http://127.0.0.1:8080/v1/x",   -- required string
    method = "GET" | "POST" | "DELETE" | ... (default "GET"; POST when body/multipart given),
    headers = { "Name: value", ... },     -- CR, LF or NUL anywhere in a header raises "headers[3]: CR or LF not allowed"
    body = "bytes",                        -- optional request body (may contain NUL; copied)
    multipart = { { name = "file", data = "bytes", filename = "a.wav", content_type = "audio/wav" },
                  { name = "file", path = "x.wav", filename = ..., content_type = ... },   -- curl_mime_filedata
                  { name = "model", data = "whisper-1" }, ... },   -- curl_mime from memory, no temp files
    stream = nil | "sse" | "raw",          -- nil: buffer the body; "sse": parse SSE in C (src/sse.h), queue each event;
                                           -- "raw": queue body chunks. A final status outside 200-299 is buffered
                                           -- whatever stream says, so its error body arrives in "done".
    timeout = seconds (float; 0/nil = none), connect_timeout = seconds, low_speed_limit = bytes/s, low_speed_time = seconds,
                                           -- low_speed_time alone means a limit of 1 byte/s
    max_response_bytes = n,                -- body bytes beyond this abort the transfer with error type "too_large" (all modes)
    ca_file = path, proxy = url, progress = true|false,
  }
local events = t:step(wait)           -- waits up to `wait` seconds (0: do not wait) for socket activity or curl's deadline,
                                      -- whichever comes first; acts on ready sockets/the timeout with curl_multi_socket_action;
                                      -- reads curl_multi_info_read; then returns ALL queued events as an array (maybe empty), oldest first:
  { transfer = x, type = "headers", status = 200, headers = { ["content-type"] = "..." } }   -- once per transfer, when the final
                                      -- response's header block is complete (skip 1xx); names lower-case; repeated names joined with ", "
  { transfer = x, type = "sse", event = "", data = "...", id = "" }        -- stream = "sse"
  { transfer = x, type = "data", data = "bytes" }                           -- stream = "raw": bytes that arrived (coalesced per step)
  { transfer = x, type = "progress", ul_now =, ul_total =, dl_now =, dl_total = }   -- progress = true: at most one per transfer per step, only when changed
  { transfer = x, type = "done", status = 200 (0 when no response), headers = {...}, body = "..." (buffered mode; "" in stream modes),
    error = nil | { type = "timeout" | "connection" | "too_large" | "protocol", message = "readable", curl_code = n } }
                                      -- last event of a transfer; afterwards it is out of curl and its easy handle freed
                                      -- an HTTP error status is NOT an error here (Lua decides); error is only for transport failures
                                      -- (error is a gptaudio.Error)
t:pollfd()   -> the epoll fd (integer), or nil where there is no epoll
t:timeout()  -> seconds until curl wants socket_action(CURL_SOCKET_TIMEOUT) (0 = now), or nil when curl has no deadline
t:active()   -> transfers started and not yet reported done
t:close()    -> cancels all transfers, frees curl and the epoll fd; idempotent; t:add/t:step after close raise "Transport is closed"
x:cancel()   -> removes it from curl now and frees its easy handle; queued events of it are dropped; no "done" event; idempotent
x:info()     -> { total_time =, connect_time =, starttransfer_time =, local_port =, primary_ip =, http_version = } (for tests/logs); nil values allowed after done

   Lifetime: the Transport userdata points at a malloc'ed transport with a
   reference count: one for the Transport userdata, one for each Transfer
   userdata, so finalizers may run in any order (lua_close). Closing (or
   collecting) the Transport cancels its transfers; the struct goes with the
   last reference. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif

#include "transport.h"

/* Ready sockets handled per wait; more stay ready (level-triggered) for the next step. */
#define MAX_READY 64

typedef struct {
  transport *t; /* NULL only before the struct exists */
} transport_handle;

static const char *const EVENT_NAMES[] = { "headers", "sse", "data", "progress", "done" };

static double monotonic_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- byte buffers ---- */

int buffer_append(byte_buffer *b, const void *bytes, size_t len)
{
  if (len == 0)
    return 0;
  if (len > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : 256;
    char *grown;
    while (cap - b->len < len) {
      if (cap > SIZE_MAX / 2)
        return -1;
      cap *= 2;
    }
    grown = realloc(b->bytes, cap);
    if (!grown)
      return -1;
    b->bytes = grown;
    b->cap = cap;
  }
  memcpy(b->bytes + b->len, bytes, len);
  b->len += len;
  return 0;
}

void buffer_free(byte_buffer *b)
{
  free(b->bytes);
  b->bytes = NULL;
  b->len = b->cap = 0;
}

/* ---- the event queue ---- */

void queue_push(transport *t, event *ev)
{
  ev->next = NULL;
  if (t->tail)
    t->tail->next = ev;
  else
    t->head = ev;
  t->tail = ev;
  t->queued++;
}

static event *queue_shift(transport *t)
{
  event *ev = t->head;
  t->head = ev->next;
  if (!t->head)
    t->tail = NULL;
  t->queued--;
  return ev;
}

static void event_free(event *ev)
{
  if (ev->embedded)
    return;
  buffer_free(&ev->bytes);
  free(ev);
}

int queue_data(transport *t, transfer *tr, const char *bytes, size_t len)
{
  event *ev = t->tail;
  if (ev && ev->type == EVENT_DATA && ev->transfer == tr)
    return buffer_append(&ev->bytes, bytes, len);
  ev = calloc(1, sizeof *ev);
  if (!ev)
    return -1;
  ev->transfer = tr;
  ev->type = EVENT_DATA;
  if (buffer_append(&ev->bytes, bytes, len)) {
    free(ev);
    return -1;
  }
  queue_push(t, ev);
  return 0;
}

void queue_drop(transport *t, transfer *tr)
{
  event **link = &t->head;
  t->tail = NULL;
  while (*link) {
    event *ev = *link;
    if (ev->transfer == tr) {
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

/* ---- active transfers and their userdata ---- */

void transport_enlist(lua_State *L, transport *t, transfer *tr, int ud)
{
  ud = compat_absindex(L, ud);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->map_ref);
  lua_pushlightuserdata(L, tr);
  lua_pushvalue(L, ud);
  lua_rawset(L, -3);
  lua_pop(L, 1);
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

void transport_forget(lua_State *L, transport *t, transfer *tr)
{
  transport_unlist(t, tr);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->map_ref);
  lua_pushlightuserdata(L, tr);
  lua_pushnil(L);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

void transport_release(transport *t)
{
  if (--t->refs == 0)
    free(t);
}

/* Cancels every transfer and frees curl and the epoll fd; the struct stays
   while Transfer userdata still point at it. */
static void transport_shutdown(lua_State *L, transport *t)
{
  if (t->closed)
    return;
  t->closed = 1;
  queue_clear(t);
  while (t->active) {
    transfer *tr = t->active;
    transfer_detach(tr);
    tr->state = TRANSFER_CANCELLED;
    transport_unlist(t, tr);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, t->map_ref);
  t->map_ref = LUA_NOREF;
  if (t->multi)
    curl_multi_cleanup(t->multi); /* its socket callbacks still need the epoll fd */
  t->multi = NULL;
  if (t->epfd >= 0)
    close(t->epfd);
  t->epfd = -1;
  t->deadline = -1;
}

/* ---- waiting and driving curl ---- */

static int wait_ms(const transport *t, double wait)
{
  double until = wait;
  if (t->queued)
    return 0;
  if (t->deadline >= 0 && t->deadline - monotonic_now() < until)
    until = t->deadline - monotonic_now();
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
    /* curl may have closed the socket already, which removed it from the set. */
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
  t->deadline = timeout_ms < 0 ? -1 : monotonic_now() + (double)timeout_ms / 1000.0;
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
  if (t->deadline >= 0 && monotonic_now() >= t->deadline)
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
  if (t->deadline < 0 || monotonic_now() < t->deadline)
    return;
  if (curl_multi_timeout(t->multi, &timeout_ms) == CURLM_OK)
    on_timer(t->multi, timeout_ms, t);
}

static double seconds_to_deadline(const transport *t)
{
  double left;
  if (t->deadline < 0)
    return -1;
  left = t->deadline - monotonic_now();
  return left > 0 ? left : 0;
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

static double seconds_to_deadline(const transport *t)
{
  long ms = -1;
  curl_multi_timeout(t->multi, &ms);
  return ms < 0 ? -1 : (double)ms / 1000.0;
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

/* Each queued event becomes a table; it leaves the queue only once reported,
   so a memory error halfway loses nothing. */
static int push_events(lua_State *L, transport *t)
{
  int n = 0, result, map;
  lua_createtable(L, (int)t->queued, 0);
  result = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->map_ref);
  map = lua_gettop(L);
  while (t->head) {
    event *ev = t->head;
    transfer *tr = ev->transfer;
    lua_createtable(L, 0, 6);
    lua_pushlightuserdata(L, tr);
    lua_rawget(L, map);
    lua_setfield(L, -2, "transfer");
    lua_pushstring(L, EVENT_NAMES[ev->type]);
    lua_setfield(L, -2, "type");
    transfer_report(L, ev);
    lua_rawseti(L, result, ++n);
    queue_shift(t);
    if (ev->type == EVENT_DONE)
      transport_forget(L, t, tr);
    event_free(ev);
  }
  lua_settop(L, result);
  return 1;
}

/* ---- the Transport userdata ---- */

static transport *check_open(lua_State *L)
{
  transport_handle *h = luaL_checkudata(L, 1, TRANSPORT_MT);
  if (!h->t || h->t->closed)
    luaL_error(L, "Transport is closed");
  return h->t;
}

static transport *check_any(lua_State *L)
{
  transport_handle *h = luaL_checkudata(L, 1, TRANSPORT_MT);
  return h->t && !h->t->closed ? h->t : NULL;
}

static int transport_new(lua_State *L)
{
  transport_handle *h = lua_newuserdata(L, sizeof *h);
  transport *t;
  const char *failure;
  h->t = NULL;
  luaL_setmetatable(L, TRANSPORT_MT);
  t = calloc(1, sizeof *t);
  if (!t)
    return luaL_error(L, "not enough memory");
  t->refs = 1;
  t->epfd = -1;
  t->deadline = -1;
  t->map_ref = LUA_NOREF;
  h->t = t; /* from here on __gc frees whatever part exists */
  lua_newtable(L);
  t->map_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  t->multi = curl_multi_init();
  if (!t->multi)
    return luaL_error(L, "not enough memory");
  curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  failure = watch_sockets(t);
  if (failure)
    return gptaudio_fail(L, "connection", "cannot create an epoll set: %s", failure);
  return 1;
}

static int transport_add(lua_State *L)
{
  transport *t = check_open(L);
  return transfer_start(L, t, 2);
}

static int transport_step(lua_State *L)
{
  transport *t = check_open(L);
  lua_Number wait = luaL_optnumber(L, 2, 0);
  luaL_argcheck(L, wait >= 0, 2, "wait must be a non-negative number of seconds");
  drive(t, wait);
  collect_done(t);
  refresh_deadline(t);
  return push_events(L, t);
}

static int transport_pollfd(lua_State *L)
{
  transport *t = check_any(L);
  if (t && t->epfd >= 0)
    lua_pushinteger(L, t->epfd);
  else
    lua_pushnil(L);
  return 1;
}

static int transport_timeout(lua_State *L)
{
  transport *t = check_any(L);
  double left = t ? (t->queued ? 0 : seconds_to_deadline(t)) : -1;
  if (left < 0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, left);
  return 1;
}

static int transport_active(lua_State *L)
{
  transport *t = check_any(L);
  lua_pushinteger(L, t ? t->active_count : 0);
  return 1;
}

static int transport_close(lua_State *L)
{
  transport_handle *h = luaL_checkudata(L, 1, TRANSPORT_MT);
  if (h->t)
    transport_shutdown(L, h->t);
  return 0;
}

static int transport_gc(lua_State *L)
{
  transport_handle *h = luaL_checkudata(L, 1, TRANSPORT_MT);
  if (h->t) {
    transport_shutdown(L, h->t);
    transport_release(h->t);
    h->t = NULL;
  }
  return 0;
}

static int transport_tostring(lua_State *L)
{
  transport *t = check_any(L);
  if (t)
    lua_pushfstring(L, "Transport(%d active)", t->active_count);
  else
    lua_pushliteral(L, "Transport(closed)");
  return 1;
}

static const luaL_Reg TRANSPORT_METHODS[] = {
  {"add", transport_add},
  {"step", transport_step},
  {"pollfd", transport_pollfd},
  {"timeout", transport_timeout},
  {"active", transport_active},
  {"close", transport_close},
  {NULL, NULL}
};

void gptaudio_open_transport(lua_State *L)
{
  /* Once per process, before any handle; curl never unloads with the module. */
  static int curl_ready;
  if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
    curl_ready = 1;
  luaL_newmetatable(L, TRANSPORT_MT);
  lua_newtable(L);
  luaL_setfuncs(L, TRANSPORT_METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, transport_gc);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, transport_close);
  lua_pushcfunction(L, transport_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  transfer_open(L);
  lua_pushcfunction(L, transport_new);
  lua_setfield(L, -2, "transport");
}
