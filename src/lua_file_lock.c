/* core.lock_file(path) -> FileLock | nil, err (type "io"), "locked": the
   gptaudio.FileLock userdata, an exclusive lock held until lock:unlock(),
   its collection, the end of a to-be-closed variable, or the process
   (file_lock.h). The third value says another holder has the lock. */
#include <errno.h>
#include <string.h>

#include "core.h"
#include "file_lock.h"

#define FILE_LOCK_MT "gptaudio.FileLock"

typedef struct {
  int fd; /* -1 once released */
} lock_ud;

static int l_lock_file(lua_State *L)
{
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  lock_ud *ud;
  int fd;
  if (strlen(path) != len)
    return gptaudio_fail(L, "io", "the path contains a NUL byte");
  ud = lua_newuserdata(L, sizeof *ud);
  ud->fd = -1;
  luaL_setmetatable(L, FILE_LOCK_MT);
  fd = file_lock(path);
  if (fd < 0) {
    if (errno != EWOULDBLOCK)
      return gptaudio_fail(L, "io", "%s: %s", path, strerror(errno));
    gptaudio_fail(L, "io", "%s: locked by another holder", path);
    lua_pushliteral(L, "locked");
    return 3;
  }
  ud->fd = fd;
  return 1;
}

static int l_unlock(lua_State *L)
{
  lock_ud *ud = luaL_checkudata(L, 1, FILE_LOCK_MT);
  file_unlock(ud->fd);
  ud->fd = -1;
  return 0;
}

static int l_held(lua_State *L)
{
  lua_pushboolean(L, ((lock_ud *)luaL_checkudata(L, 1, FILE_LOCK_MT))->fd >= 0);
  return 1;
}

static int l_tostring(lua_State *L)
{
  lock_ud *ud = luaL_checkudata(L, 1, FILE_LOCK_MT);
  lua_pushstring(L, ud->fd >= 0 ? "FileLock(held)" : "FileLock(released)");
  return 1;
}

static const luaL_Reg METHODS[] = {
  {"unlock", l_unlock},
  {"held", l_held},
  {NULL, NULL}
};

void gptaudio_open_file_lock(lua_State *L)
{
  luaL_newmetatable(L, FILE_LOCK_MT);
  lua_newtable(L);
  luaL_setfuncs(L, METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, l_unlock);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, l_unlock);
  lua_pushliteral(L, FILE_LOCK_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_lock_file);
  lua_setfield(L, -2, "lock_file");
}
