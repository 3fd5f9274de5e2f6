/* core.transport(): the Lua face of the engine (src/transport.h). It turns
   each queued event into a table; the Transfer type is in lua_transfer.c.

local t = core.transport()            -- userdata "gptaudio.Transport": one curl multi handle + one epoll fd
local x = t:add(spec)                 -- starts a transfer now (curl_multi_add_handle); returns userdata "gptaudio.Transfer"
                                      -- (or nil, gptaudio.Error when a multipart file cannot be read or memory runs out)
  spec = {
    url = "http://127.0.0.1:8080/v1/x",   -- required string
    method = "GET" | "POST" | "DELETE" | ... (default "GET"; POST when body/multipart given),
    headers = { "Name: value", ... },     -- CR, LF or NUL anywhere in a header raises "headers[3]: CR or LF not allowed"
    body = "bytes",                        -- optional request body (may contain NUL; copied)
    multipart = { { name = "file", data = "bytes", filename = "a.wav", content_type = "audio/wav" },
                  { name = "file", path = "x.wav", filename = ..., content_type = ... },   -- curl_mime_filedata
                  { name = "model", data = "whisper-1" }, ... },   -- curl_mime from memory, no temp files
    stream = nil | "sse" | "raw",          -- nil: buffer the body; "sse": parse SSE in C (src/sse.h), queue each event;
                                           -- "raw": queue body chunks. A final status outside 200-299 is buffered
                                           -- whatever stream says, so its error body arrives in "done".
    timeout = seconds (float; 0/nil = none)    -- the whole transfer, from add to its last byte
    connect_timeout = seconds                  -- until the connection (and TLS) is up
    first_byte_timeout = seconds               -- until the response's first byte (its status line)
    low_speed_limit = bytes/s, low_speed_time = seconds
                                           -- slower than the limit for that long (waiting for the response
                                           -- included) has stalled; low_speed_time alone means 1 byte/s
    max_response_bytes = n,                -- body bytes beyond this abort the transfer with error type "too_large" (all modes)
    ca_file = path, proxy = url, progress = true|false,
  }
local events = t:step(wait)           -- waits up to `wait` seconds (0: do not wait) for socket activity or the next
                                      -- deadline, whichever comes first; acts on ready sockets/the timeout with
                                      -- curl_multi_socket_action; reads curl_multi_info_read; then returns ALL queued
                                      -- events as an array (maybe empty), oldest first:
  { transfer = x, type = "headers", status = 200, headers = { ["content-type"] = "..." } }   -- once per transfer, when the final
                                      -- response's header block is complete (skip 1xx); names lower-case; repeated names joined with ", "
  { transfer = x, type = "sse", event = "", data = "...", id = "" }        -- stream = "sse"
  { transfer = x, type = "data", data = "bytes" }                           -- stream = "raw": bytes that arrived (coalesced per step)
  { transfer = x, type = "progress", ul_now =, ul_total =, dl_now =, dl_total = }   -- progress = true: at most one per transfer per step, only when changed
  { transfer = x, type = "done", status = 200 (0 when no response), headers = {...}, body = "..." (buffered mode; "" in stream modes),
    error = nil | { type = "timeout" | "connection" | "too_large" | "protocol", message = "readable", curl_code = n } }
                                      -- last event of a transfer; afterwards it is out of curl and its easy handle freed
                                      -- an HTTP error status is NOT an error here (Lua decides); error is only for transport failures
                                      -- (error is a gptaudio.Error)
t:pollfd()   -> the epoll fd (integer), or nil where there is no epoll
t:timeout()  -> seconds until the next deadline (curl's or a first-byte one; 0 = now), or nil when there is none
t:active()   -> transfers started and not yet reported done
t:close()    -> cancels all transfers, frees curl and the epoll fd; idempotent; t:add/t:step after close raise "Transport is closed"
x:cancel()   -> removes it from curl now and frees its easy handle; queued events of it are dropped; no "done" event; idempotent
x:info()     -> { total_time =, connect_time =, starttransfer_time =, local_port =, primary_ip =, http_version = } (for tests/logs); nil values allowed after done

   Lifetime: the Transport userdata points at the engine's transport, which
   lives until the last of its transfers is freed, so finalizers may run in
   any order (lua_close). Closing (or collecting) the Transport cancels its
   transfers. */
#include "lua_transfer.h"

typedef struct {
  transport *t; /* NULL only before the engine's transport exists */
} transport_handle;

static const char *const EVENT_NAMES[] = { "headers", "sse", "data", "progress", "done" };

/* Each queued event becomes a table; it leaves the queue only once reported,
   so a memory error halfway loses nothing. */
