/* What gptaudio.core lends the optional C modules (gptaudio.ffmpeg). They are
   shared objects of their own, loaded apart, so they cannot link against
   core's functions: core leaves this table of them in the registry, as a
   light userdata under GPTAUDIO_CORE_API, and a module requires core and
   reads it. Buffers made through it are core's own, with core's limits. */
#ifndef GPTAUDIO_CORE_API_H
#define GPTAUDIO_CORE_API_H

#include "audiobuffer.h"

#define GPTAUDIO_CORE_API "gptaudio.core.api"

typedef struct gptaudio_core_api {
  gptaudio_audiobuffer *(*audiobuffer_new)(lua_State *L, unsigned rate, unsigned channels, size_t frames);
  gptaudio_audiobuffer *(*audiobuffer_check)(lua_State *L, int idx);
  float *(*audiobuffer_reserve)(lua_State *L, gptaudio_audiobuffer *b, size_t more);
  lua_Integer (*checkint)(lua_State *L, int idx, int arg, const char *what, lua_Integer lo, lua_Integer hi);
  void (*checkfields)(lua_State *L, int arg, const char *const known[]);
  int (*fail)(lua_State *L, const char *type, const char *fmt, ...);
  int (*index_lookup)(lua_State *L, const char *const fields[]);
} gptaudio_core_api;

#endif
