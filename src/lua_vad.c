/* gptaudio.Vad: core.audio.vad{rate =, sensitivity =, pause =, classifier =}
   over vad.c, whose events come back as Lua tables. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audiobuffer.h"
#include "core.h"
#include "vad.h"

#define VAD_MT "gptaudio.Vad"
#define DEFAULT_RATE 24000
#define DEFAULT_SENSITIVITY 0.5
/* Long enough for the pause inside a sentence, short enough to answer promptly. */
#define DEFAULT_PAUSE 0.6
#define MAX_PAUSE 30.0

static const char *const CLASSIFIER_NAMES[] = {"webrtc", "speex", NULL};

typedef struct {
  vad *detector; /* NULL once closed */
  vad_classifier classifier;
  unsigned rate;
  double sensitivity, pause;
} vad_udata;

static double check_number(lua_State *L, int idx, int arg, const char *what, double lo, double hi, double def,
                           int open_low)
{
  double n;
  char message[160];
  if (lua_isnoneornil(L, idx))
    return def;
  n = lua_type(L, idx) == LUA_TNUMBER ? (double)lua_tonumber(L, idx) : NAN;
  if ((open_low ? n > lo : n >= lo) && n <= hi)
    return n;
  snprintf(message, sizeof message, "%s must be a number from %g to %g%s", what, lo, hi,
           open_low ? " (above the first)" : "");
  return luaL_argerror(L, arg, message);
}

static vad *make_detector(lua_State *L, const vad_udata *u)
{
  const char *why;
  vad *detector = vad_new(u->classifier, u->rate, u->sensitivity, u->pause, &why);
  if (!detector)
    luaL_error(L, "vad: %s", why);
  return detector;
}

/* audio.vad{rate = 24000, sensitivity = 0.5, pause = 0.6, classifier = "webrtc"}. */
static int audio_vad(lua_State *L)
{
  static const char *const fields[] = {"rate", "sensitivity", "pause", "classifier", NULL};
  vad_udata *u;
  int classifier = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  gptaudio_audio_checkfields(L, 1, fields);
  lua_getfield(L, 1, "rate");
  lua_getfield(L, 1, "sensitivity");
  lua_getfield(L, 1, "pause");
  lua_getfield(L, 1, "classifier");
  u = lua_newuserdata(L, sizeof *u);
  memset(u, 0, sizeof *u);
  u->rate = (unsigned)gptaudio_audio_optint(L, 2, 1, "rate", VAD_MIN_RATE, VAD_MAX_RATE, DEFAULT_RATE);
  u->sensitivity = check_number(L, 3, 1, "sensitivity", 0, 1, DEFAULT_SENSITIVITY, 0);
  u->pause = check_number(L, 4, 1, "pause", 0, MAX_PAUSE, DEFAULT_PAUSE, 1);
  if (!lua_isnil(L, 5)) {
    const char *name = lua_type(L, 5) == LUA_TSTRING ? lua_tostring(L, 5) : "";
    while (CLASSIFIER_NAMES[classifier] && strcmp(CLASSIFIER_NAMES[classifier], name) != 0)
      classifier++;
    if (!CLASSIFIER_NAMES[classifier])
      luaL_argerror(L, 1, "classifier must be \"webrtc\" or \"speex\"");
  }
  u->classifier = (vad_classifier)classifier;
  luaL_setmetatable(L, VAD_MT);
  u->detector = make_detector(L, u);
  return 1;
}

static vad_udata *check_vad(lua_State *L)
{
  vad_udata *u = luaL_checkudata(L, 1, VAD_MT);
  if (!u->detector)
    luaL_argerror(L, 1, "Vad is closed");
  return u;
}

static void push_events(lua_State *L, vad *detector)
{
  vad_event ev;
  int n = 0;
  lua_newtable(L);
  while (vad_next_event(detector, &ev)) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, ev.type == VAD_SPEECH_START ? "speech_start" : "speech_end");
    lua_setfield(L, -2, "type");
    lua_pushnumber(L, ev.time);
    lua_setfield(L, -2, "time");
    lua_pushnumber(L, ev.at);
    lua_setfield(L, -2, "at");
    lua_rawseti(L, -2, ++n);
  }
}

