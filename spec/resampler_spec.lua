-- AudioBuffer:resample and the streaming Resampler (libsamplerate): lengths,
-- levels, and chunked streams equal to the one-shot result sample for sample.
local audio = require("gptaudio").audio
local setup_ = require "spec.support.setup"

local FRONT_CENTER = "/usr/share/sounds/alsa/Front_Center.wav"

local function sine_buffer(hz, rate, seconds, amplitude)
  local t = {}
  for i = 1, math.floor(rate * seconds) do t[i] = amplitude * math.sin(2 * math.pi * hz * (i - 1) / rate) end
  return audio.from_samples(t, rate)
end

-- Streams buf through rs in chunks whose sizes next_size() gives; returns the joined output.
local function stream(rs, buf, next_size, as_pcm16)
  local out
  local first = 1
  while first <= buf.frames do
    local size = next_size()
    local chunk = buf:slice(first, first + size - 1)
    local piece = assert(rs:process(as_pcm16 and chunk:encode("pcm16") or chunk))
    if out then out:append(piece) else out = piece end
    first = first + size
  end
  return out:append(assert(rs:flush()))
end

-- The two outputs agree exactly over their common length, which misses at most 2 frames.
local function assert_same_stream(expected, got)
  local common = math.min(expected.frames, got.frames)
  assert.is_true(math.abs(expected.frames - got.frames) <= 2,
                 ("lengths %d and %d"):format(expected.frames, got.frames))
  assert.equal(expected.rate, got.rate)
  assert.equal(expected.channels, got.channels)
  assert.is_true(expected:slice(1, common):encode("f32") == got:slice(1, common):encode("f32"),
                 "samples differ within the common length")
end

local function fixed(size) return function() return size end end

describe("AudioBuffer:resample", function()
  local recording = assert(audio.load(FRONT_CENTER))

  it("48 kHz to 24 kHz halves the frames (+-1) and keeps the duration", function()
    local half = recording:resample(24000)
    assert.equal(24000, half.rate)
    assert.equal(1, half.channels)
    assert.is_true(math.abs(half.frames - recording.frames / 2) <= 1)
    assert.is_true(math.abs(half.duration - recording.duration) <= 1 / 24000)
  end)

  for _, case in ipairs{ { 48000, 24000 }, { 48000, 16000 }, { 48000, 44100 }, { 24000, 48000 }, { 22050, 24000 } } do
    local from, to = case[1], case[2]
    for _, quality in ipairs{ "best", "medium", "fastest", "linear", "zoh" } do
      it(("keeps a 1 kHz sine's rms within 1%% from %d to %d Hz (%s)"):format(from, to, quality), function()
        local tone = sine_buffer(1000, from, 1, 0.5)
        local out = tone:resample(to, quality)
        assert.is_true(math.abs(out.frames - to) <= 1)
        -- the middle, away from the filter's ramp at both ends
        local middle = out:slice(math.floor(0.1 * to), math.floor(0.9 * to))
        local expected = 0.5 / math.sqrt(2)
        assert.is_true(math.abs(middle:rms() - expected) < 0.01 * expected,
                       ("rms %.6f, expected %.6f"):format(middle:rms(), expected))
      end)
    end
  end

  it("resamples every channel of a stereo buffer alike", function()
    local mono = sine_buffer(440, 48000, 0.5, 0.25)
    local stereo = mono:to_channels(2)
    local out = stereo:resample(32000)
    assert.equal(2, out.channels)
    local left, right = {}, {}
    for i = 1, out.frames do left[i], right[i] = out:sample(i, 1), out:sample(i, 2) end
    assert.same(left, right)
    assert.is_true(mono:resample(32000):encode("f32") == out:to_channels(1):encode("f32"))
  end)

  it("at the same rate gives an exact copy", function()
    local copy = recording:resample(48000, "best")
    assert.equal(recording.frames, copy.frames)
    assert.is_true(copy:encode("f32") == recording:encode("f32"))
  end)

  it("defaults to medium quality", function()
    assert.is_true(recording:resample(24000):encode("f32") == recording:resample(24000, "medium"):encode("f32"))
    assert.is_false(recording:resample(24000):encode("f32") == recording:resample(24000, "best"):encode("f32"))
  end)
end)

