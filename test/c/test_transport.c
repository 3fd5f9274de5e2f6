/* The HTTP engine against a loopback server of its own (a thread per
   connection, scripted by path): events and their order, bodies, SSE and raw
   streams, status and header fields (interim blocks, a status line curl reads
   better than a second parser), each time limit, cancel, the size bounds, the
   spec's faults, and freeing in either order. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "transport.h"

/* ---- the server ---- */

static int listen_fd, port;

static void pause_ms(int ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static int send_text(int fd, const char *text)
{
  size_t len = strlen(text), sent = 0;
  while (sent < len) {
    ssize_t n = send(fd, text + sent, len - sent, MSG_NOSIGNAL);
    if (n <= 0)
      return -1;
    sent += (size_t)n;
  }
  return 0;
}

#define STREAM_HEAD "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"

/* One request's answer; returns 1 when the connection stays open. */
static int answer(int fd, const char *path, const char *method, const char *request_head, const char *body, size_t body_len)
{
  char head[512];
  int i;
  if (strcmp(path, "/hello") == 0)
    return send_text(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Twice: a\r\nx-twice:  b \r\n"
                         "Content-Length: 5\r\n\r\nhello") == 0;
  if (strcmp(path, "/echo") == 0) {
    const char *test = strstr(request_head, "X-Test: ");
    int test_len = test ? (int)strcspn(test + 8, "\r") : 0;
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nX-Seen-Test: %.*s\r\nContent-Length: %zu\r\n\r\n%s ",
             test_len, test ? test + 8 : "", strlen(method) + 1 + body_len, method);
    return send_text(fd, head) == 0 && send(fd, body, body_len, MSG_NOSIGNAL) == (ssize_t)body_len;
  }
  if (strcmp(path, "/sse") == 0) {
    send_text(fd, STREAM_HEAD "data: one\n\n");
    pause_ms(30);
    send_text(fd, "event: e\ndata: t");
    pause_ms(30);
    send_text(fd, "wo\nid: 7\n\ndata: [DONE]\n\n");
    return 0;
  }
  if (strcmp(path, "/raw") == 0) {
    send_text(fd, STREAM_HEAD "abc");
    pause_ms(30);
    send_text(fd, "defg");
    pause_ms(30);
    send_text(fd, "h");
    return 0;
  }
  if (strcmp(path, "/drip") == 0) { /* the head at once, then 10 bytes over about a second */
    send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    for (i = 0; i < 10; i++) {
      pause_ms(100);
      send_text(fd, "d");
    }
    return 1;
  }
  if (strcmp(path, "/interim") == 0)
    return send_text(fd, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                         "HTTP/1.1 201 Created\r\nX-Final: yes\r\nContent-Length: 0\r\n\r\n") == 0;
  if (strcmp(path, "/twospace") == 0)
    return send_text(fd, "HTTP/1.1  500 Oops\r\nContent-Length: 3\r\n\r\nbad") == 0;
  if (strcmp(path, "/big") == 0) {
    static char body_bytes[100001];
    memset(body_bytes, 'x', sizeof body_bytes - 1);
    return send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n") == 0 && send_text(fd, body_bytes) == 0;
  }
  if (strcmp(path, "/bighead") == 0 || strcmp(path, "/longline") == 0) {
    /* 30 lines of 50 KB: each under curl's 100 KB, together over its 300 KB; or one line of 200 KB */
    static __thread char line[200 * 1024 + 16];
    int lines = strcmp(path, "/bighead") == 0 ? 30 : 1;
    size_t line_bytes = lines == 1 ? 200 * 1024 : 50 * 1024;
    send_text(fd, "HTTP/1.1 200 OK\r\n");
    for (i = 0; i < lines; i++) {
      size_t name_len = (size_t)snprintf(line, 32, "X-Pad-%d: ", i);
      memset(line + name_len, 'p', line_bytes);
      memcpy(line + name_len + line_bytes, "\r\n", 3);
      if (send_text(fd, line))
        return 0;
    }
    send_text(fd, "Content-Length: 0\r\n\r\n");
    return 0;
  }
  /* /silent and anything else: no answer until the client goes away. */
  while (recv(fd, head, sizeof head, 0) > 0) {
  }
  return 0;
}

