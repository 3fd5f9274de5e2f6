/* One transfer of the engine: its spec checked and turned into curl options,
   the curl callbacks that turn what arrives into queued events (they only
   fill the transfer and the queue), how it leaves curl, and what it reports. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file_kind.h"
#include "transport_impl.h"

/* Larger limits than this are mistakes (3e7 years of seconds). */
#define MAX_LIMIT 1e15

static const char *const STATE_NAMES[] = { "new", "running", "finished", "done", "cancelled" };

static int is_active(const transfer *tr)
{
  return tr->state == TRANSFER_RUNNING || tr->state == TRANSFER_FINISHED;
}

/* ---- the spec's faults ---- */

/* An HTTP method is a token: no spaces, no separators. */
static int is_token(const char *s)
{
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
      return 0;
  return 1;
}

static add_result invalid(char *why, size_t why_size, const char *fmt, const char *what, size_t index)
{
  char name[48];
  snprintf(name, sizeof name, what, index);
  snprintf(why, why_size, fmt, name);
  return TRANSFER_INVALID;
}

static add_result check_limits(const transfer_spec *s, char *why, size_t why_size)
{
  const struct { const char *name; double value; } limits[] = {
    {"timeout", s->timeout}, {"connect_timeout", s->connect_timeout},
    {"first_byte_timeout", s->first_byte_timeout}, {"low_speed_limit", s->low_speed_limit},
    {"low_speed_time", s->low_speed_time}, {"max_response_bytes", s->max_response_bytes},
  };
  size_t i;
  for (i = 0; i < sizeof limits / sizeof limits[0]; i++)
    if (!(limits[i].value >= 0 && limits[i].value <= MAX_LIMIT))
      return invalid(why, why_size, "%s: must be a number from 0 to 1e15", limits[i].name, 0);
  return TRANSFER_ADDED;
}

add_result transfer_spec_check(const transfer_spec *s, char *why, size_t why_size)
{
  size_t i;
  if (!s->url)
    return invalid(why, why_size, "%s: required", "url", 0);
  for (i = 0; i < s->header_count; i++) {
    const transfer_bytes *h = &s->headers[i];
    if (!h->bytes || memchr(h->bytes, '\r', h->len) || memchr(h->bytes, '\n', h->len) || memchr(h->bytes, '\0', h->len))
      return invalid(why, why_size, "%s: CR or LF not allowed", "headers[%zu]", i + 1);
  }
  if (s->body.bytes && s->parts)
    return invalid(why, why_size, "%s: give one or the other", "body and multipart", 0);
  if (s->method && !is_token(s->method))
    return invalid(why, why_size, "%s: not an HTTP method", "method", 0);
  for (i = 0; i < s->part_count; i++) {
    const transfer_part *p = &s->parts[i];
    if (!p->name)
      return invalid(why, why_size, "%s: required", "multipart[%zu].name", i + 1);
    if (!p->data.bytes == !p->path)
      return invalid(why, why_size, "%s: exactly one of data and path expected", "multipart[%zu]", i + 1);
  }
  if (s->stream != STREAM_NONE && s->stream != STREAM_SSE && s->stream != STREAM_RAW)
    return invalid(why, why_size, "%s: \"sse\" or \"raw\" expected", "stream", 0);
  return check_limits(s, why, why_size);
}

/* ---- curl callbacks: they only fill the transfer and the queue ---- */

static void first_byte_came(transfer *tr)
{
  if (tr->first_byte_deadline < 0)
    return;
  tr->first_byte_deadline = -1;
  tr->owner->first_byte_waits--;
}

/* Whether the head says its body is JSON: a gateway that answers an SSE
   request with a JSON error (status 200) has sent no event stream. */
static int json_body(const http_head *head)
{
  size_t at = 0;
  http_field f;
  while (http_head_next(head, &at, &f))
    if (strcmp(f.name, "content-type") == 0)
      return strstr(f.value, "json") != NULL;
  return 0;
}

/* The final response's header block is complete: report it and decide how its
   body is kept. An error status is buffered, so its error body arrives in done;
   so is a JSON body to an SSE request. */
static void complete_headers(transfer *tr)
{
  long status = tr->head.status;
  int streamed = status >= 200 && status < 300 && !(tr->stream == STREAM_SSE && json_body(&tr->head));
  tr->mode = streamed ? tr->stream : STREAM_NONE;
  queue_push(tr->owner, &tr->headers_event);
}

