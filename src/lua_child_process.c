/* core.spawn(argv, {stdin = false}) -> Child | nil, err (type "io"): a child
   process read and written without waiting (child_process.h), for the
   microphone and speaker sources. stdin: false (/dev/null), true (written
   with child:write) or "inherit" (this process's, e.g. the terminal a
   push-to-talk key is read from). The gptaudio.Child userdata:
     child:read([max])        stdout bytes (max 65536); "" when nothing is there now; nil at its end
     child:read_error([max])  the same for stderr
     child:write(bytes)       how many bytes went now (0: its pipe is full) | nil, err
     child:close_stdin()      the child reads the end of its input
     child:running()          true | false, exit code, signal name or nil
     child:stop([grace])      closes its streams, SIGTERM, SIGKILL after grace seconds (0.1)
   Collection and <close> stop it too. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "child_process.h"
#include "core.h"

#define CHILD_MT "gptaudio.Child"
#define MAX_ARGS 256
#define STDIN_INHERIT "inherit"
/* Bytes one read takes at most (a second of 16 kHz stereo s16). */
#define MAX_READ 65536

static child_process *check_child(lua_State *L)
{
  return luaL_checkudata(L, 1, CHILD_MT);
}

static int l_spawn(lua_State *L)
{
  char *argv[MAX_ARGS + 1];
  int n, i, stdin_mode = CHILD_STDIN_NULL;
  child_process *c;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (int)compat_rawlen(L, 1);
  luaL_argcheck(L, n >= 1 && n <= MAX_ARGS, 1, "1 to 256 arguments expected");
  for (i = 1; i <= n; i++) {
    size_t len;
    lua_rawgeti(L, 1, i);
    if (lua_type(L, -1) != LUA_TSTRING)
      return luaL_error(L, "bad argument #1 to 'spawn' (argv[%d] must be a string)", i);
    argv[i - 1] = (char *)lua_tolstring(L, -1, &len);
    if (strlen(argv[i - 1]) != len)
      return luaL_error(L, "bad argument #1 to 'spawn' (argv[%d] contains a NUL byte)", i);
    lua_pop(L, 1); /* the table keeps the string alive */
  }
  argv[n] = NULL;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "stdin");
    if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), STDIN_INHERIT) == 0)
      stdin_mode = CHILD_STDIN_INHERIT;
    else if (lua_type(L, -1) == LUA_TBOOLEAN)
      stdin_mode = lua_toboolean(L, -1) ? CHILD_STDIN_PIPE : CHILD_STDIN_NULL;
    else if (!lua_isnil(L, -1))
      return luaL_error(L, "bad argument #2 to 'spawn' ('stdin' must be true, false or \"inherit\")");
    lua_pop(L, 1);
  }
  c = lua_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  c->in_fd = c->out_fd = c->err_fd = -1;
  luaL_setmetatable(L, CHILD_MT);
  if (child_spawn(c, argv, stdin_mode) != 0)
    return gptaudio_fail(L, "io", "cannot start %s: %s", argv[0], strerror(errno));
  return 1;
}

static int read_stream(lua_State *L, int stream)
{
  child_process *c = check_child(L);
  lua_Integer max = luaL_optinteger(L, 2, MAX_READ);
  char buf[MAX_READ];
  ssize_t got;
  luaL_argcheck(L, max >= 1 && max <= MAX_READ, 2, "1 to 65536 bytes expected");
  got = child_read(c, stream, buf, (size_t)max);
  if (got == 0) {
    lua_pushnil(L);
    return 1;
  }
  if (got < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return gptaudio_fail(L, "io", "reading from the child: %s", strerror(errno));
    got = 0;
  }
  lua_pushlstring(L, buf, (size_t)got);
  return 1;
}

static int l_read(lua_State *L)
{
  return read_stream(L, CHILD_STDOUT);
}

static int l_read_error(lua_State *L)
{
  return read_stream(L, CHILD_STDERR);
}

static int l_write(lua_State *L)
{
  child_process *c = check_child(L);
  size_t len;
  const char *bytes = luaL_checklstring(L, 2, &len);
  ssize_t sent = child_write(c, bytes, len);
  if (sent < 0)
    return gptaudio_fail(L, "io", "writing to the child: %s", strerror(errno));
  lua_pushinteger(L, (lua_Integer)sent);
  return 1;
}

static int l_close_stdin(lua_State *L)
{
  child_close_stdin(check_child(L));
  return 0;
}

static int l_running(lua_State *L)
{
  child_process *c = check_child(L);
  if (child_running(c)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  if (WIFEXITED(c->status)) {
    lua_pushinteger(L, WEXITSTATUS(c->status));
    return 2;
  }
  lua_pushnil(L);
  if (WIFSIGNALED(c->status)) {
    lua_pushstring(L, strsignal(WTERMSIG(c->status)));
    return 3;
  }
  return 2;
}

static int l_stop(lua_State *L)
{
  child_process *c = check_child(L);
  lua_Number grace = luaL_optnumber(L, 2, 0.1);
  luaL_argcheck(L, grace >= 0 && grace <= 10, 2, "0 to 10 seconds expected");
  child_stop(c, (int)(grace * 1000));
  return 0;
}

static int l_gc(lua_State *L)
{
  child_stop(check_child(L), 0);
  return 0;
}

static int l_tostring(lua_State *L)
{
  child_process *c = check_child(L);
  if (c->pid > 0)
    lua_pushfstring(L, "gptaudio.Child(%d)", (int)c->pid);
  else
    lua_pushliteral(L, "gptaudio.Child(ended)");
  return 1;
}

static const luaL_Reg METHODS[] = {
  {"read", l_read},
  {"read_error", l_read_error},
  {"write", l_write},
  {"close_stdin", l_close_stdin},
  {"running", l_running},
  {"stop", l_stop},
  {NULL, NULL}
};

void gptaudio_open_child_process(lua_State *L)
{
  luaL_newmetatable(L, CHILD_MT);
  lua_newtable(L);
  luaL_setfuncs(L, METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, l_gc);
  lua_pushliteral(L, CHILD_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_spawn);
  lua_setfield(L, -2, "spawn");
}
