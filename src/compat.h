/* The one place that knows Lua versions: 5.1, 5.2, 5.3, 5.4 and LuaJIT 2.1.
   The rest of src/ writes against the 5.2+ auxiliary library; below 5.2 it
   gets the few functions it uses from here, written with the 5.1 API alone,
   so a module built on LuaJIT's headers also loads in PUC Lua 5.1 (whose
   library lacks LuaJIT's additions) and the other way round. */
#ifndef GPTAUDIO_COMPAT_H
#define GPTAUDIO_COMPAT_H

/* A function used without a declaration (one the headers of this Lua do not
   have) is an error, never an int-returning guess: that guess is how a
   pointer got truncated and LuaJIT crashed. */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic error "-Wimplicit-function-declaration"
#endif

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

/* The build says which Lua it is for (the Makefile passes GPTAUDIO_LUA=501,
   502, 503, 504 or GPTAUDIO_LUAJIT=1): headers of another Lua stop it here
   with a clear message instead of a module that crashes where it loads. */
#if defined(GPTAUDIO_LUAJIT) && !defined(LUA_LJDIR)
#error "gptaudio: built for LuaJIT but these are not LuaJIT's headers (point the include path at luajit-2.1)"
#endif
#if defined(GPTAUDIO_LUA) && GPTAUDIO_LUA != LUA_VERSION_NUM
#error "gptaudio: the Lua headers found are not those of the Lua this build is for (check the include path)"
#endif
#if defined(GPTAUDIO_LUA) && defined(LUA_LJDIR)
#error "gptaudio: built for PUC Lua but these are LuaJIT's headers (point the include path at lua5.x)"
#endif
#if !defined(LUA_VERSION_NUM) || LUA_VERSION_NUM < 501 || LUA_VERSION_NUM > 504
#error "gptaudio: needs the headers of Lua 5.1, 5.2, 5.3, 5.4 or LuaJIT 2.1"
#endif

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

/* The headers this module was compiled on, for `gptaudio --version`. */
#ifdef LUA_LJDIR
#define COMPAT_HEADERS "LuaJIT 2.1"
#else
#define COMPAT_HEADERS LUA_VERSION
#endif

#if LUA_VERSION_NUM < 502
static inline void compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name; l++) {
    int i;
    for (i = 0; i < nup; i++)
      lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

static inline void *compat_testudata(lua_State *L, int i, const char *tname)
{
  void *p = lua_touserdata(L, i);
  int same;
  if (!p || !lua_getmetatable(L, i))
    return NULL;
  luaL_getmetatable(L, tname);
  same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? p : NULL;
}

static inline void compat_setmetatable(lua_State *L, const char *tname)
{
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}

/* Macros, so LuaJIT's declarations of the same names are bypassed too. */
#undef luaL_newlibtable
#undef luaL_newlib
#define luaL_setfuncs(L, l, nup) compat_setfuncs((L), (l), (nup))
#define luaL_testudata(L, i, tname) compat_testudata((L), (i), (tname))
#define luaL_setmetatable(L, tname) compat_setmetatable((L), (tname))
#define luaL_newlibtable(L, l) lua_createtable((L), 0, sizeof(l) / sizeof((l)[0]) - 1)
#define luaL_newlib(L, l) (luaL_newlibtable((L), (l)), luaL_setfuncs((L), (l), 0))
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