static size_t on_header(char *line, size_t size, size_t count, void *ud)
{
  transfer *tr = ud;
  size_t len = size * count;
  first_byte_came(tr);
  switch (http_head_line(&tr->head, line, len)) {
  case HEAD_STATUS_LINE:
    /* curl has parsed this line already, and better than a second parser would. */
    curl_easy_getinfo(tr->easy, CURLINFO_RESPONSE_CODE, &tr->head.status);
    break;
  case HEAD_COMPLETE: complete_headers(tr); break;
  case HEAD_NO_MEMORY: tr->refused = REFUSED_MEMORY; return 0;
  case HEAD_MORE: break;
  }
  return len;
}

static int on_sse_event(void *ud, const sse_event *e)
{
  transfer *tr = ud;
  queued_event *ev = calloc(1, sizeof *ev);
  if (!ev)
    return 1;
  ev->view.transfer = tr;
  ev->view.type = EVENT_SSE;
  ev->event_len = e->event_len;
  ev->data_len = e->data_len;
  ev->id_len = e->id_len;
  if (buffer_append(&ev->bytes, e->event, e->event_len) || buffer_append(&ev->bytes, e->data, e->data_len) ||
      buffer_append(&ev->bytes, e->id, e->id_len)) {
    buffer_free(&ev->bytes);
    free(ev);
    return 1;
  }
  queue_push(tr->owner, ev);
  return 0;
}

static size_t on_body(char *bytes, size_t size, size_t count, void *ud)
{
  transfer *tr = ud;
  size_t len = size * count;
  int failed;
  if (tr->max_bytes > 0 && (curl_off_t)len > tr->max_bytes - tr->received) {
    tr->refused = REFUSED_TOO_LARGE;
    return 0;
  }
  tr->received += (curl_off_t)len;
  switch (tr->mode) {
  case STREAM_SSE: failed = sse_feed(tr->sse, bytes, len, on_sse_event, tr) != 0; break;
  case STREAM_RAW: failed = queue_data(tr->owner, tr, bytes, len) != 0; break;
  default: failed = buffer_append(&tr->body, bytes, len) != 0;
  }
  if (failed) {
    tr->refused = REFUSED_MEMORY;
    return 0;
  }
  return len;
}

static int on_progress(void *ud, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total, curl_off_t ul_now)
{
  transfer *tr = ud;
  const transfer_progress *was = &tr->reported;
  tr->progress.dl_total = dl_total;
  tr->progress.dl_now = dl_now;
  tr->progress.ul_total = ul_total;
  tr->progress.ul_now = ul_now;
  if (!tr->progress_queued && (dl_total != was->dl_total || dl_now != was->dl_now ||
                               ul_total != was->ul_total || ul_now != was->ul_now)) {
    tr->progress_queued = 1;
    queue_push(tr->owner, &tr->progress_event);
  }
  return 0;
}

/* ---- the spec into curl options ---- */

static long whole(double v)
{
  return v >= (double)LONG_MAX ? LONG_MAX : (long)ceil(v);
}

/* "METHOD scheme://host/path": the query and any credentials left out, since
   labels are shown and must never show secrets. */
static char *make_label(const char *method, const char *url)
{
  const char *scheme = strstr(url, "://");
  const char *host = scheme && (size_t)(scheme - url) < strcspn(url, "/?#") ? scheme + 3 : url;
  const char *rest = host, *p;
  size_t method_len = strlen(method), head_len, rest_len;
  char *label;
  for (p = host; *p && !strchr("/?#", *p); p++)
    if (*p == '@')
      rest = p + 1;
  head_len = (size_t)(host - url);
  rest_len = strcspn(rest, "?#");
  label = malloc(method_len + 1 + head_len + rest_len + 1);
  if (!label)
    return NULL;
  memcpy(label, method, method_len);
  label[method_len] = ' ';
  memcpy(label + method_len + 1, url, head_len);
  memcpy(label + method_len + 1 + head_len, rest, rest_len);
  label[method_len + 1 + head_len + rest_len] = '\0';
  return label;
}

/* After the caller's headers, so that a header of the caller's wins: curl
   takes the first of a name, and sends none of an empty "Name:". */
