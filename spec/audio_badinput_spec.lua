-- Bad input to gptaudio.audio never crashes: bad data returns nil and a
-- gptaudio.Error of type "audio"; a programmer error raises naming the argument.
local audio = require("gptaudio").audio
local cjson = require "cjson"
local setup_ = require "spec.support.setup"

local function le16(v) return string.char(v % 256, math.floor(v / 256) % 256) end
local function le32(v) return le16(v % 65536) .. le16(math.floor(v / 65536)) end

-- A WAV file whose every header field can lie.
local function wav(f)
  local tag, channels, rate, bits = f.tag or 1, f.channels or 1, f.rate or 8000, f.bits or 16
  local data = f.data or string.rep("\0\64", 8)
  local block = channels * math.floor(bits / 8)
  local fmt = le16(tag) .. le16(channels) .. le32(rate) .. le32(rate * block % 2 ^ 32) .. le16(block % 65536)
              .. le16(bits)
  fmt = fmt:sub(1, f.fmt_size or 16)
  local body = "WAVE" .. "fmt " .. le32(#fmt) .. fmt .. "data" .. le32(f.data_size or #data) .. data
  return "RIFF" .. le32(#body) .. body
end

-- Asserts a nil, gptaudio.Error{type = "audio"} return whose message contains `text`.
local function assert_audio_error(text, ok, err)
  assert.is_nil(ok)
  assert.equal("audio", err.type)
  if text then assert.matches(text, err.message, 1, true) end
end

-- Asserts that fn raises an error that names argument `arg` and contains `text`.
local function assert_raises(arg, text, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  assert.matches("bad argument #" .. arg, err, 1, true)
  if text then assert.matches(text, err, 1, true) end
end

-- Any result of a decode: a sound buffer that fits the bytes, or an audio error.
local function assert_sane_decode(bytes, buf, err)
  if buf then
    assert.is_true(buf.frames * buf.channels <= #bytes)
    assert.is_true(buf.rate >= 1 and buf.rate <= 768000)
    assert.is_true(buf.channels >= 1 and buf.channels <= 64)
    assert.equal(buf.frames * buf.channels * 2, #buf:encode("pcm16"))
  else
    assert.equal("audio", err.type)
  end
end

describe("bad WAV data", function()
  local good = wav{ data = "\1\0\2\0\3\0\4\0" }

  it("is what the builder makes when nothing lies", function()
    local buf = assert(audio.decode(good))
    assert.equal(8000, buf.rate)
    assert.equal(4, #buf)
    assert.equal(4 / 32768, buf:sample(4))
  end)

  it("every truncation inside the header returns an audio error", function()
    for len = 0, 43 do assert_audio_error("not a usable WAV", audio.decode(good:sub(1, len))) end
  end)

  it("a truncation inside the data keeps the whole frames that are there", function()
    for len = 44, #good do assert.equal(math.floor((len - 44) / 2), #assert(audio.decode(good:sub(1, len)))) end
  end)

  it("a data size larger than the bytes means to the end", function()
    assert.equal(4, #assert(audio.decode(wav{ data = string.rep("\0", 8), data_size = 1000000 })))
    assert.equal(4, #assert(audio.decode(wav{ data = string.rep("\0", 8), data_size = 2 ^ 32 - 1 })))
  end)

  it("zero channels or a zero rate returns an audio error", function()
    assert_audio_error(nil, audio.decode(wav{ channels = 0 }))
    assert_audio_error(nil, audio.decode(wav{ rate = 0 }))
  end)

  it("a rate above 768000 Hz or more than 64 channels returns an audio error naming the limit", function()
    assert_audio_error("768000", audio.decode(wav{ rate = 768001 }))
    assert_audio_error("64", audio.decode(wav{ channels = 65, data = string.rep("\0", 130) }))
    assert.equal(64, assert(audio.decode(wav{ channels = 64, data = string.rep("\0", 128) })).channels)
    assert.equal(768000, assert(audio.decode(wav{ rate = 768000 })).rate)
  end)

  it("an unsupported encoding, sample size or short fmt chunk returns an audio error", function()
    assert_audio_error(nil, audio.decode(wav{ tag = 2 }))
    assert_audio_error(nil, audio.decode(wav{ bits = 12 }))
    assert_audio_error(nil, audio.decode(wav{ fmt_size = 10 }))
  end)

  it("random bytes and corrupted headers never crash", function()
    math.randomseed(424242)
    local real = setup_.read_file("/usr/share/sounds/alsa/Front_Center.wav"):sub(1, 2000)
    for round = 1, 2000 do
      local bytes
      if round % 2 == 0 then
        local t = {}
        for i = 1, math.random(0, 120) do t[i] = string.char(math.random(0, 255)) end
        bytes = (round % 4 == 0 and "RIFF\255\255\255\255WAVE" or "") .. table.concat(t)
      else
        local at = math.random(1, 44)
        bytes = real:sub(1, at - 1) .. string.char(math.random(0, 255)) .. real:sub(at + 1)
      end
      assert_sane_decode(bytes, audio.decode(bytes))
    end
  end)

  it("load returns an audio error for a missing file, a directory or a file that is no audio", function()
    assert_audio_error("no/such/file.wav", audio.load("no/such/file.wav"))
    assert_audio_error("not a regular file", audio.load("spec"))
    -- not a WAV: gptaudio.ffmpeg probes it (formats_spec covers the build without it)
    assert_audio_error("not a recognised audio file", audio.load("spec/audio_badinput_spec.lua"))
  end)

  it("pcm16 bytes that are not whole frames return an audio error", function()
    assert_audio_error("3 bytes", audio.from_pcm16("abc"))
    assert_audio_error("6 bytes", audio.from_pcm16("abcdef", 8000, 2))
    assert_audio_error("3 bytes", audio.resampler{ from = 48000, to = 24000 }:process("abc"))
  end)

  it("from_samples of a partial frame returns an audio error", function()
    assert_audio_error("5 samples", audio.from_samples({ 0, 0, 0, 0, 0 }, 8000, 2))
  end)

  it("from_pointer of a partial frame returns an audio error", function()
    local p, nbytes = audio.new{ rate = 8000, frames = 4 }:pointer()
    assert_audio_error(nil, audio.from_pointer(p, nbytes - 1, 8000, 16))
    assert_audio_error(nil, audio.from_pointer(p, nbytes - 2, 8000, 8, 4))
  end)
end)

describe("programmer errors raise naming the argument", function()
  local buf = audio.from_samples({ 0.5, -0.5, 0.25, -0.25 }, 8000, 2)
  local rs = audio.resampler{ from = 48000, to = 24000 }

  it("new{} checks rate, channels, frames and unknown fields", function()
    assert_raises(1, "table expected", function() audio.new(48000) end)
    for _, rate in ipairs{ 0, -1, 768001, 1.5, "48000", 0 / 0, math.huge } do
      assert_raises(1, "rate must be an integer from 1 to 768000", function() audio.new{ rate = rate } end)
    end
    assert_raises(1, "rate must be", function() audio.new{ frames = 10 } end)
    for _, channels in ipairs{ 0, 65, 1.5 } do
      assert_raises(1, "channels must be an integer from 1 to 64", function()
        audio.new{ rate = 8000, channels = channels }
      end)
    end
    for _, frames in ipairs{ -1, 2 ^ 40, 0.5 } do
      assert_raises(1, "frames must be an integer from 0 to 1073741824", function()
        audio.new{ rate = 8000, frames = frames }
      end)
    end
    -- frames * channels beyond the limit (2^62 * 64 would overflow 64 bits)
    assert_raises(1, "frames must be an integer from 0 to 16777216", function()
      audio.new{ rate = 8000, channels = 64, frames = 2 ^ 62 }
    end)
    assert_raises(1, "unknown field 'sample_rate'", function() audio.new{ rate = 8000, sample_rate = 8000 } end)
  end)

  it("the other constructors check their arguments", function()
    assert_raises(1, "table expected", function() audio.from_samples("0.5", 8000) end)
    assert_raises(1, "sample 2 is a string", function() audio.from_samples({ 0.5, "0.5" }, 8000) end)
    assert_raises(2, "rate must be", function() audio.from_samples({ 0.5 }, 0) end)
    assert_raises(3, "channels must be", function() audio.from_samples({ 0.5 }, 8000, 0) end)
    assert_raises(1, "string expected", function() audio.from_pcm16({}) end)
    assert_raises(2, "rate must be", function() audio.from_pcm16("", -24000) end)
    assert_raises(3, "channels must be", function() audio.from_pcm16("", 24000, 65) end)
    assert_raises(1, "string expected", function() audio.decode(nil) end)
    assert_raises(2, "invalid option 'ogv'", function() audio.decode("", "ogv") end)
    assert_raises(1, "string expected", function() audio.load() end)
  end)

  it("from_pointer takes a lightuserdata only, and checks its size, bits and rate", function()
    local p, nbytes = buf:pointer()
    for _, bad in ipairs{ "bytes", buf, rs, 42, {}, false } do
      assert_raises(1, "lightuserdata", function() audio.from_pointer(bad, 8, 8000, 16) end)
    end
    assert_raises(1, "NULL pointer", function() audio.from_pointer(cjson.null, 8, 8000, 16) end)
    assert.equal(0, #assert(audio.from_pointer(cjson.null, 0, 8000, 16)))
    assert_raises(2, "nbytes must be", function() audio.from_pointer(p, -1, 8000, 16) end)
    for _, bits in ipairs{ 0, 12, 24, 32 } do
      assert_raises(4, "bits", function() audio.from_pointer(p, nbytes, 8000, bits) end)
    end
    assert_raises(3, "rate must be", function() audio.from_pointer(p, nbytes, 0, 16) end)
  end)

  it("sample() out of range raises", function()
    for _, case in ipairs{ { 0 }, { -1 }, { 3 }, { 1.5 }, { 1, 0 }, { 1, 3 }, { 2, -1 } } do
      assert_raises(case[2] and 2 or 1, "must be an integer", function() buf:sample(case[1], case[2]) end)
    end
    assert_raises(1, "frame must be an integer from 1 to 0", function() audio.new{ rate = 8000 }:sample(1) end)
  end)

  it("slice, to_channels, gain, trim, mix and encode check their arguments", function()
    assert_raises(1, "i must be an integer", function() buf:slice() end)
    assert_raises(1, "i must be an integer", function() buf:slice(math.huge) end)
    assert_raises(2, "j must be an integer", function() buf:slice(1, "x") end)
    assert.equal(0, #buf:slice(2 ^ 53, -2 ^ 53))
    for _, n in ipairs{ 0, 65, 2.5 } do
      assert_raises(1, "channels must be an integer from 1 to 64", function() buf:to_channels(n) end)
    end
    assert_raises(1, "up to 770", function() buf:gain(0 / 0) end)
    assert_raises(1, "up to 770", function() buf:gain(math.huge) end)
    assert_raises(1, "number expected", function() buf:gain("loud") end)
    assert_raises(1, "NaN", function() buf:trim(0 / 0) end)
    assert_raises(2, "number expected", function() buf:mix(buf, "half") end)
    assert_raises(1, "invalid option 'wma'", function() buf:encode("wma") end)
    assert_raises(2, "bitrate must be an integer from 6000 to 512000", function()
      buf:encode("mp3", { bitrate = 1 })
    end)
    assert_raises(1, "string expected", function() buf:encode() end)
    assert_raises(2, "table expected", function() buf:encode("wav", true) end)
    assert_raises(2, "unknown field 'floats'", function() buf:encode("wav", { floats = true }) end)
  end)

  it("resample checks the rate, the ratio and the quality", function()
    for _, rate in ipairs{ 0, -1, 768001, 48000.5 } do
      assert_raises(1, "rate must be an integer from 1 to 768000", function() buf:resample(rate) end)
    end
    assert_raises(1, "ratio", function() audio.new{ rate = 1000 }:resample(768000) end)
    assert_raises(1, "ratio", function() audio.new{ rate = 768000 }:resample(1000) end)
    assert_raises(2, "quality must be", function() buf:resample(16000, "great") end)
    assert_raises(2, "quality must be", function() buf:resample(16000, 3) end)
  end)

  it("resampler{} checks its fields", function()
    assert_raises(1, "table expected", function() audio.resampler(48000, 24000) end)
    assert_raises(1, "from must be", function() audio.resampler{ from = 0, to = 24000 } end)
    assert_raises(1, "to must be", function() audio.resampler{ from = 48000 } end)
    assert_raises(1, "channels must be", function() audio.resampler{ from = 48000, to = 24000, channels = 65 } end)
    assert_raises(1, "quality must be", function() audio.resampler{ from = 48000, to = 24000, quality = "great" } end)
    assert_raises(1, "unknown field 'rate'", function() audio.resampler{ from = 48000, to = 24000, rate = 1 } end)
    assert_raises(1, "ratio", function() audio.resampler{ from = 48000, to = 100 } end)
  end)

  it("a Resampler where an AudioBuffer belongs raises naming the argument", function()
    assert_raises(1, "gptaudio.AudioBuffer expected, got gptaudio.Resampler", function() buf:append(rs) end)
    assert_raises(1, "gptaudio.AudioBuffer expected, got gptaudio.Resampler", function() buf:mix(rs) end)
    assert_raises(1, "gptaudio.AudioBuffer expected, got no value", function() buf:append() end)
    assert_raises(1, "AudioBuffer or pcm16 string expected, got userdata", function() rs:process(rs) end)
    assert_raises(1, "AudioBuffer or pcm16 string expected, got number", function() rs:process(42) end)
    local ok, err = pcall(getmetatable(buf).peak, rs)
    assert.is_false(ok)
    assert.matches("gptaudio.AudioBuffer expected, got gptaudio.Resampler", err, 1, true)
    ok, err = pcall(getmetatable(rs).__index.process, buf, "")
    assert.is_false(ok)
    assert.matches("gptaudio.Resampler expected", err, 1, true)
  end)
end)
