-- gptaudio.ffmpeg, the optional module that reads and writes every format
-- through FFmpeg's libraries (m4a/AAC, mp3, ogg/vorbis, opus, flac, webm, mp4,
-- aiff, caf in; flac, mp3, opus, aac out). gptaudio works without it, WAV only.
-- LuaRocks cannot build a module only when a library is there, so it is a rock
-- of its own: without FFmpeg's headers this rockspec stops and says which.
rockspec_format = "3.0"
package = "gptaudio-ffmpeg"
version = "scm-1"
source = { url = "git+https://example.invalid/gptaudio.git" }
description = {
  summary = "Every audio format for gptaudio, through FFmpeg's libraries",
  license = "MIT",
}
dependencies = { "lua >= 5.1", "gptaudio" }
external_dependencies = {
  FFMPEG = { header = "libavformat/avformat.h" },
}
build = {
  type = "builtin",
  modules = {
    ["gptaudio.ffmpeg"] = {
      sources = {
        -- BEGIN sources (scripts/sync-rockspec writes this list)
        "src/ffmpeg/lua_audio_reader.c",
        "src/ffmpeg/lua_ffmpeg.c",
        "src/ffmpeg/media_decoder.c",
        "src/ffmpeg/media_encoder.c",
        "src/ffmpeg/media_input.c",
        -- END sources
      },
      defines = { "_GNU_SOURCE" },
      incdirs = { "src", "src/ffmpeg", "$(FFMPEG_INCDIR)" },
      libdirs = { "$(FFMPEG_LIBDIR)" },
      libraries = { "avformat", "avcodec", "swresample", "avutil", "m" },
    },
  },
}
