/* gptaudio.AudioBuffer: interleaved float32 audio, its constructors (core.audio)
   and its methods. AudioBuffer:resample and core.audio.resampler live in
   lua_resampler.c, which adds them to the tables made here. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "audiobuffer.h"
#include "core.h"
#include "g711.h"
#include "wav.h"

/* Recordings sit well under -50 dBFS in their pauses (room noise and 16-bit
   dither are nearer -70) while quiet speech stays above it. */
#define DEFAULT_TRIM_DBFS -50.0
/* The telephone network's rate, G.711's. */
#define DEFAULT_G711_RATE 8000
/* The API's own pcm16: 24 kHz mono. */
#define DEFAULT_PCM16_RATE 24000
/* Indices beyond 2^53 cannot be told apart as doubles. */
#define MAX_INDEX ((lua_Integer)1 << 53)
/* The largest file load() reads: any WAV a buffer could hold, with room for headers. */
#define MAX_FILE_BYTES (GPTAUDIO_AUDIO_MAX_SAMPLES * sizeof(double) + 65536)

/* ---- the C API (audiobuffer.h) ---- */

static void drop_s16(gptaudio_audiobuffer *b)
{
  free(b->s16);
  b->s16 = NULL;
}

static void release(gptaudio_audiobuffer *b)
{
  drop_s16(b);
  free(b->samples);
  b->samples = NULL;
  b->frames = b->capacity = 0;
}

float *gptaudio_audiobuffer_reserve(lua_State *L, gptaudio_audiobuffer *b, size_t more)
{
  size_t limit = GPTAUDIO_AUDIO_MAX_SAMPLES / b->channels;
  size_t need;
  drop_s16(b);
  if (more > limit - b->frames)
    return NULL;
  need = b->frames + more;
  /* Always some storage, so the tail pointer is never NULL. */
  if (need > b->capacity || !b->samples) {
    size_t cap = b->capacity + b->capacity / 2;
    float *grown;
    if (cap < need)
      cap = need;
    if (cap > limit)
      cap = limit;
    if (cap == 0)
      cap = 1;
    grown = realloc(b->samples, cap * b->channels * sizeof(float));
    if (!grown)
      luaL_error(L, "not enough memory for an AudioBuffer of %d frames", (int)need);
    b->samples = grown;
    b->capacity = cap;
  }
  return b->samples + b->frames * b->channels;
}

gptaudio_audiobuffer *gptaudio_audiobuffer_new(lua_State *L, unsigned rate,
                                               unsigned channels, size_t frames)
{
  gptaudio_audiobuffer *b = lua_newuserdata(L, sizeof *b);
  float *tail;
  memset(b, 0, sizeof *b);
  b->rate = rate;
  b->channels = channels;
  luaL_setmetatable(L, GPTAUDIO_AUDIOBUFFER_MT);
  tail = gptaudio_audiobuffer_reserve(L, b, frames);
  if (!tail)
    luaL_error(L, "an AudioBuffer of %d channels holds at most %d frames", (int)channels,
               (int)(GPTAUDIO_AUDIO_MAX_SAMPLES / channels));
  memset(tail, 0, frames * channels * sizeof(float));
  b->frames = frames;
  return b;
}

gptaudio_audiobuffer *gptaudio_audiobuffer_check(lua_State *L, int idx)
{
  gptaudio_audiobuffer *b = luaL_testudata(L, idx, GPTAUDIO_AUDIOBUFFER_MT);
  if (!b) {
    /* Named by __name on LuaJIT too, whose luaL_checkudata says only "userdata". */
    const char *got = luaL_getmetafield(L, idx, "__name") && lua_type(L, -1) == LUA_TSTRING
                        ? lua_tostring(L, -1) : luaL_typename(L, idx);
    luaL_argerror(L, idx, lua_pushfstring(L, GPTAUDIO_AUDIOBUFFER_MT " expected, got %s", got));
  }
  if (b->closed)
    luaL_argerror(L, idx, "AudioBuffer is closed");
  return b;
}

int gptaudio_audiobuffer_append(lua_State *L, gptaudio_audiobuffer *b,
                                const float *samples, size_t frames)
{
  /* samples may be b's own, which reserve can move. */
  int own = samples == b->samples;
  float *tail;
  /* Nothing to add; samples may then be NULL, which memcpy must never get. */
  if (frames == 0)
    return 0;
  tail = gptaudio_audiobuffer_reserve(L, b, frames);
  if (!tail)
    return -1;
  memcpy(tail, own ? b->samples : samples, frames * b->channels * sizeof(float));
  b->frames += frames;
  return 0;
}

int gptaudio_audiobuffer_append_pcm(lua_State *L, gptaudio_audiobuffer *b, pcm_format format,
                                    const unsigned char *bytes, size_t frames)
{
  float *tail = gptaudio_audiobuffer_reserve(L, b, frames);
  if (!tail)
    return -1;
  pcm_to_float(format, bytes, frames * b->channels, tail);
  b->frames += frames;
  return 0;
}