static void *serve_connection(void *arg)
{
  int fd = (int)(intptr_t)arg, open = 1;
  static __thread char buf[1 << 20];
  size_t have = 0;
  while (open) {
    char *end, method[16], path[256];
    size_t head_len, body_len = 0;
    const char *length;
    ssize_t n;
    while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
      n = recv(fd, buf + have, sizeof buf - have - 1, 0);
      if (n <= 0)
        goto out;
      have += (size_t)n;
    }
    buf[have] = '\0';
    head_len = (size_t)(end - buf) + 4;
    length = strcasestr(buf, "Content-Length: ");
    if (length && length < end)
      body_len = strtoul(length + 16, NULL, 10);
    while (have < head_len + body_len) {
      n = recv(fd, buf + have, sizeof buf - have - 1, 0);
      if (n <= 0)
        goto out;
      have += (size_t)n;
    }
    buf[have] = '\0';
    if (sscanf(buf, "%15s %255s", method, path) != 2)
      break;
    *end = '\0';
    open = answer(fd, path, method, buf, buf + head_len, body_len);
    memmove(buf, buf + head_len + body_len, have - head_len - body_len);
    have -= head_len + body_len;
  }
out:
  close(fd);
  return NULL;
}

static void *accept_loop(void *arg)
{
  int fd;
  (void)arg;
  while ((fd = accept(listen_fd, NULL, NULL)) >= 0) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, serve_connection, (void *)(intptr_t)fd) != 0)
      close(fd);
    pthread_attr_destroy(&attr);
  }
  return NULL;
}

static pthread_t acceptor;

static void start_server(void)
{
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) || listen(listen_fd, 64) ||
      getsockname(listen_fd, (struct sockaddr *)&addr, &len))
    abort();
  port = ntohs(addr.sin_port);
  pthread_create(&acceptor, NULL, accept_loop, NULL);
}

static void stop_server(void)
{
  shutdown(listen_fd, SHUT_RDWR);
  pthread_join(acceptor, NULL);
  close(listen_fd);
}

/* ---- the client side ---- */

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What one transfer reported, in order. */
typedef struct {
  char order[64];        /* one letter per event: h s d p D */
  int count[5];
  long head_status, done_status;
  char fields[512];      /* "name=value;" of the headers event */
  char data[4096];       /* data events' bytes, or sse events as event|data|id; */
  size_t data_len;
  char body[256];
  size_t body_len;
  char failure_type[16], failure_message[256];
  double seconds;        /* from add to done */
} record;

static void append(record *r, const char *bytes, size_t len)
{
  if (len > sizeof r->data - r->data_len)
    len = sizeof r->data - r->data_len;
  memcpy(r->data + r->data_len, bytes, len);
  r->data_len += len;
}

static void take(record *r, const transport_event *ev)
{
  static const char letters[] = "hsdpD";
  size_t at = 0, used;
  http_field f;
  const transfer_failure *failure;
  transfer_bytes body;
  used = strlen(r->order);
  if (used < sizeof r->order - 1)
    r->order[used] = letters[ev->type];
  r->count[ev->type]++;
  switch (ev->type) {
  case EVENT_HEADERS:
    r->head_status = transfer_status(ev->transfer);
    while (transfer_next_field(ev->transfer, &at, &f)) {
      used = strlen(r->fields);
      snprintf(r->fields + used, sizeof r->fields - used, "%s=%s;", f.name, f.value);
    }
    break;
  case EVENT_SSE:
    append(r, ev->name.bytes, ev->name.len);
    append(r, "|", 1);
    append(r, ev->data.bytes, ev->data.len);
    append(r, "|", 1);
    append(r, ev->id.bytes, ev->id.len);
    append(r, ";", 1);
    break;
  case EVENT_DATA: append(r, ev->data.bytes, ev->data.len); break;
  case EVENT_PROGRESS: break;
  case EVENT_DONE:
    r->done_status = transfer_status(ev->transfer);
    body = transfer_body(ev->transfer);
    r->body_len = body.len < sizeof r->body ? body.len : sizeof r->body;
    memcpy(r->body, body.bytes, r->body_len);
    failure = transfer_failure_of(ev->transfer);
    if (failure) {
      snprintf(r->failure_type, sizeof r->failure_type, "%s", failure->type);
      snprintf(r->failure_message, sizeof r->failure_message, "%s", failure->message);
    }
    break;
  }
}

/* Steps until x is done (or `limit` seconds pass); x's events go into r. */
static void run(transport *t, transfer *x, record *r, double limit)
{
  double start = now();
  memset(r, 0, sizeof *r);
  while (!r->count[EVENT_DONE] && now() - start < limit) {
    const transport_event *ev;
    transport_step(t, 0.05);
    while ((ev = transport_event_peek(t))) {
      if (ev->transfer == x)
        take(r, ev);
      transport_event_pop(t);
    }
  }
  r->seconds = now() - start;
}

static char url_buf[128];

