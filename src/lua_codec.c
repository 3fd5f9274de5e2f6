/* core.base64_encode(s) and core.base64_decode(s): the wire's base64 for Lua.
   Output goes to a userdata scratch first, so a memory error raised by Lua
   leaves nothing to free. */
#include "base64.h"
#include "core.h"

static const char *check_string(lua_State *L, int arg, size_t *len)
{
  if (lua_type(L, arg) != LUA_TSTRING)
    luaL_argerror(L, arg, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, arg)));
  return lua_tolstring(L, arg, len);
}

static int codec_base64_encode(lua_State *L)
{
  size_t n, size;
  const char *in = check_string(L, 1, &n);
  char *out;

  size = base64_encoded_size(n);
  if (size == 0 && n > 0)
    return luaL_error(L, "base64_encode: input too large");
  out = lua_newuserdata(L, size);
  lua_pushlstring(L, out, base64_encode((const unsigned char *)in, n, out));
  return 1;
}

static int codec_base64_decode(lua_State *L)
{
  size_t n, len;
  const char *in = check_string(L, 1, &n);
  unsigned char *out = lua_newuserdata(L, base64_decoded_max(n));

  if (base64_decode(in, n, out, &len) != 0)
    return gptaudio_fail(L, "protocol", "invalid base64 (%lu characters)", (unsigned long)n);
  lua_pushlstring(L, (const char *)out, len);
  return 1;
}

void gptaudio_open_codec(lua_State *L)
{
  lua_pushcfunction(L, codec_base64_encode);
  lua_setfield(L, -2, "base64_encode");
  lua_pushcfunction(L, codec_base64_decode);
  lua_setfield(L, -2, "base64_decode");
}
