-- AudioBuffer:resample against libsamplerate called directly from C
-- (bench/resample_ref.c, built here into build/bench/) on the same 60 s of
-- real speech, 48 kHz -> 24 kHz, same converter, in one run. Also the figures
-- behind the default quality: speed and what each converter does to a 10 kHz
-- tone (kept by the model's 24 kHz) and a 14 kHz one (must go).
--   make bench, or by itself:
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/resample_bench.lua
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local util = require "spec.support.util"
local audio = gptaudio.audio

-- Rounds alternate C and Lua so that both meet the same machine load; each
-- takes its best of REPEATS runs, and the figure is the best over all rounds.
local ROUNDS, REPEATS = 4, 3
local SECONDS = 60
local FROM, TO = 48000, 24000
local QUALITIES = { "best", "medium", "fastest", "zoh", "linear" }
local CONVERTER = { best = 0, medium = 1, fastest = 2, zoh = 3, linear = 4 } -- libsamplerate's SRC_* numbers
local REF = "build/bench/resample_ref"

local run = util.read_command

local function machine()
  local model = run("lscpu 2>/dev/null"):match("Model name:%s*([^\n]+)") or "unknown cpu"
  return ("%s cpus (nproc), %s"):format(run("nproc"):gsub("%s+$", ""), model)
end

local cc = os.getenv("CC") or "cc"
assert(util.succeeded("mkdir -p build/bench && " .. cc .. " -std=c99 -O2 -Wall -Wextra -Werror -o " .. REF ..
                      " bench/resample_ref.c $(pkg-config --cflags --libs samplerate)"), "cannot build " .. REF)

-- 60 s of real speech: the ALSA recordings one after another, looped.
local speech = audio.new{ rate = FROM }
local names = { "Front_Center", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right",
                "Side_Left", "Side_Right" }
while speech.duration < SECONDS do
  for _, name in ipairs(names) do speech:append(assert(audio.load("/usr/share/sounds/alsa/" .. name .. ".wav"))) end
end
speech = speech:slice(1, SECONDS * FROM)

local input, output = os.tmpname(), os.tmpname()
util.write_file(input, speech:encode("f32"))

local function time_lua(quality)
  local best, out = math.huge, nil
  for _ = 1, REPEATS do
    local start = core.now()
    out = speech:resample(TO, quality)
    best = math.min(best, core.now() - start)
  end
  return best, out
end

local function time_c(quality)
  local line = run(("%s %s 1 %.17g %d %d %s"):format(REF, input, TO / FROM, CONVERTER[quality], REPEATS, output))
  local seconds, frames = line:match("^(%S+) (%d+)")
  assert(seconds, "the C reference failed: " .. line)
  local g = assert(io.open(output, "rb"))
  local bytes = g:read("*a")
  g:close()
  return tonumber(seconds), tonumber(frames), bytes
end

-- Frames over which two f32 streams agree from the start.
local function agreeing_frames(a, b)
  local n = math.min(#a, #b) / 4
  if a:sub(1, n * 4) == b:sub(1, n * 4) then return n end
  local lo, hi = 0, n -- a[1..lo] agree, a[1..hi] do not
  while hi - lo > 1 do
    local mid = math.floor((lo + hi) / 2)
    if a:sub(1, mid * 4) == b:sub(1, mid * 4) then lo = mid else hi = mid end
  end
  return lo
end

-- Level in dB of a tone after 48 kHz -> 24 kHz, against its level before.
local function tone_db(hz, quality)
  local t = {}
  for i = 1, FROM do t[i] = 0.5 * math.sin(2 * math.pi * hz * (i - 1) / FROM) end
  local out = audio.from_samples(t, FROM):resample(TO, quality):slice(TO / 10, TO * 9 / 10)
  return 20 * math.log(math.max(out:rms(), 1e-12) / (0.5 / math.sqrt(2)), 10)
end

print(("Resampling %d s of speech, %d Hz -> %d Hz, mono, best of %d runs; %s; %s, gptaudio %s"):format(
  SECONDS, FROM, TO, ROUNDS * REPEATS, machine(), _VERSION, gptaudio.VERSION))
print()
print("| quality | C src_simple (ms) | AudioBuffer:resample (ms) | ratio | x realtime | same samples "
      .. "| 10 kHz | 14 kHz |")
print("|---|---:|---:|---:|---:|---|---:|---:|")
for _, quality in ipairs(QUALITIES) do
  local c_best, lua_best, c_frames, c_bytes, out = math.huge, math.huge, nil, nil, nil
  for _ = 1, ROUNDS do
    local c_seconds, lua_seconds
    c_seconds, c_frames, c_bytes = time_c(quality)
    lua_seconds, out = time_lua(quality)
    c_best, lua_best = math.min(c_best, c_seconds), math.min(lua_best, lua_seconds)
  end
  local agree = agreeing_frames(c_bytes, out:encode("f32"))
  print(("| %s | %.1f | %.1f | %.3f | %.0f | %s | %.2f dB | %.1f dB |"):format(
    quality, c_best * 1000, lua_best * 1000, lua_best / c_best, SECONDS / lua_best,
    agree == math.min(c_frames, out.frames) and ("all %d of %d/%d frames"):format(agree, c_frames, out.frames)
      or ("first %d frames"):format(agree),
    tone_db(10000, quality), tone_db(14000, quality)))
end

os.remove(input)
os.remove(output)
