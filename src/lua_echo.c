/* gptaudio.EchoCanceller: core.audio.echo_canceller{rate =, tail =} over echo.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audiobuffer.h"
#include "core.h"
#include "echo.h"

#define ECHO_MT "gptaudio.EchoCanceller"
#define DEFAULT_RATE 24000
/* A living room's echo dies away within about a quarter of a second. */
#define DEFAULT_TAIL 0.25

typedef struct {
  echo *canceller; /* NULL once closed */
  unsigned rate;
  double tail;
} echo_udata;

/* audio.echo_canceller{rate = 24000, tail = 0.25}. */
static int audio_echo_canceller(lua_State *L)
{
  static const char *const fields[] = {"rate", "tail", NULL};
  echo_udata *u;
  luaL_checktype(L, 1, LUA_TTABLE);
  gptaudio_audio_checkfields(L, 1, fields);
  lua_getfield(L, 1, "rate");
  lua_getfield(L, 1, "tail");
  u = lua_newuserdata(L, sizeof *u);
  memset(u, 0, sizeof *u);
  u->rate = (unsigned)gptaudio_audio_optint(L, 2, 1, "rate", ECHO_MIN_RATE, ECHO_MAX_RATE, DEFAULT_RATE);
  u->tail = DEFAULT_TAIL;
  if (!lua_isnil(L, 3)) {
    lua_Number tail = lua_type(L, 3) == LUA_TNUMBER ? lua_tonumber(L, 3) : -1;
    luaL_argcheck(L, tail >= 0.01 && tail <= 1.0, 1, "tail must be a number of seconds from 0.01 to 1");
    u->tail = (double)tail;
  }
  luaL_setmetatable(L, ECHO_MT);
  u->canceller = echo_new(u->rate, u->tail);
  if (!u->canceller)
    return luaL_error(L, "echo_canceller: speexdsp could not make its state");
  return 1;
}

static echo_udata *check_echo(lua_State *L)
{
  echo_udata *u = luaL_checkudata(L, 1, ECHO_MT);
  if (!u->canceller)
    luaL_argerror(L, 1, "EchoCanceller is closed");
  return u;
}

/* The chunk at argument 2 as int16, in a userdata pushed on the stack; NULL
   with nil, err pushed for bytes that are not whole pcm16 frames. */
static int16_t *chunk_s16(lua_State *L, const echo_udata *u, size_t *n)
{
  gptaudio_audiobuffer *in = gptaudio_audio_checkchunk(L, 2, u->rate, 1, "echo canceller");
  int16_t *s16;
  size_t i;
  if (!in)
    return NULL;
  *n = in->frames;
  s16 = lua_newuserdata(L, *n * sizeof *s16 + 1);
  for (i = 0; i < *n; i++)
    s16[i] = pcm_float_to_s16(in->samples[i]);
  return s16;
}

/* ec:playback(buf | pcm16): queues what was just played; returns the canceller. */
static int echo_play(lua_State *L)
{
  echo_udata *u = check_echo(L);
  size_t n;
  int16_t *s16 = chunk_s16(L, u, &n);
  if (!s16)
    return 2;
  if (echo_playback(u->canceller, s16, n) != 0)
    return luaL_error(L, "not enough memory for %d played samples", (int)n);
  lua_settop(L, 1);
  return 1;
}

/* ec:capture(buf | pcm16): the microphone's audio with the echo taken out,
   in whole 10 ms frames (the rest comes out with the next chunk). */
static int echo_hear(lua_State *L)
{
  echo_udata *u = check_echo(L);
  size_t n, done, i;
  int16_t *s16 = chunk_s16(L, u, &n), *out;
  gptaudio_audiobuffer *b;
  if (!s16)
    return 2;
  out = lua_newuserdata(L, (n + echo_frame(u->canceller)) * sizeof *out);
  done = echo_capture(u->canceller, s16, n, out);
  if (done == (size_t)-1)
    return luaL_error(L, "not enough memory for %d microphone samples", (int)n);
  b = gptaudio_audiobuffer_new(L, u->rate, 1, done);
  for (i = 0; i < done; i++)
    b->samples[i] = (float)out[i] / 32768.0f;
  return 1;
}

static int echo_restart(lua_State *L)
{
  echo_reset(check_echo(L)->canceller);
  return 0;
}

static int echo_tostring(lua_State *L)
{
  echo_udata *u = luaL_checkudata(L, 1, ECHO_MT);
  char s[96];
  if (!u->canceller)
    lua_pushliteral(L, "EchoCanceller(closed)");
  else {
    snprintf(s, sizeof s, "EchoCanceller(%u Hz, tail %g s)", u->rate, u->tail);
    lua_pushstring(L, s);
  }
  return 1;
}

static int echo_close(lua_State *L)
{
  echo_udata *u = luaL_checkudata(L, 1, ECHO_MT);
  echo_free(u->canceller);
  u->canceller = NULL;
  return 0;
}

static const luaL_Reg METHODS[] = {
  {"playback", echo_play},
  {"capture", echo_hear},
  {"reset", echo_restart},
  {"close", echo_close}, /* what __close does, for LuaJIT, which has no <close> */
  {NULL, NULL}
};

void gptaudio_open_echo(lua_State *L)
{
  luaL_newmetatable(L, ECHO_MT);
  lua_newtable(L);
  luaL_setfuncs(L, METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, echo_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, echo_close);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, echo_close);
  lua_pushliteral(L, ECHO_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);

  lua_getfield(L, -1, "audio");
  lua_pushcfunction(L, audio_echo_canceller);
  lua_setfield(L, -2, "echo_canceller");
  lua_pop(L, 1);
}
