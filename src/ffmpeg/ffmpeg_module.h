/* What the Lua-facing files of gptaudio.ffmpeg share. */
#ifndef GPTAUDIO_FFMPEG_MODULE_H
#define GPTAUDIO_FFMPEG_MODULE_H

#include "compat.h"
#include "core_api.h"
#include "media_decoder.h"

/* core's functions, read from the registry when the module opens. */
extern const gptaudio_core_api *gptaudio_ffmpeg_api;

#define GPTAUDIO_READER_MT "gptaudio.AudioReader"

/* Reads the decoding options {rate =, channels =} of the table at arg (nil: none). */
void gptaudio_ffmpeg_options(lua_State *L, int arg, media_decode_options *options);

/* Pushes a reader over the decoder (which it then owns), or nil, err for
   NULL with why. Returns the count pushed. */
int gptaudio_ffmpeg_push_reader(lua_State *L, media_decoder *d, const char *why);

/* The decoder of the reader at idx; raises when it is not one or is closed. */
media_decoder *gptaudio_ffmpeg_check_reader(lua_State *L, int idx);

/* Closes the reader at idx now (its decoder's memory goes back at once). */
void gptaudio_ffmpeg_close_reader(lua_State *L, int idx);

/* Registers the reader's metatable; module table on top. */
void gptaudio_ffmpeg_open_reader(lua_State *L);

#endif
