-- A LÖVE 11.4 NPC you talk to: hold T and speak, let go, and the innkeeper
-- answers aloud (gptaudio.voice.agent with push-to-talk). Pressing T while
-- she speaks interrupts her: she falls silent at once, the rest of her answer
-- is cancelled, and she remembers only what you heard. The microphone is love.audio.getRecordingDevices()'s
-- first, fed to agent:hear each frame; the answer plays through a queueable
-- source behind audio.sink, which paces it so the agent knows what was
-- heard. Nothing blocks: love.update steps the engine with gptaudio.step(0).
--
--   a game folder with this file and conf.lua, gptaudio/ (lua/gptaudio/ of a
--   checkout) and gptaudio/core.so (its build/jit/gptaudio/core.so) beside
--   them: OPENAI_API_KEY=sk-... love game
--
-- Headless (the spec): GPTAUDIO_LOVE_HEADLESS=1 and GPTAUDIO_LOVE_INPUT=talk.wav
-- play that recording as the microphone; GPTAUDIO_LOVE_KEYS="0.3-2.4,4.1-6"
-- presses T at 0.3 s and lets it go at 2.4 s, and so on (seconds since the
-- game started; key events through love.event, as a player's); by default
-- T is held while the recording lasts. The game quits once the recording has
-- ended and the last answer has been heard, writing its counters and each
-- turn (turn1_heard, turn1_transcript, turn1_latency_server, ...) to
-- GPTAUDIO_LOVE_STATS ("name value" lines). GPTAUDIO_LOVE_TIMEOUT: seconds
-- before it gives up (default 60).
local gptaudio = require "gptaudio"

local RATE, BITS, CHANNELS = 24000, 16, 1
local BUFFERS = 8
local TALK_KEY = "t"
local SAFETY_SECONDS = tonumber(os.getenv("GPTAUDIO_LOVE_TIMEOUT")) or 60
local INPUT = os.getenv("GPTAUDIO_LOVE_INPUT")
local LATENCY_PARTS = { "total", "endpointing", "tools", "upload", "server", "first_byte", "client" }

local client, agent, mic, speaker
local pending = {}       -- pieces the queueable source had no free buffer for
local subtitle, status = "", "hold T and talk"
local stats = { updates = 0, pieces = 0, key_downs = 0 }
local elapsed = 0
local key_script = {} -- headless: { at =, down = }, in time order

local function script_keys(spec)
  for down, up in spec:gmatch("([%d.]+)%-?([%d.]*)") do
    key_script[#key_script + 1] = { at = tonumber(down), down = true }
    if up ~= "" then key_script[#key_script + 1] = { at = tonumber(up), down = false } end
  end
end

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
    status = "listening..."
  elseif ev.type == "thinking" then
    status, subtitle = "thinking...", ""
  elseif ev.type == "transcript" then
    subtitle = subtitle .. ev.delta
  elseif ev.type == "interrupted" then
    subtitle = ev.transcript .. " -"
  elseif ev.type == "turn_done" then
    status = "hold T and talk"
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
    -- ahead: OpenAL is handed up to 150 ms (most of its 8 buffers), so a
    -- frame that comes late does not starve her voice; a barge-in still
    -- silences her at once (stop drops what OpenAL holds).
    sink = gptaudio.audio.sink{ rate = RATE, ahead = 0.15,
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
  if INPUT then script_keys(os.getenv("GPTAUDIO_LOVE_KEYS") or "0") end
end

-- T down while she speaks silences her at once (the agent stops the sink,
-- which stops the source) and cancels the rest of her answer.
function love.keypressed(key)
  if key ~= TALK_KEY then return end
  stats.key_downs = stats.key_downs + 1
  agent:talk(true)
end

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
  while key_script[1] and key_script[1].at <= elapsed do
    local press = table.remove(key_script, 1)
    love.event.push(press.down and "keypressed" or "keyreleased", TALK_KEY, TALK_KEY, false)
  end
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
    local f = assert(io.open(path, "w"))
    for name, value in pairs(stats) do f:write(name, " ", tostring(value), "\n") end
    f:write("subtitle ", subtitle, "\n", "turns ", #agent.turns, "\n")
    for i, turn in ipairs(agent.turns) do
      for _, name in ipairs{ "heard", "received", "interrupted", "status", "cost", "transcript",
                                 "received_transcript" } do
        f:write("turn", i, "_", name, " ", tostring(turn[name]), "\n")
      end
      for _, name in ipairs(LATENCY_PARTS) do
        f:write("turn", i, "_latency_", name, " ", tostring(turn.latency and turn.latency[name]), "\n")
      end
    end
    f:close()
  end
  agent:stop()
  client:close()
end
