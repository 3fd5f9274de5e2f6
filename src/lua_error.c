/* gptaudio.Error: the one error value every runtime failure returns. */
#include <stdarg.h>
#include <stdio.h>

#include "core.h"

#define ERROR_MT "gptaudio.Error"

/* A growing luaL_Buffer lives on the stack (Lua 5.4): between buffer calls the
   stack must be as the last call left it, so the field's text goes in through
   luaL_addvalue, the one call that takes an extra value on top. */
static void add_field(lua_State *L, luaL_Buffer *b, int err, const char *name,
                      const char *before, const char *after)
{
  int absent;
  lua_getfield(L, err, name);
  absent = lua_isnil(L, -1);
  lua_pop(L, 1);
  if (absent)
    return;
  luaL_addstring(b, before);
  lua_getfield(L, err, name);
  compat_tolstring(L, -1, NULL);
  lua_remove(L, -2);
  luaL_addvalue(b);
  luaL_addstring(b, after);
}

/* One readable line: "gptaudio api error 429 (rate_limit_exceeded): message [request req_1, 3 attempts]". */
static int error_tostring(lua_State *L)
{
  luaL_Buffer b;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "gptaudio");
  add_field(L, &b, 1, "type", " ", " error");
  add_field(L, &b, 1, "status", " ", "");
  add_field(L, &b, 1, "code", " (", ")");
  add_field(L, &b, 1, "message", ": ", "");
  add_field(L, &b, 1, "param", " [param ", "]");
  add_field(L, &b, 1, "request_id", " [request ", "]");
  add_field(L, &b, 1, "attempts", " [attempts ", "]");
  luaL_pushresult(&b);
  return 1;
}

/* core.error(fields): gives the table the Error metatable and returns it. */
static int error_new(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_getmetatable(L, ERROR_MT);
  lua_setmetatable(L, 1);
  return 1;
}

void gptaudio_push_error(lua_State *L, const char *type, const char *message)
{
  lua_createtable(L, 0, 2);
  lua_pushstring(L, type);
  lua_setfield(L, -2, "type");
  lua_pushstring(L, message);
  lua_setfield(L, -2, "message");
  luaL_getmetatable(L, ERROR_MT);
  lua_setmetatable(L, -2);
}

int gptaudio_fail(lua_State *L, const char *type, const char *fmt, ...)
{
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  lua_pushnil(L);
  gptaudio_push_error(L, type, message);
  return 2;
}

void gptaudio_open_error(lua_State *L)
{
  luaL_newmetatable(L, ERROR_MT);
  lua_pushcfunction(L, error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, ERROR_MT);
  lua_setfield(L, -2, "__name");
  lua_setfield(L, -2, "Error");
  lua_pushcfunction(L, error_new);
  lua_setfield(L, -2, "error");
}
