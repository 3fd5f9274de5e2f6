/* gptaudio.Transfer: one HTTP request on a Transport (lua_transport.c) — its
   spec turned into curl options, the curl callbacks that turn what arrives
   into queued events (they never call Lua), and cancel/info. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transport.h"

/* Larger numbers than this in a spec are mistakes (3e7 years of seconds). */
#define MAX_SPEC_NUMBER 1e15

static const char *const STATE_NAMES[] = { "new", "running", "finished", "done", "cancelled" };

static int is_active(const transfer *tr)
{
  return tr->state == TRANSFER_RUNNING || tr->state == TRANSFER_FINISHED;
}

static void push_bytes(lua_State *L, const char *bytes, size_t len)
{
  if (len)
    lua_pushlstring(L, bytes, len);
  else
    lua_pushliteral(L, "");
}

/* ---- curl callbacks: they only fill the transfer and the queue ---- */

static long parse_status(const char *line, size_t len)
{
  const char *space = memchr(line, ' ', len);
  long status = 0;
  size_t i, digits = 0;
  if (!space)
    return 0;
  for (i = (size_t)(space - line) + 1; i < len && digits < 3 && isdigit((unsigned char)line[i]); i++, digits++)
    status = status * 10 + (line[i] - '0');
  return status;
}

/* Stores "name: value" as lower-case name NUL trimmed value NUL. Lines without
   a name (obsolete folding) or with a NUL carry nothing worth keeping. */
static int add_header(transfer *tr, const char *line, size_t len)
{
  const char *colon = memchr(line, ':', len);
  const char *value;
  size_t name_len, value_len, start = tr->headers.len, i;
  if (!colon || colon == line || isspace((unsigned char)line[0]) || memchr(line, '\0', len))
    return 0;
  name_len = (size_t)(colon - line);
  value = colon + 1;
  value_len = len - name_len - 1;
  while (value_len && (*value == ' ' || *value == '\t'))
    value++, value_len--;
  while (value_len && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
    value_len--;
  if (buffer_append(&tr->headers, line, name_len) || buffer_append(&tr->headers, "", 1) ||
      buffer_append(&tr->headers, value, value_len) || buffer_append(&tr->headers, "", 1)) {
    tr->headers.len = start;
    return -1;
  }
  for (i = start; i < start + name_len; i++)
    tr->headers.bytes[i] = (char)tolower((unsigned char)tr->headers.bytes[i]);
  return 0;
}

/* The final response's header block is complete: report it and decide how its
   body is kept. An error status is buffered, so Lua gets the error body. */
static void complete_headers(transfer *tr)
{
  tr->headers_complete = 1;
  tr->mode = tr->status >= 200 && tr->status < 300 ? tr->stream : STREAM_NONE;
  queue_push(tr->owner, &tr->headers_event);
}

static size_t on_header(char *line, size_t size, size_t count, void *ud)
{
  transfer *tr = ud;
  size_t len = size * count, n = len;
  if (tr->headers_complete)
    return len; /* trailers */
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    n--;
  if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    tr->headers.len = 0; /* a new block: the one before was 1xx */
    tr->status = parse_status(line, n);
  } else if (n == 0) {
    if (tr->status >= 200)
      complete_headers(tr);
  } else if (add_header(tr, line, n)) {
    tr->refused = REFUSED_MEMORY;
    return 0;
  }
  return len;
}

