-- gptaudio.audio: AudioBuffer constructors, fields, methods and encodings,
-- on real recordings (/usr/share/sounds/alsa, espeak-ng) and on small exact buffers.
local audio = require("gptaudio").audio
local setup_ = require "spec.support.setup"

local ALSA = "/usr/share/sounds/alsa/"
local RECORDINGS = { "Front_Center", "Front_Left", "Front_Right", "Noise", "Rear_Center",
                     "Rear_Left", "Rear_Right", "Side_Left", "Side_Right" }

local read_file = setup_.read_file

-- os.execute says true on 5.4 and 0 on LuaJIT.
local function succeeded(command)
  local result = os.execute(command)
  return result == true or result == 0
end

local function u16(s, at) local a, b = s:byte(at, at + 1); return a + b * 256 end
local function u32(s, at) return u16(s, at) + u16(s, at + 2) * 65536 end

-- A sine of `amplitude` at `hz`, `seconds` long, as interleaved numbers.
local function sine(hz, rate, seconds, amplitude)
  local t = {}
  for i = 1, math.floor(rate * seconds) do t[i] = amplitude * math.sin(2 * math.pi * hz * (i - 1) / rate) end
  return t
end

-- All samples of a buffer, channel by channel within each frame.
local function samples_of(buf)
  local t = {}
  for i = 1, buf.frames do
    for ch = 1, buf.channels do t[#t + 1] = buf:sample(i, ch) end
  end
  return t
end

describe("AudioBuffer on real recordings", function()
  for _, name in ipairs(RECORDINGS) do
    it(name .. ".wav decodes to 48 kHz mono and re-encodes to the same bytes", function()
      local bytes = read_file(ALSA .. name .. ".wav")
      local buf = assert(audio.decode(bytes, "wav"))
      assert.equal(48000, buf.rate)
      assert.equal(1, buf.channels)
      assert.equal((#bytes - 44) / 2, buf.frames)
      assert.equal(buf.frames, #buf)
      assert.equal(buf.frames / 48000, buf.duration)
      assert.is_true(buf:encode("wav") == bytes)
      assert.is_true(buf:encode("pcm16") == bytes:sub(45))
    end)
  end

  it("load(path) gives what decode gives", function()
    local loaded = assert(audio.load(ALSA .. "Front_Center.wav"))
    local decoded = assert(audio.decode((read_file(ALSA .. "Front_Center.wav"))))
    assert.equal(68545, loaded.frames)
    assert.is_true(loaded:encode("f32") == decoded:encode("f32"))
  end)

  it("round-trips espeak-ng speech (22050 Hz) exactly", function()
    if not succeeded("command -v espeak-ng >/dev/null 2>&1") then
      pending("espeak-ng is not installed")
      return
    end
    local path = os.tmpname()
    finally(function() os.remove(path) end)
    -- without the sanitizer runtime that check-asan preloads into the interpreter
    local text = "'The quick brown fox jumps over the lazy dog'"
    assert.is_true(succeeded("env -u LD_PRELOAD espeak-ng -w " .. path .. " " .. text))
    local bytes = read_file(path)
    local buf = assert(audio.load(path))
    assert.equal(22050, buf.rate)
    assert.equal(1, buf.channels)
    assert.equal(u32(bytes, 41) / 2, buf.frames)
    assert.is_true(buf:encode("pcm16") == bytes:sub(45, 44 + u32(bytes, 41)))
    assert.is_true(buf.duration > 1 and buf.duration < 5)
    local at24k = buf:resample(24000)
    assert.is_true(math.abs(at24k.frames - buf.frames * 24000 / 22050) <= 1)
    assert.is_true(math.abs(at24k:rms() - buf:rms()) < 0.01 * buf:rms())
  end)
end)

describe("AudioBuffer basics", function()
  it("new{} makes silence with the fields asked for", function()
    local buf = audio.new{ rate = 48000, channels = 2, frames = 120000 }
    assert.equal(48000, buf.rate)
    assert.equal(2, buf.channels)
    assert.equal(120000, buf.frames)
    assert.equal(120000, #buf)
    assert.equal(2.5, buf.duration)
    assert.equal("AudioBuffer(48000 Hz, 2 ch, 2.50 s)", tostring(buf))
    assert.equal(0, buf:peak())
    assert.equal(0, buf:rms())
    assert.equal(0, buf:sample(120000, 2))
    assert.equal(#buf:encode("pcm16"), 120000 * 2 * 2)
    -- methods and fields only: no metamethod, no other key
    assert.is_function(buf.peak)
    for _, key in ipairs{ "__gc", "__index", "no_such_field", 1, true } do assert.is_nil(buf[key]) end
  end)

  it("channels default to 1 and frames to 0; a 0-frame buffer works everywhere", function()
    local buf = audio.new{ rate = 16000 }
    assert.equal(1, buf.channels)
    assert.equal(0, #buf)
    assert.equal(0, buf.duration)
    assert.equal("AudioBuffer(16000 Hz, 1 ch, 0.00 s)", tostring(buf))
    assert.equal(0, buf:peak())
    assert.equal(0, buf:rms())
    assert.equal("", buf:encode("pcm16"))
    assert.equal(44, #buf:encode("wav"))
    assert.equal(0, #buf:slice(1))
    assert.equal(0, #buf:trim())
    assert.equal(0, #buf:resample(8000))
    assert.equal(0, #buf:to_channels(2))
    local _, nbytes = buf:pointer()
    assert.equal(0, nbytes)
    assert.equal(0, #assert(audio.decode(buf:encode("wav"))))
  end)

  it("from_samples keeps the exact values, even beyond [-1, 1]; encoding clamps", function()
    local buf = assert(audio.from_samples({ 0.5, -0.25, 1.5, -1.5, 0.125, 0 }, 8000, 2))
    assert.equal(3, buf.frames)
    assert.same({ 0.5, -0.25, 1.5, -1.5, 0.125, 0 }, samples_of(buf))
    assert.equal(0.5, buf:sample(1))
    assert.equal(-0.25, buf:sample(1, 2))
    local back = audio.from_pcm16(buf:encode("pcm16"), 8000, 2)
    assert.same({ 0.5, -0.25, 32767 / 32768, -1, 0.125, 0 }, samples_of(back))
  end)

  it("from_pcm16 reads s / 32768, defaults to 24 kHz mono, and every int16 round-trips", function()
    local bytes = {}
    for v = 0, 65535 do bytes[#bytes + 1] = string.char(v % 256, math.floor(v / 256)) end
    bytes = table.concat(bytes)
    local buf = assert(audio.from_pcm16(bytes))
    assert.equal(24000, buf.rate)
    assert.equal(1, buf.channels)
    assert.equal(65536, buf.frames)
    assert.equal(0, buf:sample(1))
    assert.equal(1 / 32768, buf:sample(2))
    assert.equal(32767 / 32768, buf:sample(32768))
    assert.equal(-1, buf:sample(32769))
    assert.equal(-1 / 32768, buf:sample(65536))
    assert.is_true(buf:encode("pcm16") == bytes)
  end)

  it("peak and rms are linear over all channels", function()
    local buf = audio.from_samples({ 0.5, -0.75, 0.25, 0 }, 1000, 2)
    assert.equal(0.75, buf:peak())
    assert.equal(math.sqrt((0.25 + 0.5625 + 0.0625) / 4), buf:rms())
    local tone = audio.from_samples(sine(1000, 48000, 1, 0.5), 48000)
    assert.is_true(math.abs(tone:rms() - 0.5 / math.sqrt(2)) < 1e-6)
    assert.is_true(math.abs(tone:peak() - 0.5) < 1e-6)
  end)
end)

describe("AudioBuffer channels", function()
  it("to_channels(1) averages", function()
    local stereo = audio.from_samples({ 0.5, -0.5, 0.25, 0.75 }, 8000, 2)
    local mono = stereo:to_channels(1)
    assert.equal(1, mono.channels)
    assert.equal(8000, mono.rate)
    assert.same({ 0, 0.5 }, samples_of(mono))
  end)

  it("to_channels(n) from mono copies it to every channel", function()
    local mono = audio.from_samples({ 0.5, -0.25 }, 8000)
    assert.same({ 0.5, 0.5, 0.5, -0.25, -0.25, -0.25 }, samples_of(mono:to_channels(3)))
  end)

  it("folds other downmixes round-robin and repeats channels in other upmixes", function()
    local three = audio.from_samples({ 0.5, 0.25, 0.25, -1, 0.5, 0 }, 8000, 3)
    -- channels 1 and 3 fold onto 1, channel 2 onto 2
    assert.same({ 0.375, 0.25, -0.5, 0.5 }, samples_of(three:to_channels(2)))
    local two = audio.from_samples({ 0.5, 0.25 }, 8000, 2)
    assert.same({ 0.5, 0.25, 0.5, 0.25, 0.5 }, samples_of(two:to_channels(5)))
  end)

  it("to_channels with the same count is a copy", function()
    local two = audio.from_samples({ 0.5, 0.25, -0.5, -0.25 }, 8000, 2)
    local copy = two:to_channels(2)
    two:gain(-math.huge)
    assert.same({ 0.5, 0.25, -0.5, -0.25 }, samples_of(copy))
  end)
end)

describe("AudioBuffer slice", function()
  -- Frame k holds k / 16, so a slice's samples name its frames.
  local values, letters = {}, "abcdefghij"
  for k = 1, 10 do values[k] = k / 16 end

  local function frames_of(buf)
    local s = {}
    for _, v in ipairs(samples_of(buf)) do s[#s + 1] = letters:sub(v * 16, v * 16) end
    return table.concat(s)
  end

  local cases = { { 1 }, { 3 }, { 3, 5 }, { -3 }, { -3, -2 }, { 0 }, { 0, 0 }, { -100 }, { -100, 2 },
                  { 5, 100 }, { 11 }, { 100, 200 }, { 6, 5 }, { 2, -2 }, { -1, -1 }, { 10, 10 } }
  for _, case in ipairs(cases) do
    it(("slice(%s) clamps like string.sub"):format(table.concat(case, ", ")), function()
      local buf = audio.from_samples(values, 8000)
      local sliced = buf:slice(case[1], case[2])
      assert.equal(8000, sliced.rate)
      assert.equal(letters:sub(case[1], case[2]), frames_of(sliced))
    end)
  end

  it("slices whole frames of a stereo buffer", function()
    local buf = audio.from_samples({ 0.5, -0.5, 0.25, -0.25, 0.125, -0.125 }, 8000, 2)
    assert.same({ 0.25, -0.25, 0.125, -0.125 }, samples_of(buf:slice(2)))
  end)
end)

describe("AudioBuffer trim", function()
  local RATE = 48000

  local function padded(before_s, tone, after_s)
    local buf = audio.new{ rate = RATE, frames = math.floor(before_s * RATE) }
    buf:append(tone)
    return buf:append(audio.new{ rate = RATE, frames = math.floor(after_s * RATE) })
  end

  it("removes 0.5 s of leading and 0.3 s of trailing silence around a tone", function()
    local tone = audio.from_samples(sine(440, RATE, 1, 0.5), RATE)
    local buf = padded(0.5, tone, 0.3)
    local trimmed = buf:trim()
    assert.is_true(math.abs((buf.frames - trimmed.frames) - 0.8 * RATE) <= 0.010 * RATE)
    assert.is_true(math.abs(trimmed.frames - RATE) <= 0.010 * RATE)
    assert.is_true(tone:slice(2, trimmed.frames + 1):encode("f32") == trimmed:encode("f32"))
  end)

  it("removes the silence added around a real recording", function()
    local voice = assert(audio.load(ALSA .. "Front_Center.wav")):trim()
    local trimmed = padded(0.5, voice, 0.3):trim()
    assert.equal(voice.frames, trimmed.frames)
    assert.is_true(voice:encode("f32") == trimmed:encode("f32"))
  end)

  it("keeps a frame when any channel reaches the threshold", function()
    local buf = audio.from_samples({ 0, 0, 0, 0.015625, 0, 0, 0.03125, 0, 0, 0 }, 1000, 2)
    assert.same({ 0, 0.015625, 0, 0, 0.03125, 0 }, samples_of(buf:trim()))
  end)

  it("takes the threshold in dBFS and trims a quiet buffer to nothing", function()
    local buf = audio.from_samples({ 0, 0.05, 0.5, 0.05, 0 }, 1000)
    assert.equal(3, #buf:trim())
    assert.equal(1, #buf:trim(-20))
    assert.equal(0, #buf:trim(0))
    assert.equal(0, #audio.new{ rate = 1000, frames = 100 }:trim())
  end)
end)

describe("AudioBuffer in-place changes", function()
  it("append adds the frames and returns the buffer", function()
    local a = audio.from_samples({ 0.5, -0.5 }, 8000, 2)
    local b = audio.from_samples({ 0.25, -0.25, 0.125, -0.125 }, 8000, 2)
    assert.equal(a, a:append(b))
    assert.same({ 0.5, -0.5, 0.25, -0.25, 0.125, -0.125 }, samples_of(a))
    assert.equal(2, #b)
    assert.equal(a, a:append(a))
    assert.same({ 0.5, -0.5, 0.25, -0.25, 0.125, -0.125, 0.5, -0.5, 0.25, -0.25, 0.125, -0.125 }, samples_of(a))
  end)

  it("append grows a buffer over many calls", function()
    local buf = audio.new{ rate = 8000 }
    local piece = audio.from_samples({ 0.25, -0.25, 0.5 }, 8000)
    for _ = 1, 1000 do buf:append(piece) end
    assert.equal(3000, #buf)
    assert.equal(0.5, buf:sample(3000))
    assert.equal(-0.25, buf:sample(1502))
  end)

  it("append and mix refuse a different rate or channel count, saying so", function()
    local a = audio.new{ rate = 8000, frames = 2 }
    local ok, err = pcall(a.append, a, audio.new{ rate = 16000, frames = 2 })
    assert.is_false(ok)
    assert.matches("rate mismatch %(8000 Hz and 16000 Hz%)", err)
    ok, err = pcall(a.mix, a, audio.new{ rate = 8000, channels = 2, frames = 2 })
    assert.is_false(ok)
    assert.matches("channel count mismatch %(1 and 2%)", err)
    assert.equal(2, #a)
  end)

  it("mix adds b * factor from frame 1 and returns the buffer", function()
    local a = audio.from_samples({ 0.5, 0.25, -0.5, 0 }, 8000)
    local b = audio.from_samples({ 0.25, 0.25 }, 8000)
    assert.equal(a, a:mix(b))
    assert.same({ 0.75, 0.5, -0.5, 0 }, samples_of(a))
    a:mix(b, -2)
    assert.same({ 0.25, 0, -0.5, 0 }, samples_of(a))
    a:mix(a, 0.5)
    assert.same({ 0.375, 0, -0.75, 0 }, samples_of(a))
  end)

  it("mix of a longer buffer lengthens this one, over silence", function()
    local a = audio.from_samples({ 0.5 }, 8000)
    a:mix(audio.from_samples({ 0.25, 0.5, -0.75 }, 8000), 2)
    assert.same({ 1, 1, -1.5 }, samples_of(a))
  end)

  it("mix refuses a NaN, infinite or float-overflowing factor, naming it, and leaves the buffer as it was", function()
    local a = audio.from_samples({ 0.5, -0.25 }, 8000)
    for _, factor in ipairs{ 0 / 0, math.huge, -math.huge, 1e300, -3.5e38 } do
      local ok, err = pcall(a.mix, a, audio.from_samples({ 0.25 }, 8000), factor)
      assert.is_false(ok)
      assert.matches("bad argument #3 .*mix factor must be a finite number", err)
    end
    assert.same({ 0.5, -0.25 }, samples_of(a))
  end)

  it("gain scales by 10^(db/20) and returns the buffer", function()
    local buf = audio.from_samples({ 0.25, -0.125 }, 8000)
    assert.equal(buf, buf:gain(0))
    assert.same({ 0.25, -0.125 }, samples_of(buf))
    buf:gain(20 * (math.log(2) / math.log(10)))
    assert.is_true(math.abs(buf:sample(1) - 0.5) < 1e-6)
    assert.is_true(math.abs(buf:sample(2) + 0.25) < 1e-6)
    buf:gain(-6)
    assert.is_true(math.abs(buf:peak() - 0.5 * 10 ^ (-6 / 20)) < 1e-6)
    buf:gain(-math.huge)
    assert.same({ 0, 0 }, samples_of(buf))
  end)

  it("gain refuses NaN, +inf and a factor no float holds (over 770 dB), naming it", function()
    local buf = audio.from_samples({ 0.25, -0.125 }, 8000)
    for _, db in ipairs{ 0 / 0, math.huge, 771, 1e10 } do
      local ok, err = pcall(buf.gain, buf, db)
      assert.is_false(ok)
      assert.matches("bad argument #2 .*gain must be a number of dB up to 770, or %-math%.huge", err)
    end
    assert.same({ 0.25, -0.125 }, samples_of(buf))
    buf:gain(-770)
    assert.is_true(buf:peak() < 1e-38)
  end)
end)

describe("AudioBuffer encodings", function()
  it("encode('wav') writes a canonical 16-bit header", function()
    local buf = audio.from_samples({ 0.5, -0.5, 0.25, -0.25, 0, 1 }, 44100, 2)
    local wav = buf:encode("wav")
    assert.equal(44 + 12, #wav)
    assert.equal("RIFF", wav:sub(1, 4))
    assert.equal(36 + 12, u32(wav, 5))
    assert.equal("WAVEfmt ", wav:sub(9, 16))
    assert.equal(16, u32(wav, 17))
    assert.equal(1, u16(wav, 21))        -- PCM
    assert.equal(2, u16(wav, 23))
    assert.equal(44100, u32(wav, 25))
    assert.equal(44100 * 4, u32(wav, 29))
    assert.equal(4, u16(wav, 33))
    assert.equal(16, u16(wav, 35))
    assert.equal("data", wav:sub(37, 40))
    assert.equal(12, u32(wav, 41))
    assert.equal(buf:encode("pcm16"), wav:sub(45))
    assert.equal(string.char(0, 64, 0, 192, 0, 32, 0, 224, 0, 0, 255, 127), buf:encode("pcm16"))
  end)

  -- LuaJIT's own luaL_checkoption would read a table or a boolean as the default.
  it("decode and encode refuse a format that is no string, naming the argument, on every Lua", function()
    local buf = audio.from_samples({ 0.5 }, 8000)
    local wav = buf:encode("wav")
    for _, format in ipairs{ {}, true, false, function() end } do
      local ok, err = pcall(audio.decode, wav, format)
      assert.is_false(ok)
      assert.matches("bad argument #2 .*string expected, got " .. type(format), err)
      ok, err = pcall(buf.encode, buf, format)
      assert.is_false(ok)
      assert.matches("bad argument #2 .*string expected, got " .. type(format), err)
    end
    assert.equal(1, #assert(audio.decode(wav, nil)))
  end)

  it("encode('wav', {float = true}) writes 32-bit float that decodes exactly", function()
    local values = { 0.1, -0.7, 1.5, 1e-9, -1, 0.333 }
    local buf = audio.from_samples(values, 24000, 3)
    local wav = buf:encode("wav", { float = true })
    assert.equal(3, u16(wav, 21))        -- IEEE float
    assert.equal(32, u16(wav, 35))
    assert.equal(24, u32(wav, 41))
    assert.equal(buf:encode("f32"), wav:sub(45))
    local back = assert(audio.decode(wav, "wav"))
    assert.equal(3, back.channels)
    assert.same(samples_of(buf), samples_of(back))
    assert.equal(24, #buf:encode("f32"))
    assert.equal(string.char(0, 0, 128, 63), audio.from_samples({ 1 }, 8000):encode("f32"))
  end)

  it("save writes a 16-bit WAV file and returns true", function()
    local path = os.tmpname()
    finally(function() os.remove(path) end)
    local buf = audio.from_samples(sine(440, 16000, 0.6, 0.8), 16000)
    assert.equal(true, buf:save(path))
    assert.is_true(read_file(path) == buf:encode("wav"))
    assert.is_true(assert(audio.load(path)):encode("pcm16") == buf:encode("pcm16"))
  end)

  it("save to an impossible path returns nil and an audio error", function()
    local buf = audio.new{ rate = 8000, frames = 10 }
    local ok, err = buf:save("no/such/directory/out.wav")
    assert.is_nil(ok)
    assert.equal("audio", err.type)
    assert.matches("no/such/directory/out.wav", err.message, 1, true)
  end)
end)

describe("AudioBuffer pointer", function()
  it("gives frames * channels * 2 bytes equal to encode('pcm16')", function()
    local buf = assert(audio.load(ALSA .. "Front_Center.wav")):slice(1, 30001):to_channels(2)
    local p, nbytes = buf:pointer()
    assert.equal("userdata", type(p))
    assert.equal(30001 * 2 * 2, nbytes)
    local copy = assert(audio.from_pointer(p, nbytes, 48000, 16, 2))
    assert.equal(30001, copy.frames)
    assert.is_true(copy:encode("pcm16") == buf:encode("pcm16"))
  end)

  it("is refreshed after the buffer changes", function()
    local buf = audio.from_samples({ 0.5, -0.5, 0.25 }, 8000)
    local p, nbytes = buf:pointer()
    assert.equal(buf:encode("pcm16"), audio.from_pointer(p, nbytes, 8000, 16):encode("pcm16"))
    for _, change in ipairs{ function() buf:gain(-6) end,
                             function() buf:mix(audio.from_samples({ 0.125 }, 8000)) end,
                             function() buf:append(audio.from_samples({ 0.75 }, 8000)) end } do
      change()
      p, nbytes = buf:pointer()
      assert.equal(#buf * 2, nbytes)
      assert.equal(buf:encode("pcm16"), audio.from_pointer(p, nbytes, 8000, 16):encode("pcm16"))
    end
    assert.equal(4, #buf)
  end)

  it("from_pointer reads 8-bit unsigned samples as (b - 128) / 128", function()
    local buf = audio.from_samples({ 0.5, -0.25, 32767 / 32768, -1 }, 8000)
    local bytes = buf:encode("pcm16")
    local p, nbytes = buf:pointer()
    local u8 = assert(audio.from_pointer(p, nbytes, 8000, 8))
    assert.equal(8, #u8)
    for i = 1, 8 do assert.equal((bytes:byte(i) - 128) / 128, u8:sample(i)) end
    local stereo = assert(audio.from_pointer(p, nbytes, 8000, 8, 2))
    assert.equal(4, #stereo)
    assert.equal((bytes:byte(4) - 128) / 128, stereo:sample(2, 2))
  end)
end)

describe("AudioBuffer lifetime", function()
  it("is collected without trouble, pointer copies included", function()
    for _ = 1, 50 do
      local buf = audio.new{ rate = 48000, channels = 2, frames = 48000 }
      buf:pointer()
    end
    collectgarbage()
    collectgarbage()
    assert.equal(1, audio.new{ rate = 8000, frames = 1 }.frames)
  end)

  it("__close frees the samples; later use raises 'AudioBuffer is closed'", function()
    if _VERSION ~= "Lua 5.4" then
      pending("to-be-closed variables need Lua 5.4")
      return
    end
    local closed = setup_.closed(function() return audio.new{ rate = 8000, frames = 100 } end)
    assert.equal("AudioBuffer(closed)", tostring(closed))
    local other = audio.new{ rate = 8000, frames = 1 }
    for _, use in ipairs{ function() return closed:peak() end,
                          function() return closed.rate end,
                          function() return #closed end,
                          function() return closed:resample(16000) end,
                          function() return other:append(closed) end } do
      local ok, err = pcall(use)
      assert.is_false(ok)
      assert.matches("AudioBuffer is closed", err, 1, true)
    end
    getmetatable(closed).__close(closed)
    assert.equal("AudioBuffer(closed)", tostring(closed))
  end)
end)
