-- G.711 in Lua: audio.decode(bytes, "mulaw" | "alaw", rate, channels) and
-- buf:encode("mulaw" | "alaw"), checked against sox's own G.711 decoder on
-- every code, and the telephone path 24 kHz <-> 8 kHz streamed in 20 ms frames.
local audio = require("gptaudio").audio
local util = require "spec.support.util"

local ALL_CODES = {}
for code = 0, 255 do ALL_CODES[#ALL_CODES + 1] = string.char(code) end
ALL_CODES = table.concat(ALL_CODES)

-- sox's reading of the raw codes, as the int16 values it decodes them to.
local function sox_decode(bytes, encoding)
  local dir = util.temp_dir()
  util.write_file(dir .. "/in.raw", bytes)
  assert(util.succeeded(("%s sox -t raw -r 8000 -c 1 -e %s -b 8 %s -t raw -e signed-integer -b 16 -L %s"):format(
    util.spawn_env(), encoding, util.shell_quote(dir .. "/in.raw"), util.shell_quote(dir .. "/out.raw"))))
  local pcm = util.read_file(dir .. "/out.raw")
  util.remove_tree(dir)
  return audio.from_pcm16(pcm, 8000)
end

local function sine(hz, rate, seconds, amplitude)
  local t = {}
  for i = 1, math.floor(rate * seconds) do t[i] = amplitude * math.sin(2 * math.pi * hz * (i - 1) / rate) end
  return audio.from_samples(t, rate)
end

-- Streams buf through a new resampler in chunks of `frames`; returns the joined output.
local function stream(buf, to, frames)
  local rs = audio.resampler{ from = buf.rate, to = to }
  local out = audio.new{ rate = to }
  for first = 1, buf.frames, frames do
    out:append(assert(rs:process(buf:slice(first, first + frames - 1))))
  end
  return out:append(assert(rs:flush()))
end

local function max_difference(a, b)
  local worst = 0
  for i = 1, math.min(a.frames, b.frames) do
    worst = math.max(worst, math.abs(a:sample(i) - b:sample(i)))
  end
  return worst
end

describe("G.711", function()
  for _, law in ipairs{ { "mulaw", "mu-law" }, { "alaw", "a-law" } } do
    local name, sox_name = law[1], law[2]

    it(name .. ": all 256 codes decode to exactly what sox decodes them to", function()
      local ours = assert(audio.decode(ALL_CODES, name, 8000))
      local theirs = sox_decode(ALL_CODES, sox_name)
      assert.equal(256, ours.frames)
      assert.equal(8000, ours.rate)
      assert.equal(1, ours.channels)
      assert.equal(theirs:encode("pcm16"), ours:encode("pcm16"))
    end)

    it(name .. ": decoding then encoding gives the codes back (mu-law's -0 becomes +0)", function()
      local back = assert(audio.decode(ALL_CODES, name)):encode(name)
      local expected = name == "mulaw" and ALL_CODES:gsub("\127", "\255") or ALL_CODES
      assert.equal(expected, back)
    end)

    it(name .. ": interleaved stereo keeps its channels, and a byte count that splits a frame is refused", function()
      local stereo = assert(audio.decode(ALL_CODES, name, 16000, 2))
      assert.equal(128, stereo.frames)
      assert.equal(16000, stereo.rate)
      assert.equal(ALL_CODES:byte(1), stereo:encode(name):byte(1))
      assert.equal(stereo:sample(5, 2), assert(audio.decode(ALL_CODES:sub(10, 10), name)):sample(1))
      local none, err = audio.decode("abc", name, 8000, 2)
      assert.is_nil(none)
      assert.equal("audio", err.type)
      assert.matches("3 bytes is not a whole number of 2%-byte frames", err.message)
      assert.equal(0, assert(audio.decode("", name)).frames)
      assert.equal("", audio.new{ rate = 8000 }:encode(name))
    end)

    it(name .. ": a 24 kHz sine sent as 20 ms frames of 8 kHz " .. name .. " comes back above 30 dB SNR", function()
      local tone = sine(440, 24000, 1, 0.5)
      local narrow = stream(tone, 8000, 480)
      local line = {}
      for first = 1, narrow.frames, 160 do
        line[#line + 1] = narrow:slice(first, first + 159):encode(name)
        assert.is_true(#line[#line] <= 160)
      end
      local back = stream(assert(audio.decode(table.concat(line), name, 8000)), 24000, 160)
      -- The round trip through two filters delays the sine by a whole number of frames at most 100.
      local best = math.huge
      for delay = 0, 100 do
        local a, b = tone:slice(2400, 21600), back:slice(2400 + delay, 21600 + delay)
        local noise = a:mix(b, -1):rms()
        best = math.min(best, noise)
      end
      local snr = 20 * math.log(tone:rms() / best, 10)
      assert.is_true(snr > 30, ("SNR %.1f dB"):format(snr))
    end)
  end

  for _, case in ipairs{ { 8000, 24000, 160 }, { 24000, 8000, 480 } } do
    local from, to, frames = case[1], case[2], case[3]
    it(("%d -> %d Hz streamed in 20 ms frames equals the one-shot resample, with no step at the joins"):format(
      from, to), function()
      local tone = sine(1000, from, 1, 0.8)
      local whole = tone:resample(to)
      local streamed = stream(tone, to, frames)
      assert.is_true(math.abs(whole.frames - streamed.frames) <= 2)
      assert.is_true(max_difference(whole, streamed) < 1e-6)
      -- A click is a jump no 1 kHz sine of this level makes: the largest step
      -- between neighbours stays under the sine's own slope, 2 pi f A / rate.
      local limit, worst = 2 * math.pi * 1000 * 0.8 / to * 1.05, 0
      for i = math.floor(0.05 * to), math.floor(0.95 * to) do
        worst = math.max(worst, math.abs(streamed:sample(i + 1) - streamed:sample(i)))
      end
      assert.is_true(worst < limit, ("step %.4f, limit %.4f"):format(worst, limit))
    end)
  end
end)
