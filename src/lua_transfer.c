/* gptaudio.Transfer: one transfer of the engine (src/transport.h) as Lua sees
   it — t:add's spec table read into a transfer_spec, the events' fields, and
   cancel/info. */
#include <string.h>

#include "lua_transfer.h"

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

/* The fields below are read with lua_getfield, which may call __index, so
   each value stays on the stack (and alive) until the transfer is added. */

/* Pushes t[key] of the table at index t; returns it as a C string, or NULL when nil. */
static const char *optional_text(lua_State *L, int t, const char *key, const char *what)
{
  lua_getfield(L, t, key);
  return lua_isnil(L, -1) ? NULL : to_string(L, what, NULL, 0);
}

static transfer_bytes optional_bytes(lua_State *L, int t, const char *key, const char *what)
{
  transfer_bytes b = { NULL, 0 };
  lua_getfield(L, t, key);
  if (!lua_isnil(L, -1))
    b.bytes = to_string(L, what, &b.len, 1);
  return b;
}

static double optional_number(lua_State *L, int spec, const char *key)
{
  double v = 0;
  lua_getfield(L, spec, key);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s: number expected, got %s", key, luaL_typename(L, -1));
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* Pushes spec[key]: nil, or a table (or raises). */
static int optional_list(lua_State *L, int spec, const char *key)
{
  lua_getfield(L, spec, key);
  if (lua_isnil(L, -1))
    return 0;
  if (!lua_istable(L, -1))
    luaL_error(L, "%s: table expected, got %s", key, luaL_typename(L, -1));
  return 1;
}

/* A scratch array for n items, collected with the call. */
static void *scratch(lua_State *L, size_t n, size_t size)
{
  return lua_newuserdata(L, n ? n * size : 1);
}

/* The list on top of the stack; lua_rawgeti calls nothing, so the list holds its strings. */
static void read_headers(lua_State *L, transfer_spec *s)
{
  int list = lua_gettop(L), i, n = (int)compat_rawlen(L, list);
  transfer_bytes *lines = scratch(L, (size_t)n, sizeof *lines);
  for (i = 1; i <= n; i++) {
    char what[32];
    snprintf(what, sizeof what, "headers[%d]", i);
    lua_rawgeti(L, list, i);
    lines[i - 1].bytes = to_string(L, what, &lines[i - 1].len, 1);
    lua_pop(L, 1);
  }
  s->headers = lines;
  s->header_count = (size_t)n;
}

static void read_parts(lua_State *L, transfer_spec *s)
{
  int list = lua_gettop(L), i, n = (int)compat_rawlen(L, list);
  transfer_part *parts = scratch(L, (size_t)n, sizeof *parts);
  for (i = 1; i <= n; i++) {
    transfer_part *p = &parts[i - 1];
    char what[32], name[48];
    int part;
    luaL_checkstack(L, 6, "too many multipart parts");
    snprintf(what, sizeof what, "multipart[%d]", i);
    lua_rawgeti(L, list, i);
    if (!lua_istable(L, -1))
      luaL_error(L, "%s: table expected, got %s", what, luaL_typename(L, -1));
    part = lua_gettop(L);
    snprintf(name, sizeof name, "%s.name", what);
    lua_getfield(L, part, "name");
    p->name = to_string(L, name, NULL, 0);
    snprintf(name, sizeof name, "%s.data", what);
    p->data = optional_bytes(L, part, "data", name);
    snprintf(name, sizeof name, "%s.path", what);
    p->path = optional_text(L, part, "path", name);
    if (!p->data.bytes == !p->path)
      luaL_error(L, "%s: exactly one of data and path expected", what);
    snprintf(name, sizeof name, "%s.filename", what);
    p->filename = optional_text(L, part, "filename", name);
    snprintf(name, sizeof name, "%s.content_type", what);
    p->content_type = optional_text(L, part, "content_type", name);
  }
  s->parts = parts;
  s->part_count = (size_t)n;
}

static stream_mode read_stream(lua_State *L, int spec)
{
  const char *stream = optional_text(L, spec, "stream", "stream");
  if (!stream)
    return STREAM_NONE;
  if (strcmp(stream, "sse") == 0)
    return STREAM_SSE;
  if (strcmp(stream, "raw") == 0)
    return STREAM_RAW;
  return luaL_error(L, "stream: \"sse\" or \"raw\" expected"), STREAM_NONE;
}

/* Reads the spec table into s; the values it points at stay on the stack. */
static void read_spec(lua_State *L, int spec, transfer_spec *s)
{
  memset(s, 0, sizeof *s);
  luaL_checkstack(L, 24, "spec");
  s->url = optional_text(L, spec, "url", "url");
  if (!s->url)
    to_string(L, "url", NULL, 0); /* raises: url is required */
  if (optional_list(L, spec, "headers"))
    read_headers(L, s);
  s->body = optional_bytes(L, spec, "body", "body");
  if (optional_list(L, spec, "multipart"))
    read_parts(L, s);
  s->method = optional_text(L, spec, "method", "method");
  s->stream = read_stream(L, spec);
  s->timeout = optional_number(L, spec, "timeout");
  s->connect_timeout = optional_number(L, spec, "connect_timeout");
  s->first_byte_timeout = optional_number(L, spec, "first_byte_timeout");
  s->low_speed_limit = optional_number(L, spec, "low_speed_limit");
  s->low_speed_time = optional_number(L, spec, "low_speed_time");
  s->max_response_bytes = optional_number(L, spec, "max_response_bytes");
  s->ca_file = optional_text(L, spec, "ca_file", "ca_file");
  s->proxy = optional_text(L, spec, "proxy", "proxy");
  lua_getfield(L, spec, "progress");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    luaL_error(L, "progress: boolean expected, got %s", luaL_typename(L, -1));
  s->progress = lua_toboolean(L, -1);
}

int wrap_transfer_add(lua_State *L, transport *t, int spec)
{
  transfer_spec s;
  transfer_handle *h;
  transfer *tr;
  add_result result;
  char why[512];
  int ud;
  luaL_checktype(L, spec, LUA_TTABLE);
  read_spec(L, spec, &s);
  h = lua_newuserdata(L, sizeof *h);
  h->tr = NULL;
  h->ref = LUA_NOREF;
  luaL_setmetatable(L, TRANSFER_MT);
  ud = lua_gettop(L);
  lua_pushvalue(L, ud);
  h->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* before the transfer exists: it may raise */
  result = transport_add(t, &s, &tr, why, sizeof why);
  if (result != TRANSFER_ADDED) {
    luaL_unref(L, LUA_REGISTRYINDEX, h->ref);
    h->ref = LUA_NOREF;
  }
  switch (result) {
  case TRANSFER_ADDED: break;
  case TRANSFER_INVALID: return luaL_error(L, "%s", why);
  case TRANSFER_NO_MEMORY: return luaL_error(L, "not enough memory");
  case TRANSFER_UNREADABLE: return gptaudio_fail(L, "audio", "%s", why);
  case TRANSFER_REFUSED: return gptaudio_fail(L, "protocol", "%s", why);
  }
  h->tr = tr;
  transfer_set_user(tr, h);
  lua_pushvalue(L, ud);
  return 1;
}

void wrap_transfer_push(lua_State *L, const transfer *tr)
{
  const transfer_handle *h = transfer_user(tr);
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->ref);
}

