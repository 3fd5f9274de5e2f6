/* The link between gptaudio.core and the optional module gptaudio.ffmpeg:
   core lends the module its AudioBuffer functions (core_api.h), and hands it
   what core cannot read or write itself (every format but WAV and raw
   samples), requiring it on first use. Without the module those calls say
   what is missing and how to get it. core.audio.open and core.audio.formats
   live here. */
#include <string.h>

#include "core.h"
#include "core_api.h"

#define MODULE "gptaudio.ffmpeg"

static const gptaudio_core_api API = {
  gptaudio_audiobuffer_new, gptaudio_audiobuffer_check, gptaudio_audiobuffer_reserve,
  gptaudio_audio_checkint, gptaudio_audio_checkfields, gptaudio_fail, gptaudio_index_lookup,
};

/* Pushes the module's table and returns 1, or pushes why it cannot be loaded
   (the first line of require's message) and returns 0. */
static int push_module(lua_State *L)
{
  const char *why;
  size_t length;
  lua_getglobal(L, "require");
  if (lua_type(L, -1) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    lua_pushliteral(L, "this Lua has no require");
    return 0;
  }
  lua_pushliteral(L, MODULE);
  if (lua_pcall(L, 1, 1, 0) == 0 && lua_type(L, -1) == LUA_TTABLE)
    return 1;
  why = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "it did not load";
  length = strcspn(why, "\n");
  /* "module 'gptaudio.ffmpeg' not found:" introduces the lines left out. */
  while (length > 0 && (why[length - 1] == ':' || why[length - 1] == ' '))
    length--;
  lua_pushlstring(L, why, length);
  lua_remove(L, -2);
  return 0;
}

int gptaudio_media_call(lua_State *L, const char *what, const char *fn, int nargs)
{
  int base = lua_gettop(L) - nargs;
  if (!push_module(L)) {
    const char *why = lua_tostring(L, -1);
    lua_settop(L, base);
    return gptaudio_fail(L, "audio",
                         "%s needs the optional module " MODULE ", which is not installed (%s). `make build` "
                         "builds it when FFmpeg's libraries are installed (Debian: libavformat-dev "
                         "libavcodec-dev libswresample-dev); LuaRocks: rockspec/gptaudio-ffmpeg-scm-1.rockspec",
                         what, why);
  }
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
  lua_insert(L, base + 1);
  lua_call(L, nargs, LUA_MULTRET);
  return lua_gettop(L) - base;
}

/* audio.open(path[, {rate =, channels =}]): a streaming reader (gptaudio.ffmpeg). */
static int audio_open(lua_State *L)
{
  luaL_checkstring(L, 1);
  return gptaudio_media_call(L, "audio.open", "open", lua_gettop(L));
}

/* audio.formats(): { read = {...}, write = {...}, ffmpeg = true | false[, missing = why] }. */
static int audio_formats(lua_State *L)
{
  static const char *const core_write[] = {"wav", "pcm16", "f32", NULL};
  int i;
  if (push_module(L)) {
    lua_getfield(L, -1, "formats");
    lua_call(L, 0, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ffmpeg");
    return 1;
  }
  lua_createtable(L, 0, 4);
  lua_insert(L, -2);
  lua_setfield(L, -2, "missing");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "ffmpeg");
  lua_createtable(L, 1, 0);
  lua_pushliteral(L, "wav");
  lua_rawseti(L, -2, 1);
  lua_setfield(L, -2, "read");
  lua_createtable(L, 3, 0);
  for (i = 0; core_write[i]; i++) {
    lua_pushstring(L, core_write[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "write");
  return 1;
}

void gptaudio_open_media(lua_State *L)
{
  lua_pushlightuserdata(L, (void *)&API);
  lua_setfield(L, LUA_REGISTRYINDEX, GPTAUDIO_CORE_API);
  lua_getfield(L, -1, "audio");
  lua_pushcfunction(L, audio_open);
  lua_setfield(L, -2, "open");
  lua_pushcfunction(L, audio_formats);
  lua_setfield(L, -2, "formats");
  lua_pop(L, 1);
}
