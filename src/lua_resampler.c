/* Sample-rate conversion with libsamplerate: the gptaudio.Resampler userdata
   (core.audio.resampler) and AudioBuffer:resample. Both run one streaming
   core — feed until every input frame is used; at the end, repeat with
   end_of_input until nothing more comes out — so a stream cut into any
   chunks gives the one-shot result sample for sample. */
#include <limits.h>
#include <samplerate.h>
#include <stdio.h>
#include <string.h>

#include "audiobuffer.h"
#include "core.h"

#define RESAMPLER_MT "gptaudio.Resampler"

/* "medium" is SRC_SINC_MEDIUM_QUALITY: 90% of the band kept, 97 dB SNR, at a
   fraction of "best"'s cost; BENCHMARKS.md has the measurements. */
#define DEFAULT_QUALITY "medium"
static const char *const QUALITY_NAMES[] = {"best", "medium", "fastest", "zoh", "linear", NULL};
static const int QUALITY_CONVERTERS[] = {SRC_SINC_BEST_QUALITY, SRC_SINC_MEDIUM_QUALITY,
                                         SRC_SINC_FASTEST, SRC_ZERO_ORDER_HOLD, SRC_LINEAR};

/* Output room for one src_process call beyond what the ratio predicts. */
#define OUTPUT_SLACK 64

typedef struct {
  SRC_STATE *state; /* NULL when from == to (a plain copy) or once closed */
  double ratio;     /* to / from */
  unsigned from, to, channels;
  int quality;      /* index into QUALITY_NAMES */
  int closed;
} resampler;

/* Pushes a new resampler. The userdata exists before src_new, so a later
   raise cannot leak the converter. */
static resampler *push_resampler(lua_State *L, unsigned from, unsigned to, unsigned channels,
                                 int quality)
{
  resampler *r = lua_newuserdata(L, sizeof *r);
  int error = 0;
  memset(r, 0, sizeof *r);
  r->ratio = (double)to / from;
  r->from = from;
  r->to = to;
  r->channels = channels;
  r->quality = quality;
  luaL_setmetatable(L, RESAMPLER_MT);
  if (from != to) {
    r->state = src_new(QUALITY_CONVERTERS[quality], (int)channels, &error);
    if (!r->state)
      luaL_error(L, "libsamplerate: %s", src_strerror(error));
  }
  return r;
}

/* Runs `frames` frames through r and appends all that comes out to out; with
   end_of_input, drains the tail and resets r for a new stream. Returns NULL,
   or why it failed. */
static const char *convert(lua_State *L, resampler *r, const float *in, size_t frames,
                           int end_of_input, gptaudio_audiobuffer *out)
{
  static const float no_input[1];
  if (frames == 0)
    in = no_input;
  if (!r->state)
    return gptaudio_audiobuffer_append(L, out, in, frames) == 0 ? NULL : "output too large";
  for (;;) {
    SRC_DATA d;
    long chunk = frames > LONG_MAX / 256 ? LONG_MAX / 256 : (long)frames;
    long room = (long)((double)chunk * r->ratio) + OUTPUT_SLACK;
    int error;
    d.data_out = gptaudio_audiobuffer_reserve(L, out, (size_t)room);
    if (!d.data_out)
      return "output too large";
    d.data_in = in;
    d.input_frames = chunk;
    d.output_frames = room;
    d.end_of_input = end_of_input && (size_t)chunk == frames;
    d.src_ratio = r->ratio;
    error = src_process(r->state, &d);
    if (error)
      return src_strerror(error);
    out->frames += (size_t)d.output_frames_gen;
    if (d.input_frames_used > 0) {
      in += (size_t)d.input_frames_used * r->channels;
      frames -= (size_t)d.input_frames_used;
    }
    if (frames == 0 && d.output_frames_gen < room && (!end_of_input || d.output_frames_gen == 0))
      break;
    if (d.input_frames_used == 0 && d.output_frames_gen == 0 && !d.end_of_input)
      return "libsamplerate made no progress";
  }
  if (end_of_input)
    src_reset(r->state);
  return NULL;
}

/* Pushes the AudioBuffer that convert() fills, or nil, err. */
static int push_converted(lua_State *L, resampler *r, const float *in, size_t frames,
                          int end_of_input)
{
  gptaudio_audiobuffer *out = gptaudio_audiobuffer_new(L, r->to, r->channels, 0);
  const char *why = convert(L, r, in, frames, end_of_input, out);
  if (why)
    return gptaudio_fail(L, "audio", "resampling %u Hz to %u Hz: %s", r->from, r->to, why);
  return 1;
}

static int check_quality(lua_State *L, int idx, int arg)
{
  const char *name = DEFAULT_QUALITY;
  int i;
  if (!lua_isnoneornil(L, idx)) {
    if (lua_type(L, idx) != LUA_TSTRING)
      name = "";
    else
      name = lua_tostring(L, idx);
  }
  for (i = 0; QUALITY_NAMES[i]; i++)
    if (strcmp(QUALITY_NAMES[i], name) == 0)
      return i;
  return luaL_argerror(L, arg, "quality must be \"best\", \"medium\", \"fastest\", \"linear\" or \"zoh\"");
}

