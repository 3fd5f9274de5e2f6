-- Long recordings made at test time: espeak-ng sentences (each trimmed to its
-- speech) separated by pauses of known lengths, over sox's background noise,
-- as 16 kHz mono 16-bit WAV. What the specs and the bench of long recordings
-- check against: where each sentence truly starts and ends.
--
--   local rec = long_audio.build(dir, {
--     sentences = { { text = "...", voice = "en+f3", speaker = "A" }, ... },
--     pauses = { 1.2, 0.8, ... },   -- seconds after each sentence (cycled)
--     lead = 0.5, noise = 0.004,    -- silence before the first; white noise amplitude
--   })
--   rec.path, rec.duration, rec.sentences[i] = { text, speaker, start, stop, seconds, path }, rec.dir (dir)
--   long_audio.ear(rec)   the sentences as the fake server's ear takes them
--   long_audio.repeated(dir, rec, times)   rec played `times` times over (a longer recording)
--   long_audio.rounds(list, times)   list (texts or sentence tables) `times` times over, as sentences
--   long_audio.MEETING   the texts of a weekly meeting, each 0.3 s or more longer or shorter than the others
--                        (the fake server's ear tells sentences by length)
-- A spec's recording and a fake client whose ear knows it: setup_.recording_client.
local util = require "spec.support.util"

local long_audio = {}

long_audio.MEETING = {
  "Good morning everyone.",
  "Let us begin the weekly meeting now.",
  "The first item on the agenda is the budget for next year.",
  "Sales grew by twelve percent in the third quarter which is better than we planned for.",
  "Thank you.",
  "Any questions before we move on to the hiring plan?",
}

function long_audio.rounds(list, times)
  local sentences = {}
  for _ = 1, times do
    for _, item in ipairs(list) do
      sentences[#sentences + 1] = type(item) == "string" and { text = item } or item
    end
  end
  return sentences
end

local RATE = 16000
local q = util.shell_quote

local function run(command)
  assert(util.succeeded(command .. " 2>/dev/null"), "failed: " .. command)
end

local function seconds_of(path)
  return tonumber((util.read_command("soxi -D " .. q(path)):gsub("%s+$", "")))
end

local FORMAT = ("-r %d -c 1 -b 16 -e signed-integer"):format(RATE)

local function silence(path, seconds)
  run(("sox -n %s %s trim 0 %.3f"):format(FORMAT, q(path), seconds))
end

function long_audio.build(dir, spec)
  local parts, sentences = {}, {}
  local lead = spec.lead or 0.5
  local at = lead
  silence(dir .. "/lead.wav", lead)
  parts[1] = dir .. "/lead.wav"
  for i, s in ipairs(spec.sentences) do
    local raw, trimmed = ("%s/raw%d.wav"):format(dir, i), ("%s/sentence%d.wav"):format(dir, i)
    run(("espeak-ng %s -w %s %s"):format(s.voice and ("-v " .. q(s.voice)) or "", q(raw), q(s.text)))
    -- Trimmed to its speech at both ends, so `start` is where the voice starts.
    run(("sox %s %s %s silence 1 0.01 0.5%% reverse silence 1 0.01 0.5%% reverse"):format(q(raw), FORMAT, q(trimmed)))
    local seconds = seconds_of(trimmed)
    sentences[i] = { text = s.text, speaker = s.speaker, start = at, stop = at + seconds, seconds = seconds,
                     path = trimmed }
    parts[#parts + 1] = trimmed
    local pause = spec.pauses[(i - 1) % #spec.pauses + 1]
    local gap = ("%s/pause%d.wav"):format(dir, i)
    silence(gap, pause)
    parts[#parts + 1] = gap
    at = at + seconds + pause
  end
  local quoted = {}
  for i, p in ipairs(parts) do quoted[i] = q(p) end
  local speech, noise, path = dir .. "/speech.wav", dir .. "/noise.wav", dir .. "/recording.wav"
  run(("sox %s %s"):format(table.concat(quoted, " "), q(speech)))
  local duration = seconds_of(speech)
  run(("sox -n %s %s synth %.3f whitenoise vol %g"):format(FORMAT, q(noise), duration, spec.noise or 0.004))
  run(("sox -m -v 1 %s -v 1 %s %s"):format(q(speech), q(noise), q(path)))
  return { path = path, duration = duration, sentences = sentences, dir = dir }
end

--- The sentences as the fake server's ear takes them: {text, seconds, speaker}.
function long_audio.ear(rec)
  local list = {}
  for i, s in ipairs(rec.sentences) do list[i] = { text = s.text, seconds = s.seconds, speaker = s.speaker } end
  return list
end

--- A recording of rec played `times` times over, and its sentences at their times.
function long_audio.repeated(dir, rec, times)
  local path = dir .. "/repeated.wav"
  local quoted = {}
  for i = 1, times do quoted[i] = q(rec.path) end
  run(("sox %s %s"):format(table.concat(quoted, " "), q(path)))
  local sentences = {}
  for k = 0, times - 1 do
    for _, s in ipairs(rec.sentences) do
      sentences[#sentences + 1] = { text = s.text, speaker = s.speaker, seconds = s.seconds,
                                    start = s.start + k * rec.duration, stop = s.stop + k * rec.duration }
    end
  end
  return { path = path, duration = rec.duration * times, sentences = sentences }
end

return long_audio
