-- The labeled voice-activity test set, made at test time: espeak-ng sentences
-- placed at known offsets with pauses of 0.3 to 2 s, and the same speech
-- mixed with noise made by sox (brown, pink) or with babble (quiet speech of
-- other voices, overlapping) at a chosen SNR. Used by spec/vad_spec.lua and
-- bench/vad_bench.lua.
--
--   local set = vad_set.make(16000)              -- speech, labels, utterances
--   local noisy = vad_set.noisy(set, "pink", 20)  -- an AudioBuffer at 20 dB SNR
local audio = require("gptaudio").audio
local util = require "spec.support.util"

local vad_set = {}

local SENTENCES = {
  "The quick brown fox jumps over the lazy dog.",
  "Could you tell me the weather for tomorrow?",
  "Please book a table for two at eight.",
  "I would like to check the status of my order.",
  "Turn left at the second traffic light.",
  "What time does the museum open on Sunday?",
  "My account number is four five six seven.",
  "Thank you, that is all I needed today.",
}
-- The pause after each sentence, in seconds: the range the live-voice issue asks for.
local PAUSES = { 0.3, 1.2, 0.5, 2.0, 0.8, 0.4, 1.5, 1.0 }
local LEAD = 0.8
-- Other voices, quieter, for the babble.
local BABBLE = {
  { "en-us+f3", "Yes I think so, and then we went down to the harbour to see the boats." },
  { "en-gb+m4", "Well it depends on the price, doesn't it, but I would say it is fair." },
  { "en+f2", "Someone left the door open again, and the cat got out into the garden." },
  { "en-us+m2", "We should have taken the train instead of driving all the way there." },
}
-- The level below which espeak-ng's output counts as its own silence.
local TRIM_DBFS = -45

local function run(command)
  assert(util.succeeded(util.spawn_env() .. " " .. command), command)
end

local function speak(text, voice, rate, dir, name)
  local path = dir .. "/" .. name .. ".wav"
  run(("espeak-ng -v %s -w %s %s"):format(util.shell_quote(voice), util.shell_quote(path), util.shell_quote(text)))
  return assert(audio.load(path)):trim(TRIM_DBFS):resample(rate)
end

local function rms_of(buf, spans)
  local sum, count = 0, 0
  for _, span in ipairs(spans) do
    local piece = buf:slice(span[1], span[2])
    sum = sum + piece:rms() ^ 2 * piece.frames
    count = count + piece.frames
  end
  return math.sqrt(sum / count)
end

--- The clean speech at `rate` with its labels: sentences = { {start, stop} in
--- seconds }, frames (1-based frame spans of the sentences) and the speech's
--- rms over its sentences.
function vad_set.make(rate)
  local dir = util.temp_dir()
  local speech = audio.new{ rate = rate, frames = math.floor(LEAD * rate) }
  local sentences, spans = {}, {}
  for i, text in ipairs(SENTENCES) do
    local said = speak(text, "en-us", rate, dir, "s" .. i)
    local first = speech.frames + 1
    speech:append(said)
    sentences[#sentences + 1] = { (first - 1) / rate, speech.frames / rate }
    spans[#spans + 1] = { first, speech.frames }
    speech:append(audio.new{ rate = rate, frames = math.floor(PAUSES[i] * rate) })
  end
  local babble = audio.new{ rate = rate }
  for i, entry in ipairs(BABBLE) do
    local voice = speak(entry[2], entry[1], rate, dir, "b" .. i)
    -- each voice starts elsewhere and repeats until the speech's end
    local track = audio.new{ rate = rate, frames = math.floor((i - 1) * 0.7 * rate) }
    while track.frames < speech.frames do track:append(voice) end
    babble:mix(track:slice(1, speech.frames))
  end
  util.remove_tree(dir)
  return { rate = rate, speech = speech, sentences = sentences, spans = spans,
           speech_rms = rms_of(speech, spans), babble = babble }
end

local function noise_of(set, kind)
  if kind == "babble" then return set.babble end
  local dir = util.temp_dir()
  local path = dir .. "/noise.wav"
  run(("sox -R -n -r %d -c 1 -b 16 %s synth %f %snoise"):format(set.rate, util.shell_quote(path),
      set.speech.frames / set.rate + 0.1, kind))
  local noise = assert(audio.load(path)):slice(1, set.speech.frames)
  util.remove_tree(dir)
  return noise
end

--- The speech with `kind` noise ("brown", "pink" or "babble") mixed in at
--- `snr` dB (speech rms over its sentences against the noise's rms).
function vad_set.noisy(set, kind, snr)
  local noise = noise_of(set, kind)
  local factor = set.speech_rms / (noise:rms() * 10 ^ (snr / 20))
  return audio.new{ rate = set.rate }:append(set.speech):mix(noise, factor)
end

--- The utterances an endpointer waiting `pause` seconds should report:
--- sentences closer than `pause` merge into one { start, stop }.
function vad_set.utterances(set, pause)
  local out = {}
  for _, s in ipairs(set.sentences) do
    local last = out[#out]
    if last and s[1] - last[2] < pause then last[2] = s[2] else out[#out + 1] = { s[1], s[2] } end
  end
  return out
end

local function inside(spans, t, first, last)
  for _, span in ipairs(spans) do
    if t >= span[first] and t < span[last] then return true end
  end
  return false
end

--- How segments ({ {start =, stop =}, ... }) score against the labels: the
--- share of 10 ms frames labelled alike (speech inside a sentence), the share
--- of utterance ends (for the endpointer's `pause`) that a segment's stop
--- finds within `tolerance` seconds (and their mean error), and how many
--- segments there are.
function vad_set.score(set, segments, pause, tolerance)
  local frames, alike = 0, 0
  local duration = set.speech.frames / set.rate
  for t = 0.005, duration, 0.01 do
    frames = frames + 1
    if inside(set.sentences, t, 1, 2) == inside(segments, t, "start", "stop") then alike = alike + 1 end
  end
  local ends, found, error_sum = vad_set.utterances(set, pause), 0, 0
  for _, utterance in ipairs(ends) do
    for _, segment in ipairs(segments) do
      local error = math.abs(segment.stop - utterance[2])
      if error <= tolerance then
        found, error_sum = found + 1, error_sum + error
        break
      end
    end
  end
  return { accuracy = alike / frames, ends_found = found / #ends, ends = #ends, segments = #segments,
           mean_end_error = found > 0 and error_sum / found or nil }
end

vad_set.PAUSES = PAUSES
return vad_set
