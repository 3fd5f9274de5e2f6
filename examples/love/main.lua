-- A LÖVE 11.4 NPC that answers aloud: the reply streams from gpt-audio-mini
-- and each audio chunk goes straight into a queueable source while the game
-- keeps running. Nothing blocks: love.update drives the client with step(0).
--
--   a game folder with this file and conf.lua, gptaudio/ (lua/gptaudio/ of a
--   checkout) and gptaudio/core.so (its build/jit/gptaudio/core.so) beside
--   them: OPENAI_API_KEY=sk-... love game   (README.md, LÖVE)
--
-- Optional environment: GPTAUDIO_LOVE_QUESTION (what the player says),
-- GPTAUDIO_LOVE_TIMEOUT (seconds before the game gives up, default 60),
-- GPTAUDIO_LOVE_STATS (a file the game writes its counters to when it quits:
-- one "name value" line each) and GPTAUDIO_LOVE_HEADLESS (see conf.lua).
local gptaudio = require "gptaudio"

-- The model speaks 24 kHz mono s16: the source takes the chunks as they come.
local RATE, BITS, CHANNELS = 24000, 16, 1
local BUFFERS = 8
-- Audio gathered before playback starts, so network jitter does not starve the source.
local PREBUFFER_SECONDS = 0.2
local SAFETY_SECONDS = tonumber(os.getenv("GPTAUDIO_LOVE_TIMEOUT")) or 60
local QUESTION = os.getenv("GPTAUDIO_LOVE_QUESTION") or "Greetings, smith. What do you have for sale today?"

local client, request, source
local pending = {}          -- AudioBuffer chunks not yet queued, oldest first
local handed_over = 0       -- seconds of audio queued so far
local subtitle = ""
local stats = { updates = 0, updates_in_flight = 0, chunks = 0, queued_bytes = 0, backpressure = 0, plays = 0 }
local elapsed = 0

local function finished()
  local status = request:status()
  return status == "done" or status == "failed" or status == "cancelled"
end

function love.load()
  client = gptaudio.new{ voice = "onyx" }
  source = love.audio.newQueueableSource(RATE, BITS, CHANNELS, BUFFERS)
  request = client:start("chat", {
    messages = {
      { role = "system", content = "You are Brom, a gruff village blacksmith. Answer in two short sentences." },
      { role = "user", content = QUESTION },
    },
    audio = { format = "pcm16", rate = RATE },
    stream = true,
    on_event = function(ev)
      if ev.type == "audio" and #ev.audio > 0 then
        stats.chunks = stats.chunks + 1
        pending[#pending + 1] = ev.audio
      elseif ev.type == "transcript" then
        subtitle = subtitle .. ev.delta
      end
    end,
  })
end

-- Queues what the source will take, and plays it. A queueable source that
-- ran dry keeps its played buffers queued until LÖVE's audio thread reclaims
-- them, and play() would play them again: stop() hands them back at once.
-- False from queue means every buffer is in use: the chunk stays first in
-- line for the next frame.
local function feed()
  if not source:isPlaying() then source:stop() end
  while pending[1] do
    local chunk = pending[1]
    local pointer, nbytes = chunk:pointer()
    if not source:queue(pointer, 0, nbytes, RATE, BITS, CHANNELS) then
      stats.backpressure = stats.backpressure + 1
      break
    end
    table.remove(pending, 1)
    handed_over = handed_over + chunk.duration
    stats.queued_bytes = stats.queued_bytes + nbytes
  end
  local waiting = source:getFreeBufferCount() < BUFFERS -- queued while stopped: not played yet
  if waiting and not source:isPlaying() and (handed_over >= PREBUFFER_SECONDS or finished()) then
    source:play()
    stats.plays = stats.plays + 1
  end
end

local function write_stats(path)
  local f = assert(io.open(path, "w"))
  for name, value in pairs(stats) do f:write(name, " ", tostring(value), "\n") end
  f:write("subtitle ", subtitle, "\n")
  f:close()
end

function love.update(dt)
  stats.updates = stats.updates + 1
  if not finished() then stats.updates_in_flight = stats.updates_in_flight + 1 end
  gptaudio.step(0) -- the default engine: every client of the game
  feed()
  elapsed = elapsed + dt
  local played = finished() and not pending[1] and not source:isPlaying()
  if played or elapsed > SAFETY_SECONDS then
    stats.timed_out = not played
    local _, err = request:result()
    if err then subtitle = tostring(err) end
    love.event.quit()
  end
end

function love.draw()
  love.graphics.setColor(0.55, 0.35, 0.2)
  love.graphics.rectangle("fill", 40, 60, 80, 120)
  love.graphics.setColor(1, 1, 1)
  love.graphics.print("You: " .. QUESTION, 140, 60)
  love.graphics.printf("Brom: " .. subtitle, 140, 90, 480)
end

function love.quit()
  local path = os.getenv("GPTAUDIO_LOVE_STATS")
  if path then write_stats(path) end
  client:close()
end
