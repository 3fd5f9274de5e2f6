/* luaopen_gptaudio_ffmpeg: the optional module that reads and writes the
   formats gptaudio.core does not (core.audio's load, decode, open, encode
   and save hand them over). Its functions:
     load(path[, {rate =, channels =}])            an AudioBuffer | nil, err
     decode(bytes[, format[, {rate =, channels =}]]) the same from memory
     open(path[, {rate =, channels =}])            an AudioReader | nil, err
     encode(buf, format[, bitrate])                bytes | nil, err
     formats()                                     { read = {...}, write = {...} } */
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "export.h"
#include "ffmpeg_module.h"
#include "media_encoder.h"

GPTAUDIO_EXPORT int luaopen_gptaudio_ffmpeg(lua_State *L);

const gptaudio_core_api *gptaudio_ffmpeg_api;

#define CHUNK_FRAMES 65536

/* The formats read, by the names decode() takes, and libavformat's demuxer for each. */
static const char *const READ_NAMES[][2] = {
  {"wav", "wav"}, {"mp3", "mp3"}, {"mpga", "mp3"}, {"mpeg", "mp3"}, {"m4a", "mov"}, {"mp4", "mov"},
  {"aac", "aac"}, {"ogg", "ogg"}, {"oga", "ogg"}, {"opus", "ogg"}, {"flac", "flac"}, {"webm", "matroska"},
  {"mka", "matroska"}, {"aiff", "aiff"}, {"aif", "aiff"}, {"caf", "caf"},
};
#define READ_COUNT (sizeof READ_NAMES / sizeof READ_NAMES[0])

static const char *demuxer_of(const char *name)
{
  size_t i;
  for (i = 0; name && i < READ_COUNT; i++)
    if (strcmp(READ_NAMES[i][0], name) == 0)
      return READ_NAMES[i][1];
  return NULL;
}

void gptaudio_ffmpeg_options(lua_State *L, int arg, media_decode_options *options)
{
  static const char *const fields[] = {"rate", "channels", NULL};
  memset(options, 0, sizeof *options);
  if (lua_isnoneornil(L, arg))
    return;
  luaL_checktype(L, arg, LUA_TTABLE);
  gptaudio_ffmpeg_api->checkfields(L, arg, fields);
  lua_getfield(L, arg, "rate");
  if (!lua_isnil(L, -1))
    options->rate = (unsigned)gptaudio_ffmpeg_api->checkint(L, -1, arg, "rate", 1, GPTAUDIO_AUDIO_MAX_RATE);
  lua_getfield(L, arg, "channels");
  if (!lua_isnil(L, -1))
    options->channels =
      (unsigned)gptaudio_ffmpeg_api->checkint(L, -1, arg, "channels", 1, GPTAUDIO_AUDIO_MAX_CHANNELS);
  lua_pop(L, 2);
}

/* Decodes everything the reader at idx holds into one AudioBuffer, then
   closes the reader: the buffer, or nil, err. */
static int read_all(lua_State *L, int idx)
{
  media_decoder *d = gptaudio_ffmpeg_check_reader(L, idx);
  const media_info *info = media_decoder_info(d);
  gptaudio_audiobuffer *b = gptaudio_ffmpeg_api->audiobuffer_new(L, info->rate, info->channels, 0);
  char why[256];
  for (;;) {
    size_t room = GPTAUDIO_AUDIO_MAX_SAMPLES / b->channels - b->frames;
    float *tail = gptaudio_ffmpeg_api->audiobuffer_reserve(L, b, room < CHUNK_FRAMES ? room : CHUNK_FRAMES);
    long got = room ? media_decoder_read(d, tail, room < CHUNK_FRAMES ? room : CHUNK_FRAMES, why, sizeof why) : 0;
    if (got < 0 || (room == 0 && media_decoder_read(d, tail, 1, why, sizeof why) != 0)) {
      if (got >= 0)
        snprintf(why, sizeof why, "more than the %zu samples an AudioBuffer holds",
                 (size_t)GPTAUDIO_AUDIO_MAX_SAMPLES);
      gptaudio_ffmpeg_close_reader(L, idx);
      return gptaudio_ffmpeg_api->fail(L, "audio", "%s", why);
    }
    if (got == 0)
      break;
    b->frames += (size_t)got;
  }
  gptaudio_ffmpeg_close_reader(L, idx);
  return 1;
}

/* open(path[, options]). */
static int ff_open(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  media_decode_options options;
  char why[512];
  media_decoder *d;
  gptaudio_ffmpeg_options(L, 2, &options);
  d = media_decoder_open_file(path, &options, why, sizeof why);
  if (!d)
    return gptaudio_ffmpeg_api->fail(L, "audio", "%s: %s", path, why);
  return gptaudio_ffmpeg_push_reader(L, d, why);
}

