/* What the two halves of the transport share: lua_transport.c (the curl multi
   handle, its epoll set and the event queue) and lua_transfer.c (one easy
   handle, its options and the callbacks that fill the queue). Internal: no
   other file includes it. */
#ifndef GPTAUDIO_TRANSPORT_H
#define GPTAUDIO_TRANSPORT_H

#include <curl/curl.h>

#include "core.h"
#include "sse.h"

#define TRANSPORT_MT "gptaudio.Transport"
#define TRANSFER_MT "gptaudio.Transfer"

/* A growable byte array; it doubles, so appending is amortised O(1). */
typedef struct {
  char *bytes;
  size_t len, cap;
} byte_buffer;

/* Returns 0, or -1 when memory runs out (the buffer is then unchanged). */
int buffer_append(byte_buffer *b, const void *bytes, size_t len);
void buffer_free(byte_buffer *b);

typedef enum { EVENT_HEADERS, EVENT_SSE, EVENT_DATA, EVENT_PROGRESS, EVENT_DONE } event_type;

struct transfer;

/* One entry of a transport's queue. The headers, progress and done events are
   members of their transfer (at most one of each is queued at a time), so
   queuing them cannot fail; sse and data events are allocated. */
typedef struct event {
  struct event *next;
  struct transfer *transfer;
  event_type type;
  int embedded;       /* a member of its transfer: unlink, never free */
  byte_buffer bytes;  /* data: the bytes; sse: event, data and id back to back */
  size_t event_len, data_len, id_len;
} event;

typedef struct transport {
  int refs;                   /* the Transport userdata's and each Transfer userdata's */
  int closed;
  CURLM *multi;
  int epfd;                   /* -1 where there is no epoll */
  double deadline;            /* monotonic seconds when curl wants its timeout action; < 0: none */
  struct transfer *active;    /* started and not yet reported done (doubly linked) */
  int active_count;
  event *head, *tail;         /* the queue, oldest first */
  size_t queued;
  int map_ref;                /* registry table: lightuserdata transfer -> its userdata, while active */
} transport;

typedef enum { STREAM_NONE, STREAM_SSE, STREAM_RAW } stream_mode;
/* new: being built; finished: out of curl, its done event queued but not yet reported. */
typedef enum { TRANSFER_NEW, TRANSFER_RUNNING, TRANSFER_FINISHED, TRANSFER_DONE, TRANSFER_CANCELLED } transfer_state;

/* What x:info() reports, kept after the easy handle is gone. */
typedef struct {
  double total_time, connect_time, starttransfer_time;
  long local_port, http_version;
  char primary_ip[64];
} transfer_info;

/* Why the write callback refused bytes, which curl only reports as a write error. */
typedef enum { REFUSED_NONE, REFUSED_TOO_LARGE, REFUSED_MEMORY } refusal;

typedef struct {
  curl_off_t dl_total, dl_now, ul_total, ul_now;
} progress_values;

/* The Transfer userdata itself. */
typedef struct transfer {
  transport *owner;               /* a counted reference; NULL once released */
  struct transfer *prev, *next;   /* in owner->active */
  transfer_state state;
  CURL *easy;                     /* NULL once out of curl */
  int in_multi;
  struct curl_slist *header_list;
  curl_mime *mime;
  sse_parser *sse;
  char *label;                    /* "POST http://host/path": no query, no credentials */

  stream_mode stream;             /* asked for */
  stream_mode mode;               /* in use: error statuses are buffered whatever was asked */
  curl_off_t max_bytes, received; /* max_bytes 0: no bound */
  refusal refused;

  long status;
  int headers_complete;
  byte_buffer headers;            /* lower-case name NUL value NUL ... of the final response */
  byte_buffer body;

  int progress_wanted, progress_queued;
  progress_values progress, reported;

  const char *error_type;         /* NULL: no transport failure */
  char error_message[CURL_ERROR_SIZE + 128];
  long curl_code;
  char curl_error[CURL_ERROR_SIZE];
  transfer_info info;

  event headers_event, progress_event, done_event;
} transfer;

/* lua_transport.c */
void queue_push(transport *t, event *ev);
/* Appends raw body bytes, to the newest event when it is tr's data. 0, or -1: out of memory. */
int queue_data(transport *t, transfer *tr, const char *bytes, size_t len);
/* Makes tr active: mapped to its userdata at index ud (may raise: do it before curl owns anything). */
void transport_enlist(lua_State *L, transport *t, transfer *tr, int ud);
/* No longer active: off the list, its queued events dropped. No Lua, for __gc. */
void transport_unlist(transport *t, transfer *tr);
/* transport_unlist and the mapping dropped. */
void transport_forget(lua_State *L, transport *t, transfer *tr);
void transport_release(transport *t);

/* lua_transfer.c */
void transfer_open(lua_State *L);
/* t:add(spec): pushes the new Transfer (or nil, err) and returns the count. */
int transfer_start(lua_State *L, transport *t, int spec);
/* curl reported it done: out of curl, the done event queued. */
void transfer_finish(transfer *tr, CURLcode code);
/* Out of curl now, its easy handle freed; its events and the queue untouched. */
void transfer_detach(transfer *tr);
/* Sets the fields particular to ev's type on the event table on top of the
   stack, then records that ev was reported. */
void transfer_report(lua_State *L, event *ev);

#endif
