/* core.wakeup(fd) -> Wakeup | nil, err (type "io"): the wake-up helper of
   wakeup.h watching fd (the engine's pollfd), for the ngx driver.
   w:path() the unix socket to connect to; w:poke() a byte to the client now;
   w:close() stops the helper (also its collection and <close>). */
#include "core.h"
#include "wakeup.h"

#define WAKEUP_MT "gptaudio.Wakeup"

typedef struct {
  wakeup *w; /* NULL once closed */
} wakeup_ud;

static wakeup *open_helper(lua_State *L)
{
  wakeup_ud *ud = luaL_checkudata(L, 1, WAKEUP_MT);
  if (!ud->w) luaL_error(L, "gptaudio: the wakeup helper is closed");
  return ud->w;
}

static int l_wakeup(lua_State *L)
{
  lua_Integer fd = luaL_checkinteger(L, 1);
  char err[256];
  wakeup_ud *ud;
  luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, 1, "a file descriptor expected");
  ud = lua_newuserdata(L, sizeof *ud);
  ud->w = NULL;
  luaL_setmetatable(L, WAKEUP_MT);
  ud->w = wakeup_start((int)fd, err, sizeof err);
  if (!ud->w) return gptaudio_fail(L, "io", "%s", err);
  return 1;
}

static int l_path(lua_State *L)
{
  lua_pushstring(L, wakeup_path(open_helper(L)));
  return 1;
}

static int l_poke(lua_State *L)
{
  wakeup_poke(open_helper(L));
  return 0;
}

static int l_close(lua_State *L)
{
  wakeup_ud *ud = luaL_checkudata(L, 1, WAKEUP_MT);
  if (ud->w) wakeup_stop(ud->w);
  ud->w = NULL;
  return 0;
}

static int l_tostring(lua_State *L)
{
  wakeup_ud *ud = luaL_checkudata(L, 1, WAKEUP_MT);
  lua_pushstring(L, ud->w ? "Wakeup(running)" : "Wakeup(closed)");
  return 1;
}

static const luaL_Reg METHODS[] = {
  {"path", l_path},
  {"poke", l_poke},
  {"close", l_close},
  {NULL, NULL}
};

void gptaudio_open_wakeup(lua_State *L)
{
  luaL_newmetatable(L, WAKEUP_MT);
  lua_newtable(L);
  luaL_setfuncs(L, METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, l_close);
  lua_pushliteral(L, WAKEUP_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_wakeup);
  lua_setfield(L, -2, "wakeup");
}