lua_Integer gptaudio_audio_checkint(lua_State *L, int idx, int arg, const char *what,
                                    lua_Integer lo, lua_Integer hi)
{
  char got[32], message[160];
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, idx);
    if (n >= (lua_Number)lo && n <= (lua_Number)hi && n == floor(n))
      return (lua_Integer)n;
    snprintf(got, sizeof got, "%.14g", (double)n);
  } else {
    snprintf(got, sizeof got, "%s", luaL_typename(L, idx));
  }
  /* snprintf, as lua_pushfstring has no integer conversion that LuaJIT and 5.4 share. */
  snprintf(message, sizeof message, "%s must be an integer from %lld to %lld, got %s", what,
           (long long)lo, (long long)hi, got);
  return luaL_argerror(L, arg, message);
}

lua_Integer gptaudio_audio_optint(lua_State *L, int idx, int arg, const char *what,
                                  lua_Integer lo, lua_Integer hi, lua_Integer def)
{
  return lua_isnoneornil(L, idx) ? def : gptaudio_audio_checkint(L, idx, arg, what, lo, hi);
}

gptaudio_audiobuffer *gptaudio_audio_checkchunk(lua_State *L, int arg, unsigned rate, unsigned channels,
                                                const char *who)
{
  gptaudio_audiobuffer *in;
  if (lua_type(L, arg) == LUA_TSTRING) {
    size_t len;
    const char *bytes = lua_tolstring(L, arg, &len);
    size_t frame_bytes = 2 * (size_t)channels;
    if (len % frame_bytes != 0) {
      gptaudio_fail(L, "audio", "pcm16: %zu bytes is not a whole number of %zu-byte frames", len, frame_bytes);
      return NULL;
    }
    in = gptaudio_audiobuffer_new(L, rate, channels, 0);
    if (gptaudio_audiobuffer_append_pcm(L, in, PCM_S16LE, (const unsigned char *)bytes, len / frame_bytes) != 0) {
      gptaudio_fail(L, "audio", "pcm16: %zu bytes is too large", len);
      return NULL;
    }
    return in;
  }
  if (!luaL_testudata(L, arg, GPTAUDIO_AUDIOBUFFER_MT))
    luaL_argerror(L, arg, lua_pushfstring(L, "AudioBuffer or pcm16 string expected, got %s", luaL_typename(L, arg)));
  in = gptaudio_audiobuffer_check(L, arg);
  if (in->rate != rate || in->channels != channels)
    luaL_error(L, "process: the buffer is %d Hz, %d ch; this %s takes %d Hz, %d ch", (int)in->rate,
               (int)in->channels, who, (int)rate, (int)channels);
  return in;
}

void gptaudio_audio_checkfields(lua_State *L, int arg, const char *const known[])
{
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    int i;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, arg, lua_pushfstring(L, "unexpected %s key", luaL_typename(L, -1)));
    for (i = 0; known[i] && strcmp(known[i], lua_tostring(L, -1)) != 0; i++)
      ;
    if (!known[i])
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown field '%s'", lua_tostring(L, -1)));
  }
}

/* ---- constructors ---- */

static int fail_too_large(lua_State *L, unsigned channels, size_t frames)
{
  return gptaudio_fail(L, "audio", "%zu frames of %u channels exceed the limit of %zu samples",
                       frames, channels, (size_t)GPTAUDIO_AUDIO_MAX_SAMPLES);
}

static unsigned check_rate(lua_State *L, int idx, int arg)
{
  return (unsigned)gptaudio_audio_checkint(L, idx, arg, "rate", 1, GPTAUDIO_AUDIO_MAX_RATE);
}

static unsigned opt_channels(lua_State *L, int idx, int arg)
{
  return (unsigned)gptaudio_audio_optint(L, idx, arg, "channels", 1, GPTAUDIO_AUDIO_MAX_CHANNELS, 1);
}

/* Pushes a buffer of `frames` frames read from bytes in `format`, or nil, err. */
static int push_pcm(lua_State *L, unsigned rate, unsigned channels, pcm_format format,
                    const unsigned char *bytes, size_t frames)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_new(L, rate, channels, 0);
  if (gptaudio_audiobuffer_append_pcm(L, b, format, bytes, frames) != 0)
    return fail_too_large(L, channels, frames);
  return 1;
}

/* Byte counts that must hold whole frames: the frame count, or nil, err pushed. */
static int whole_frames(lua_State *L, size_t nbytes, size_t frame_bytes, const char *what,
                        size_t *frames)
{
  if (nbytes % frame_bytes != 0) {
    gptaudio_fail(L, "audio", "%s: %zu bytes is not a whole number of %zu-byte frames", what,
                  nbytes, frame_bytes);
    return 0;
  }
  *frames = nbytes / frame_bytes;
  return 1;
}