static int on_sse_event(void *ud, const sse_event *e)
{
  transfer *tr = ud;
  event *ev = calloc(1, sizeof *ev);
  if (!ev)
    return 1;
  ev->transfer = tr;
  ev->type = EVENT_SSE;
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
  const progress_values *was = &tr->reported;
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

/* ---- leaving curl ---- */

static void capture_info(transfer *tr)
{
  char *ip = NULL;
  curl_easy_getinfo(tr->easy, CURLINFO_TOTAL_TIME, &tr->info.total_time);
  curl_easy_getinfo(tr->easy, CURLINFO_CONNECT_TIME, &tr->info.connect_time);
  curl_easy_getinfo(tr->easy, CURLINFO_STARTTRANSFER_TIME, &tr->info.starttransfer_time);
  curl_easy_getinfo(tr->easy, CURLINFO_LOCAL_PORT, &tr->info.local_port);
  curl_easy_getinfo(tr->easy, CURLINFO_HTTP_VERSION, &tr->info.http_version);
  curl_easy_getinfo(tr->easy, CURLINFO_PRIMARY_IP, &ip);
  tr->info.primary_ip[0] = '\0';
  if (ip) {
    strncpy(tr->info.primary_ip, ip, sizeof tr->info.primary_ip - 1);
    tr->info.primary_ip[sizeof tr->info.primary_ip - 1] = '\0';
  }
}

void transfer_detach(transfer *tr)
{
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

/* Turns a curl failure into an error type and a readable message. */
static void classify(transfer *tr, CURLcode code)
{
  const char *type = "connection", *what;
  const char *detail = tr->curl_error[0] ? tr->curl_error : curl_easy_strerror(code);
  long os_errno = 0;
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
  case CURLE_RECV_ERROR: what = "connection failed while receiving"; break;
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
      tr->error_type = "too_large";
      snprintf(tr->error_message, sizeof tr->error_message,
               "response body larger than max_response_bytes (%lld)", (long long)tr->max_bytes);
      return;
    }
    type = "protocol";
    what = tr->refused == REFUSED_MEMORY ? "out of memory while receiving" : "could not keep the response";
    break;
  case CURLE_URL_MALFORMAT: type = "protocol"; what = "invalid URL"; break;
  case CURLE_UNSUPPORTED_PROTOCOL: type = "protocol"; what = "only http and https are allowed"; break;
  default: type = "protocol"; what = "HTTP transfer failed"; break;
  }
  tr->error_type = type;
  snprintf(tr->error_message, sizeof tr->error_message, "%s (%s)", what, detail);
}

void transfer_finish(transfer *tr, CURLcode code)
{
  curl_easy_getinfo(tr->easy, CURLINFO_RESPONSE_CODE, &tr->status);
  tr->curl_code = (long)code;
  if (code != CURLE_OK)
    classify(tr, code);
  transfer_detach(tr);
  tr->state = TRANSFER_FINISHED;
  queue_push(tr->owner, &tr->done_event);
}

/* ---- reporting events ---- */

static void push_headers(lua_State *L, const byte_buffer *h)
{
  size_t at = 0;
  lua_newtable(L);
  while (at < h->len) {
    const char *name = h->bytes + at, *value;
    size_t name_len = strlen(name), value_len;
    value = name + name_len + 1;
    value_len = strlen(value);
    at += name_len + value_len + 2;
    lua_pushlstring(L, name, name_len);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      push_bytes(L, value, value_len);
    } else {
      lua_pushliteral(L, ", ");
      push_bytes(L, value, value_len);
      lua_concat(L, 3);
    }
    lua_rawset(L, -3);
  }
}

static void set_integer(lua_State *L, const char *key, lua_Integer value)
{
  lua_pushinteger(L, value);
  lua_setfield(L, -2, key);
}

void transfer_report(lua_State *L, event *ev)
{
  transfer *tr = ev->transfer;
  switch (ev->type) {
  case EVENT_HEADERS:
    set_integer(L, "status", tr->status);
    push_headers(L, &tr->headers);
    lua_setfield(L, -2, "headers");
    break;
  case EVENT_SSE:
    push_bytes(L, ev->bytes.bytes, ev->event_len);
    lua_setfield(L, -2, "event");
    push_bytes(L, ev->bytes.bytes + ev->event_len, ev->data_len);
    lua_setfield(L, -2, "data");
    push_bytes(L, ev->bytes.bytes + ev->event_len + ev->data_len, ev->id_len);
    lua_setfield(L, -2, "id");
    break;
  case EVENT_DATA:
    push_bytes(L, ev->bytes.bytes, ev->bytes.len);
    lua_setfield(L, -2, "data");
    break;
  case EVENT_PROGRESS:
    set_integer(L, "ul_now", (lua_Integer)tr->progress.ul_now);
    set_integer(L, "ul_total", (lua_Integer)tr->progress.ul_total);
    set_integer(L, "dl_now", (lua_Integer)tr->progress.dl_now);
    set_integer(L, "dl_total", (lua_Integer)tr->progress.dl_total);
    tr->reported = tr->progress;
    tr->progress_queued = 0;
    break;
  case EVENT_DONE:
    set_integer(L, "status", tr->status);
    push_headers(L, &tr->headers);
    lua_setfield(L, -2, "headers");
    push_bytes(L, tr->body.bytes, tr->body.len);
    lua_setfield(L, -2, "body");
    if (tr->error_type) {
      gptaudio_push_error(L, tr->error_type, tr->error_message);
      set_integer(L, "curl_code", tr->curl_code);
      lua_setfield(L, -2, "error");
    }
    tr->state = TRANSFER_DONE;
    buffer_free(&tr->body);
    buffer_free(&tr->headers);
    break;
  }
}

