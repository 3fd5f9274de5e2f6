-- gptaudio: OpenAI's audio-native chat model for Lua, without blocking.
local core = require "gptaudio.core"

local gptaudio = {
  VERSION = core.VERSION,
  Error = core.Error,
  audio = core.audio,
}

return gptaudio