static int append_header(transfer *tr, const char *line)
{
  struct curl_slist *grown = curl_slist_append(tr->header_list, line);
  if (!grown)
    return -1;
  tr->header_list = grown;
  return 0;
}

/* curl copies string options; a failed copy is the only way these fail. */
static int set_text(transfer *tr, CURLoption option, const char *value)
{
  return value && curl_easy_setopt(tr->easy, option, value) != CURLE_OK ? -1 : 0;
}

/* The header lines carry no NUL (checked), but they are not terminated. */
static int add_headers(transfer *tr, const transfer_spec *s)
{
  size_t i;
  for (i = 0; i < s->header_count; i++) {
    char *line = strndup(s->headers[i].bytes, s->headers[i].len);
    int failed = !line || append_header(tr, line);
    free(line);
    if (failed)
      return -1;
  }
  return 0;
}

/* Whether part i's path names a regular file; why says what it names else.
   curl would open a FIFO when it reads (blocking the step until a writer
   comes), read /dev/zero for ever and a directory as nothing. */
static int regular_file(const char *path, char *why, size_t why_size, size_t i)
{
  file_kind_t kind;
  if (file_kind(path, &kind) != 0) {
    snprintf(why, why_size, "multipart[%zu].path: cannot read %s: %s", i + 1, path, strerror(errno));
    return 0;
  }
  if (kind != FILE_KIND_REGULAR) {
    snprintf(why, why_size, "multipart[%zu].path: cannot read %s: not a regular file (a %s)", i + 1, path,
             file_kind_name(kind));
    return 0;
  }
  return 1;
}

static add_result add_parts(transfer *tr, const transfer_spec *s, char *why, size_t why_size)
{
  size_t i;
  tr->mime = curl_mime_init(tr->easy);
  if (!tr->mime)
    return TRANSFER_NO_MEMORY;
  for (i = 0; i < s->part_count; i++) {
    const transfer_part *p = &s->parts[i];
    curl_mimepart *part = curl_mime_addpart(tr->mime);
    if (!part || curl_mime_name(part, p->name) != CURLE_OK)
      return TRANSFER_NO_MEMORY;
    if (p->data.bytes) {
      if (curl_mime_data(part, p->data.bytes, p->data.len) != CURLE_OK)
        return TRANSFER_NO_MEMORY;
    } else if (!regular_file(p->path, why, why_size, i)) {
      return TRANSFER_UNREADABLE;
    } else if (curl_mime_filedata(part, p->path) != CURLE_OK) {
      snprintf(why, why_size, "multipart[%zu].path: cannot read %s: %s", i + 1, p->path, strerror(errno));
      return TRANSFER_UNREADABLE;
    }
    if ((p->filename && curl_mime_filename(part, p->filename) != CURLE_OK) ||
        (p->content_type && curl_mime_type(part, p->content_type) != CURLE_OK))
      return TRANSFER_NO_MEMORY;
  }
  curl_easy_setopt(tr->easy, CURLOPT_MIMEPOST, tr->mime);
  return TRANSFER_ADDED;
}

/* Method and body. */
static add_result set_request(transfer *tr, const transfer_spec *s, char *why, size_t why_size)
{
  int has_body = s->body.bytes != NULL, has_parts = s->parts != NULL;
  const char *method = s->method ? s->method : has_body || has_parts ? "POST" : "GET";
  tr->label = make_label(method, s->url);
  if (!tr->label)
    return TRANSFER_NO_MEMORY;
  if (has_body) {
    curl_easy_setopt(tr->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
    /* COPYPOSTFIELDS copies POSTFIELDSIZE bytes, NULs included. */
    if (curl_easy_setopt(tr->easy, CURLOPT_COPYPOSTFIELDS, s->body.bytes) != CURLE_OK ||
        append_header(tr, "Content-Type:")) /* no made-up form type for a bare body */
      return TRANSFER_NO_MEMORY;
  } else if (has_parts) {
    add_result r = add_parts(tr, s, why, why_size);
    if (r != TRANSFER_ADDED)
      return r;
  }
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(tr->easy, CURLOPT_NOBODY, 1L);
  } else if (!has_body && !has_parts && strcmp(method, "POST") == 0) {
    curl_easy_setopt(tr->easy, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(tr->easy, CURLOPT_POSTFIELDS, "");
  } else if (strcmp(method, has_body || has_parts ? "POST" : "GET") != 0 &&
             set_text(tr, CURLOPT_CUSTOMREQUEST, method)) {
    return TRANSFER_NO_MEMORY;
  }
  return TRANSFER_ADDED;
}

static void set_limits(transfer *tr, const transfer_spec *s)
{
  CURL *e = tr->easy;
  tr->max_bytes = (curl_off_t)s->max_response_bytes;
  tr->first_byte_timeout = s->first_byte_timeout;
  if (s->timeout > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, whole(s->timeout * 1000));
  if (s->connect_timeout > 0)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, whole(s->connect_timeout * 1000));
  if (s->low_speed_time > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, whole(s->low_speed_time));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, s->low_speed_limit > 0 ? whole(s->low_speed_limit) : 1L);
  }
  if (tr->max_bytes > 0) /* refuses a too long Content-Length before any body arrives */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, tr->max_bytes);
}

