/* What each Lua-facing C file of gptaudio.core registers. Each opener is called
   with the module table on top of the stack and leaves the stack as it was. */
#ifndef GPTAUDIO_CORE_H
#define GPTAUDIO_CORE_H

#include "compat.h"

void gptaudio_open_error(lua_State *L);       /* lua_error.c: core.Error, core.error() */
void gptaudio_open_audiobuffer(lua_State *L); /* lua_audiobuffer.c: core.audio */
void gptaudio_open_resampler(lua_State *L);   /* lua_resampler.c: core.audio.resampler */
void gptaudio_open_vad(lua_State *L);         /* lua_vad.c: core.audio.vad */
void gptaudio_open_echo(lua_State *L);        /* lua_echo.c: core.audio.echo_canceller */
void gptaudio_open_codec(lua_State *L);       /* lua_codec.c: core.base64_encode/decode */
void gptaudio_open_transport(lua_State *L);   /* lua_transport.c: core.transport() */
void gptaudio_open_clock(lua_State *L);       /* lua_clock.c: core.now() */
void gptaudio_open_pcm_stream(lua_State *L);  /* lua_pcm_stream.c: core.pcm_stream() */
void gptaudio_open_signal(lua_State *L);      /* lua_signal.c: core.catch_interrupt(), core.interrupted() */
void gptaudio_open_file_kind(lua_State *L);   /* lua_file_kind.c: core.file_kind() */
void gptaudio_open_file_lock(lua_State *L);   /* lua_file_lock.c: core.lock_file() */
void gptaudio_open_wakeup(lua_State *L);      /* lua_wakeup.c: core.wakeup() */
void gptaudio_open_media(lua_State *L);       /* lua_media.c: core.audio.open/formats, the API for gptaudio.ffmpeg */
void gptaudio_open_level_meter(lua_State *L); /* lua_level_meter.c: core.audio.level_meter() */
void gptaudio_open_child_process(lua_State *L); /* lua_child_process.c: core.spawn() */

/* Pushes a new gptaudio.Error {type = type, message = message}. */
void gptaudio_push_error(lua_State *L, const char *type, const char *message);
/* Returns nil, gptaudio.Error: the runtime-failure convention. */
int gptaudio_fail(lua_State *L, const char *type, const char *fmt, ...);

/* Calls gptaudio.ffmpeg's function `fn` with the `nargs` arguments on top of
   the stack (requiring the module on first use) and returns its result count;
   without the module, nil and an Error naming `what` and how to get it. */
int gptaudio_media_call(lua_State *L, const char *what, const char *fn, int nargs);

#endif