/* ---- reading the spec ---- */

/* The value on top of the stack as a string; `what` names it in errors. */
static const char *to_string(lua_State *L, const char *what, size_t *len, int nul_ok)
{
  size_t n;
  const char *s;
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "%s: string expected, got %s", what, luaL_typename(L, -1));
  s = lua_tolstring(L, -1, &n);
  if (!nul_ok && strlen(s) != n)
    luaL_error(L, "%s: NUL not allowed", what);
  if (len)
    *len = n;
  return s;
}

/* Pushes spec[key]; returns it as a C string, or NULL when it is nil. */
static const char *optional_text(lua_State *L, int spec, const char *key)
{
  lua_getfield(L, spec, key);
  return lua_isnil(L, -1) ? NULL : to_string(L, key, NULL, 0);
}

static double optional_number(lua_State *L, int spec, const char *key)
{
  double v = 0;
  lua_getfield(L, spec, key);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s: number expected, got %s", key, luaL_typename(L, -1));
    v = lua_tonumber(L, -1);
    if (!(v >= 0 && v <= MAX_SPEC_NUMBER))
      luaL_error(L, "%s: must be a number from 0 to 1e15", key);
  }
  lua_pop(L, 1);
  return v;
}

static long whole(double v)
{
  return v >= (double)LONG_MAX ? LONG_MAX : (long)ceil(v);
}

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

/* "METHOD scheme://host/path": the query and any credentials left out, since
   tostring and messages must never show secrets. */
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

static int out_of_memory(lua_State *L)
{
  return luaL_error(L, "not enough memory");
}

/* After the caller's headers, so that a header of the caller's wins: curl
   takes the first of a name, and sends none of an empty "Name:". */
static void append_header(lua_State *L, transfer *tr, const char *line)
{
  struct curl_slist *grown = curl_slist_append(tr->header_list, line);
  if (!grown)
    out_of_memory(L);
  tr->header_list = grown;
}

static void add_headers(lua_State *L, transfer *tr, int spec)
{
  int i, n;
  lua_getfield(L, spec, "headers");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1))
    luaL_error(L, "headers: table expected, got %s", luaL_typename(L, -1));
  n = (int)compat_rawlen(L, -1);
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *line;
    char what[32];
    snprintf(what, sizeof what, "headers[%d]", i);
    lua_rawgeti(L, -1, i);
    line = to_string(L, what, &len, 1);
    if (memchr(line, '\r', len) || memchr(line, '\n', len) || memchr(line, '\0', len))
      luaL_error(L, "%s: CR or LF not allowed", what);
    append_header(L, tr, line);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Appends spec[key] of the part on top of the stack with set(); `what` names the part. */
static void set_part_text(lua_State *L, curl_mimepart *part, const char *what, const char *key, int required,
                          CURLcode (*set)(curl_mimepart *, const char *))
{
  char name[64];
  snprintf(name, sizeof name, "%s.%s", what, key);
  lua_getfield(L, -1, key);
  if (!lua_isnil(L, -1) || required) {
    if (set(part, to_string(L, name, NULL, 0)) != CURLE_OK)
      out_of_memory(L);
  }
  lua_pop(L, 1);
}

/* The multipart list at index `list` as a curl_mime, from memory or files.
   Returns 0, or -1 with the reason in tr->error_message when a file cannot be read. */
