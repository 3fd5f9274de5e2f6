/* Server-Sent Events parser, incremental over any chunking. Pure C, no Lua.
   Line ends \n, \r\n or \r (a \r\n split across two feeds counts once);
   ':' lines are comments; fields event, data, id (retry and unknown fields are
   ignored); one space after the colon is dropped; several data lines join with
   \n; a blank line dispatches the event when it has data (at least one data
   line, possibly empty) and resets the event type; the id persists, and an id
   containing NUL is ignored. A UTF-8 BOM opening the stream is skipped. */
#ifndef GPTAUDIO_SSE_H
#define GPTAUDIO_SSE_H

#include <stddef.h>

typedef struct {
  const char *event; size_t event_len;   /* "" when no event field was given */
  const char *data;  size_t data_len;
  const char *id;    size_t id_len;      /* the last id seen, as the spec keeps it */
} sse_event;

/* Called once per dispatched event; the pointers are valid during the call only,
   and each string is also NUL-terminated. Return non-zero to stop sse_feed at
   once (it then returns that value and drops the rest of that feed). */
typedef int (*sse_callback)(void *ud, const sse_event *ev);

typedef struct sse_parser sse_parser;

/* max_event_bytes bounds one event's buffered size; 0 means no bound. */
sse_parser *sse_new(size_t max_event_bytes);
void sse_free(sse_parser *p);

/* Feeds bytes. Returns 0, the callback's non-zero value, or -1 when a line or
   an event outgrows max_event_bytes or memory runs out; after -1 the parser
   stays failed and every later feed returns -1. */
int sse_feed(sse_parser *p, const char *bytes, size_t len, sse_callback cb, void *ud);

/* Whether data equals "[DONE]", the end marker OpenAI sends. */
int sse_is_done(const sse_event *ev);

#endif