void wrap_transfer_forget(lua_State *L, const transfer *tr)
{
  transfer_handle *h = transfer_user(tr);
  luaL_unref(L, LUA_REGISTRYINDEX, h->ref);
  h->ref = LUA_NOREF;
}

/* ---- reporting events ---- */

static void push_bytes(lua_State *L, transfer_bytes b)
{
  lua_pushlstring(L, b.bytes ? b.bytes : "", b.len);
}

/* Names lower-case, repeated names joined with ", ". */
static void push_headers(lua_State *L, const transfer *tr)
{
  size_t at = 0;
  http_field f;
  lua_newtable(L);
  while (transfer_next_field(tr, &at, &f)) {
    lua_pushlstring(L, f.name, f.name_len);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushlstring(L, f.value, f.value_len);
    } else {
      lua_pushliteral(L, ", ");
      lua_pushlstring(L, f.value, f.value_len);
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

void wrap_transfer_report(lua_State *L, const transport_event *ev)
{
  const transfer *tr = ev->transfer;
  const transfer_failure *failure;
  transfer_progress p;
  switch (ev->type) {
  case EVENT_HEADERS:
    set_integer(L, "status", transfer_status(tr));
    push_headers(L, tr);
    lua_setfield(L, -2, "headers");
    break;
  case EVENT_SSE:
    push_bytes(L, ev->name);
    lua_setfield(L, -2, "event");
    push_bytes(L, ev->data);
    lua_setfield(L, -2, "data");
    push_bytes(L, ev->id);
    lua_setfield(L, -2, "id");
    break;
  case EVENT_DATA:
    push_bytes(L, ev->data);
    lua_setfield(L, -2, "data");
    break;
  case EVENT_PROGRESS:
    p = transfer_progress_of(tr);
    set_integer(L, "ul_now", (lua_Integer)p.ul_now);
    set_integer(L, "ul_total", (lua_Integer)p.ul_total);
    set_integer(L, "dl_now", (lua_Integer)p.dl_now);
    set_integer(L, "dl_total", (lua_Integer)p.dl_total);
    break;
  case EVENT_DONE:
    set_integer(L, "status", transfer_status(tr));
    push_headers(L, tr);
    lua_setfield(L, -2, "headers");
    push_bytes(L, transfer_body(tr));
    lua_setfield(L, -2, "body");
    failure = transfer_failure_of(tr);
    if (failure) {
      gptaudio_push_error(L, failure->type, failure->message);
      set_integer(L, "curl_code", failure->curl_code);
      lua_setfield(L, -2, "error");
    }
    break;
  }
}

/* ---- the Transfer userdata ---- */

static int transfer_cancel_lua(lua_State *L)
{
  transfer_handle *h = luaL_checkudata(L, 1, TRANSFER_MT);
  if (h->tr && h->ref != LUA_NOREF) {
    wrap_transfer_forget(L, h->tr);
    transfer_cancel(h->tr);
  }
  return 0;
}

static void set_seconds(lua_State *L, const char *key, double value)
{
  lua_pushnumber(L, value);
  lua_setfield(L, -2, key);
}

static int transfer_info_lua(lua_State *L)
{
  transfer_handle *h = luaL_checkudata(L, 1, TRANSFER_MT);
  transfer_info info;
  lua_createtable(L, 0, 6);
  if (!h->tr)
    return 1;
  info = transfer_info_of(h->tr);
  set_seconds(L, "total_time", info.total_time);
  set_seconds(L, "connect_time", info.connect_time);
  set_seconds(L, "starttransfer_time", info.starttransfer_time);
  if (info.local_port > 0)
    set_integer(L, "local_port", info.local_port);
  if (info.primary_ip[0]) {
    lua_pushstring(L, info.primary_ip);
    lua_setfield(L, -2, "primary_ip");
  }
  if (info.http_version) {
    lua_pushstring(L, info.http_version);
    lua_setfield(L, -2, "http_version");
  }
  return 1;
}

static int transfer_gc_lua(lua_State *L)
{
  transfer_handle *h = luaL_checkudata(L, 1, TRANSFER_MT);
  if (h->tr) {
    /* Only lua_close collects an active transfer (the registry holds it otherwise). */
    transfer_free(h->tr);
    h->tr = NULL;
  }
  return 0;
}

static int transfer_tostring_lua(lua_State *L)
{
  transfer_handle *h = luaL_checkudata(L, 1, TRANSFER_MT);
  if (h->tr)
    lua_pushfstring(L, "Transfer(%s, %s)", transfer_label(h->tr), transfer_state_name(h->tr));
  else
    lua_pushliteral(L, "Transfer(?, new)");
  return 1;
}

static const luaL_Reg TRANSFER_METHODS[] = {
  {"cancel", transfer_cancel_lua},
  {"info", transfer_info_lua},
  {NULL, NULL}
};

void wrap_transfer_open(lua_State *L)
{
  luaL_newmetatable(L, TRANSFER_MT);
  lua_newtable(L);
  luaL_setfuncs(L, TRANSFER_METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, transfer_gc_lua);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, transfer_cancel_lua);
  lua_pushcfunction(L, transfer_tostring_lua);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
}