static int add_parts(lua_State *L, transfer *tr, int list)
{
  int i, n = (int)compat_rawlen(L, list);
  tr->mime = curl_mime_init(tr->easy);
  if (!tr->mime)
    out_of_memory(L);
  for (i = 1; i <= n; i++) {
    curl_mimepart *part;
    char what[32];
    char name[48];
    int has_data, has_path;
    snprintf(what, sizeof what, "multipart[%d]", i);
    lua_rawgeti(L, list, i);
    if (!lua_istable(L, -1))
      luaL_error(L, "%s: table expected, got %s", what, luaL_typename(L, -1));
    part = curl_mime_addpart(tr->mime);
    if (!part)
      out_of_memory(L);
    set_part_text(L, part, what, "name", 1, curl_mime_name);
    lua_getfield(L, -1, "data");
    lua_getfield(L, -2, "path");
    has_data = !lua_isnil(L, -2);
    has_path = !lua_isnil(L, -1);
    if (has_data == has_path)
      luaL_error(L, "%s: exactly one of data and path expected", what);
    snprintf(name, sizeof name, "%s.%s", what, has_data ? "data" : "path");
    if (has_data) {
      size_t len;
      const char *data;
      lua_pop(L, 1); /* the nil path */
      data = to_string(L, name, &len, 1);
      if (curl_mime_data(part, data, len) != CURLE_OK)
        out_of_memory(L);
    } else {
      const char *path = to_string(L, name, NULL, 0);
      if (curl_mime_filedata(part, path) != CURLE_OK) {
        snprintf(tr->error_message, sizeof tr->error_message, "%s: cannot read %s: %s", name, path,
                 strerror(errno));
        return -1;
      }
      lua_pop(L, 1); /* the path */
    }
    lua_pop(L, 1); /* the data, or the nil data */
    set_part_text(L, part, what, "filename", 0, curl_mime_filename);
    set_part_text(L, part, what, "content_type", 0, curl_mime_type);
    lua_pop(L, 1);
  }
  curl_easy_setopt(tr->easy, CURLOPT_MIMEPOST, tr->mime);
  return 0;
}

/* curl copies string options; a failed copy is the only way these fail. */
static void set_text(lua_State *L, transfer *tr, CURLoption option, const char *value)
{
  if (curl_easy_setopt(tr->easy, option, value) != CURLE_OK)
    out_of_memory(L);
}

/* Method and body. Returns 0, or -1 (reason in tr->error_message) for an unreadable file. */
static int set_request(lua_State *L, transfer *tr, int spec, const char *url)
{
  const char *method, *body;
  size_t body_len = 0;
  int top = lua_gettop(L), has_parts;
  lua_getfield(L, spec, "body");
  body = lua_isnil(L, -1) ? NULL : to_string(L, "body", &body_len, 1);
  lua_getfield(L, spec, "multipart");
  has_parts = !lua_isnil(L, -1);
  if (has_parts && !lua_istable(L, -1))
    luaL_error(L, "multipart: table expected, got %s", luaL_typename(L, -1));
  if (body && has_parts)
    luaL_error(L, "body and multipart: give one or the other");
  method = optional_text(L, spec, "method");
  if (!method)
    method = body || has_parts ? "POST" : "GET";
  else if (!is_token(method))
    luaL_error(L, "method: not an HTTP method");
  tr->label = make_label(method, url);
  if (!tr->label)
    out_of_memory(L);

  if (body) {
    curl_easy_setopt(tr->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    set_text(L, tr, CURLOPT_COPYPOSTFIELDS, body);
    append_header(L, tr, "Content-Type:"); /* no made-up form type for a bare body */
  } else if (has_parts && add_parts(L, tr, top + 2)) {
    return -1;
  }
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(tr->easy, CURLOPT_NOBODY, 1L);
  } else if (!body && !has_parts && strcmp(method, "POST") == 0) {
    curl_easy_setopt(tr->easy, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(tr->easy, CURLOPT_POSTFIELDS, "");
  } else if (strcmp(method, body || has_parts ? "POST" : "GET") != 0) {
    set_text(L, tr, CURLOPT_CUSTOMREQUEST, method);
  }
  lua_settop(L, top);
  return 0;
}

static void set_limits(lua_State *L, transfer *tr, int spec)
{
  CURL *e = tr->easy;
  double timeout = optional_number(L, spec, "timeout");
  double connect_timeout = optional_number(L, spec, "connect_timeout");
  double low_speed_limit = optional_number(L, spec, "low_speed_limit");
  double low_speed_time = optional_number(L, spec, "low_speed_time");
  tr->max_bytes = (curl_off_t)optional_number(L, spec, "max_response_bytes");
  if (timeout > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, whole(timeout * 1000));
  if (connect_timeout > 0)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, whole(connect_timeout * 1000));
  if (low_speed_time > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, whole(low_speed_time));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, low_speed_limit > 0 ? whole(low_speed_limit) : 1L);
  }
  if (tr->max_bytes > 0) /* refuses a too long Content-Length before any body arrives */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, tr->max_bytes);
}