/* load(path[, options]). */
static int ff_load(lua_State *L)
{
  int pushed = ff_open(L);
  return pushed == 1 ? read_all(L, lua_gettop(L)) : pushed;
}

/* decode(bytes[, format[, options]]): the bytes stay on the stack, so they
   outlive the decoder that reads them in place. */
static int ff_decode(lua_State *L)
{
  size_t len;
  const char *bytes = luaL_checklstring(L, 1, &len);
  const char *format = luaL_optstring(L, 2, NULL);
  media_decode_options options;
  char why[512];
  int pushed;
  gptaudio_ffmpeg_options(L, 3, &options);
  options.hint = demuxer_of(format);
  pushed = gptaudio_ffmpeg_push_reader(L, media_decoder_open_memory(bytes, len, &options, why, sizeof why), why);
  return pushed == 1 ? read_all(L, lua_gettop(L)) : pushed;
}

/* The encoder's malloc'ed output, held by a userdata until it is a string:
   freed by __gc if pushing the string raises. */
#define ENCODED_MT "gptaudio.ffmpeg.encoded"

static int encoded_gc(lua_State *L)
{
  unsigned char **slot = luaL_checkudata(L, 1, ENCODED_MT);
  free(*slot);
  *slot = NULL;
  return 0;
}

/* encode(buf, format[, bitrate]). The bytes go through a userdata, so a Lua
   memory error while pushing them leaks nothing. */
static int ff_encode(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_ffmpeg_api->audiobuffer_check(L, 1);
  const media_write_format *format = media_write_format_find(luaL_checkstring(L, 2));
  long bitrate = (long)gptaudio_ffmpeg_api->checkint(L, 3, 3, "bitrate", 0, 512000);
  unsigned char **slot;
  size_t size;
  char why[256];
  luaL_argcheck(L, format != NULL, 2, "flac, mp3, opus or aac expected");
  slot = lua_newuserdata(L, sizeof *slot);
  *slot = NULL;
  luaL_setmetatable(L, ENCODED_MT);
  if (media_encode(format, b->samples, b->frames, b->rate, b->channels, bitrate, slot, &size, why,
                   sizeof why) != 0)
    return gptaudio_ffmpeg_api->fail(L, "audio", "cannot encode to %s: %s", format->name, why);
  lua_pushlstring(L, (const char *)*slot, size);
  free(*slot);
  *slot = NULL;
  return 1;
}

static void push_list(lua_State *L, const char *const *names, size_t count, const char *field)
{
  size_t i;
  lua_createtable(L, (int)count, 0);
  for (i = 0; i < count; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  lua_setfield(L, -2, field);
}

/* formats(): what this build reads (by the names decode() takes) and writes. */
static int ff_formats(lua_State *L)
{
  const char *read[READ_COUNT], *write[16] = {"wav", "pcm16", "f32"};
  size_t nread = 0, nwrite = 3, i;
  const media_write_format *f;
  for (i = 0; i < READ_COUNT; i++)
    if (media_demuxer_available(READ_NAMES[i][1]))
      read[nread++] = READ_NAMES[i][0];
  for (f = media_write_formats; f->name; f++)
    if (media_write_format_available(f))
      write[nwrite++] = f->name;
  lua_createtable(L, 0, 2);
  push_list(L, read, nread, "read");
  push_list(L, write, nwrite, "write");
  return 1;
}

static const luaL_Reg FUNCTIONS[] = {
  {"load", ff_load},
  {"decode", ff_decode},
  {"open", ff_open},
  {"encode", ff_encode},
  {"formats", ff_formats},
  {NULL, NULL}
};

int luaopen_gptaudio_ffmpeg(lua_State *L)
{
  lua_getglobal(L, "require");
  lua_pushliteral(L, "gptaudio.core");
  lua_call(L, 1, 0);
  lua_getfield(L, LUA_REGISTRYINDEX, GPTAUDIO_CORE_API);
  gptaudio_ffmpeg_api = lua_touserdata(L, -1);
  if (!gptaudio_ffmpeg_api)
    return luaL_error(L, "gptaudio.ffmpeg: gptaudio.core did not lend its functions (an older core?)");
  lua_pop(L, 1);
  /* What goes wrong comes back as nil, err; FFmpeg's own lines on stderr would
     only repeat it into the host's terminal. */
  av_log_set_level(AV_LOG_QUIET);
  gptaudio_ffmpeg_open_reader(L);
  luaL_newmetatable(L, ENCODED_MT);
  lua_pushcfunction(L, encoded_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_newtable(L);
  luaL_setfuncs(L, FUNCTIONS, 0);
  return 1;
}
