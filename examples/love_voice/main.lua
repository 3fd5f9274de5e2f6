-- A LÖVE 11.4 NPC you talk to: hold T and speak, let go, and the innkeeper
-- answers aloud (gptaudio.voice.agent with push-to-talk). Talking over her
-- answer interrupts it. The microphone is love.audio.getRecordingDevices()'s
-- first, fed to agent:hear each frame; the answer plays through a queueable
-- source behind audio.sink, which paces it so the agent knows what was
-- heard. Nothing blocks: love.update steps the engine with gptaudio.step(0).
--
--   a game folder with this file and conf.lua, gptaudio/ (lua/gptaudio/ of a
--   checkout) and gptaudio/core.so (its build/jit/gptaudio/core.so) beside
--   them: OPENAI_API_KEY=sk-... love game
--
-- Headless (the spec): GPTAUDIO_LOVE_HEADLESS=1 and GPTAUDIO_LOVE_INPUT=question.wav
-- play that recording as the microphone with T held down while it lasts; the
-- game quits once the answer has been heard, writing the turn to
-- GPTAUDIO_LOVE_STATS ("name value" lines). GPTAUDIO_LOVE_TIMEOUT: seconds
-- before it gives up (default 60).
local gptaudio = require "gptaudio"

local RATE, BITS, CHANNELS = 24000, 16, 1
local BUFFERS = 8
local TALK_KEY = "t"
local SAFETY_SECONDS = tonumber(os.getenv("GPTAUDIO_LOVE_TIMEOUT")) or 60
local INPUT = os.getenv("GPTAUDIO_LOVE_INPUT")

local client, agent, mic, speaker
local pending = {}       -- pieces the queueable source had no free buffer for
local subtitle, status = "", "hold T and talk"
local stats = { updates = 0, pieces = 0 }
local elapsed = 0

local function queue_pending()
  while pending[1] do
    local pointer, nbytes = pending[1]:pointer()
    if not speaker:queue(pointer, 0, nbytes, RATE, BITS, CHANNELS) then return end
    table.remove(pending, 1)
  end
  if not speaker:isPlaying() then speaker:play() end
end

local function on_event(ev)
  if ev.type == "user_speech_start" then
    status, subtitle = "listening...", ""
  elseif ev.type == "thinking" then
    status = "thinking..."
  elseif ev.type == "transcript" then
    subtitle = subtitle .. ev.delta
  elseif ev.type == "interrupted" then
    subtitle = ev.transcript .. " -"
  elseif ev.type == "turn_done" then
    status = "hold T and talk"
    stats.cost, stats.latency_ms = ev.cost, ev.latency and math.floor(ev.latency.total * 1000 + 0.5)
  end
end

function love.load()
  client = gptaudio.new{ voice = "shimmer" }
  speaker = love.audio.newQueueableSource(RATE, BITS, CHANNELS, BUFFERS)
  local source
  if INPUT then
    source = assert(gptaudio.audio.capture{ file = INPUT })
  else
    mic = love.audio.getRecordingDevices()[1]
    if mic then mic:start(RATE * 2, RATE, BITS, CHANNELS) else status = "no microphone" end
  end
  agent = gptaudio.voice.agent{
    client = client, source = source, push_to_talk = true, on_event = on_event,
    system = "You are Maren, a cheerful innkeeper. Answer in one or two short sentences.",
    sink = gptaudio.audio.sink{ rate = RATE,
      play = function(piece)
        stats.pieces = stats.pieces + 1
        if not speaker:isPlaying() then speaker:stop() end -- hands back buffers it already played
        pending[#pending + 1] = piece
        queue_pending()
      end,
      stop = function()
        pending = {}
        speaker:stop()
      end },
  }
  assert(agent:start())
  if INPUT then agent:talk(true) end -- the key held while the recording plays
end

function love.keypressed(key) if key == TALK_KEY then agent:talk(true) end end
function love.keyreleased(key) if key == TALK_KEY then agent:talk(false) end end

function love.update(dt)
  stats.updates = stats.updates + 1
  if mic then
    local sd = mic:getData()
    if sd then
      agent:hear(gptaudio.audio.from_pointer(sd:getPointer(), sd:getSize(), sd:getSampleRate(), sd:getBitDepth(),
                                             sd:getChannelCount()))
    end
  end
  gptaudio.step(0)
  if pending[1] then queue_pending() end
  elapsed = elapsed + dt
  -- Headless: done once the recording has ended and its answer has been heard
  -- (the agent's clock) and has left the source (OpenAL's own buffering).
  local done = INPUT and agent.done and not pending[1] and not speaker:isPlaying()
  if done or elapsed > SAFETY_SECONDS then
    stats.timed_out = not done
    love.event.quit()
  end
end

function love.draw()
  love.graphics.setColor(0.3, 0.5, 0.35)
  love.graphics.rectangle("fill", 40, 60, 80, 120)
  love.graphics.setColor(1, 1, 1)
  love.graphics.print(status, 140, 60)
  love.graphics.printf("Maren: " .. subtitle, 140, 90, 480)
end

function love.quit()
  local path = os.getenv("GPTAUDIO_LOVE_STATS")
  if path then
    local turn = agent.turns[1] or {}
    local f = assert(io.open(path, "w"))
    for name, value in pairs(stats) do f:write(name, " ", tostring(value), "\n") end
    f:write("heard ", tostring(turn.heard), "\n", "received ", tostring(turn.received), "\n")
    f:write("subtitle ", subtitle, "\n")
    f:close()
  end
  agent:stop()
  client:close()
end