static int push_wav(lua_State *L, const unsigned char *bytes, size_t len)
{
  wav_info info;
  const char *why = wav_parse(bytes, len, &info);
  if (why)
    return gptaudio_fail(L, "audio", "not a usable WAV: %s", why);
  if (info.rate > GPTAUDIO_AUDIO_MAX_RATE)
    return gptaudio_fail(L, "audio", "WAV rate %u Hz is above the limit of %d Hz", info.rate,
                         GPTAUDIO_AUDIO_MAX_RATE);
  if (info.channels > GPTAUDIO_AUDIO_MAX_CHANNELS)
    return gptaudio_fail(L, "audio", "WAV has %u channels, more than the limit of %d",
                         info.channels, GPTAUDIO_AUDIO_MAX_CHANNELS);
  return push_pcm(L, info.rate, info.channels, info.format, info.data, info.frames);
}

/* audio.new{rate =, channels = 1, frames = 0}: silence. */
static int audio_new(lua_State *L)
{
  static const char *const fields[] = {"rate", "channels", "frames", NULL};
  unsigned rate, channels;
  size_t frames;
  luaL_checktype(L, 1, LUA_TTABLE);
  gptaudio_audio_checkfields(L, 1, fields);
  lua_getfield(L, 1, "rate");
  lua_getfield(L, 1, "channels");
  lua_getfield(L, 1, "frames");
  rate = check_rate(L, 2, 1);
  channels = opt_channels(L, 3, 1);
  frames = (size_t)gptaudio_audio_optint(L, 4, 1, "frames", 0,
                                         (lua_Integer)(GPTAUDIO_AUDIO_MAX_SAMPLES / channels), 0);
  gptaudio_audiobuffer_new(L, rate, channels, frames);
  return 1;
}

/* audio.from_samples(t, rate, channels = 1): t holds interleaved numbers, kept
   as they are (values beyond [-1, 1] are clamped only when encoded to integers). */
static int audio_from_samples(lua_State *L)
{
  unsigned rate, channels;
  size_t n, frames, i;
  gptaudio_audiobuffer *b;
  luaL_checktype(L, 1, LUA_TTABLE);
  rate = check_rate(L, 2, 2);
  channels = opt_channels(L, 3, 3);
  n = compat_rawlen(L, 1);
  if (n % channels != 0)
    return gptaudio_fail(L, "audio", "%zu samples is not a whole number of %u-channel frames", n,
                         channels);
  frames = n / channels;
  if (!gptaudio_audio_fits(channels, frames))
    return fail_too_large(L, channels, frames);
  b = gptaudio_audiobuffer_new(L, rate, channels, frames);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, 1, (int)(i + 1));
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_argerror(L, 1, lua_pushfstring(L, "sample %d is a %s, not a number", (int)(i + 1),
                                          luaL_typename(L, -1)));
    b->samples[i] = (float)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  return 1;
}

/* audio.from_pcm16(bytes, rate = 24000, channels = 1): headerless s16le. */
static int audio_from_pcm16(lua_State *L)
{
  size_t len, frames;
  const char *bytes = luaL_checklstring(L, 1, &len);
  unsigned rate = (unsigned)gptaudio_audio_optint(L, 2, 2, "rate", 1, GPTAUDIO_AUDIO_MAX_RATE,
                                                  DEFAULT_PCM16_RATE);
  unsigned channels = opt_channels(L, 3, 3);
  if (!whole_frames(L, len, 2 * (size_t)channels, "pcm16", &frames))
    return 2;
  return push_pcm(L, rate, channels, PCM_S16LE, (const unsigned char *)bytes, frames);
}

/* Headerless G.711 bytes, one a sample. */
static int push_g711(lua_State *L, g711_law law, unsigned rate, unsigned channels,
                     const unsigned char *bytes, size_t len)
{
  size_t frames;
  gptaudio_audiobuffer *b;
  float *tail;
  if (!whole_frames(L, len, channels, law == G711_ALAW ? "alaw" : "mulaw", &frames))
    return 2;
  b = gptaudio_audiobuffer_new(L, rate, channels, 0);
  tail = gptaudio_audiobuffer_reserve(L, b, frames);
  if (!tail)
    return fail_too_large(L, channels, frames);
  g711_to_float(law, bytes, len, tail);
  b->frames = frames;
  return 1;
}

/* The names decode() takes: the headerless G.711 laws, read as they say; the
   others a hint of what the bytes hold, whose content is probed whatever the
   name says. */
enum { DECODE_MULAW, DECODE_ALAW };
static const char *const READ_FORMATS[] = {"mulaw", "alaw", "wav", "mp3", "m4a", "aac", "mp4", "ogg", "oga",
                                           "opus", "flac", "webm", "aiff", "aif", "caf", "mka", "mpga", "mpeg",
                                           NULL};

/* Whether the bytes begin as a WAV file does (or are too short to tell it
   apart): those are core's own to read, the rest goes to gptaudio.ffmpeg. */