static int set_stream(transfer *tr, const transfer_spec *s)
{
  tr->stream = tr->mode = s->stream;
  if (tr->stream == STREAM_SSE) {
    tr->sse = sse_new((size_t)tr->max_bytes);
    if (!tr->sse)
      return -1;
  }
  if (s->progress) {
    curl_easy_setopt(tr->easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(tr->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(tr->easy, CURLOPT_XFERINFODATA, tr);
  }
  return 0;
}

/* What every transfer gets, whatever its spec says. */
static int set_fixed_options(transfer *tr)
{
  CURL *e = tr->easy;
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)tr);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, tr->curl_error);
  /* An Authorization header must never follow a redirect to another host. */
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, tr);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, tr);
  return set_text(tr, CURLOPT_PROTOCOLS_STR, "http,https") || set_text(tr, CURLOPT_ACCEPT_ENCODING, "");
}

static add_result configure(transfer *tr, const transfer_spec *s, char *why, size_t why_size)
{
  add_result r;
  if (set_text(tr, CURLOPT_URL, s->url))
    return TRANSFER_NO_MEMORY;
  /* Waiting for a connection to multiplex only pays where HTTP/2 can be
     negotiated (TLS with ALPN); over plain http it holds every transfer to the
     host until the first answer arrives. */
  if (strncasecmp(s->url, "https:", 6) == 0)
    curl_easy_setopt(tr->easy, CURLOPT_PIPEWAIT, 1L);
  if (set_fixed_options(tr) || add_headers(tr, s))
    return TRANSFER_NO_MEMORY;
  r = set_request(tr, s, why, why_size);
  if (r != TRANSFER_ADDED)
    return r;
  /* Without it curl waits a second for "100 Continue" before a large body. */
  if (append_header(tr, "Expect:"))
    return TRANSFER_NO_MEMORY;
  curl_easy_setopt(tr->easy, CURLOPT_HTTPHEADER, tr->header_list);
  set_limits(tr, s);
  if (set_stream(tr, s) || set_text(tr, CURLOPT_CAINFO, s->ca_file) || set_text(tr, CURLOPT_PROXY, s->proxy))
    return TRANSFER_NO_MEMORY;
  return TRANSFER_ADDED;
}

static void init_event(transfer *tr, queued_event *ev, event_type type)
{
  ev->view.transfer = tr;
  ev->view.type = type;
  ev->embedded = 1;
}

transfer *transfer_create(transport *t, const transfer_spec *s, add_result *result, char *why, size_t why_size)
{
  transfer *tr = calloc(1, sizeof *tr);
  if (!tr) {
    *result = TRANSFER_NO_MEMORY;
    return NULL;
  }
  tr->owner = t;
  t->refs++;
  tr->first_byte_deadline = -1;
  init_event(tr, &tr->headers_event, EVENT_HEADERS);
  init_event(tr, &tr->progress_event, EVENT_PROGRESS);
  init_event(tr, &tr->done_event, EVENT_DONE);
  tr->easy = curl_easy_init();
  *result = tr->easy ? configure(tr, s, why, why_size) : TRANSFER_NO_MEMORY;
  if (*result == TRANSFER_NO_MEMORY)
    snprintf(why, why_size, "not enough memory");
  if (*result != TRANSFER_ADDED) {
    transfer_free(tr);
    return NULL;
  }
  return tr;
}

