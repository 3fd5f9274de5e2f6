/* What the two halves of the engine share: transport.c (the multi handle, its
   epoll set, the event queue, the deadlines) and transfer.c (one easy handle,
   its options and the callbacks that fill the queue). No other file includes it. */
#ifndef GPTAUDIO_TRANSPORT_IMPL_H
#define GPTAUDIO_TRANSPORT_IMPL_H

#include <curl/curl.h>

#include "byte_buffer.h"
#include "sse.h"
#include "transport.h"

/* One entry of the queue. The headers, progress and done events are members
   of their transfer (at most one of each is queued at a time), so queuing them
   cannot fail; sse and data events are allocated. */
typedef struct queued_event {
  struct queued_event *next;
  int embedded;        /* a member of its transfer: unlink, never free */
  byte_buffer bytes;   /* data: the bytes; sse: event, data and id back to back */
  size_t event_len, data_len, id_len;
  transport_event view;
} queued_event;

struct transport {
  int refs;                   /* the owner's and each transfer's */
  int closed;
  CURLM *multi;
  int epfd;                   /* -1 where there is no epoll */
  double deadline;            /* monotonic seconds when curl wants its timeout action; < 0: none */
  transfer *active;           /* started and their done not yet popped (doubly linked) */
  int active_count;
  int first_byte_waits;       /* running transfers whose first-byte deadline is open */
  queued_event *head, *tail;  /* oldest first */
  size_t queued;
};

/* Why the write or header callback refused bytes, which curl reports only as a write error. */
typedef enum { REFUSED_NONE, REFUSED_TOO_LARGE, REFUSED_MEMORY } refusal;

struct transfer {
  transport *owner;               /* a counted reference */
  transfer *prev, *next;          /* in owner->active */
  transfer_state state;
  void *user;
  CURL *easy;                     /* NULL once out of curl */
  int in_multi;
  struct curl_slist *header_list;
  curl_mime *mime;
  sse_parser *sse;
  char *label;

  stream_mode stream;             /* asked for */
  stream_mode mode;               /* in use: error statuses are buffered whatever was asked */
  curl_off_t max_bytes, received; /* max_bytes 0: no bound */
  refusal refused;
  double first_byte_timeout;      /* seconds; 0: none */
  double first_byte_deadline;     /* monotonic seconds; < 0: none, or the first byte came */

  http_head head;
  byte_buffer body;

  int progress_queued;
  transfer_progress progress, reported;

  int failed;
  transfer_failure failure;
  char failure_message[CURL_ERROR_SIZE + 128];
  char curl_error[CURL_ERROR_SIZE];
  transfer_info info;

  queued_event headers_event, progress_event, done_event;
};

/* transport.c */
double transport_now(void);   /* monotonic seconds */
void queue_push(transport *t, queued_event *ev);
/* Appends body bytes, to the newest event when it is tr's data. 0, or -1: out of memory. */
int queue_data(transport *t, transfer *tr, const char *bytes, size_t len);
/* No longer active: off the list, its queued events dropped. */
void transport_unlist(transport *t, transfer *tr);
void transport_release(transport *t);

/* transfer.c */
/* A new transfer of t, its easy handle configured from a checked spec; NULL
   with *result and why set otherwise. */
transfer *transfer_create(transport *t, const transfer_spec *spec, add_result *result, char *why, size_t why_size);
/* The spec's faults a caller must fix: TRANSFER_ADDED, or TRANSFER_INVALID and why. */
add_result transfer_spec_check(const transfer_spec *spec, char *why, size_t why_size);
/* Its first-byte deadline armed (after it is in curl). */
void transfer_arm(transfer *tr);
/* curl reported it done: out of curl, its done event queued. */
void transfer_finish(transfer *tr, CURLcode code);
/* No byte came in time: out of curl, done with a timeout failure. */
void transfer_expire(transfer *tr);
/* Out of curl now, its easy handle freed; its events and the queue untouched. */
void transfer_detach(transfer *tr);
/* The effects of reporting ev, its transfer's own event. */
void transfer_reported(transfer *tr, event_type type);

#endif
