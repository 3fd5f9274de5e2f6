-- Where may a long recording be cut? The chunker's energy pause finder
-- (level meter + pauses.lua) against the live-voice VAD (audio.vad, WebRTC)
-- on the same recordings: espeak-ng sentences with known pauses, over white
-- noise and over babble (other voices, other sentences, 20 and 10 dB down). For
-- each detector: how many of the true pauses (>= 0.5 s) it finds (a quiet run
-- of at least 0.3 s inside the pause), and how many quiet runs it reports
-- inside sentences (a cut there would split a sentence). Then the chunker
-- (energy: its threshold per 45 s, its fallback to the longest quiet run):
-- its cuts (target 8 s, at most 12 s) that fall inside a sentence.
--   LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/pause_finder_bench.lua
local gptaudio = require "gptaudio"
local chunker = require "gptaudio.chunker"
local pauses = require "gptaudio.pauses"
local recording = require "gptaudio.recording"
local long_audio = require "spec.support.long_audio"
local util = require "spec.support.util"

local audio = gptaudio.audio
local RATE = 16000
local WINDOW = 160
local MIN_SILENCE = 0.3
-- The chunker judges at most 45 s at a time: the energy threshold is set per such stretch.
local STRETCH = 45

local BABBLE = {
  "The weather tomorrow looks cold and rainy in the north.", "Did you see the match last night it was amazing.",
  "I will be late for dinner so please start without me.", "Where did you park the car this morning.",
}

local function run(command) assert(util.succeeded(command .. " 2>/dev/null"), command) end

-- Quiet runs {start, stop} in seconds by the energy finder.
local function energy_runs(buf)
  local levels = audio.level_meter(WINDOW):feed(buf)
  local runs, per = {}, STRETCH * RATE / WINDOW
  for first = 1, #levels, per do
    local last = math.min(#levels, first + per - 1)
    local db = pauses.threshold(levels, first, last)
    for _, r in ipairs(pauses.find(levels, first, last, db, MIN_SILENCE * RATE / WINDOW)) do
      runs[#runs + 1] = { (r[1] - 1) * WINDOW / RATE, r[2] * WINDOW / RATE }
    end
  end
  return runs
end

-- Quiet runs by the VAD: the gaps of at least MIN_SILENCE between its speech segments.
local function vad_runs(buf)
  local vad = audio.vad{ rate = RATE, pause = MIN_SILENCE }
  local speech = vad:segments(buf)
  vad:close()
  local runs, at = {}, 0
  for _, s in ipairs(speech) do
    if s.start - at >= MIN_SILENCE then runs[#runs + 1] = { at, s.start } end
    at = s.stop
  end
  if buf.duration - at >= MIN_SILENCE then runs[#runs + 1] = { at, buf.duration } end
  return runs
end

local function score(rec, runs)
  local found, inside = 0, 0
  local true_pauses = 0
  for i = 1, #rec.sentences - 1 do
    local a, b = rec.sentences[i].stop, rec.sentences[i + 1].start
    if b - a >= 0.5 then
      true_pauses = true_pauses + 1
      for _, r in ipairs(runs) do
        if r[1] >= a - 0.05 and r[2] <= b + 0.05 and r[2] - r[1] >= MIN_SILENCE then
          found = found + 1
          break
        end
      end
    end
  end
  for _, r in ipairs(runs) do
    local middle = (r[1] + r[2]) / 2
    for _, s in ipairs(rec.sentences) do
      if middle > s.start + 0.05 and middle < s.stop - 0.05 then inside = inside + 1 break end
    end
  end
  return found, true_pauses, inside
end

local dir = util.temp_dir()
local rec = long_audio.build(dir, { sentences = long_audio.rounds(long_audio.MEETING, 4),
                                    pauses = { 1.0, 1.6, 0.7, 2.2, 1.2, 0.5 }, noise = 0.004 })

-- Babble: other voices saying other things, looped over the recording, 10 dB down.
local babble = {}
for i = 1, 8 do babble[i] = { text = BABBLE[(i - 1) % #BABBLE + 1], voice = i % 2 == 0 and "en+f3" or "en+m7" } end
local bdir = dir .. "/babble"
run("mkdir -p " .. util.shell_quote(bdir))
local b = long_audio.build(bdir, { sentences = babble, pauses = { 0.2 }, lead = 0, noise = 0.001 })
-- The recording with the babble looped under it, `db` down.
local function with_babble(db)
  local looped, mixed = ("%s/babble%d.wav"):format(dir, db), ("%s/mixed%d.wav"):format(dir, db)
  run(("sox %s %s repeat %d trim 0 %.3f vol %.4f"):format(util.shell_quote(b.path), util.shell_quote(looped),
                                                         math.ceil(rec.duration / b.duration), rec.duration,
                                                         10 ^ (-db / 20)))
  run(("sox -m -v 1 %s -v 1 %s %s"):format(util.shell_quote(rec.path), util.shell_quote(looped),
                                           util.shell_quote(mixed)))
  return mixed
end

print(("%d sentences, %.0f s; a pause counts when a quiet run of %.1f s or more lies inside it"):format(
  #rec.sentences, rec.duration, MIN_SILENCE))
print("| recording | detector | true pauses found | quiet runs inside sentences |")
print("|---|---|---:|---:|")
for _, case in ipairs{ { "white noise", rec.path }, { "white noise + babble at -20 dB", with_babble(20) },
                      { "white noise + babble at -10 dB", with_babble(10) } } do
  local buf = assert(audio.load(case[2]))
  for _, detector in ipairs{ { "energy (level meter)", energy_runs }, { "VAD (WebRTC)", vad_runs } } do
    local found, total, inside = score(rec, detector[2](buf))
    print(("| %s | %s | %d / %d | %d |"):format(case[1], detector[1], found, total, inside))
  end
end
print()
print("| recording | chunker cuts | inside a sentence |")
print("|---|---:|---:|")
for _, case in ipairs{ { "white noise", rec.path }, { "white noise + babble at -20 dB", dir .. "/mixed20.wav" },
                      { "white noise + babble at -10 dB", dir .. "/mixed10.wav" } } do
  local cutter = chunker.new(assert(recording.open(case[2])), { target = 8, max = 12, min_silence = MIN_SILENCE })
  local cuts, inside = 0, 0
  while true do
    local piece = cutter:next()
    if not piece or piece.stop >= rec.duration - 0.01 then break end
    cuts = cuts + 1
    for _, s in ipairs(rec.sentences) do
      if piece.stop > s.start + 0.05 and piece.stop < s.stop - 0.05 then inside = inside + 1 break end
    end
  end
  print(("| %s | %d | %d |"):format(case[1], cuts, inside))
end
util.remove_tree(dir)