static int push_events(lua_State *L, transport *t)
{
  const transport_event *ev;
  int n = 0, result;
  lua_createtable(L, (int)transport_queued(t), 0);
  result = lua_gettop(L);
  while ((ev = transport_event_peek(t))) {
    const transfer *tr = ev->transfer;
    event_type type = ev->type;
    lua_createtable(L, 0, 6);
    wrap_transfer_push(L, tr);
    lua_setfield(L, -2, "transfer");
    lua_pushstring(L, EVENT_NAMES[type]);
    lua_setfield(L, -2, "type");
    wrap_transfer_report(L, ev);
    lua_rawseti(L, result, ++n);
    transport_event_pop(t);
    if (type == EVENT_DONE)
      wrap_transfer_forget(L, tr);
  }
  return 1;
}

/* Cancels every transfer (their userdata let go) and closes the engine. */
static void shutdown_transport(lua_State *L, transport *t)
{
  transfer *tr;
  while ((tr = transport_first_active(t))) {
    wrap_transfer_forget(L, tr);
    transfer_cancel(tr);
  }
  transport_close(t);
}

static transport *check_open(lua_State *L)
{
  transport_handle *h = luaL_checkudata(L, 1, TRANSPORT_MT);
  if (!h->t || transport_is_closed(h->t))
    luaL_error(L, "Transport is closed");
  return h->t;
}

static transport *check_any(lua_State *L)
{
  transport_handle *h = luaL_checkudata(L, 1, TRANSPORT_MT);
  return h->t && !transport_is_closed(h->t) ? h->t : NULL;
}

static int transport_new_lua(lua_State *L)
{
  transport_handle *h = lua_newuserdata(L, sizeof *h);
  const char *failure;
  h->t = NULL;
  luaL_setmetatable(L, TRANSPORT_MT);
  h->t = transport_new(&failure);
  if (!h->t && failure)
    return gptaudio_fail(L, "connection", "cannot create an epoll set: %s", failure);
  if (!h->t)
    return luaL_error(L, "not enough memory");
  return 1;
}

static int transport_add_lua(lua_State *L)
{
  transport *t = check_open(L);
  return wrap_transfer_add(L, t, 2);
}

static int transport_step_lua(lua_State *L)
{
  transport *t = check_open(L);
  lua_Number wait = luaL_optnumber(L, 2, 0);
  luaL_argcheck(L, wait >= 0, 2, "wait must be a non-negative number of seconds");
  transport_step(t, wait);
  return push_events(L, t);
}

static int transport_pollfd_lua(lua_State *L)
{
  transport *t = check_any(L);
  if (t && transport_pollfd(t) >= 0)
    lua_pushinteger(L, transport_pollfd(t));
  else
    lua_pushnil(L);
  return 1;
}

static int transport_timeout_lua(lua_State *L)
{
  transport *t = check_any(L);
  double left = t ? transport_timeout(t) : -1;
  if (left < 0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, left);
  return 1;
}

static int transport_active_lua(lua_State *L)
{
  transport *t = check_any(L);
  lua_pushinteger(L, t ? transport_active(t) : 0);
  return 1;
}

static int transport_close_lua(lua_State *L)
{
  transport_handle *h = luaL_checkudata(L, 1, TRANSPORT_MT);
  if (h->t)
    shutdown_transport(L, h->t);
  return 0;
}

static int transport_gc_lua(lua_State *L)
{
  transport_handle *h = luaL_checkudata(L, 1, TRANSPORT_MT);
  if (h->t) {
    shutdown_transport(L, h->t);
    transport_free(h->t);
    h->t = NULL;
  }
  return 0;
}

static int transport_tostring_lua(lua_State *L)
{
  transport *t = check_any(L);
  if (t)
    lua_pushfstring(L, "Transport(%d active)", transport_active(t));
  else
    lua_pushliteral(L, "Transport(closed)");
  return 1;
}

static const luaL_Reg TRANSPORT_METHODS[] = {
  {"add", transport_add_lua},
  {"step", transport_step_lua},
  {"pollfd", transport_pollfd_lua},
  {"timeout", transport_timeout_lua},
  {"active", transport_active_lua},
  {"close", transport_close_lua},
  {NULL, NULL}
};

void gptaudio_open_transport(lua_State *L)
{
  /* Once per process, before any handle; curl never unloads with the module. */
  transport_global_init();
  luaL_newmetatable(L, TRANSPORT_MT);
  lua_newtable(L);
  luaL_setfuncs(L, TRANSPORT_METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, transport_gc_lua);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, transport_close_lua);
  lua_pushcfunction(L, transport_tostring_lua);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  wrap_transfer_open(L);
  lua_pushcfunction(L, transport_new_lua);
  lua_setfield(L, -2, "transport");
}
