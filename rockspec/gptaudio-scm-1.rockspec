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
  SPEEXDSP = { header = "speex/speex_preprocess.h" },
  WEBRTC_AUDIO_PROCESSING = { library = "webrtc_audio_processing" },
}
build = {
  type = "builtin",
  install = { bin = { gptaudio = "bin/gptaudio" } },
  modules = {
    ["gptaudio.core"] = {
      sources = {
        -- BEGIN sources (scripts/sync-rockspec writes this list)
        "src/base64.c",
        "src/byte_buffer.c",
        "src/echo.c",
        "src/file_kind.c",
        "src/file_lock.c",
        "src/g711.c",
        "src/http_head.c",
        "src/lua_audiobuffer.c",
        "src/lua_clock.c",
        "src/lua_codec.c",
        "src/lua_core.c",
        "src/lua_echo.c",
        "src/lua_error.c",
        "src/lua_file_kind.c",
        "src/lua_file_lock.c",
        "src/lua_media.c",
        "src/lua_pcm_stream.c",
        "src/lua_resampler.c",
        "src/lua_signal.c",
        "src/lua_transfer.c",
        "src/lua_transport.c",
        "src/lua_vad.c",
        "src/pcm.c",
        "src/pcm_stream.c",
        "src/sse.c",
        "src/transfer.c",
        "src/transport.c",
        "src/vad.c",
        "src/wav.c",
        -- END sources
      },
      defines = { "_GNU_SOURCE" },
      incdirs = { "src", "$(CURL_INCDIR)", "$(SAMPLERATE_INCDIR)", "$(SPEEXDSP_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(SAMPLERATE_LIBDIR)", "$(SPEEXDSP_LIBDIR)", "$(WEBRTC_AUDIO_PROCESSING_LIBDIR)" },
      libraries = { "curl", "samplerate", "speexdsp", "webrtc_audio_processing", "m" },
    },
    -- BEGIN modules (scripts/sync-rockspec writes this list)
    ["gptaudio.calls.chat"] = "lua/gptaudio/calls/chat.lua",
    ["gptaudio.calls.chat_route"] = "lua/gptaudio/calls/chat_route.lua",
    ["gptaudio.calls.request"] = "lua/gptaudio/calls/request.lua",
    ["gptaudio.calls.routed"] = "lua/gptaudio/calls/routed.lua",
    ["gptaudio.calls.speak"] = "lua/gptaudio/calls/speak.lua",
    ["gptaudio.calls.stream"] = "lua/gptaudio/calls/stream.lua",
    ["gptaudio.calls.transcribe"] = "lua/gptaudio/calls/transcribe.lua",
    ["gptaudio.check"] = "lua/gptaudio/check.lua",
    ["gptaudio.cli.args"] = "lua/gptaudio/cli/args.lua",
    ["gptaudio.cli.batch"] = "lua/gptaudio/cli/batch.lua",
    ["gptaudio.cli.chat"] = "lua/gptaudio/cli/chat.lua",
    ["gptaudio.cli"] = "lua/gptaudio/cli/init.lua",
    ["gptaudio.cli.progress"] = "lua/gptaudio/cli/progress.lua",
    ["gptaudio.cli.results"] = "lua/gptaudio/cli/results.lua",
    ["gptaudio.cli.speak"] = "lua/gptaudio/cli/speak.lua",
    ["gptaudio.cli.transcribe"] = "lua/gptaudio/cli/transcribe.lua",
    ["gptaudio.client"] = "lua/gptaudio/client.lua",
    ["gptaudio.conversation"] = "lua/gptaudio/conversation.lua",
    ["gptaudio.engine.scheduler"] = "lua/gptaudio/engine/scheduler.lua",
    ["gptaudio.errors"] = "lua/gptaudio/errors.lua",
    ["gptaudio"] = "lua/gptaudio/init.lua",
    ["gptaudio.json"] = "lua/gptaudio/json.lua",
    ["gptaudio.limiter"] = "lua/gptaudio/limiter.lua",
    ["gptaudio.loop.ngx"] = "lua/gptaudio/loop/ngx.lua",
    ["gptaudio.loop.uv"] = "lua/gptaudio/loop/uv.lua",
    ["gptaudio.map"] = "lua/gptaudio/map.lua",
    ["gptaudio.models"] = "lua/gptaudio/models.lua",
    ["gptaudio.phone"] = "lua/gptaudio/phone/init.lua",
    ["gptaudio.phone.playout"] = "lua/gptaudio/phone/playout.lua",
    ["gptaudio.phone.twilio"] = "lua/gptaudio/phone/twilio.lua",
    ["gptaudio.request"] = "lua/gptaudio/request.lua",
    ["gptaudio.retry"] = "lua/gptaudio/retry.lua",
    ["gptaudio.schema"] = "lua/gptaudio/schema.lua",
    ["gptaudio.tools"] = "lua/gptaudio/tools.lua",
    ["gptaudio.usage"] = "lua/gptaudio/usage.lua",
    -- END modules
  },
}