void transfer_arm(transfer *tr)
{
  if (tr->first_byte_timeout <= 0)
    return;
  tr->first_byte_deadline = transport_now() + tr->first_byte_timeout;
  tr->owner->first_byte_waits++;
}

/* ---- leaving curl ---- */

static const char *http_version_name(long version)
{
  switch (version) {
  case CURL_HTTP_VERSION_1_0: return "1.0";
  case CURL_HTTP_VERSION_1_1: return "1.1";
  case CURL_HTTP_VERSION_2_0: return "2";
  case CURL_HTTP_VERSION_3: return "3";
  default: return NULL;
  }
}

static void capture_info(transfer *tr)
{
  char *ip = NULL;
  long version = 0;
  curl_easy_getinfo(tr->easy, CURLINFO_TOTAL_TIME, &tr->info.total_time);
  curl_easy_getinfo(tr->easy, CURLINFO_CONNECT_TIME, &tr->info.connect_time);
  curl_easy_getinfo(tr->easy, CURLINFO_STARTTRANSFER_TIME, &tr->info.starttransfer_time);
  curl_easy_getinfo(tr->easy, CURLINFO_LOCAL_PORT, &tr->info.local_port);
  curl_easy_getinfo(tr->easy, CURLINFO_HTTP_VERSION, &version);
  curl_easy_getinfo(tr->easy, CURLINFO_PRIMARY_IP, &ip);
  tr->info.http_version = http_version_name(version);
  tr->info.primary_ip[0] = '\0';
  if (ip) {
    strncpy(tr->info.primary_ip, ip, sizeof tr->info.primary_ip - 1);
    tr->info.primary_ip[sizeof tr->info.primary_ip - 1] = '\0';
  }
}

void transfer_detach(transfer *tr)
{
  first_byte_came(tr); /* or never will: the deadline closes either way */
  if (!tr->easy)
    return;
  capture_info(tr);
  if (tr->in_multi)
    curl_multi_remove_handle(tr->owner->multi, tr->easy);
  tr->in_multi = 0;
  curl_easy_cleanup(tr->easy); /* before the mime and header list it points at */
  tr->easy = NULL;
  curl_mime_free(tr->mime);
  tr->mime = NULL;
  curl_slist_free_all(tr->header_list);
  tr->header_list = NULL;
  if (tr->sse)
    sse_free(tr->sse);
  tr->sse = NULL;
}

