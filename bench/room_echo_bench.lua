-- The voice agent's echo path on a real sound server: a PulseAudio daemon of
-- the bench's own (spec/support/pulse.lua) whose speaker leaks into the room
-- (the microphone) through module-loopback, attenuated, as a laptop's speaker
-- does into its microphone. The agent's own sink (pacat on the speaker) plays
-- a reply; the agent's own source (parec on the room's monitor) hears it; each
-- chunk goes through gptaudio.voice.echo_path as in the agent.
--   The echo's delay behind sink:played (the reference), by cross-correlation,
--   and the ERLE over the reply's first second and after it.
--   DIRECT=1: the speaker's own monitor as the microphone (no loopback, no attenuation).
--   LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/5.4/?.so;;" \
--     lua5.4 bench/room_echo_bench.lua [loopback_ms] [attenuation_db] [tail]
local gptaudio = require "gptaudio"
local echo_path = require "gptaudio.voice.echo_path"
local pulse = require "spec.support.pulse"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local audio = gptaudio.audio
local RATE = 24000
local LOOPBACK_MS = tonumber(arg[1]) or 20
local ATTENUATION_DB = tonumber(arg[2]) or 6
local TAIL = tonumber(arg[3]) or 0.25
local ANSWER = "Tomorrow starts cloudy, then the sun comes out by noon and it stays warm and dry all evening."

local function db(x) return 20 * math.log(x, 10) end

-- The lag (frames) at which b best matches a delayed copy in a, within max_lag.
local function delay_of(a, b, max_lag)
  local x, y = {}, {}
  for i = 1, a.frames do x[i] = a:sample(i, 1) end
  for i = 1, b.frames do y[i] = b:sample(i, 1) end
  local best, best_lag = -math.huge, 0
  for lag = 0, max_lag, 24 do
    local sum = 0
    for i = 1, math.min(#y, #x - lag), 4 do sum = sum + y[i] * x[i + lag] end
    if sum > best then best, best_lag = sum, lag end
  end
  return best_lag
end

local dir = util.temp_dir()
local server = pulse.start()
local engine = gptaudio.engine.new()
local ok, err = pcall(function()
  server:use()
  local module = server:pactl(("load-module module-loopback source=%s sink=%s latency_msec=%d")
                              :format(server.monitor, server.room, LOOPBACK_MS)):match("%d+")
  assert(module, "no loopback")
  local input = assert(server:pactl("list short sink-inputs"):match("(%d+)%s+%S+%s+%S+%s+module%-loopback"))
  server:pactl(("set-sink-input-volume %s -%ddB"):format(input, ATTENUATION_DB))
  local reply = voice_script.speech(ANSWER, dir, "a")
  local sink = audio.playback{ rate = RATE, device = server.sink, engine = engine }
  -- What the path is given as reference, kept for the delay.
  local reference = audio.new{ rate = RATE }
  local recorded = setmetatable({ played = function(_, from, to)
    local played = sink:played(from, to)
    reference:append(played)
    return played
  end }, { __index = function(_, k)
    local v = sink[k]
    if type(v) == "function" then return function(_, ...) return v(sink, ...) end end
    return v
  end })
  local path = echo_path.new{ rate = RATE, sink = recorded, tail = TAIL }
  local mic, clean = audio.new{ rate = RATE }, audio.new{ rate = RATE }
  local microphone = os.getenv("DIRECT") and server.monitor or server.room .. ".monitor"
  local source = assert(audio.capture{ rate = RATE, device = microphone, engine = engine })
  local started
  assert(source:start(function(chunk, at)
    if not started then return end
    mic:append(chunk)
    clean:append(path:process(chunk, at))
  end))
  -- The null sinks wake up (up to 2 s), then 0.5 s of quiet, then the reply.
  local t0 = engine.scheduler:now()
  while engine.scheduler:now() - t0 < 2.5 do engine:step(0.01) end
  started = engine.scheduler:now()
  while engine.scheduler:now() - started < 0.5 do engine:step(0.01) end
  sink:play(reply)
  local done
  sink:finish(function() done = true end)
  while not done do engine:step(0.01) end
  local t1 = engine.scheduler:now()
  while engine.scheduler:now() - t1 < 0.5 do engine:step(0.01) end
  source:stop()
  sink:close()
  local n = math.min(mic.frames, reference.frames)
  local lag = delay_of(mic:slice(RATE + 1, math.min(n, 4 * RATE)), reference:slice(RATE + 1, math.min(n, 3 * RATE)),
                       math.floor(0.5 * RATE))
  local level = mic:slice(math.floor(0.5 * RATE), math.floor((0.5 + reply.duration) * RATE)):rms()
  local function over(from, to)
    local i, j = math.floor(from * RATE), math.floor(to * RATE)
    local m = mic:slice(i, j):rms()
    local c = clean:slice(i - math.floor(path:held() * RATE), j - math.floor(path:held() * RATE)):rms()
    return ("%.1f dB"):format(db(m / c))
  end
  print(("loopback %d ms, -%d dB, tail %.2f s: echo %.1f dBFS, %.0f ms behind sink:played; ERLE first second %s, "
         .. "after it %s"):format(LOOPBACK_MS, ATTENUATION_DB, TAIL, db(level), lag / RATE * 1000,
         over(0.5, 1.5), over(1.5, 0.5 + reply.duration)))
end)
engine:close()
server:stop()
util.remove_tree(dir)
if not ok then error(err, 0) end
