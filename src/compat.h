/* The one place that knows Lua versions: 5.4 and LuaJIT 2.1 (the 5.1 API). */
#ifndef GPTAUDIO_COMPAT_H
#define GPTAUDIO_COMPAT_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#if LUA_VERSION_NUM >= 502
#define compat_rawlen(L, i) lua_rawlen((L), (i))
#define compat_absindex(L, i) lua_absindex((L), (i))
#define compat_isinteger(L, i) lua_isinteger((L), (i))
#else
#define compat_rawlen(L, i) lua_objlen((L), (i))
#define compat_absindex(L, i) \
  (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)
/* 5.1 has no integer subtype: a number is an integer when it has no fraction. */
#define compat_isinteger(L, i) \
  (lua_type((L), (i)) == LUA_TNUMBER && \
   lua_tonumber((L), (i)) == (lua_Number)(long long)lua_tonumber((L), (i)))
#endif

/* Pushes a string form of any value (its __tostring when it has one). */
#if LUA_VERSION_NUM >= 502
#define compat_tolstring(L, i, len) luaL_tolstring((L), (i), (len))
#else
static inline const char *compat_tolstring(lua_State *L, int i, size_t *len)
{
  i = compat_absindex(L, i);
  if (!luaL_callmeta(L, i, "__tostring")) {
    switch (lua_type(L, i)) {
    case LUA_TNUMBER:
    case LUA_TSTRING: lua_pushvalue(L, i); break;
    case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, i) ? "true" : "false"); break;
    case LUA_TNIL: lua_pushliteral(L, "nil"); break;
    default:
      lua_pushfstring(L, "%s: %p", luaL_typename(L, i), lua_topointer(L, i));
    }
  }
  return lua_tolstring(L, -1, len);
}
#endif

/* The metatable of a userdata type: `__close` only exists from 5.4 on, and
   setting it elsewhere is harmless but pointless, so it is added here alone. */
static inline void compat_set_close(lua_State *L, lua_CFunction close_fn)
{
#if LUA_VERSION_NUM >= 504
  lua_pushcfunction(L, close_fn);
  lua_setfield(L, -2, "__close");
#else
  (void)L;
  (void)close_fn;
#endif
}

/* luaL_checkoption that raises for a value that is neither a string nor a
   number (numbers convert, as everywhere in the Lua API): LuaJIT's takes any
   such value as the default. */
static inline int compat_checkoption(lua_State *L, int arg, const char *def, const char *const lst[])
{
#if LUA_VERSION_NUM < 502
  if (!lua_isnoneornil(L, arg))
    luaL_checkstring(L, arg);
#endif
  return luaL_checkoption(L, arg, def, lst);
}

#endif
