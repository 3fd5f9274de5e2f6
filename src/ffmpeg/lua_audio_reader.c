/* gptaudio.AudioReader: a file decoded as it is read, an AudioBuffer of the
   length asked for at a time (audio.open). Only the decoder's few buffers are
   in memory, however long the recording. */
#include "ffmpeg_module.h"

typedef struct reader {
  media_decoder *decoder; /* NULL once closed */
} reader;

static reader *to_reader(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, GPTAUDIO_READER_MT);
}

media_decoder *gptaudio_ffmpeg_check_reader(lua_State *L, int idx)
{
  reader *r = to_reader(L, idx);
  if (!r->decoder)
    luaL_argerror(L, idx, "AudioReader is closed");
  return r->decoder;
}

void gptaudio_ffmpeg_close_reader(lua_State *L, int idx)
{
  reader *r = to_reader(L, idx);
  media_decoder_close(r->decoder);
  r->decoder = NULL;
}

int gptaudio_ffmpeg_push_reader(lua_State *L, media_decoder *d, const char *why)
{
  reader *r;
  if (!d)
    return gptaudio_ffmpeg_api->fail(L, "audio", "%s", why);
  r = lua_newuserdata(L, sizeof *r);
  r->decoder = d;
  luaL_setmetatable(L, GPTAUDIO_READER_MT);
  return 1;
}

/* reader:read([frames = one second]): the next AudioBuffer of up to `frames`
   frames, nil at the end, or nil, err. */
static int reader_read(lua_State *L)
{
  media_decoder *d = gptaudio_ffmpeg_check_reader(L, 1);
  const media_info *info = media_decoder_info(d);
  lua_Integer most = (lua_Integer)(GPTAUDIO_AUDIO_MAX_SAMPLES / info->channels);
  size_t frames = lua_isnoneornil(L, 2) ? info->rate
                  : (size_t)gptaudio_ffmpeg_api->checkint(L, 2, 2, "frames", 1, most);
  gptaudio_audiobuffer *b = gptaudio_ffmpeg_api->audiobuffer_new(L, info->rate, info->channels, 0);
  float *tail = gptaudio_ffmpeg_api->audiobuffer_reserve(L, b, frames);
  char why[256];
  long got = media_decoder_read(d, tail, frames, why, sizeof why);
  if (got < 0)
    return gptaudio_ffmpeg_api->fail(L, "audio", "%s", why);
  if (got == 0) {
    lua_pushnil(L);
    return 1;
  }
  b->frames = (size_t)got;
  return 1;
}

static int reader_close(lua_State *L)
{
  gptaudio_ffmpeg_close_reader(L, 1);
  return 0;
}

static const char *const FIELDS[] = {"rate", "channels", "duration", "format", "codec", "source_rate",
                                     "source_channels", NULL};

/* Methods first (a closed reader's close is found), then the fields. */
static int reader_index(lua_State *L)
{
  const media_info *info;
  int field;
  to_reader(L, 1);
  field = gptaudio_ffmpeg_api->index_lookup(L, FIELDS);
  if (field == GPTAUDIO_INDEX_METHOD)
    return 1;
  if (field == GPTAUDIO_INDEX_NONE)
    return 0;
  info = media_decoder_info(gptaudio_ffmpeg_check_reader(L, 1));
  switch (field) {
  case 0: lua_pushinteger(L, (lua_Integer)info->rate); break;
  case 1: lua_pushinteger(L, (lua_Integer)info->channels); break;
  case 2:
    if (info->duration < 0)
      lua_pushnil(L);
    else
      lua_pushnumber(L, info->duration);
    break;
  case 3: lua_pushstring(L, info->container); break;
  case 4: lua_pushstring(L, info->codec); break;
  case 5: lua_pushinteger(L, (lua_Integer)info->source_rate); break;
  default: lua_pushinteger(L, (lua_Integer)info->source_channels);
  }
  return 1;
}

static int reader_tostring(lua_State *L)
{
  reader *r = to_reader(L, 1);
  const media_info *info;
  if (!r->decoder) {
    lua_pushliteral(L, "AudioReader(closed)");
    return 1;
  }
  info = media_decoder_info(r->decoder);
  lua_pushfstring(L, "AudioReader(%s %s, %d Hz, %d ch)", info->container, info->codec, (int)info->rate,
                  (int)info->channels);
  return 1;
}

static const luaL_Reg METHODS[] = {
  {"__index", reader_index},
  {"__tostring", reader_tostring},
  {"__gc", reader_close},
  {"read", reader_read},
  {"close", reader_close},
  {NULL, NULL}
};

void gptaudio_ffmpeg_open_reader(lua_State *L)
{
  luaL_newmetatable(L, GPTAUDIO_READER_MT);
  luaL_setfuncs(L, METHODS, 0);
  compat_set_close(L, reader_close);
  lua_pushliteral(L, GPTAUDIO_READER_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}
