/* SSE parser: whole streams fed whole, split at every byte into two feeds and
   byte by byte must give the same events; the callback's stop value; the size
   bound; the BOM; sse_is_done. */
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "tap.h"

/* One event as the recorder writes it: event, data, id, separated by unit and
   record separators, so an expected list reads as a chain of EV(...). */
#define EV(event, data, id) event "\x1f" data "\x1f" id "\x1e"

typedef struct {
  char text[4096];
  size_t len;
  int count;
  int stop_at;     /* the event number whose callback returns stop_value; 0: never */
  int stop_value;
  int done_seen;   /* events for which sse_is_done held */
} recorder;

static void put(recorder *r, const char *bytes, size_t n) {
  if (r->len + n > sizeof r->text) abort();
  memcpy(r->text + r->len, bytes, n);
  r->len += n;
}

/* Events, over every run, whose event, data or id lacked the promised NUL after it. */
static int unterminated;

static int record(void *ud, const sse_event *ev) {
  recorder *r = ud;
  unterminated += ev->event[ev->event_len] != '\0' || ev->data[ev->data_len] != '\0' || ev->id[ev->id_len] != '\0';
  put(r, ev->event, ev->event_len);
  put(r, "\x1f", 1);
  put(r, ev->data, ev->data_len);
  put(r, "\x1f", 1);
  put(r, ev->id, ev->id_len);
  put(r, "\x1e", 1);
  r->done_seen += sse_is_done(ev);
  return ++r->count == r->stop_at ? r->stop_value : 0;
}

static int same(const recorder *r, const char *expected, size_t expected_len) {
  return r->len == expected_len && memcmp(r->text, expected, expected_len) == 0;
}

#define SAME(r, literal) same((r), literal, sizeof literal - 1)

/* Feeds the stream cut at each position in cuts (ascending, inside the stream). */
static int feed_cut(const char *stream, size_t len, const size_t *cuts, size_t ncuts, recorder *r) {
  sse_parser *p = sse_new(0);
  size_t from = 0, k;
  int rc = 0;
  for (k = 0; k <= ncuts && rc == 0; k++) {
    size_t to = k < ncuts ? cuts[k] : len;
    rc = sse_feed(p, stream + from, to - from, record, r);
    from = to;
  }
  sse_free(p);
  return rc;
}

typedef struct {
  const char *name;
  const char *stream;
  size_t stream_len;
  const char *events;
  size_t events_len;
} sse_case;

#define CASE(name, stream, events) {name, stream, sizeof stream - 1, events, sizeof events - 1}

