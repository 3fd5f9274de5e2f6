-- gptaudio: OpenAI's audio-native chat model for Lua, without blocking.
--
-- gptaudio.new{...} makes a Client (configuration; see client.lua) on an
-- engine (engine/init.lua); gptaudio.step, pollfd, events, timeout and active
-- drive the default engine, the one every client uses unless given another.
local core = require "gptaudio.core"
local client = require "gptaudio.client"
local engine = require "gptaudio.engine"
local scheduler = require "gptaudio.engine.scheduler"
local capture = require "gptaudio.audio.capture"
local sink = require "gptaudio.audio.sink"

-- The sources and sinks are Lua over the C buffers; they live beside them.
core.audio.capture = capture.capture
core.audio.playback, core.audio.sink, core.audio.recording_sink = sink.playback, sink.callback, sink.recording

-- LÖVE's SoundData in, beside the C constructors.
core.audio.from_sounddata = require "gptaudio.sounddata"

local gptaudio = {
  VERSION = core.VERSION,
  Error = core.Error,
  audio = core.audio,
  json = require "gptaudio.json",
  models = require "gptaudio.models",
  tools = require "gptaudio.tools",
  voice = require "gptaudio.voice",
  engine = engine,
  new = client.new,
  spawn = scheduler.spawn,
}

--- Steps the default engine (see engine:step); returns how many requests are active.
function gptaudio.step(timeout)
  return engine.default():drive_step(timeout, "gptaudio.step")
end

--- The default engine's fd to wait on (nil without epoll).
function gptaudio.pollfd()
  return engine.default():pollfd()
end

--- cqueues style: wait for the pollfd to become readable.
function gptaudio.events()
  return "r"
end

--- Seconds until the default engine has something to do; nil when nothing is pending.
function gptaudio.timeout()
  return engine.default():timeout()
end

--- How many requests of the default engine are active.
function gptaudio.active()
  return engine.default():active()
end

--- The Neovim plugin's setup (lazy.nvim calls require("gptaudio").setup(opts)):
--- see lua/gptaudio/nvim/init.lua. Outside Neovim it raises.
function gptaudio.setup(opts)
  if type(rawget(_G, "vim")) ~= "table" then error("gptaudio.setup: only inside Neovim (see doc/API.md)", 2) end
  return require("gptaudio.nvim").setup(opts)
end

return gptaudio
