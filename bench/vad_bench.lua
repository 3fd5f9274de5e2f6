-- The two VAD candidates on the labeled set (spec/support/vad_set.lua): WebRTC's
-- classifier (libwebrtc-audio-processing) and the speexdsp preprocessor's, both
-- under the same endpointer, at the default sensitivity and pause, per noise
-- and SNR: the share of 10 ms frames labelled right, the utterance ends found
-- within 300 ms and their mean error, and the work as a share of the audio's
-- own duration (the reference measured in the same run).
--   make bench, or by itself:
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/vad_bench.lua 2>/dev/null
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local vad_set = require "spec.support.vad_set"
local audio = gptaudio.audio

local PAUSE, TOLERANCE = 0.6, 0.3
local set = vad_set.make(16000)
local conditions = { { "none" } }
for _, kind in ipairs{ "brown", "pink", "babble" } do
  for _, snr in ipairs{ 20, 10, 5 } do conditions[#conditions + 1] = { kind, snr } end
end

local spoken = 0
for _, s in ipairs(set.sentences) do spoken = spoken + s[2] - s[1] end
print(("%d sentences (%.1f s of %.1f s), %d utterances at a %.1f s pause; 16 kHz"):format(
  #set.sentences, spoken, set.speech.duration, #vad_set.utterances(set, PAUSE), PAUSE))
print("| noise | SNR | classifier | frames right | ends within 300 ms | mean end error | time / audio |")
print("|---|---|---|---|---|---|---|")
for _, condition in ipairs(conditions) do
  local kind, snr = condition[1], condition[2]
  local buf = snr and vad_set.noisy(set, kind, snr) or set.speech
  for _, classifier in ipairs{ "webrtc", "speex" } do
    local vad = audio.vad{ rate = 16000, classifier = classifier, pause = PAUSE }
    local started = core.now()
    local segments = vad:segments(buf)
    local elapsed = core.now() - started
    local score = vad_set.score(set, segments, PAUSE, TOLERANCE)
    print(("| %s | %s | %s | %.3f | %d/%d | %s | %.4f |"):format(kind, snr and (snr .. " dB") or "-", classifier,
      score.accuracy, math.floor(score.ends_found * score.ends + 0.5), score.ends,
      score.mean_end_error and ("%.0f ms"):format(1000 * score.mean_end_error) or "-", elapsed / buf.duration))
  end
end