static const char *url(const char *path)
{
  snprintf(url_buf, sizeof url_buf, "http://127.0.0.1:%d%s", port, path);
  return url_buf;
}

static transfer *add(transport *t, transfer_spec *s)
{
  char why[256];
  transfer *x = NULL;
  if (transport_add(t, s, &x, why, sizeof why) != TRANSFER_ADDED)
    printf("# add failed: %s\n", why);
  return x;
}

static transfer_spec get(const char *path)
{
  transfer_spec s;
  memset(&s, 0, sizeof s);
  s.url = url(path);
  return s;
}

/* Runs the spec on t and frees its transfer. */
static void fetch(transport *t, transfer_spec s, record *r, double limit)
{
  transfer *x = add(t, &s);
  if (!x) {
    memset(r, 0, sizeof *r);
    return;
  }
  run(t, x, r, limit);
  transfer_free(x);
}

/* ---- the tests ---- */

static void test_get(transport *t)
{
  record r;
  fetch(t, get("/hello"), &r, 5);
  CHECK(strcmp(r.order, "hD") == 0, "GET: headers, then done");
  CHECK(r.head_status == 200 && r.done_status == 200, "GET: status 200 in both");
  CHECK(strcmp(r.fields, "content-type=text/plain;x-twice=a;x-twice=b;content-length=5;") == 0,
        "GET: fields lower-cased and trimmed, repeats kept in order");
  CHECK(r.body_len == 5 && memcmp(r.body, "hello", 5) == 0, "GET: the exact body");
  CHECK(r.failure_type[0] == '\0', "GET: no failure");
  CHECK(transport_active(t) == 0 && transport_first_active(t) == NULL, "GET: nothing active after done");
}

static void test_methods_and_bodies(transport *t)
{
  record r;
  transfer_bytes header = { "X-Test: yes", 11 };
  transfer_spec s = get("/echo");
  transfer_part parts[2];
  s.body.bytes = "a\0b";
  s.body.len = 3;
  s.headers = &header;
  s.header_count = 1;
  fetch(t, s, &r, 5);
  CHECK(r.body_len == 8 && memcmp(r.body, "POST a\0b", 8) == 0, "a body makes a POST, NUL included");
  CHECK(strstr(r.fields, "x-seen-test=yes;") != NULL, "the caller's header is sent");
  s.method = "PUT";
  fetch(t, s, &r, 5);
  CHECK(r.body_len == 7 && memcmp(r.body, "PUT a\0b", 7) == 0, "another method with the body");
  s = get("/echo");
  s.method = "DELETE";
  fetch(t, s, &r, 5);
  CHECK(r.body_len == 7 && memcmp(r.body, "DELETE ", 7) == 0, "a method without a body");
  memset(parts, 0, sizeof parts);
  parts[0].name = "file";
  parts[0].data.bytes = "RIFF";
  parts[0].data.len = 4;
  parts[0].filename = "a.wav";
  parts[0].content_type = "audio/wav";
  parts[1].name = "model";
  parts[1].data.bytes = "whisper-1";
  parts[1].data.len = 9;
  s = get("/echo");
  s.parts = parts;
  s.part_count = 2;
  fetch(t, s, &r, 5);
  r.body[r.body_len < sizeof r.body ? r.body_len : sizeof r.body - 1] = '\0';
  CHECK(strncmp(r.body, "POST --", 7) == 0 && strstr(r.body, "name=\"file\"; filename=\"a.wav\"") &&
            strstr(r.body, "Content-Type: audio/wav\r\n\r\nRIFF\r\n") && strstr(r.body, "name=\"model\"\r\n\r\nwhisper-1\r\n"),
        "multipart parts from memory, with file name and type");
}

static void test_streams(transport *t)
{
  record r;
  transfer_spec s = get("/sse");
  s.stream = STREAM_SSE;
  fetch(t, s, &r, 5);
  CHECK(strcmp(r.order, "hsssD") == 0, "SSE: headers, three events, done");
  CHECK(r.data_len == strlen("|one|;e|two|7;|[DONE]|7;") && memcmp(r.data, "|one|;e|two|7;|[DONE]|7;", r.data_len) == 0,
        "SSE: event, data and id of each, across split pieces");
  CHECK(r.body_len == 0, "SSE: nothing buffered");
  s = get("/raw");
  s.stream = STREAM_RAW;
  fetch(t, s, &r, 5);
  CHECK(r.data_len == 8 && memcmp(r.data, "abcdefgh", 8) == 0 && r.count[EVENT_DATA] >= 1 && r.count[EVENT_DATA] <= 3,
        "raw: the chunks reassemble exactly");
  s = get("/twospace");
  s.stream = STREAM_SSE;
  fetch(t, s, &r, 5);
  CHECK(r.head_status == 500, "\"HTTP/1.1  500\": status 500 from curl, not 0 from a second parse");
  CHECK(strcmp(r.order, "hD") == 0 && r.body_len == 3 && memcmp(r.body, "bad", 3) == 0,
        "an error status is buffered whatever the stream mode");
}