static int looks_like_wav(const unsigned char *bytes, size_t len)
{
  return memcmp(bytes, "RIFF", len < 4 ? len : 4) == 0;
}

/* audio.decode(bytes[, format[, rate = 8000, channels = 1]]): rate and
   channels are those of the headerless G.711 formats. WAV is read here,
   every other format through gptaudio.ffmpeg. */
static int audio_decode(lua_State *L)
{
  size_t len;
  const char *bytes = luaL_checklstring(L, 1, &len);
  int format = compat_checkoption(L, 2, "wav", READ_FORMATS);
  unsigned rate = (unsigned)gptaudio_audio_optint(L, 3, 3, "rate", 1, GPTAUDIO_AUDIO_MAX_RATE,
                                                  DEFAULT_G711_RATE);
  unsigned channels = opt_channels(L, 4, 4);
  if (format == DECODE_MULAW || format == DECODE_ALAW)
    return push_g711(L, format == DECODE_ALAW ? G711_ALAW : G711_MULAW, rate, channels,
                     (const unsigned char *)bytes, len);
  if (looks_like_wav((const unsigned char *)bytes, len))
    return push_wav(L, (const unsigned char *)bytes, len);
  lua_settop(L, 2);
  return gptaudio_media_call(L, "decoding audio that is not WAV", "decode", 2);
}

/* audio.load(path): a WAV file here (the bytes go into a userdata, allocated
   before the file is opened, so nothing is left open or allocated if Lua
   raises), any other format through gptaudio.ffmpeg, which reads it in chunks. */
static int audio_load(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  unsigned char *bytes, head[4];
  size_t len, got;
  FILE *f;
  int read_errno;
  if (stat(path, &st) != 0)
    return gptaudio_fail(L, "audio", "cannot open %s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return gptaudio_fail(L, "audio", "cannot load %s: not a regular file", path);
  f = fopen(path, "rb");
  if (!f)
    return gptaudio_fail(L, "audio", "cannot open %s: %s", path, strerror(errno));
  got = fread(head, 1, sizeof head, f);
  fclose(f);
  if (!looks_like_wav(head, got)) {
    char what[320];
    snprintf(what, sizeof what, "reading %s (not a WAV file)", path);
    lua_settop(L, 1);
    return gptaudio_media_call(L, what, "load", 1);
  }
  if ((unsigned long long)st.st_size > MAX_FILE_BYTES)
    return gptaudio_fail(L, "audio", "cannot load %s: %lld bytes is too large", path,
                         (long long)st.st_size);
  len = (size_t)st.st_size;
  bytes = lua_newuserdata(L, len);
  f = fopen(path, "rb");
  if (!f)
    return gptaudio_fail(L, "audio", "cannot open %s: %s", path, strerror(errno));
  got = fread(bytes, 1, len, f);
  read_errno = ferror(f) ? errno : 0;
  fclose(f);
  if (read_errno)
    return gptaudio_fail(L, "audio", "cannot read %s: %s", path, strerror(read_errno));
  return push_wav(L, bytes, got);
}

/* audio.from_pointer(lightuserdata, nbytes, rate, bits, channels = 1): what
   LÖVE's SoundData:getPointer() gives. Unsafe by nature: the pointer and size
   are trusted. */
static int audio_from_pointer(lua_State *L)
{
  const void *p;
  size_t nbytes, frames;
  unsigned rate, bits, channels;
  if (lua_type(L, 1) != LUA_TLIGHTUSERDATA)
    luaL_argerror(L, 1, lua_pushfstring(L, "lightuserdata expected, got %s", luaL_typename(L, 1)));
  p = lua_touserdata(L, 1);
  nbytes = (size_t)gptaudio_audio_checkint(L, 2, 2, "nbytes", 0, MAX_INDEX);
  rate = check_rate(L, 3, 3);
  bits = (unsigned)gptaudio_audio_checkint(L, 4, 4, "bits", 8, 16);
  channels = opt_channels(L, 5, 5);
  if (bits != 8 && bits != 16)
    luaL_argerror(L, 4, "bits must be 8 (unsigned) or 16 (signed)");
  if (!p && nbytes > 0)
    luaL_argerror(L, 1, "NULL pointer");
  if (!whole_frames(L, nbytes, bits / 8 * channels, "from_pointer", &frames))
    return 2;
  return push_pcm(L, rate, channels, bits == 8 ? PCM_U8 : PCM_S16LE, p, frames);
}

/* ---- methods ---- */

static const char *const FIELDS[] = {"rate", "channels", "frames", "duration", NULL};

int gptaudio_index_lookup(lua_State *L, const char *const fields[])
{
  const char *key;
  int field;
  if (lua_type(L, 2) != LUA_TSTRING)
    return GPTAUDIO_INDEX_NONE;
  key = lua_tostring(L, 2);
  if (strncmp(key, "__", 2) != 0) {
    lua_getmetatable(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1))
      return GPTAUDIO_INDEX_METHOD;
    lua_pop(L, 2);
  }
  for (field = 0; fields[field] && strcmp(fields[field], key) != 0; field++)
    ;
  return fields[field] ? field : GPTAUDIO_INDEX_NONE;
}