static void set_stream(lua_State *L, transfer *tr, int spec)
{
  const char *stream = optional_text(L, spec, "stream");
  if (!stream)
    tr->stream = STREAM_NONE;
  else if (strcmp(stream, "sse") == 0)
    tr->stream = STREAM_SSE;
  else if (strcmp(stream, "raw") == 0)
    tr->stream = STREAM_RAW;
  else
    luaL_error(L, "stream: \"sse\" or \"raw\" expected");
  lua_pop(L, 1);
  tr->mode = tr->stream;
  if (tr->stream == STREAM_SSE) {
    tr->sse = sse_new((size_t)tr->max_bytes);
    if (!tr->sse)
      out_of_memory(L);
  }
  lua_getfield(L, spec, "progress");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    luaL_error(L, "progress: boolean expected, got %s", luaL_typename(L, -1));
  if (lua_toboolean(L, -1)) {
    curl_easy_setopt(tr->easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(tr->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(tr->easy, CURLOPT_XFERINFODATA, tr);
  }
  lua_pop(L, 1);
}

static void set_optional_text(lua_State *L, transfer *tr, int spec, const char *key, CURLoption option)
{
  const char *value = optional_text(L, spec, key);
  if (value)
    set_text(L, tr, option, value);
  lua_pop(L, 1);
}

/* What every transfer gets, whatever its spec says. */
static void set_fixed_options(lua_State *L, transfer *tr)
{
  CURL *e = tr->easy;
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)tr);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, tr->curl_error);
  set_text(L, tr, CURLOPT_PROTOCOLS_STR, "http,https");
  /* An Authorization header must never follow a redirect to another host. */
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  set_text(L, tr, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, tr);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, tr);
}

/* Reads the spec into curl options. Programmer errors raise; the half-built
   state belongs to the userdata, whose __gc frees it. Returns 0, or -1 with
   the reason in tr->error_message. */
static int configure(lua_State *L, transfer *tr, int spec)
{
  const char *url;
  lua_getfield(L, spec, "url");
  url = to_string(L, "url", NULL, 0);
  set_text(L, tr, CURLOPT_URL, url);
  /* Waiting for a connection to multiplex only pays where HTTP/2 can be
     negotiated (TLS with ALPN); over plain http it holds every transfer to the
     host until the first answer arrives. */
  if (strncasecmp(url, "https:", 6) == 0)
    curl_easy_setopt(tr->easy, CURLOPT_PIPEWAIT, 1L);
  set_fixed_options(L, tr);
  add_headers(L, tr, spec);
  if (set_request(L, tr, spec, url))
    return -1;
  lua_pop(L, 1); /* url */
  /* Without it curl waits a second for "100 Continue" before a large body. */
  append_header(L, tr, "Expect:");
  curl_easy_setopt(tr->easy, CURLOPT_HTTPHEADER, tr->header_list);
  set_limits(L, tr, spec);
  set_stream(L, tr, spec);
  set_optional_text(L, tr, spec, "ca_file", CURLOPT_CAINFO);
  set_optional_text(L, tr, spec, "proxy", CURLOPT_PROXY);
  return 0;
}

static void init_event(transfer *tr, event *ev, event_type type)
{
  ev->transfer = tr;
  ev->type = type;
  ev->embedded = 1;
}