static const sse_case cases[] = {
  CASE("OpenAI chunks and [DONE]",
       "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
       "data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\n"
       "data: [DONE]\n\n",
       EV("", "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}", "")
       EV("", "{\"choices\":[{\"delta\":{\"content\":\" there\"}}]}", "")
       EV("", "[DONE]", "")),
  CASE("comments are skipped, even between data lines",
       ": keep-alive\n\ndata: a\n: in between\ndata: b\n\n:\n\n",
       EV("", "a\nb", "")),
  CASE("several data lines join with \\n",
       "data: one\ndata: two\ndata: three\n\n",
       EV("", "one\ntwo\nthree", "")),
  CASE("CRLF line ends",
       "data: a\r\n\r\ndata: b\r\ndata: c\r\n\r\n",
       EV("", "a", "") EV("", "b\nc", "")),
  CASE("CR line ends",
       "data: a\r\rdata: b\rdata: c\r\r",
       EV("", "a", "") EV("", "b\nc", "")),
  CASE("LF, CR and CRLF mixed",
       "data: a\r\ndata: b\rdata: c\n\r\ndata: d\n\r\r\n",
       EV("", "a\nb\nc", "") EV("", "d", "")),
  CASE("\\r\\r\\n is two line ends",
       "data: x\r\r\ndata: y\n\n",
       EV("", "x", "") EV("", "y", "")),
  CASE("event names, reset after each dispatch",
       "event: response.delta\ndata: x\n\ndata: y\n\nevent: first\nevent: second\ndata: z\n\n",
       EV("response.delta", "x", "") EV("", "y", "") EV("second", "z", "")),
  CASE("ids persist; an id line without value clears it",
       "id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 9\n\ndata: d\n\n",
       EV("", "a", "1") EV("", "b", "1") EV("", "c", "") EV("", "d", "9")),
  CASE("an id containing NUL is ignored",
       "id: 7\ndata: a\n\nid: x\0y\ndata: b\n\n",
       EV("", "a", "7") EV("", "b", "7")),
  CASE("no space after the colon; only one space is dropped",
       "data:a\nevent:e\n\ndata:  two\n\ndata:\tt\n\n",
       EV("e", "a", "") EV("", " two", "") EV("", "\tt", "")),
  CASE("colons inside the value stay",
       "data: a: b:c\n\n",
       EV("", "a: b:c", "")),
  CASE("empty data lines count as data",
       "data\n\ndata:\ndata:\n\ndata:\ndata: x\n\n",
       EV("", "", "") EV("", "\n", "") EV("", "\nx", "")),
  CASE("a blank line without data dispatches nothing and resets the event type",
       "\n\nevent: lost\n\ndata: z\n\n\n\n",
       EV("", "z", "")),
  CASE("retry and unknown fields are ignored; field names are case-sensitive",
       "retry: 1000\nfoo: bar\nData: no\nevent\ndata: x\n\n",
       EV("", "x", "")),
  CASE("a trailing event without a blank line is not dispatched",
       "data: a\n\ndata: b\n",
       EV("", "a", "")),
  CASE("a trailing line without a line end is not dispatched",
       "data: a\n\ndata: b",
       EV("", "a", "")),
  CASE("a BOM at the start is skipped",
       "\xEF\xBB\xBF" "data: bom\n\n",
       EV("", "bom", "")),
  CASE("a BOM later is part of the field name",
       "data: a\n\n\xEF\xBB\xBF" "data: b\n\n",
       EV("", "a", "")),
  CASE("half a BOM is part of the first line",
       "\xEF\xBB" "data: c\n\ndata: d\n\n",
       EV("", "d", "")),
  CASE("an empty stream",
       "",
       ""),
};

static void test_case(const sse_case *c) {
  char name[256];
  recorder whole = {0}, bytewise = {0};
  size_t k, *every = malloc((c->stream_len ? c->stream_len : 1) * sizeof *every);
  int splits_agree = 1;

  feed_cut(c->stream, c->stream_len, NULL, 0, &whole);
  snprintf(name, sizeof name, "%s: fed whole", c->name);
  CHECK(same(&whole, c->events, c->events_len), name);

  for (k = 1; k < c->stream_len; k++) {
    recorder split = {0};
    feed_cut(c->stream, c->stream_len, &k, 1, &split);
    if (!same(&split, c->events, c->events_len)) splits_agree = 0;
  }
  snprintf(name, sizeof name, "%s: split in two at every byte", c->name);
  CHECK(splits_agree, name);

  for (k = 1; k < c->stream_len; k++) every[k - 1] = k;
  feed_cut(c->stream, c->stream_len, every, c->stream_len ? c->stream_len - 1 : 0, &bytewise);
  snprintf(name, sizeof name, "%s: byte by byte", c->name);
  CHECK(same(&bytewise, c->events, c->events_len), name);
  free(every);
}

static void test_cr_then_empty_feed_then_lf(void) {
  static const char *const feeds[] = {"data: a\r", "", "\n", "", "\r", "\n", "data: b\n\n"};
  recorder r = {0};
  sse_parser *p = sse_new(0);
  size_t k;
  for (k = 0; k < sizeof feeds / sizeof feeds[0]; k++) sse_feed(p, feeds[k], strlen(feeds[k]), record, &r);
  sse_free(p);
  CHECK(SAME(&r, EV("", "a", "") EV("", "b", "")), "a \\r\\n split by an empty feed is still one line end");
}