/* Methods first (so a closed buffer's method is found and raises itself), then fields. */
static int buf_index(lua_State *L)
{
  gptaudio_audiobuffer *b;
  int field;
  luaL_checkudata(L, 1, GPTAUDIO_AUDIOBUFFER_MT);
  field = gptaudio_index_lookup(L, FIELDS);
  if (field == GPTAUDIO_INDEX_METHOD)
    return 1;
  if (field == GPTAUDIO_INDEX_NONE)
    return 0;
  b = gptaudio_audiobuffer_check(L, 1);
  switch (field) {
  case 0: lua_pushinteger(L, (lua_Integer)b->rate); break;
  case 1: lua_pushinteger(L, (lua_Integer)b->channels); break;
  case 2: lua_pushinteger(L, (lua_Integer)b->frames); break;
  default: lua_pushnumber(L, (lua_Number)b->frames / b->rate);
  }
  return 1;
}

static int buf_len(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)gptaudio_audiobuffer_check(L, 1)->frames);
  return 1;
}

static int buf_tostring(lua_State *L)
{
  gptaudio_audiobuffer *b = luaL_checkudata(L, 1, GPTAUDIO_AUDIOBUFFER_MT);
  char s[96];
  if (b->closed)
    lua_pushliteral(L, "AudioBuffer(closed)");
  else {
    snprintf(s, sizeof s, "AudioBuffer(%u Hz, %u ch, %.2f s)", b->rate, b->channels,
             (double)b->frames / b->rate);
    lua_pushstring(L, s);
  }
  return 1;
}

static int buf_gc(lua_State *L)
{
  release(luaL_checkudata(L, 1, GPTAUDIO_AUDIOBUFFER_MT));
  return 0;
}

static int buf_close(lua_State *L)
{
  gptaudio_audiobuffer *b = luaL_checkudata(L, 1, GPTAUDIO_AUDIOBUFFER_MT);
  release(b);
  b->closed = 1;
  return 0;
}

/* Pushes a new buffer holding frames [first, first + n) of b. */
static void push_frames(lua_State *L, const gptaudio_audiobuffer *b, size_t first, size_t n)
{
  gptaudio_audiobuffer *out = gptaudio_audiobuffer_new(L, b->rate, b->channels, n);
  if (n > 0)
    memcpy(out->samples, b->samples + first * b->channels, n * b->channels * sizeof(float));
}

/* to_channels(n): down by averaging the channels that fold onto each output
   channel (input c goes to output (c - 1) % n + 1; to mono, all of them);
   up by repeating the input channels in turn (mono is copied to every one). */
static int buf_to_channels(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  unsigned n = (unsigned)gptaudio_audio_checkint(L, 2, 2, "channels", 1, GPTAUDIO_AUDIO_MAX_CHANNELS);
  unsigned c = b->channels, k, j;
  gptaudio_audiobuffer *out;
  size_t f;
  if (!gptaudio_audio_fits(n, b->frames))
    return fail_too_large(L, n, b->frames);
  out = gptaudio_audiobuffer_new(L, b->rate, n, b->frames);
  for (f = 0; f < b->frames; f++) {
    const float *in = b->samples + f * c;
    float *o = out->samples + f * n;
    for (k = 0; k < n; k++) {
      if (n >= c) {
        o[k] = in[k % c];
      } else {
        double sum = 0;
        unsigned count = 0;
        for (j = k; j < c; j += n, count++)
          sum += in[j];
        o[k] = (float)(sum / count);
      }
    }
  }
  return 1;
}

/* string.sub's position rules: negative counts from the end. */
static size_t start_pos(lua_Integer pos, size_t len)
{
  if (pos > 0)
    return (size_t)pos;
  if (pos == 0 || (size_t)-pos > len)
    return 1;
  return len - (size_t)-pos + 1;
}

static size_t end_pos(lua_Integer pos, size_t len)
{
  if (pos > (lua_Integer)len)
    return len;
  if (pos >= 0)
    return (size_t)pos;
  if ((size_t)-pos > len)
    return 0;
  return len - (size_t)-pos + 1;
}

/* slice(i, j = -1): frames i..j inclusive, clamped like string.sub. */
static int buf_slice(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  size_t i = start_pos(gptaudio_audio_checkint(L, 2, 2, "i", -MAX_INDEX, MAX_INDEX), b->frames);
  size_t j = end_pos(gptaudio_audio_optint(L, 3, 3, "j", -MAX_INDEX, MAX_INDEX, -1), b->frames);
  push_frames(L, b, i - 1, i <= j ? j - i + 1 : 0);
  return 1;
}

