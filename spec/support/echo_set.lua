-- The echo test set, made at test time: the agent's voice (espeak-ng) played
-- into a simulated room (sox: a 30 ms delay, reverberation, 8 dB of loss), the
-- microphone hearing that echo alone first, then the user (another voice)
-- alone, then both at once. Used by spec/echo_spec.lua and bench/echo_bench.lua.
local audio = require("gptaudio").audio
local util = require "spec.support.util"

local echo_set = {}

local FAR = "Your order has shipped and will arrive on Thursday. Is there anything else I can help you with today?"
local NEAR = "Yes, please change the delivery address to my office."
local FAR_AGAIN = "Of course. Which address should I use for the delivery?"

local function run(command)
  assert(util.succeeded(util.spawn_env() .. " " .. command), command)
end

local function speak(dir, name, voice, text, rate)
  local path = dir .. "/" .. name .. ".wav"
  run(("espeak-ng -v %s -w %s %s"):format(voice, util.shell_quote(path), util.shell_quote(text)))
  local resampled = dir .. "/" .. name .. "_r.wav"
  run(("sox %s -r %d -b 16 %s"):format(util.shell_quote(path), rate, util.shell_quote(resampled)))
  return assert(audio.load(resampled))
end

local function silence(rate, seconds) return audio.new{ rate = rate, frames = math.floor(seconds * rate) } end

--- { rate, played, mic, spans = { echo_only = {i, j}, near_only = {i, j} }, near }
--- (frame spans of mic; `near` is the user's voice alone, aligned with mic).
function echo_set.make(rate)
  local dir = util.temp_dir()
  local far = speak(dir, "far", "en-us", FAR, rate)
  local near_voice = speak(dir, "near", "en-us+f3", NEAR, rate)
  local far_again = speak(dir, "far2", "en-us", FAR_AGAIN, rate)
  -- played: far, a gap while the user talks, then the agent again over the user
  local gap = near_voice.frames + math.floor(0.5 * rate)
  local played = audio.new{ rate = rate }:append(far):append(silence(rate, gap / rate)):append(far_again)
    :append(silence(rate, 1))
  util.write_file(dir .. "/played.wav", played:encode("wav"))
  run(("sox %s %s pad 0.03 reverb -w 40 50 60 gain -8"):format(util.shell_quote(dir .. "/played.wav"),
    util.shell_quote(dir .. "/echo.wav")))
  local echo = assert(audio.load(dir .. "/echo.wav")):to_channels(1):slice(1, played.frames)
  local near = audio.new{ rate = rate, frames = far.frames + math.floor(0.25 * rate) }:append(near_voice)
  local double_start = far.frames + gap + math.floor(0.3 * rate)
  near:append(silence(rate, (double_start - near.frames) / rate)):append(near_voice)
  near = near:slice(1, played.frames)
  local mic = audio.new{ rate = rate }:append(echo):mix(near)
  local near_first = far.frames + math.floor(0.25 * rate) + 1
  util.remove_tree(dir)
  return {
    rate = rate, played = played, mic = mic, near = near,
    spans = {
      echo_only = { math.floor(1.0 * rate), far.frames },
      near_only = { near_first, near_first + near_voice.frames - 1 },
    },
  }
end

--- Runs the set through a canceller in 20 ms chunks (played first, then heard,
--- as a live loop does); returns the cleaned microphone audio.
function echo_set.cancel(set, canceller)
  local chunk = math.floor(set.rate / 50)
  local out = audio.new{ rate = set.rate }
  for first = 1, set.mic.frames, chunk do
    canceller:playback(set.played:slice(first, first + chunk - 1))
    out:append(assert(canceller:capture(set.mic:slice(first, first + chunk - 1))))
  end
  return out
end

local function db(x) return 20 * math.log(x, 10) end

--- Echo return loss enhancement over the echo-only span, and the level the
--- user's voice keeps when alone (out against in), both in dB.
function echo_set.measure(set, out)
  local function rms(buf, span) return buf:slice(span[1], span[2]):rms() end
  local s = set.spans
  return {
    erle = db(rms(set.mic, s.echo_only) / rms(out, s.echo_only)),
    near_kept = db(rms(out, s.near_only) / rms(set.mic, s.near_only)),
  }
end

return echo_set