static void test_interim(transport *t)
{
  record r;
  fetch(t, get("/interim"), &r, 5);
  CHECK(r.head_status == 201 && r.count[EVENT_HEADERS] == 1, "a 1xx block is skipped: one headers event, 201");
  CHECK(strcmp(r.fields, "x-final=yes;content-length=0;") == 0, "only the final block's fields");
}

static void test_time_limits(transport *t)
{
  record r;
  transfer_spec s = get("/silent");
  transfer *x;
  double left;
  s.timeout = 0.2;
  fetch(t, s, &r, 5);
  CHECK(strcmp(r.failure_type, "timeout") == 0 && r.done_status == 0, "timeout: no answer fails as timeout");
  CHECK(r.seconds >= 0.19 && r.seconds < 2, "timeout: at about 0.2 s");

  s = get("/silent");
  s.first_byte_timeout = 0.3;
  x = add(t, &s);
  transport_step(t, 0.05); /* connected and sent: curl has nothing due, the first byte is */
  left = transport_timeout(t);
  CHECK(left > 0.15 && left <= 0.25, "first_byte_timeout: the transport's deadline says when");
  run(t, x, &r, 5);
  transfer_free(x);
  CHECK(strcmp(r.failure_type, "timeout") == 0 && strstr(r.failure_message, "no response within 0.3 s"),
        "first_byte_timeout: no first byte fails as timeout, and says so");
  CHECK(r.seconds >= 0.29 && r.seconds < 2, "first_byte_timeout: at about 0.3 s");
  CHECK(transport_timeout(t) < 0, "no deadline once nothing runs");

  s = get("/drip");
  s.first_byte_timeout = 0.3;
  s.low_speed_time = 5;
  fetch(t, s, &r, 5);
  CHECK(r.failure_type[0] == '\0' && r.body_len == 10 && r.seconds > 0.6,
        "first_byte_timeout: a slow body after a quick head outlives it");
  s = get("/drip");
  s.timeout = 0.3;
  fetch(t, s, &r, 5);
  CHECK(strcmp(r.failure_type, "timeout") == 0 && r.seconds < 1, "timeout: bounds the whole transfer, body included");
}

static void test_cancel(transport *t)
{
  record r;
  transfer_spec s = get("/silent");
  transfer *x = add(t, &s), *y;
  int i;
  s = get("/hello");
  y = add(t, &s);
  for (i = 0; i < 4; i++)
    transport_step(t, 0.02);
  CHECK(transport_active(t) == 2 && transfer_state_of(x) == TRANSFER_RUNNING, "cancel: both active before");
  transfer_cancel(x);
  transfer_cancel(x);
  CHECK(transport_active(t) == 1 && transfer_state_of(x) == TRANSFER_CANCELLED, "cancel: out at once, idempotent");
  run(t, x, &r, 0.3);
  CHECK(r.order[0] == '\0', "cancel: no event of it afterwards, not even done");
  run(t, y, &r, 5);
  CHECK(r.count[EVENT_DONE] == 0 || r.done_status == 200, "cancel: the other transfer is untouched");
  transfer_free(x);
  transfer_free(y);
  CHECK(transport_active(t) == 0, "cancel: nothing left active");
}

static void test_bounds(transport *t)
{
  record r;
  transfer_spec s = get("/big");
  s.max_response_bytes = 1000;
  fetch(t, s, &r, 5);
  CHECK(strcmp(r.failure_type, "too_large") == 0, "a body over max_response_bytes fails as too_large");
  fetch(t, get("/bighead"), &r, 5);
  CHECK(strcmp(r.failure_type, "protocol") == 0 && strstr(r.failure_message, "response headers too large"),
        "a response head over curl's 300 KB fails as protocol, not connection");
  fetch(t, get("/longline"), &r, 5);
  CHECK(strcmp(r.failure_type, "protocol") == 0 && strstr(r.failure_message, "header line too long"),
        "a header line over curl's 100 KB fails as protocol, and says what it likely is");
}