static int frame_is_loud(const gptaudio_audiobuffer *b, size_t f, float threshold)
{
  unsigned c;
  for (c = 0; c < b->channels; c++)
    if (fabsf(b->samples[f * b->channels + c]) >= threshold)
      return 1;
  return 0;
}

/* trim(threshold_dbfs = -50): without the leading and trailing frames whose
   every channel is below the threshold (an all-quiet buffer trims to 0 frames). */
static int buf_trim(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  lua_Number dbfs = luaL_optnumber(L, 2, DEFAULT_TRIM_DBFS);
  float threshold = (float)pow(10.0, dbfs / 20.0);
  size_t first = 0, end = b->frames;
  luaL_argcheck(L, dbfs == dbfs, 2, "threshold is NaN");
  while (first < end && !frame_is_loud(b, first, threshold))
    first++;
  while (end > first && !frame_is_loud(b, end - 1, threshold))
    end--;
  push_frames(L, b, first, end - first);
  return 1;
}

static void check_same_format(lua_State *L, const gptaudio_audiobuffer *a,
                              const gptaudio_audiobuffer *b, const char *op)
{
  if (a->rate != b->rate)
    luaL_error(L, "%s: rate mismatch (%d Hz and %d Hz); resample first", op, (int)a->rate,
               (int)b->rate);
  if (a->channels != b->channels)
    luaL_error(L, "%s: channel count mismatch (%d and %d); use to_channels first", op,
               (int)a->channels, (int)b->channels);
}

/* append(b): b's frames after ours (b may be the buffer itself). */
static int buf_append(lua_State *L)
{
  gptaudio_audiobuffer *a = gptaudio_audiobuffer_check(L, 1);
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 2);
  check_same_format(L, a, b, "append");
  if (gptaudio_audiobuffer_append(L, a, b->samples, b->frames) != 0)
    return fail_too_large(L, a->channels, a->frames + b->frames);
  lua_settop(L, 1);
  return 1;
}

/* mix(b, factor = 1): adds b * factor from frame 1. A longer b lengthens the
   buffer (over silence), so none of b is lost. Sums are not clamped. */
static int buf_mix(lua_State *L)
{
  gptaudio_audiobuffer *a = gptaudio_audiobuffer_check(L, 1);
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 2);
  lua_Number asked = luaL_optnumber(L, 3, 1.0);
  float factor;
  size_t i, n;
  /* beyond FLT_MAX the conversion to float is undefined; NaN fails the test too */
  luaL_argcheck(L, fabs(asked) <= FLT_MAX, 3, "mix factor must be a finite number (at most 3.4e38 either way)");
  factor = (float)asked;
  check_same_format(L, a, b, "mix");
  if (b->frames > a->frames) {
    size_t more = b->frames - a->frames;
    float *tail = gptaudio_audiobuffer_reserve(L, a, more);
    if (!tail)
      return fail_too_large(L, a->channels, b->frames);
    memset(tail, 0, more * a->channels * sizeof(float));
    a->frames = b->frames;
  }
  drop_s16(a);
  n = b->frames * b->channels;
  for (i = 0; i < n; i++)
    a->samples[i] += factor * b->samples[i];
  lua_settop(L, 1);
  return 1;
}

/* gain(db): every sample times 10^(db/20); -math.huge silences. */
static int buf_gain(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  lua_Number db = luaL_checknumber(L, 2);
  double scale = pow(10.0, db / 20.0);
  float factor;
  size_t i, n = b->frames * b->channels;
  /* a factor beyond FLT_MAX (over 770 dB) has no float; NaN fails the test too */
  luaL_argcheck(L, scale <= FLT_MAX, 2, "gain must be a number of dB up to 770, or -math.huge");
  factor = (float)scale;
  drop_s16(b);
  for (i = 0; i < n; i++)
    b->samples[i] *= factor;
  lua_settop(L, 1);
  return 1;
}

static int buf_peak(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  size_t i, n = b->frames * b->channels;
  float peak = 0;
  for (i = 0; i < n; i++)
    if (fabsf(b->samples[i]) > peak)
      peak = fabsf(b->samples[i]);
  lua_pushnumber(L, peak);
  return 1;
}

static int buf_rms(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  size_t i, n = b->frames * b->channels;
  double sum = 0;
  for (i = 0; i < n; i++)
    sum += (double)b->samples[i] * b->samples[i];
  lua_pushnumber(L, n ? sqrt(sum / n) : 0.0);
  return 1;
}

/* sample(i, ch = 1): one sample; out of range raises. */
static int buf_sample(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  size_t i = (size_t)gptaudio_audio_checkint(L, 2, 2, "frame", 1, (lua_Integer)b->frames);
  unsigned ch = (unsigned)gptaudio_audio_optint(L, 3, 3, "channel", 1, b->channels, 1);
  lua_pushnumber(L, b->samples[(i - 1) * b->channels + (ch - 1)]);
  return 1;
}

