rockspec_format = "3.0"
package = "gptaudio"
version = "scm-1"
source = { url = "git+https://example.invalid/gptaudio.git" }
description = {
  summary = "OpenAI's audio-native model gpt-audio-mini for Lua, without blocking",
  detailed = [[
Chat with text and audio in and out, transcription, speech and tool calling,
for Lua 5.4 and LuaJIT 2.1, on a non-blocking libcurl transport that fits game
loops (LÖVE), Neovim and OpenResty.]],
  license = "MIT",
}
dependencies = { "lua >= 5.1", "lua-cjson" }
external_dependencies = {
  CURL = { header = "curl/curl.h" },
  SAMPLERATE = { header = "samplerate.h" },
}
build = {
  type = "builtin",
  modules = {
    ["gptaudio.core"] = {
      sources = {
        -- BEGIN sources (scripts/sync-rockspec writes this list)
        "src/lua_audiobuffer.c",
        "src/lua_clock.c",
        "src/lua_codec.c",
        "src/lua_core.c",
        "src/lua_error.c",
        "src/lua_resampler.c",
        "src/lua_transport.c",
        -- END sources
      },
      defines = { "_GNU_SOURCE" },
      incdirs = { "src", "$(CURL_INCDIR)", "$(SAMPLERATE_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(SAMPLERATE_LIBDIR)" },
      libraries = { "curl", "samplerate", "m" },
    },
    -- BEGIN modules (scripts/sync-rockspec writes this list)
    ["gptaudio"] = "lua/gptaudio/init.lua",
    -- END modules
  },
}