describe("Resampler", function()
  local recording = assert(audio.load(FRONT_CENTER))

  it("describes itself", function()
    assert.equal("Resampler(48000 Hz -> 24000 Hz, 1 ch, medium)",
                 tostring(audio.resampler{ from = 48000, to = 24000 }))
    assert.equal("Resampler(22050 Hz -> 48000 Hz, 2 ch, zoh)",
                 tostring(audio.resampler{ from = 22050, to = 48000, channels = 2, quality = "zoh" }))
  end)

  local one_shot = recording:resample(24000)
  math.randomseed(20240601)
  local sizes = { { "1", fixed(1) }, { "7", fixed(7) }, { "480", fixed(480) }, { "4096", fixed(4096) },
                  { "random", function() return math.random(1, 3000) end } }
  for _, case in ipairs(sizes) do
    it("in chunks of " .. case[1] .. " frames equals the one-shot resample", function()
      local rs = audio.resampler{ from = 48000, to = 24000 }
      assert_same_stream(one_shot, stream(rs, recording, case[2]))
    end)
  end

  it("takes pcm16 bytes as well as buffers", function()
    local rs = audio.resampler{ from = 48000, to = 24000 }
    assert_same_stream(one_shot, stream(rs, recording, fixed(333), true))
  end)

  for _, quality in ipairs{ "best", "fastest", "linear", "zoh" } do
    it("streams stereo upsampling with " .. quality .. " quality like the one-shot", function()
      local stereo = recording:slice(1, 20000):to_channels(2)
      stereo:mix(sine_buffer(700, 48000, 20000 / 48000, 0.25):to_channels(2))
      local rs = audio.resampler{ from = 48000, to = 96000, channels = 2, quality = quality }
      math.randomseed(7)
      assert_same_stream(stereo:resample(96000, quality), stream(rs, stereo, function() return math.random(1, 700) end))
    end)
  end

  it("gives 0-frame buffers at its output rate for empty input and an empty flush", function()
    local rs = audio.resampler{ from = 48000, to = 16000 }
    local out = assert(rs:process(audio.new{ rate = 48000 }))
    assert.equal(0, #out)
    assert.equal(16000, out.rate)
    assert.equal(0, #assert(rs:process("")))
    assert.equal(0, #assert(rs:flush()))
  end)

  it("starts a new stream after flush, giving the same output again", function()
    local rs = audio.resampler{ from = 48000, to = 24000 }
    local first = stream(rs, recording, fixed(4800))
    local second = stream(rs, recording, fixed(4800))
    assert.is_true(first:encode("f32") == second:encode("f32"))
  end)

  it("forgets a half-fed stream on reset", function()
    local rs = audio.resampler{ from = 48000, to = 24000 }
    rs:process(recording:slice(1, 30000))
    rs:reset()
    assert_same_stream(one_shot, stream(rs, recording, fixed(4096)))
  end)

  it("passes audio through unchanged when both rates are equal", function()
    local rs = audio.resampler{ from = 48000, to = 48000 }
    local out = stream(rs, recording, fixed(1000))
    assert.is_true(out:encode("f32") == recording:encode("f32"))
  end)

  it("refuses a buffer of another rate or channel count, saying so", function()
    local rs = audio.resampler{ from = 48000, to = 24000 }
    local ok, err = pcall(rs.process, rs, audio.new{ rate = 44100, frames = 10 })
    assert.is_false(ok)
    assert.matches("the buffer is 44100 Hz, 1 ch; this resampler takes 48000 Hz, 1 ch", err, 1, true)
    ok, err = pcall(rs.process, rs, audio.new{ rate = 48000, channels = 2, frames = 10 })
    assert.is_false(ok)
    assert.matches("48000 Hz, 2 ch", err, 1, true)
  end)

  it("is collected without trouble", function()
    for _ = 1, 200 do audio.resampler{ from = 48000, to = 44100, quality = "best" }:process(recording:slice(1, 100)) end
    collectgarbage()
    collectgarbage()
    assert.equal(16000, assert(audio.resampler{ from = 48000, to = 16000 }:flush()).rate)
  end)

  it("__close releases the converter; later use raises 'Resampler is closed'", function()
    if _VERSION ~= "Lua 5.4" then
      pending("to-be-closed variables need Lua 5.4")
      return
    end
    local closed = setup_.closed(function() return audio.resampler{ from = 48000, to = 24000 } end)
    assert.equal("Resampler(closed)", tostring(closed))
    for _, use in ipairs{ function() return closed:process("") end,
                          function() return closed:flush() end,
                          function() return closed:reset() end } do
      local ok, err = pcall(use)
      assert.is_false(ok)
      assert.matches("Resampler is closed", err, 1, true)
    end
  end)
end)
