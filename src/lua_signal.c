/* core.catch_interrupt() and core.interrupted(): Ctrl-C for long command-line
   runs. The handler only sets a flag (the one thing a signal handler may
   safely do); the Lua side polls it between steps and stops cleanly, so a
   signal never lands inside libcurl or a half-written line. */
#include <signal.h>
#include <string.h>

#include "core.h"

static volatile sig_atomic_t interrupt_signal = 0;

static void on_signal(int signo)
{
  interrupt_signal = signo;
}

static int install(int signo)
{
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  /* SA_RESTART: a poll or read in progress goes on; the flag is seen at the next step. */
  action.sa_flags = SA_RESTART;
  return sigaction(signo, &action, NULL);
}

/* core.catch_interrupt() -> true | nil, err: SIGINT and SIGTERM set the flag
   instead of ending the process. */
static int catch_interrupt(lua_State *L)
{
  if (install(SIGINT) != 0 || install(SIGTERM) != 0)
    return gptaudio_fail(L, "interrupted", "cannot install the interrupt handler");
  lua_pushboolean(L, 1);
  return 1;
}

/* core.interrupted([clear]) -> signal name | false; clear = true resets the flag. */
static int interrupted(lua_State *L)
{
  int clear;
  if (!lua_isnoneornil(L, 1))
    luaL_checktype(L, 1, LUA_TBOOLEAN);
  clear = lua_toboolean(L, 1);
  int signo = interrupt_signal;
  if (clear) interrupt_signal = 0;
  if (signo == 0)
    lua_pushboolean(L, 0);
  else
    lua_pushstring(L, signo == SIGTERM ? "SIGTERM" : "SIGINT");
  return 1;
}

void gptaudio_open_signal(lua_State *L)
{
  lua_pushcfunction(L, catch_interrupt);
  lua_setfield(L, -2, "catch_interrupt");
  lua_pushcfunction(L, interrupted);
  lua_setfield(L, -2, "interrupted");
}