static void check_ratio(lua_State *L, unsigned from, unsigned to, int arg)
{
  if (!src_is_valid_ratio((double)to / from))
    luaL_argerror(L, arg, lua_pushfstring(L, "%d Hz to %d Hz is beyond libsamplerate's ratio of 256",
                                          (int)from, (int)to));
}

/* AudioBuffer:resample(rate, quality = "medium"): a new buffer at `rate`; the
   same rate gives an exact copy. */
static int buf_resample(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  unsigned to = (unsigned)gptaudio_audio_checkint(L, 2, 2, "rate", 1, GPTAUDIO_AUDIO_MAX_RATE);
  int quality = check_quality(L, 3, 3);
  resampler *r;
  const char *why;
  gptaudio_audiobuffer *out;
  check_ratio(L, b->rate, to, 2);
  r = push_resampler(L, b->rate, to, b->channels, quality);
  out = gptaudio_audiobuffer_new(L, to, b->channels, 0);
  why = convert(L, r, b->samples, b->frames, 0, out);
  if (!why)
    why = convert(L, r, NULL, 0, 1, out);
  if (why)
    return gptaudio_fail(L, "audio", "resampling %u Hz to %u Hz: %s", b->rate, to, why);
  return 1;
}

/* audio.resampler{from =, to =, channels = 1, quality = "medium"}. */
static int audio_resampler(lua_State *L)
{
  static const char *const fields[] = {"from", "to", "channels", "quality", NULL};
  unsigned from, to, channels;
  int quality;
  luaL_checktype(L, 1, LUA_TTABLE);
  gptaudio_audio_checkfields(L, 1, fields);
  lua_getfield(L, 1, "from");
  lua_getfield(L, 1, "to");
  lua_getfield(L, 1, "channels");
  lua_getfield(L, 1, "quality");
  from = (unsigned)gptaudio_audio_checkint(L, 2, 1, "from", 1, GPTAUDIO_AUDIO_MAX_RATE);
  to = (unsigned)gptaudio_audio_checkint(L, 3, 1, "to", 1, GPTAUDIO_AUDIO_MAX_RATE);
  channels = (unsigned)gptaudio_audio_optint(L, 4, 1, "channels", 1, GPTAUDIO_AUDIO_MAX_CHANNELS, 1);
  quality = check_quality(L, 5, 1);
  check_ratio(L, from, to, 1);
  push_resampler(L, from, to, channels, quality);
  return 1;
}

static resampler *check_resampler(lua_State *L)
{
  resampler *r = luaL_checkudata(L, 1, RESAMPLER_MT);
  if (r->closed)
    luaL_argerror(L, 1, "Resampler is closed");
  return r;
}

/* rs:process(buf | pcm16 bytes): the AudioBuffer for this chunk (maybe 0 frames). */
static int rs_process(lua_State *L)
{
  resampler *r = check_resampler(L);
  gptaudio_audiobuffer *in = gptaudio_audio_checkchunk(L, 2, r->from, r->channels, "resampler");
  if (!in)
    return 2;
  return push_converted(L, r, in->samples, in->frames, 0);
}

/* rs:flush(): the tail still inside the converter; the resampler then starts a new stream. */
static int rs_flush(lua_State *L)
{
  return push_converted(L, check_resampler(L), NULL, 0, 1);
}

/* rs:reset(): drops what the converter holds, for a new stream. */
static int rs_reset(lua_State *L)
{
  resampler *r = check_resampler(L);
  if (r->state)
    src_reset(r->state);
  return 0;
}

static int rs_tostring(lua_State *L)
{
  resampler *r = luaL_checkudata(L, 1, RESAMPLER_MT);
  char s[96];
  if (r->closed)
    lua_pushliteral(L, "Resampler(closed)");
  else {
    snprintf(s, sizeof s, "Resampler(%u Hz -> %u Hz, %u ch, %s)", r->from, r->to, r->channels,
             QUALITY_NAMES[r->quality]);
    lua_pushstring(L, s);
  }
  return 1;
}

static int rs_gc(lua_State *L)
{
  resampler *r = luaL_checkudata(L, 1, RESAMPLER_MT);
  if (r->state)
    src_delete(r->state);
  r->state = NULL;
  return 0;
}

static int rs_close(lua_State *L)
{
  rs_gc(L);
  ((resampler *)lua_touserdata(L, 1))->closed = 1;
  return 0;
}

static const luaL_Reg METHODS[] = {
  {"process", rs_process},
  {"flush", rs_flush},
  {"reset", rs_reset},
  {"close", rs_close}, /* what __close does, for LuaJIT, which has no <close> */
  {NULL, NULL}
};

/* Needs gptaudio_open_audiobuffer first: it adds to core.audio and to AudioBuffer's methods. */
void gptaudio_open_resampler(lua_State *L)
{
  luaL_newmetatable(L, RESAMPLER_MT);
  lua_newtable(L);
  luaL_setfuncs(L, METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, rs_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, rs_gc);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, rs_close);
  lua_pushliteral(L, RESAMPLER_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);

  luaL_getmetatable(L, GPTAUDIO_AUDIOBUFFER_MT);
  lua_pushcfunction(L, buf_resample);
  lua_setfield(L, -2, "resample");
  lua_pop(L, 1);

  lua_getfield(L, -1, "audio");
  lua_pushcfunction(L, audio_resampler);
  lua_setfield(L, -2, "resampler");
  lua_pop(L, 1);
}
