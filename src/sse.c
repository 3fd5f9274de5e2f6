/* Server-Sent Events parser (WHATWG "event stream interpretation").
   Lines are found with memchr and, when a line lies whole inside one feed,
   parsed in place; only a line cut by a feed boundary is copied. */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  char *bytes;
  size_t len, cap;
} sse_buf;

struct sse_parser {
  size_t max_event_bytes;
  sse_buf line;          /* the start of a line whose end has not arrived yet */
  sse_buf data;          /* each data value followed by \n, as the spec builds it */
  sse_buf event;
  sse_buf id;
  unsigned bom_matched;  /* bytes of a leading UTF-8 BOM seen so far */
  int bom_done;          /* past the point where a BOM may appear */
  int skip_lf;           /* the last feed ended in \r: a \n opening the next one ends nothing */
  int failed;
};

static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

/* Appends n bytes and keeps the buffer NUL-terminated; 0 on success, -1 when out of memory. */
static int buf_append(sse_buf *b, const char *src, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char *grown = realloc(b->bytes, cap);
    if (!grown) return -1;
    b->bytes = grown;
    b->cap = cap;
  }
  if (n) memcpy(b->bytes + b->len, src, n);
  b->len += n;
  b->bytes[b->len] = '\0';
  return 0;
}

static int buf_set(sse_buf *b, const char *src, size_t n) {
  b->len = 0;
  return buf_append(b, src, n);
}

static const char *buf_text(const sse_buf *b) {
  return b->len ? b->bytes : "";
}

sse_parser *sse_new(size_t max_event_bytes) {
  sse_parser *p = calloc(1, sizeof *p);
  if (p) p->max_event_bytes = max_event_bytes;
  return p;
}

void sse_free(sse_parser *p) {
  if (!p) return;
  free(p->line.bytes);
  free(p->data.bytes);
  free(p->event.bytes);
  free(p->id.bytes);
  free(p);
}

static int over_bound(const sse_parser *p, size_t n) {
  return p->max_event_bytes && n > p->max_event_bytes;
}

/* Out of memory or over the bound: this feed and every later one return -1. */
static int fail(sse_parser *p) {
  p->failed = 1;
  return -1;
}

static int dispatch(sse_parser *p, sse_callback cb, void *ud) {
  if (p->data.len == 0) {  /* no data line since the last dispatch: nothing to say */
    p->event.len = 0;
    return 0;
  }
  sse_event ev;
  p->data.bytes[--p->data.len] = '\0';  /* the \n after the last data line */
  ev.event = buf_text(&p->event);
  ev.event_len = p->event.len;
  ev.data = p->data.bytes;
  ev.data_len = p->data.len;
  ev.id = buf_text(&p->id);
  ev.id_len = p->id.len;
  p->data.len = 0;
  p->event.len = 0;
  return cb ? cb(ud, &ev) : 0;
}

static int field_is(const char *name, size_t len, const char *field) {
  return len == strlen(field) && memcmp(name, field, len) == 0;
}

static int process_line(sse_parser *p, const char *line, size_t n, sse_callback cb, void *ud) {
  if (n == 0) return dispatch(p, cb, ud);
  if (line[0] == ':') return 0;
  const char *colon = memchr(line, ':', n);
  size_t name_len = colon ? (size_t)(colon - line) : n;
  const char *value = colon ? colon + 1 : line + n;
  size_t value_len = colon ? n - name_len - 1 : 0;
  if (value_len && value[0] == ' ') {
    ++value;
    --value_len;
  }
  if (field_is(line, name_len, "data")) {
    if (buf_append(&p->data, value, value_len) || buf_append(&p->data, "\n", 1)) return fail(p);
  } else if (field_is(line, name_len, "event")) {
    if (buf_set(&p->event, value, value_len)) return fail(p);
  } else if (field_is(line, name_len, "id")) {
    if (!memchr(value, '\0', value_len) && buf_set(&p->id, value, value_len)) return fail(p);
  }
  return over_bound(p, p->data.len + p->event.len) ? fail(p) : 0;
}

/* Consumes a leading BOM, possibly cut across feeds; returns the bytes used. */
static size_t skip_bom(sse_parser *p, const char *bytes, size_t len) {
  size_t i = 0;
  while (i < len && p->bom_matched < sizeof utf8_bom && (unsigned char)bytes[i] == utf8_bom[p->bom_matched]) {
    ++p->bom_matched;
    ++i;
  }
  if (p->bom_matched == sizeof utf8_bom) {
    p->bom_done = 1;
  } else if (i < len) {
    /* Not a BOM after all: the bytes matched so far open the first line. */
    p->bom_done = 1;
    if (buf_append(&p->line, (const char *)utf8_bom, p->bom_matched)) fail(p);
  }
  return i;
}

/* Where byte c next occurs at or after from, or len when it does not. */
static size_t find(const char *bytes, size_t from, size_t len, int c) {
  const char *hit = memchr(bytes + from, c, len - from);
  return hit ? (size_t)(hit - bytes) : len;
}

int sse_feed(sse_parser *p, const char *bytes, size_t len, sse_callback cb, void *ud) {
  if (p->failed) return -1;
  if (len == 0) return 0;
  size_t i = 0;
  if (!p->bom_done) {
    i = skip_bom(p, bytes, len);
    if (p->failed || over_bound(p, p->line.len)) return fail(p);
  }
  if (i < len && p->skip_lf) {
    p->skip_lf = 0;
    if (bytes[i] == '\n') ++i;
  }
  /* The next \n and \r at or after i; each is searched again only once passed,
     so the whole feed is scanned at most twice. */
  size_t lf = find(bytes, i, len, '\n');
  size_t cr = find(bytes, i, len, '\r');
  while (i < len) {
    size_t eol = lf < cr ? lf : cr;
    if (eol == len) {
      if (over_bound(p, p->line.len + (len - i)) || buf_append(&p->line, bytes + i, len - i)) return fail(p);
      break;
    }
    size_t next = eol + 1;
    if (bytes[eol] == '\r') {
      if (next == len) p->skip_lf = 1;
      else if (bytes[next] == '\n') ++next;
    }
    const char *line = bytes + i;
    size_t n = eol - i;
    if (over_bound(p, p->line.len + n)) return fail(p);
    if (p->line.len) {
      if (buf_append(&p->line, line, n)) return fail(p);
      line = p->line.bytes;
      n = p->line.len;
      p->line.len = 0;  /* the bytes stay readable until the next append */
    }
    int rc = process_line(p, line, n, cb, ud);
    if (rc) return rc;
    i = next;
    if (lf < i) lf = find(bytes, i, len, '\n');
    if (cr < i) cr = find(bytes, i, len, '\r');
  }
  return 0;
}

int sse_is_done(const sse_event *ev) {
  return ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0;
}