static void fail(transfer *tr, const char *type, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void fail(transfer *tr, const char *type, const char *fmt, ...)
{
  va_list args;
  va_start(args, fmt);
  vsnprintf(tr->failure_message, sizeof tr->failure_message, fmt, args);
  va_end(args);
  tr->failed = 1;
  tr->failure.type = type;
  tr->failure.message = tr->failure_message;
}

/* Turns a curl failure into a failure type and a readable message. */
static void classify(transfer *tr, CURLcode code)
{
  const char *type = "connection", *what;
  const char *detail = tr->curl_error[0] ? tr->curl_error : curl_easy_strerror(code);
  long os_errno = 0, request_size = 0;
  switch (code) {
  case CURLE_OPERATION_TIMEDOUT:
    type = "timeout";
    what = strstr(tr->curl_error, "too slow") ? "stream stalled" : "timed out";
    break;
  case CURLE_COULDNT_RESOLVE_HOST: what = "could not resolve the host"; break;
  case CURLE_COULDNT_RESOLVE_PROXY: what = "could not resolve the proxy"; break;
  case CURLE_COULDNT_CONNECT:
    curl_easy_getinfo(tr->easy, CURLINFO_OS_ERRNO, &os_errno);
    what = os_errno == ECONNREFUSED ? "connection refused" : "could not connect";
    break;
  case CURLE_SEND_ERROR: what = "connection failed while sending"; break;
  case CURLE_RECV_ERROR:
    /* curl 7.88 refuses a response head over 300 KB this way: the server's fault, not the network's. */
    if (strstr(tr->curl_error, "Too large response headers")) {
      type = "protocol";
      what = "response headers too large";
    } else {
      what = "connection failed while receiving";
    }
    break;
  case CURLE_GOT_NOTHING: what = "server closed the connection without a response"; break;
  case CURLE_PARTIAL_FILE: what = "connection closed before the whole body arrived"; break;
  case CURLE_SSL_CONNECT_ERROR: what = "TLS handshake failed"; break;
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM: what = "cannot load the TLS certificates"; break;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    what = "TLS certificate verification failed";
    break;
  case CURLE_FILESIZE_EXCEEDED:
  case CURLE_WRITE_ERROR:
    if (code == CURLE_FILESIZE_EXCEEDED || tr->refused == REFUSED_TOO_LARGE) {
      fail(tr, "too_large", "response body larger than max_response_bytes (%lld)", (long long)tr->max_bytes);
      return;
    }
    type = "protocol";
    what = tr->refused == REFUSED_MEMORY ? "out of memory while receiving" : "could not keep the response";
    break;
  /* curl keeps each header line under 100 KB and says "Out of memory" past it. */
  case CURLE_OUT_OF_MEMORY: type = "protocol"; what = "response header line too long, or out of memory"; break;
  case CURLE_URL_MALFORMAT: type = "protocol"; what = "invalid URL"; break;
  case CURLE_UNSUPPORTED_PROTOCOL:
    /* Before any request went out the URL's scheme was refused; after, the
       response was not HTTP curl accepts (a status below 100, say). */
    type = "protocol";
    curl_easy_getinfo(tr->easy, CURLINFO_REQUEST_SIZE, &request_size);
    what = request_size > 0 ? "invalid HTTP response" : "only http and https are allowed";
    break;
  default: type = "protocol"; what = "HTTP transfer failed"; break;
  }
  fail(tr, type, "%s (%s)", what, detail);
}

static void finish(transfer *tr)
{
  transfer_detach(tr);
  tr->state = TRANSFER_FINISHED;
  queue_push(tr->owner, &tr->done_event);
}

void transfer_finish(transfer *tr, CURLcode code)
{
  curl_easy_getinfo(tr->easy, CURLINFO_RESPONSE_CODE, &tr->head.status);
  tr->failure.curl_code = (long)code;
  if (code != CURLE_OK)
    classify(tr, code);
  finish(tr);
}

void transfer_expire(transfer *tr)
{
  tr->failure.curl_code = CURLE_OPERATION_TIMEDOUT;
  fail(tr, "timeout", "timed out (no response within %g s)", tr->first_byte_timeout);
  finish(tr);
}

/* ---- after curl ---- */

void transfer_reported(transfer *tr, event_type type)
{
  if (type == EVENT_PROGRESS) {
    tr->reported = tr->progress;
    tr->progress_queued = 0;
  } else if (type == EVENT_DONE) {
    tr->state = TRANSFER_DONE;
    buffer_free(&tr->body);
    http_head_free(&tr->head);
  }
}

void transfer_cancel(transfer *tr)
{
  if (!is_active(tr))
    return;
  transfer_detach(tr);
  transport_unlist(tr->owner, tr);
  tr->state = TRANSFER_CANCELLED;
}

void transfer_free(transfer *tr)
{
  transfer_detach(tr);
  if (is_active(tr))
    transport_unlist(tr->owner, tr);
  transport_release(tr->owner);
  free(tr->label);
  buffer_free(&tr->body);
  http_head_free(&tr->head);
  free(tr);
}

void transfer_set_user(transfer *tr, void *user)
{
  tr->user = user;
}

void *transfer_user(const transfer *tr)
{
  return tr->user;
}

transfer_state transfer_state_of(const transfer *tr)
{
  return tr->state;
}

const char *transfer_state_name(const transfer *tr)
{
  return STATE_NAMES[tr->state];
}

const char *transfer_label(const transfer *tr)
{
  return tr->label ? tr->label : "?";
}

long transfer_status(const transfer *tr)
{
  return tr->head.status;
}

int transfer_next_field(const transfer *tr, size_t *at, http_field *f)
{
  return http_head_next(&tr->head, at, f);
}

transfer_bytes transfer_body(const transfer *tr)
{
  transfer_bytes b;
  b.bytes = tr->body.bytes ? tr->body.bytes : "";
  b.len = tr->body.len;
  return b;
}

const transfer_failure *transfer_failure_of(const transfer *tr)
{
  return tr->failed ? &tr->failure : NULL;
}

transfer_progress transfer_progress_of(const transfer *tr)
{
  return tr->progress;
}

transfer_info transfer_info_of(transfer *tr)
{
  if (tr->easy)
    capture_info(tr);
  return tr->info;
}
