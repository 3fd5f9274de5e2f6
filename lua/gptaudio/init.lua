-- gptaudio: OpenAI's audio-native chat model for Lua, without blocking.
local core = require "gptaudio.core"
local client = require "gptaudio.client"
local scheduler = require "gptaudio.scheduler"

local gptaudio = {
  VERSION = core.VERSION,
  Error = core.Error,
  audio = core.audio,
  json = require "gptaudio.json",
  new = client.new,
  spawn = scheduler.spawn,
}

return gptaudio