enum { ENCODE_WAV, ENCODE_PCM16, ENCODE_F32, ENCODE_MULAW, ENCODE_ALAW, ENCODE_COMPRESSED };
/* wav, pcm16, f32 and G.711 are core's own; the compressed ones (from
   ENCODE_COMPRESSED on) are gptaudio.ffmpeg's. */
static const char *const ENCODE_FORMATS[] = {"wav", "pcm16", "f32", "mulaw", "alaw", "flac", "mp3", "opus", "aac",
                                             NULL};
/* The lowest and highest bitrate a compressed format is asked for, bits/s. */
#define MIN_BITRATE 6000
#define MAX_BITRATE 512000

/* Pushes the samples as G.711 codes, one byte each. */
static int push_g711_codes(lua_State *L, const gptaudio_audiobuffer *b, g711_law law)
{
  size_t n = b->frames * b->channels;
  unsigned char *out = lua_newuserdata(L, n ? n : 1);
  g711_from_float(law, b->samples, n, out);
  lua_pushlstring(L, (const char *)out, n);
  return 1;
}

/* encode(format[, {float =, bitrate =}]): "wav" is 16-bit PCM, or 32-bit IEEE
   float with float = true; "pcm16" and "f32" are headerless little-endian;
   "mulaw" and "alaw" headerless G.711; flac, mp3, opus (in ogg) and aac (in
   m4a) go through gptaudio.ffmpeg, at `bitrate` bits/s when given. */
static int buf_encode(lua_State *L)
{
  static const char *const options[] = {"float", "bitrate", NULL};
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  int format = compat_checkoption(L, 2, NULL, ENCODE_FORMATS);
  int float_samples = format == ENCODE_F32;
  size_t n = b->frames * b->channels, header_bytes = 0, data_bytes;
  unsigned char header[WAV_HEADER_BYTES], *out;
  lua_Integer bitrate = 0;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    gptaudio_audio_checkfields(L, 3, options);
    lua_getfield(L, 3, "float");
    float_samples = float_samples || (format == ENCODE_WAV && lua_toboolean(L, -1));
    lua_getfield(L, 3, "bitrate");
    bitrate = gptaudio_audio_optint(L, -1, 3, "bitrate", MIN_BITRATE, MAX_BITRATE, 0);
  }
  if (format >= ENCODE_COMPRESSED) {
    char what[64];
    snprintf(what, sizeof what, "encoding to %s", ENCODE_FORMATS[format]);
    lua_settop(L, 2);
    lua_pushinteger(L, bitrate);
    return gptaudio_media_call(L, what, "encode", 3);
  }
  if (format == ENCODE_MULAW || format == ENCODE_ALAW)
    return push_g711_codes(L, b, format == ENCODE_ALAW ? G711_ALAW : G711_MULAW);
  data_bytes = n * (float_samples ? 4 : 2);
  if (format == ENCODE_WAV) {
    if (wav_write_header(header, b->rate, b->channels, float_samples, data_bytes) != 0)
      return gptaudio_fail(L, "audio", "%zu bytes of samples do not fit a WAV file", data_bytes);
    header_bytes = WAV_HEADER_BYTES;
  }
  /* Built in a userdata, so that a failing lua_pushlstring leaks nothing. */
  out = lua_newuserdata(L, header_bytes + data_bytes);
  memcpy(out, header, header_bytes);
  if (float_samples)
    pcm_float_to_f32le(b->samples, n, out + header_bytes);
  else
    pcm_float_to_s16le(b->samples, n, out + header_bytes);
  lua_pushlstring(L, (const char *)out, header_bytes + data_bytes);
  return 1;
}

/* The format save() writes for a path's extension; WAV for any other. */
static const char *format_of_path(const char *path)
{
  static const char *const by_extension[][2] = {
    {"pcm", "pcm16"}, {"raw", "pcm16"}, {"f32", "f32"}, {"flac", "flac"}, {"mp3", "mp3"}, {"opus", "opus"},
    {"ogg", "opus"}, {"oga", "opus"}, {"m4a", "aac"}, {"mp4", "aac"}, {"aac", "aac"},
  };
  const char *dot = strrchr(path, '.');
  size_t i;
  if (dot && !strchr(dot, '/'))
    for (i = 0; i < sizeof by_extension / sizeof by_extension[0]; i++)
      if (strcasecmp(dot + 1, by_extension[i][0]) == 0)
        return by_extension[i][1];
  return "wav";
}

/* Closes f, which the writes to path filled (ok: all of them succeeded):
   true, or nil, err naming the first failure, the close's included. */
static int close_written(lua_State *L, FILE *f, int ok, const char *path)
{
  int write_errno = ok ? 0 : errno;
  if (fclose(f) != 0 && ok) {
    ok = 0;
    write_errno = errno;
  }
  if (!ok)
    return gptaudio_fail(L, "audio", "cannot write %s: %s", path, strerror(write_errno));
  lua_pushboolean(L, 1);
  return 1;
}

