/* luaopen_gptaudio_core: the C half of gptaudio, one table of types and functions. */
#include "core.h"
#include "export.h"

#define GPTAUDIO_CORE_VERSION "0.2.0"

GPTAUDIO_EXPORT int luaopen_gptaudio_core(lua_State *L);

int luaopen_gptaudio_core(lua_State *L)
{
  lua_newtable(L);
  lua_pushliteral(L, GPTAUDIO_CORE_VERSION);
  lua_setfield(L, -2, "VERSION");
  lua_pushliteral(L, COMPAT_HEADERS);
  lua_setfield(L, -2, "HEADERS");
  gptaudio_open_error(L);
  gptaudio_open_codec(L);
  gptaudio_open_audiobuffer(L);
  gptaudio_open_media(L);
  gptaudio_open_resampler(L);
  gptaudio_open_vad(L);
  gptaudio_open_echo(L);
  gptaudio_open_level_meter(L);
  gptaudio_open_pcm_stream(L);
  gptaudio_open_transport(L);
  gptaudio_open_clock(L);
  gptaudio_open_signal(L);
  gptaudio_open_file_kind(L);
  gptaudio_open_file_lock(L);
  gptaudio_open_wakeup(L);
  gptaudio_open_child_process(L);
  return 1;
}
