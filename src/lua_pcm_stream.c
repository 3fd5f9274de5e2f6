/* core.pcm_stream(rate = 24000): the gptaudio.PcmStream userdata, streamed
   16-bit mono audio (pcm_stream.h) for Lua. Each feed hands back the whole
   samples it completed as an AudioBuffer chunk; a byte that ends a delta
   mid-sample waits inside for the next one. */
#include <stdio.h>
#include <string.h>

#include "audiobuffer.h"
#include "core.h"
#include "pcm_stream.h"

#define PCM_STREAM_MT "gptaudio.PcmStream"
/* The API's pcm16: 24 kHz mono s16le. */
#define DEFAULT_RATE 24000

typedef struct {
  pcm_stream stream;
  unsigned rate;
  int closed;
} stream_ud;

static int ps_new(lua_State *L)
{
  unsigned rate = (unsigned)gptaudio_audio_optint(L, 1, 1, "rate", 1, GPTAUDIO_AUDIO_MAX_RATE,
                                                  DEFAULT_RATE);
  stream_ud *ud = lua_newuserdata(L, sizeof *ud);
  memset(ud, 0, sizeof *ud);
  pcm_stream_init(&ud->stream);
  ud->rate = rate;
  luaL_setmetatable(L, PCM_STREAM_MT);
  return 1;
}

static stream_ud *check_stream(lua_State *L)
{
  stream_ud *ud = luaL_checkudata(L, 1, PCM_STREAM_MT);
  if (ud->closed)
    luaL_argerror(L, 1, "PcmStream is closed");
  return ud;
}

/* After a feed: the samples it completed as a new AudioBuffer (maybe 0 frames). */
static int push_chunk(lua_State *L, stream_ud *ud, int status, size_t input_len)
{
  gptaudio_audiobuffer *chunk;
  size_t count = ud->stream.count;
  if (status == PCM_STREAM_NOMEM)
    return luaL_error(L, "not enough memory for %f bytes of streamed audio", (lua_Number)input_len);
  if (status == PCM_STREAM_BAD_BASE64)
    return gptaudio_fail(L, "protocol", "an audio delta is not base64 (%zu characters)", input_len);
  chunk = gptaudio_audiobuffer_new(L, ud->rate, 1, 0);
  if (gptaudio_audiobuffer_append(L, chunk, ud->stream.samples, count) != 0) {
    pcm_stream_drain(&ud->stream);
    return gptaudio_fail(L, "too_large", "%zu streamed samples do not fit an AudioBuffer", count);
  }
  pcm_stream_drain(&ud->stream);
  return 1;
}

/* ps:feed(bytes): raw s16le bytes, any length. */
static int ps_feed(lua_State *L)
{
  stream_ud *ud = check_stream(L);
  size_t len;
  const char *bytes = luaL_checklstring(L, 2, &len);
  return push_chunk(L, ud, pcm_stream_feed_bytes(&ud->stream, (const unsigned char *)bytes, len), len);
}

/* ps:feed_base64(text): one delta's base64, decoded on its own; nil, err
   (type protocol) when it is not base64, and the stream is then unchanged. */
static int ps_feed_base64(lua_State *L)
{
  stream_ud *ud = check_stream(L);
  size_t len;
  const char *text = luaL_checklstring(L, 2, &len);
  return push_chunk(L, ud, pcm_stream_feed_base64(&ud->stream, text, len), len);
}

/* ps:partial(): whether a byte waits for its pair (a stream ending so was cut mid-sample). */
static int ps_partial(lua_State *L)
{
  lua_pushboolean(L, pcm_stream_has_partial_sample(&check_stream(L)->stream));
  return 1;
}

static int ps_tostring(lua_State *L)
{
  stream_ud *ud = luaL_checkudata(L, 1, PCM_STREAM_MT);
  char s[64];
  if (ud->closed)
    lua_pushliteral(L, "PcmStream(closed)");
  else {
    snprintf(s, sizeof s, "PcmStream(%u Hz, %s)", ud->rate,
             pcm_stream_has_partial_sample(&ud->stream) ? "a byte waiting" : "whole samples");
    lua_pushstring(L, s);
  }
  return 1;
}

static int ps_gc(lua_State *L)
{
  pcm_stream_free(&((stream_ud *)luaL_checkudata(L, 1, PCM_STREAM_MT))->stream);
  return 0;
}

static int ps_close(lua_State *L)
{
  ps_gc(L);
  ((stream_ud *)lua_touserdata(L, 1))->closed = 1;
  return 0;
}

static const luaL_Reg METHODS[] = {
  {"feed", ps_feed},
  {"feed_base64", ps_feed_base64},
  {"partial", ps_partial},
  {NULL, NULL}
};

void gptaudio_open_pcm_stream(lua_State *L)
{
  luaL_newmetatable(L, PCM_STREAM_MT);
  lua_newtable(L);
  luaL_setfuncs(L, METHODS, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, ps_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, ps_gc);
  lua_setfield(L, -2, "__gc");
  compat_set_close(L, ps_close);
  lua_pushliteral(L, PCM_STREAM_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  lua_pushcfunction(L, ps_new);
  lua_setfield(L, -2, "pcm_stream");
}