/* Writes len bytes to path: true, or nil, err. */
static int write_file(lua_State *L, const char *path, const char *bytes, size_t len)
{
  FILE *f = fopen(path, "wb");
  if (!f)
    return gptaudio_fail(L, "audio", "cannot write %s: %s", path, strerror(errno));
  return close_written(L, f, fwrite(bytes, 1, len, f) == len, path);
}

/* A 16-bit WAV file, converted in blocks on the stack; nothing between fopen
   and fclose can raise. */
static int save_wav(lua_State *L, const gptaudio_audiobuffer *b, const char *path)
{
  unsigned char header[WAV_HEADER_BYTES], block[8192];
  size_t n = b->frames * b->channels, done = 0;
  int ok;
  FILE *f;
  if (wav_write_header(header, b->rate, b->channels, 0, n * 2) != 0)
    return gptaudio_fail(L, "audio", "%zu samples do not fit a WAV file", n);
  f = fopen(path, "wb");
  if (!f)
    return gptaudio_fail(L, "audio", "cannot write %s: %s", path, strerror(errno));
  ok = fwrite(header, 1, sizeof header, f) == sizeof header;
  while (ok && done < n) {
    size_t count = n - done < sizeof block / 2 ? n - done : sizeof block / 2;
    pcm_float_to_s16le(b->samples + done, count, block);
    ok = fwrite(block, 2, count, f) == count;
    done += count;
  }
  return close_written(L, f, ok, path);
}

/* save(path[, format[, options]]): the format given, else the one the
   extension names (.mp3, .flac, .opus/.ogg, .m4a/.aac, .pcm, .f32), else a
   16-bit WAV; options as encode() takes them. true, or nil, err. */
static int buf_save(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  const char *path = luaL_checkstring(L, 2);
  const char *format = ENCODE_FORMATS[compat_checkoption(L, 3, format_of_path(path), ENCODE_FORMATS)];
  size_t len;
  const char *bytes;
  if (strcmp(format, "wav") == 0 && lua_isnoneornil(L, 4))
    return save_wav(L, b, path);
  lua_settop(L, 4);
  lua_pushcfunction(L, buf_encode);
  lua_pushvalue(L, 1);
  lua_pushstring(L, format);
  lua_pushvalue(L, 4);
  lua_call(L, 3, 2);
  if (lua_isnil(L, -2))
    return 2;
  bytes = lua_tolstring(L, -2, &len);
  return write_file(L, path, bytes, len);
}

/* pointer(): lightuserdata, nbytes of an s16 copy kept in the buffer until it
   next changes (append, mix, gain) or is closed. */
static int buf_pointer(lua_State *L)
{
  gptaudio_audiobuffer *b = gptaudio_audiobuffer_check(L, 1);
  size_t n = b->frames * b->channels;
  if (!b->s16) {
    b->s16 = malloc(n ? n * sizeof(int16_t) : sizeof(int16_t));
    if (!b->s16)
      return luaL_error(L, "not enough memory for %d samples", (int)n);
    pcm_float_to_s16le(b->samples, n, (unsigned char *)b->s16);
  }
  lua_pushlightuserdata(L, b->s16);
  lua_pushinteger(L, (lua_Integer)(n * sizeof(int16_t)));
  return 2;
}

static const luaL_Reg METHODS[] = {
  {"__index", buf_index},
  {"__len", buf_len},
  {"__tostring", buf_tostring},
  {"__gc", buf_gc},
  {"to_channels", buf_to_channels},
  {"slice", buf_slice},
  {"trim", buf_trim},
  {"append", buf_append},
  {"mix", buf_mix},
  {"gain", buf_gain},
  {"peak", buf_peak},
  {"rms", buf_rms},
  {"sample", buf_sample},
  {"encode", buf_encode},
  {"save", buf_save},
  {"pointer", buf_pointer},
  {"close", buf_close}, /* what __close does, for LuaJIT, which has no <close> */
  {NULL, NULL}
};

static const luaL_Reg CONSTRUCTORS[] = {
  {"new", audio_new},
  {"from_samples", audio_from_samples},
  {"from_pcm16", audio_from_pcm16},
  {"decode", audio_decode},
  {"load", audio_load},
  {"from_pointer", audio_from_pointer},
  {NULL, NULL}
};

void gptaudio_open_audiobuffer(lua_State *L)
{
  luaL_newmetatable(L, GPTAUDIO_AUDIOBUFFER_MT);
  luaL_setfuncs(L, METHODS, 0);
  compat_set_close(L, buf_close);
  lua_pushliteral(L, GPTAUDIO_AUDIOBUFFER_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  lua_newtable(L);
  luaL_setfuncs(L, CONSTRUCTORS, 0);
  lua_setfield(L, -2, "audio");
}