/* The stream's samples as mono: a many-channel buffer is averaged into a new one. */
static gptaudio_audiobuffer *check_mono_chunk(lua_State *L, int arg, unsigned rate)
{
  if (lua_type(L, arg) != LUA_TSTRING && luaL_testudata(L, arg, GPTAUDIO_AUDIOBUFFER_MT)) {
    gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, arg);
    if (b->channels > 1 && b->rate == rate) {
      lua_getfield(L, arg, "to_channels");
      lua_pushvalue(L, arg);
      lua_pushinteger(L, 1);
      lua_call(L, 2, 1);
      lua_replace(L, arg);
    }
  }
  return gptaudio_audio_checkchunk(L, arg, rate, 1, "vad");
}

/* vad:process(buf | pcm16 bytes): the events this chunk completed, in order. */
static int vad_process_chunk(lua_State *L)
{
  vad_udata *u = check_vad(L);
  const char *why;
  gptaudio_audiobuffer *in = check_mono_chunk(L, 2, u->rate);
  if (!in)
    return 2;
  if (vad_process(u->detector, in->samples, in->frames, &why) != 0)
    return gptaudio_fail(L, "audio", "vad: %s", why);
  push_events(L, u->detector);
  return 1;
}

/* vad:finish(): ends the stream (speech still going ends) and starts a new one at time 0. */
static int vad_finish_stream(lua_State *L)
{
  vad_udata *u = check_vad(L);
  const char *why;
  if (vad_finish(u->detector, &why) != 0)
    return gptaudio_fail(L, "audio", "vad: %s", why);
  push_events(L, u->detector);
  return 1;
}

/* vad:segments(buf): { {start =, stop =}, ... } of a whole buffer, by a
   detector of the same settings that leaves this one's stream alone. */
static int vad_segments(lua_State *L)
{
  vad_udata *u = check_vad(L);
  gptaudio_audiobuffer *in = check_mono_chunk(L, 2, u->rate);
  vad *detector;
  vad_event ev;
  const char *why;
  int n = 0, failed;
  if (!in)
    return 2;
  lua_newtable(L);
  detector = make_detector(L, u);
  failed = vad_process(detector, in->samples, in->frames, &why) != 0 || vad_finish(detector, &why) != 0;
  /* Nothing below raises but lua_ allocation, which can only fail as the whole state does. */
  while (!failed && vad_next_event(detector, &ev)) {
    if (ev.type == VAD_SPEECH_START) {
      lua_createtable(L, 0, 2);
      lua_pushnumber(L, ev.time);
      lua_setfield(L, -2, "start");
    } else {
      lua_pushnumber(L, ev.time);
      lua_setfield(L, -2, "stop");
      lua_rawseti(L, -2, ++n);
    }
  }
  vad_free(detector);
  if (failed)
    return gptaudio_fail(L, "audio", "vad: %s", why);
  return 1;
}

static int vad_in_speech_now(lua_State *L)
{
  lua_pushboolean(L, vad_in_speech(check_vad(L)->detector));
  return 1;
}

static int vad_tostring(lua_State *L)
{
  vad_udata *u = luaL_checkudata(L, 1, VAD_MT);
  char s[128];
  if (!u->detector)
    lua_pushliteral(L, "Vad(closed)");
  else {
    snprintf(s, sizeof s, "Vad(%u Hz, %s, sensitivity %g, pause %g s)", u->rate, CLASSIFIER_NAMES[u->classifier],
             u->sensitivity, u->pause);
    lua_pushstring(L, s);
  }
  return 1;
}

static int vad_close(lua_State *L)
{
  vad_udata *u = luaL_checkudata(L, 1, VAD_MT);
  vad_free(u->detector);
  u->detector = NULL;
  return 0;
}

static const luaL_Reg METHODS[] = {
  {"process", vad_process_chunk},
  {"finish", vad_finish_stream},
  {"segments", vad_segments},
  {"in_speech", vad_in_speech_now},
  {"close", vad_close}, /* what __close does, for LuaJIT, which has no <close> */
  {NULL, NULL}
};

void gptaudio_open_vad(lua_State *L)
{
  luaL_newmetatable(L, VAD_MT);
  lua_newtable(L);
  luaL_setfuncs(L, METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, vad_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, vad_close);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, vad_close);
  lua_pushliteral(L, VAD_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);

  lua_getfield(L, -1, "audio");
  lua_pushcfunction(L, audio_vad);
  lua_setfield(L, -2, "vad");
  lua_pop(L, 1);
}