static void test_failures(transport *t)
{
  record r;
  transfer_spec s;
  int closed = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  char refused_url[64];
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(closed, (struct sockaddr *)&addr, sizeof addr); /* bound, never listening: connections are refused */
  getsockname(closed, (struct sockaddr *)&addr, &len);
  snprintf(refused_url, sizeof refused_url, "http://127.0.0.1:%d/", ntohs(addr.sin_port));
  memset(&s, 0, sizeof s);
  s.url = refused_url;
  fetch(t, s, &r, 5);
  close(closed);
  CHECK(strcmp(r.failure_type, "connection") == 0 && strstr(r.failure_message, "connection refused"),
        "a refused connection fails as connection");
  s.url = "ftp://127.0.0.1/x";
  fetch(t, s, &r, 5);
  CHECK(strcmp(r.failure_type, "protocol") == 0 && strstr(r.failure_message, "only http and https"),
        "other schemes are refused");
}

static add_result try_add(transport *t, const transfer_spec *s, char *why, size_t why_size)
{
  transfer *x = NULL;
  add_result result = transport_add(t, s, &x, why, why_size);
  if (x)
    transfer_free(x);
  return result;
}

static void test_spec_faults(transport *t)
{
  char why[256];
  transfer_bytes headers[2] = { { "A: 1", 4 }, { "B: 2\r\nC: 3", 11 } };
  transfer_part part;
  transfer_spec s = get("/hello");
  s.headers = headers;
  s.header_count = 2;
  CHECK(try_add(t, &s, why, sizeof why) == TRANSFER_INVALID && strcmp(why, "headers[2]: CR or LF not allowed") == 0,
        "a header with CR LF is refused, named");
  headers[1].bytes = "B: 2\0";
  headers[1].len = 5;
  CHECK(try_add(t, &s, why, sizeof why) == TRANSFER_INVALID, "a header with NUL is refused");
  s = get("/hello");
  s.method = "GE T";
  CHECK(try_add(t, &s, why, sizeof why) == TRANSFER_INVALID && strcmp(why, "method: not an HTTP method") == 0,
        "a method that is no token is refused");
  s = get("/hello");
  s.timeout = NAN;
  CHECK(try_add(t, &s, why, sizeof why) == TRANSFER_INVALID && strcmp(why, "timeout: must be a number from 0 to 1e15") == 0,
        "a NaN limit is refused");
  s.timeout = 0;
  s.first_byte_timeout = -1;
  CHECK(try_add(t, &s, why, sizeof why) == TRANSFER_INVALID, "a negative limit is refused");
  memset(&part, 0, sizeof part);
  part.name = "file";
  part.path = "/nonexistent/x.wav";
  s = get("/echo");
  s.parts = &part;
  s.part_count = 1;
  CHECK(try_add(t, &s, why, sizeof why) == TRANSFER_UNREADABLE &&
            strcmp(why, "multipart[1].path: cannot read /nonexistent/x.wav: No such file or directory") == 0,
        "an unreadable part file is a runtime failure that names it");
  s.body.bytes = "x";
  s.body.len = 1;
  part.path = NULL;
  part.data = s.body;
  CHECK(try_add(t, &s, why, sizeof why) == TRANSFER_INVALID, "a body and parts together are refused");
  CHECK(transport_active(t) == 0, "refused specs leave nothing active");
}

static void test_lifetimes(void)
{
  const char *failure;
  transport *t = transport_new(&failure);
  transfer_spec s = get("/silent");
  transfer *x = add(t, &s), *y = add(t, &s);
  transport_step(t, 0.02);
  transport_free(t); /* cancels both; the transfers keep the struct alive */
  CHECK(transfer_state_of(x) == TRANSFER_CANCELLED && transfer_state_of(y) == TRANSFER_CANCELLED,
        "freeing the transport first cancels its transfers");
  transfer_free(x);
  transfer_free(y);
  t = transport_new(&failure);
  x = add(t, &s);
  transport_step(t, 0.02);
  transfer_free(x);
  CHECK(transport_active(t) == 0, "freeing an active transfer first takes it out");
  transport_close(t);
  transport_close(t);
  CHECK(transport_is_closed(t) && transport_pollfd(t) == -1 && transport_timeout(t) < 0, "close is idempotent");
  transport_free(t);
}

int main(void)
{
  const char *failure = NULL;
  transport *t;
  if (transport_global_init())
    return 1;
  start_server();
  t = transport_new(&failure);
  CHECK(t != NULL && transport_pollfd(t) >= 0, "a transport with an epoll fd");
  test_get(t);
  test_methods_and_bodies(t);
  test_streams(t);
  test_interim(t);
  test_time_limits(t);
  test_cancel(t);
  test_bounds(t);
  test_failures(t);
  test_spec_faults(t);
  transport_free(t);
  test_lifetimes();
  stop_server();
  curl_global_cleanup();
  return TAP_DONE();
}
