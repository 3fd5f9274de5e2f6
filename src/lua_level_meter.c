/* core.audio.level_meter(window): the gptaudio.LevelMeter userdata, the RMS
   level of each `window` frames of a stream of AudioBuffers (level_meter.h).
   The pause finder of long recordings (lua/gptaudio/pauses.lua) reads them. */
#include <stdio.h>
#include <stdlib.h>

#include "audiobuffer.h"
#include "core.h"
#include "level_meter.h"

#define LEVEL_METER_MT "gptaudio.LevelMeter"
/* A window longer than 10 s of 768 kHz audio measures nothing a pause finder wants. */
#define MAX_WINDOW 7680000

static int lm_new(lua_State *L)
{
  size_t window = (size_t)gptaudio_audio_checkint(L, 1, 1, "window", 1, MAX_WINDOW);
  level_meter *m = lua_newuserdata(L, sizeof *m);
  level_meter_init(m, window);
  luaL_setmetatable(L, LEVEL_METER_MT);
  return 1;
}

/* m:feed(buf) -> {level, ...}: the dBFS level of each window the buffer completes. */
static int lm_feed(lua_State *L)
{
  level_meter *m = luaL_checkudata(L, 1, LEVEL_METER_MT);
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 2);
  size_t n = level_meter_count(m, b->frames), i;
  float *levels = NULL;
  if (n > 0) {
    levels = malloc(n * sizeof *levels);
    if (!levels)
      return luaL_error(L, "not enough memory for %f levels", (lua_Number)n);
  }
  level_meter_push(m, b->samples, b->frames, b->channels, levels);
  /* The table is made after the C work, so no Lua error can leak levels. */
  lua_createtable(L, n > (size_t)0x7fffffff ? 0x7fffffff : (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushnumber(L, levels[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free(levels);
  return 1;
}

/* m:flush() -> the level of the frames of an unfinished window, or nil when none wait. */
static int lm_flush(lua_State *L)
{
  level_meter *m = luaL_checkudata(L, 1, LEVEL_METER_MT);
  if (m->filled == 0)
    return 0;
  lua_pushnumber(L, level_meter_flush(m));
  return 1;
}

static int lm_tostring(lua_State *L)
{
  level_meter *m = luaL_checkudata(L, 1, LEVEL_METER_MT);
  char s[64];
  snprintf(s, sizeof s, "LevelMeter(%zu frames a window)", m->window);
  lua_pushstring(L, s);
  return 1;
}

static const luaL_Reg METHODS[] = {
  {"feed", lm_feed},
  {"flush", lm_flush},
  {NULL, NULL}
};

void gptaudio_open_level_meter(lua_State *L)
{
  luaL_newmetatable(L, LEVEL_METER_MT);
  lua_newtable(L);
  luaL_setfuncs(L, METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, lm_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, LEVEL_METER_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);

  lua_getfield(L, -1, "audio");
  lua_pushcfunction(L, lm_new);
  lua_setfield(L, -2, "level_meter");
  lua_pop(L, 1);
}