static void test_stop_value(void) {
  static const char stream[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
  recorder r = {0};
  r.stop_at = 2;
  r.stop_value = 42;
  sse_parser *p = sse_new(0);
  int rc = sse_feed(p, stream, sizeof stream - 1, record, &r);
  CHECK(rc == 42, "sse_feed returns the callback's non-zero value");
  CHECK(r.count == 2, "no event is dispatched after the callback stops the feed");
  rc = sse_feed(p, "data: 4\n\n", 9, record, &r);
  CHECK(rc == 0 && r.count == 3 && SAME(&r, EV("", "1", "") EV("", "2", "") EV("", "4", "")),
        "the next feed goes on parsing");
  r.stop_at = 4;
  r.stop_value = -1;
  rc = sse_feed(p, "data: 5\n\n", 9, record, &r);
  CHECK(rc == -1, "a callback may stop with -1 too");
  CHECK(sse_feed(p, "data: 6\n\n", 9, record, &r) == 0 && r.count == 5,
        "a callback's -1 does not break the parser");
  sse_free(p);
}

static void test_done_marker(void) {
  static const char stream[] = "data: [DONE]\n\ndata: [DONE] \n\ndata: [done]\n\ndata:[DONE]\n\n";
  recorder r = {0};
  feed_cut(stream, sizeof stream - 1, NULL, 0, &r);
  CHECK(r.count == 4 && r.done_seen == 2, "sse_is_done holds for data [DONE] exactly");
}

static void test_size_bound(void) {
  recorder r = {0};
  sse_parser *p = sse_new(16);
  CHECK(sse_feed(p, "data: 0123456789\n\n", 18, record, &r) == 0 && r.count == 1,
        "a line of exactly max_event_bytes is fine");
  CHECK(sse_feed(p, "data: 01234567890\n\n", 19, record, &r) == -1 && r.count == 1,
        "a line over max_event_bytes fails");
  CHECK(sse_feed(p, "data: x\n\n", 9, record, &r) == -1 && r.count == 1, "a failed parser stays failed");
  sse_free(p);

  p = sse_new(16);
  CHECK(sse_feed(p, "data: 0123456", 13, record, &r) == 0, "a partial line under the bound is kept");
  CHECK(sse_feed(p, "789", 3, record, &r) == 0, "a partial line reaching the bound is kept");
  CHECK(sse_feed(p, "0", 1, record, &r) == -1, "a partial line is refused as soon as it outgrows the bound");
  sse_free(p);

  p = sse_new(16);
  CHECK(sse_feed(p, "data: 0123456\ndata: 0123456\n", 28, record, &r) == 0, "an event of exactly the bound is kept");
  CHECK(sse_feed(p, "data:\n", 6, record, &r) == -1, "an event over the bound fails, even with short lines");
  sse_free(p);

  p = sse_new(16);
  CHECK(sse_feed(p, "event: 01234567\ndata: 01234567\n", 31, record, &r) == -1,
        "the event name counts toward the bound");
  sse_free(p);
}

static int capture_length(void *ud, const sse_event *ev) {
  *(size_t *)ud = ev->data_len;
  return 0;
}

/* A data line of n bytes, cut into pieces of piece bytes, with max_event_bytes max. */
static int large_event_arrives(size_t n, size_t piece, size_t max) {
  char *stream = malloc(n + 10);
  size_t len = n + 10, fed, got = 0;
  int rc = 0;
  memcpy(stream, "data: ", 6);
  memset(stream + 6, 'z', n);
  memcpy(stream + 6 + n, "\r\n\r\n", 4);
  sse_parser *p = sse_new(max);
  for (fed = 0; fed < len && rc == 0; fed += piece) rc = sse_feed(p, stream + fed, len - fed < piece ? len - fed : piece,
                                                                  capture_length, &got);
  sse_free(p);
  free(stream);
  return rc == 0 && got == n;
}

static void test_large_events(void) {
  CHECK(large_event_arrives(1 << 20, 1000, 0), "max_event_bytes 0: a 1 MiB event in 1000-byte pieces arrives whole");
  CHECK(large_event_arrives(100000, 4999, 100006), "a 100 kB event at the bound, cut across feeds, arrives whole");
  CHECK(!large_event_arrives(100000, 4999, 100005), "one byte over the bound fails");
}

int main(void) {
  size_t k;
  for (k = 0; k < sizeof cases / sizeof cases[0]; k++) test_case(&cases[k]);
  test_cr_then_empty_feed_then_lf();
  test_stop_value();
  test_done_marker();
  test_size_bound();
  test_large_events();
  CHECK(unterminated == 0, "every event, data and id string is NUL-terminated");
  sse_free(NULL);
  return TAP_DONE();
}
