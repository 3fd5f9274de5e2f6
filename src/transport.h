/* The HTTP engine: one libcurl multi handle driven by curl_multi_socket_action
   over an epoll set, the transfers on it, and a queue of events that curl's
   callbacks fill (they never call out). Pure C, no Lua: lua_transport.c and
   lua_transfer.c turn Lua values into these structs and events into tables.

     transport *t = transport_new(&why);
     transfer *x;
     transport_add(t, &spec, &x, why, sizeof why);     starts it now
     transport_step(t, 0.05);                          waits up to 50 ms, drives curl
     for (ev = transport_event_peek(t); ev; ev = transport_event_peek(t)) {
       ...read ev and its transfer...
       transport_event_pop(t);
     }

   Events of one transfer, in order: headers (once, when the final response's
   header block is complete; 1xx blocks are skipped), then sse events (stream
   SSE) or data events (stream RAW; chunks that arrived, coalesced per step),
   progress events when asked (at most one queued per transfer, only when the
   figures changed), and done last. A final status outside 200-299 is
   buffered whatever the stream mode, so its error body arrives in done. An
   HTTP error status is no failure here: failure is for transport failures
   (types "timeout", "connection", "too_large", "protocol").

   Time limits, each 0 for none:
     timeout              the whole transfer, from transport_add to its last byte
     connect_timeout      until the connection (and TLS) is up
     first_byte_timeout   until the response's first byte (the status line)
     low_speed_time       a transfer slower than low_speed_limit bytes/s (1 when
                          0) for that many seconds, waiting for the response
                          included, has stalled; whole seconds (rounded up)

   Lifetime: a transfer holds a reference to its transport, so the two may be
   freed in any order; transport_free cancels what is still active. */
#ifndef GPTAUDIO_TRANSPORT_H
#define GPTAUDIO_TRANSPORT_H

#include <stddef.h>

#include "http_head.h"

typedef struct transport transport;
typedef struct transfer transfer;

typedef enum { STREAM_NONE, STREAM_SSE, STREAM_RAW } stream_mode;

typedef struct {
  const char *bytes;   /* NULL: absent */
  size_t len;
} transfer_bytes;

typedef struct {
  const char *name;                    /* required */
  transfer_bytes data;                 /* the part's bytes, or */
  const char *path;                    /* a file, read as it is sent */
  const char *filename, *content_type; /* NULL: none */
} transfer_part;

/* What a transfer is. The strings and arrays are copied or used only during
   transport_add, except a part's file, which curl reads while it sends. */
typedef struct {
  const char *url;                          /* required; http or https */
  const char *method;                       /* NULL: POST with a body or parts, else GET */
  const transfer_bytes *headers;            /* "Name: value" lines; CR, LF and NUL refused */
  size_t header_count;
  transfer_bytes body;                      /* bytes may contain NUL */
  const transfer_part *parts;               /* multipart/form-data; not with a body */
  size_t part_count;
  stream_mode stream;
  /* Seconds (see above), and bytes: every limit is a double from 0 to 1e15. */
  double timeout, connect_timeout, first_byte_timeout, low_speed_limit, low_speed_time;
  double max_response_bytes;                /* body bytes beyond it fail the transfer as too_large */
  const char *ca_file, *proxy;              /* NULL: curl's defaults */
  int progress;                             /* queue progress events */
} transfer_spec;

typedef enum {
  TRANSFER_ADDED,
  TRANSFER_INVALID,     /* the spec is wrong (why names the field): a programmer error */
  TRANSFER_UNREADABLE,  /* a part's file cannot be read (why says which and why) */
  TRANSFER_NO_MEMORY,
  TRANSFER_REFUSED      /* curl would not take it */
} add_result;

typedef enum { EVENT_HEADERS, EVENT_SSE, EVENT_DATA, EVENT_PROGRESS, EVENT_DONE } event_type;

/* An event; headers, progress and done read their transfer (transfer_status,
   transfer_next_field, transfer_progress_of, transfer_body, transfer_failure_of).
   Valid until transport_event_pop. */
typedef struct {
  transfer *transfer;
  event_type type;
  transfer_bytes data;      /* data: the bytes; sse: the data field */
  transfer_bytes name, id;  /* sse: the event and id fields ("" when absent) */
} transport_event;

typedef enum { TRANSFER_NEW, TRANSFER_RUNNING, TRANSFER_FINISHED, TRANSFER_DONE, TRANSFER_CANCELLED } transfer_state;

typedef struct {
  const char *type;      /* "timeout", "connection", "too_large" or "protocol" */
  const char *message;   /* readable, with curl's own words in parentheses */
  long curl_code;
} transfer_failure;

typedef struct {
  long long dl_total, dl_now, ul_total, ul_now;
} transfer_progress;

typedef struct {
  double total_time, connect_time, starttransfer_time;
  long local_port;
  const char *http_version;   /* "1.0", "1.1", "2", "3", or NULL */
  char primary_ip[64];        /* "" when unknown */
} transfer_info;

/* Once per process, before the first transport; 0, or -1 when curl cannot start. */
int transport_global_init(void);

/* A new transport, or NULL: *failure then says why (NULL: out of memory). */
transport *transport_new(const char **failure);
/* Cancels every transfer and frees curl and the epoll fd; idempotent. */
void transport_close(transport *t);
int transport_is_closed(const transport *t);
/* transport_close, and the struct goes with the last of its transfers. */
void transport_free(transport *t);

/* Starts a transfer on an open transport. TRANSFER_ADDED sets *out; anything
   else leaves no transfer behind and writes the reason into why. */
add_result transport_add(transport *t, const transfer_spec *spec, transfer **out, char *why, size_t why_size);

/* Waits up to wait seconds (0: not at all) for a ready socket or the next
   deadline, whichever comes first, then lets curl act on what is due. */
void transport_step(transport *t, double wait);
/* The oldest queued event, or NULL. */
const transport_event *transport_event_peek(transport *t);
/* Drops the oldest event, once read. After done, the transfer is out of the
   active list and its body and head are freed. */
void transport_event_pop(transport *t);
size_t transport_queued(const transport *t);

int transport_pollfd(const transport *t);        /* the epoll fd, or -1 */
double transport_timeout(const transport *t);    /* seconds until a deadline (0: due), or -1: none */
int transport_active(const transport *t);        /* started and their done not yet popped */
transfer *transport_first_active(const transport *t);   /* NULL when none */

/* Out of curl now; its queued events dropped; no done event. Idempotent. */
void transfer_cancel(transfer *tr);
/* transfer_cancel, and the memory freed. */
void transfer_free(transfer *tr);

/* A pointer for whoever started the transfer (the Lua binding keeps its userdata there). */
void transfer_set_user(transfer *tr, void *user);
void *transfer_user(const transfer *tr);

transfer_state transfer_state_of(const transfer *tr);
const char *transfer_state_name(const transfer *tr);
/* "METHOD scheme://host/path": no query, no credentials, so it is safe to show. */
const char *transfer_label(const transfer *tr);
long transfer_status(const transfer *tr);   /* 0 until a status line arrived */
int transfer_next_field(const transfer *tr, size_t *at, http_field *f);
transfer_bytes transfer_body(const transfer *tr);   /* buffered mode */
const transfer_failure *transfer_failure_of(const transfer *tr);   /* NULL: no transport failure */
transfer_progress transfer_progress_of(const transfer *tr);
transfer_info transfer_info_of(transfer *tr);

#endif
