/* core.now(): a monotonic clock in seconds, for the scheduler's timers. */
#include <time.h>

#include "core.h"

static int clock_now(lua_State *L)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

void gptaudio_open_clock(lua_State *L)
{
  lua_pushcfunction(L, clock_now);
  lua_setfield(L, -2, "now");
}