int transfer_start(lua_State *L, transport *t, int spec)
{
  transfer *tr;
  int ud;
  luaL_checktype(L, spec, LUA_TTABLE);
  tr = lua_newuserdata(L, sizeof *tr);
  memset(tr, 0, sizeof *tr);
  luaL_setmetatable(L, TRANSFER_MT);
  ud = lua_gettop(L);
  tr->owner = t;
  t->refs++;
  init_event(tr, &tr->headers_event, EVENT_HEADERS);
  init_event(tr, &tr->progress_event, EVENT_PROGRESS);
  init_event(tr, &tr->done_event, EVENT_DONE);
  tr->easy = curl_easy_init();
  if (!tr->easy)
    out_of_memory(L);
  if (configure(L, tr, spec))
    return gptaudio_fail(L, "audio", "%s", tr->error_message);
  lua_settop(L, ud);
  transport_enlist(L, t, tr, ud);
  tr->state = TRANSFER_RUNNING;
  if (curl_multi_add_handle(t->multi, tr->easy) != CURLM_OK) {
    transport_forget(L, t, tr);
    tr->state = TRANSFER_CANCELLED;
    return gptaudio_fail(L, "protocol", "curl refused the transfer");
  }
  tr->in_multi = 1;
  return 1;
}

/* ---- the Transfer userdata ---- */

static int transfer_cancel(lua_State *L)
{
  transfer *tr = luaL_checkudata(L, 1, TRANSFER_MT);
  if (is_active(tr)) {
    transfer_detach(tr);
    transport_forget(L, tr->owner, tr);
    tr->state = TRANSFER_CANCELLED;
  }
  return 0;
}

static void set_seconds(lua_State *L, const char *key, double value)
{
  lua_pushnumber(L, value);
  lua_setfield(L, -2, key);
}

static int transfer_info_table(lua_State *L)
{
  transfer *tr = luaL_checkudata(L, 1, TRANSFER_MT);
  if (tr->easy)
    capture_info(tr);
  lua_createtable(L, 0, 6);
  set_seconds(L, "total_time", tr->info.total_time);
  set_seconds(L, "connect_time", tr->info.connect_time);
  set_seconds(L, "starttransfer_time", tr->info.starttransfer_time);
  if (tr->info.local_port > 0)
    set_integer(L, "local_port", tr->info.local_port);
  if (tr->info.primary_ip[0]) {
    lua_pushstring(L, tr->info.primary_ip);
    lua_setfield(L, -2, "primary_ip");
  }
  switch (tr->info.http_version) {
  case CURL_HTTP_VERSION_1_0: lua_pushliteral(L, "1.0"); break;
  case CURL_HTTP_VERSION_1_1: lua_pushliteral(L, "1.1"); break;
  case CURL_HTTP_VERSION_2_0: lua_pushliteral(L, "2"); break;
  case CURL_HTTP_VERSION_3: lua_pushliteral(L, "3"); break;
  default: lua_pushnil(L);
  }
  lua_setfield(L, -2, "http_version");
  return 1;
}

static int transfer_gc(lua_State *L)
{
  transfer *tr = luaL_checkudata(L, 1, TRANSFER_MT);
  if (tr->owner) {
    transfer_detach(tr);
    /* Only lua_close collects an active transfer (the map holds it otherwise). */
    if (is_active(tr))
      transport_unlist(tr->owner, tr);
    tr->state = TRANSFER_CANCELLED;
    transport_release(tr->owner);
    tr->owner = NULL;
  }
  free(tr->label);
  tr->label = NULL;
  buffer_free(&tr->body);
  buffer_free(&tr->headers);
  return 0;
}

static int transfer_tostring(lua_State *L)
{
  transfer *tr = luaL_checkudata(L, 1, TRANSFER_MT);
  lua_pushfstring(L, "Transfer(%s, %s)", tr->label ? tr->label : "?", STATE_NAMES[tr->state]);
  return 1;
}

static const luaL_Reg TRANSFER_METHODS[] = {
  {"cancel", transfer_cancel},
  {"info", transfer_info_table},
  {NULL, NULL}
};

void transfer_open(lua_State *L)
{
  luaL_newmetatable(L, TRANSFER_MT);
  lua_newtable(L);
  luaL_setfuncs(L, TRANSFER_METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, transfer_gc);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, transfer_cancel);
  lua_pushcfunction(L, transfer_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
}
