-- gptaudio: OpenAI's audio-native chat model for Lua, without blocking.
local core = require "gptaudio.core"
local client = require "gptaudio.client"
local scheduler = require "gptaudio.engine.scheduler"

-- The calls that add themselves to the client's registry of kinds
-- (client:transcribe, client:translate, client:speak).
require "gptaudio.calls.transcribe"
require "gptaudio.calls.translate"
require "gptaudio.calls.speak"
-- client:run_tools and client:conversation.
require "gptaudio.conversation"

local gptaudio = {
  VERSION = core.VERSION,
  Error = core.Error,
  audio = core.audio,
  json = require "gptaudio.json",
  models = require "gptaudio.models",
  tools = require "gptaudio.tools",
  new = client.new,
  spawn = scheduler.spawn,
}

return gptaudio
