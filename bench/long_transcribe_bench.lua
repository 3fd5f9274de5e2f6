-- A two-hour recording through client:transcribe against the fake server's
-- ear with a fixed latency per piece: wall time against the ideal the
-- concurrency allows (ceil(pieces / in flight) x latency), the cutting alone
-- (the chunker over the file, no network), and the process's peak RSS.
--   make bench, or: LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/5.4/?.so;;" \
--     lua5.4 bench/long_transcribe_bench.lua [hours] [latency seconds] [model] [pieces in flight]
-- Without the last, the pieces in flight are what the call picks itself (long.plan).
-- The recording (5 minutes of espeak-ng sentences with pauses over noise,
-- repeated) is built in a temporary folder, removed at the end.
local core = require "gptaudio.core"
local gptaudio = require "gptaudio"
local chunker = require "gptaudio.chunker"
local long = require "gptaudio.calls.long"
local recording = require "gptaudio.recording"
local fake = require "spec.support.fake"
local long_audio = require "spec.support.long_audio"
local util = require "spec.support.util"

local HOURS = tonumber(arg[1]) or 2
local LATENCY = tonumber(arg[2]) or 1.0
local MODEL = arg[3] or "gpt-audio-mini"
local IN_FLIGHT = tonumber(arg[4])
local BASE_MINUTES = 5

local PAUSES = { 1.0, 1.6, 0.7, 2.2, 1.2, 0.5, 3.0 }

local function peak_rss_mb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s+(%d+) kB")
    if kb then return tonumber(kb) / 1024 end
  end
end

local dir = util.temp_dir()
local started = core.now()
local sentences, seconds = {}, 0
while seconds < BASE_MINUTES * 60 do
  for _, text in ipairs(long_audio.MEETING) do
    sentences[#sentences + 1] = { text = text }
    seconds = seconds + 0.1 * #text / 1.5 + 1.5
  end
end
local base = long_audio.build(dir, { sentences = sentences, pauses = PAUSES })
local times = math.ceil(HOURS * 3600 / base.duration)
local rec = long_audio.repeated(dir, base, times)
local built = core.now() - started
print(("recording: %.0f s (%d x %.0f s of %d sentences), built in %.1f s"):format(
  rec.duration, times, base.duration, #base.sentences, built))
local rss_before = peak_rss_mb()

-- The cutting alone: the chunker over the file, no network.
started = core.now()
local cutter = chunker.new(assert(recording.open(rec.path)), { target = 30, max = 1080, min_silence = 0.3 })
local cut_pieces = 0
while cutter:next() do cut_pieces = cut_pieces + 1 end
local cutting = core.now() - started
local rss_cutting = peak_rss_mb()

local server = fake.start()
server:standin(true)
server:ear(long_audio.ear(base), LATENCY)
local client = gptaudio.new{ base_url = server.url, api_key = "sk-bench" }
local latencies, sent = {}, {}
started = core.now()
local tr = assert(client:transcribe(rec.path, {
  model = MODEL, chunk = IN_FLIGHT and { concurrency = IN_FLIGHT } or nil,
  on_progress = function(ev)
    if not sent[ev.piece] then sent[ev.piece] = core.now() end
  end,
  on_event = function(ev)
    if ev.type == "piece" then latencies[#latencies + 1] = core.now() - (sent[ev.piece] or started) end
  end,
}))
local wall = core.now() - started
server:stop()

local expected = 0
for _ in tr.text:gmatch("%S+") do expected = expected + 1 end
local words = 0
for _, s in ipairs(rec.sentences) do for _ in s.text:gmatch("%S+") do words = words + 1 end end
table.sort(latencies)
local plan = long.plan(client, MODEL, { chunk = IN_FLIGHT and { concurrency = IN_FLIGHT } or nil })
local in_flight = math.min(plan.concurrency, tr.pieces)
local ideal = math.ceil(tr.pieces / in_flight) * LATENCY
print(("model %s: %d pieces, %d of %d words back, %s missing"):format(
  MODEL, tr.pieces, expected, words, tr.missing and #tr.missing or "none"))
print(("cutting alone: %.1f s for %.0f s of audio (%.0f x real time), %d pieces"):format(
  cutting, rec.duration, rec.duration / cutting, cut_pieces))
print(("wall %.1f s, ideal %.1f s (%d pieces of about %.0f s, %d in flight, %.1f s each): ratio %.2f"):format(
  wall, ideal, tr.pieces, plan.target, in_flight, LATENCY, wall / ideal))
print(("piece latency (first progress event to its end): p50 %.2f s, p90 %.2f s, max %.2f s"):format(
  latencies[math.ceil(#latencies * 0.5)], latencies[math.ceil(#latencies * 0.9)], latencies[#latencies]))
print(("peak RSS: %.1f MB (%.1f MB before the cutting, %.1f MB after it; the recording is %.0f MB)"):format(
  peak_rss_mb(), rss_before, rss_cutting, rec.duration * 32000 / 1e6))
client:close()
util.remove_tree(dir)
