-- core.base64_encode / core.base64_decode, checked against a plain-Lua encoder,
-- and the WAV reader on real recordings that sox rewrote in every format it reads.
local core = require "gptaudio.core"
local audio = require("gptaudio").audio

local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- An independent encoder: arithmetic only, so it runs the same on 5.4 and LuaJIT.
local function reference_encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local digits = {}
    for k = 4, 1, -1 do
      local d = v % 64
      digits[k] = ALPHABET:sub(d + 1, d + 1)
      v = (v - d) / 64
    end
    if not b then digits[3] = "=" end
    if not c then digits[4] = "=" end
    out[#out + 1] = table.concat(digits)
  end
  return table.concat(out)
end

local function random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

describe("core.base64_encode and core.base64_decode", function()
  it("match the RFC 4648 vectors both ways, padding optional on the way in", function()
    local vectors = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
                      { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } }
    for _, v in ipairs(vectors) do
      assert.equal(v[2], core.base64_encode(v[1]))
      assert.equal(v[1], core.base64_decode(v[2]))
      assert.equal(v[1], core.base64_decode((v[2]:gsub("=", ""))))
    end
    assert.equal(1, select("#", core.base64_decode("Zg==")))
    assert.equal(1, select("#", core.base64_encode("f")))
  end)

  it("round-trip random binary strings of every length up to 600, agreeing with a Lua encoder", function()
    math.randomseed(20240601)
    for n = 0, 600 do
      local bytes = random_bytes(n)
      local text = core.base64_encode(bytes)
      assert.equal(reference_encode(bytes), text)
      assert.equal(4 * math.ceil(n / 3), #text)
      assert.is_true(core.base64_decode(text) == bytes, "length " .. n)
    end
  end)

  it("round-trip every byte value and strings with NULs", function()
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    all = table.concat(all)
    assert.is_true(core.base64_decode(core.base64_encode(all)) == all)
    assert.equal("AAAA", core.base64_encode("\0\0\0"))
    assert.equal("\0a\0", core.base64_decode("AGEA"))
  end)

  it("round-trip a few megabytes, as a long streamed reply carries", function()
    local block = random_bytes(4096)
    local bytes = block:rep(768) -- 3 MiB
    local text = core.base64_encode(bytes)
    assert.equal(4 * 1024 * 1024, #text)
    assert.is_true(core.base64_decode(text) == bytes)
  end)

  it("return nil and a protocol gptaudio.Error for invalid base64", function()
    local invalid = { "Zm9v!mFy", "Zm9v YmFy", "Zm9v\nYmFy", "Zg==Zg==", "Zm9vY", "Z", "=", "QQ=", "QQ===",
                      "Zh==", "Zm9=", "Zm9v-_Fy", "Zm9v\0mFy" }
    for _, text in ipairs(invalid) do
      local result, err = core.base64_decode(text)
      assert.is_nil(result, text)
      assert.equal(core.Error, getmetatable(err))
      assert.equal("protocol", err.type)
      assert.equal("gptaudio protocol error: invalid base64 (" .. #text .. " characters)", tostring(err))
    end
  end)

  it("raise naming argument #1 for anything but a string, numbers included", function()
    for _, f in ipairs({ core.base64_encode, core.base64_decode }) do
      for _, value in ipairs({ 42, true, {}, print, io.stdout }) do
        local ok, message = pcall(f, value)
        assert.is_false(ok)
        assert.matches("bad argument #1", message, 1, true)
        assert.matches("string expected, got " .. type(value), message, 1, true)
      end
      local ok, message = pcall(f)
      assert.is_false(ok)
      assert.matches("bad argument #1 .*string expected, got no value", message)
    end
  end)
end)

describe("the WAV reader on real recordings rewritten by sox", function()
  local SOURCE = "/usr/share/sounds/alsa/Front_Center.wav"
  local original = assert(audio.load(SOURCE))

  -- os.execute says true on 5.4 and 0 on LuaJIT.
  local function convert(options)
    local path = os.tmpname()
    local result = os.execute("sox -D " .. SOURCE .. " " .. options .. " -t wav " .. path)
    assert.is_true(result == true or result == 0, "sox " .. options)
    local buf, err = audio.load(path)
    os.remove(path)
    return assert(buf, err)
  end

  -- Formats wider than 16 bits hold every 16-bit sample exactly.
  local exact = {
    { "24-bit PCM (EXTENSIBLE)", "-b 24 -e signed-integer" },
    { "32-bit PCM (EXTENSIBLE)", "-b 32 -e signed-integer" },
    { "32-bit float (fmt 18 + fact)", "-b 32 -e floating-point" },
    { "64-bit float", "-b 64 -e floating-point" },
  }
  for _, case in ipairs(exact) do
    it(case[1] .. " gives the 16-bit original's samples exactly", function()
      local buf = convert(case[2])
      assert.equal(48000, buf.rate)
      assert.equal(1, buf.channels)
      assert.equal(original.frames, buf.frames)
      assert.is_true(buf:encode("f32") == original:encode("f32"))
    end)
  end

  it("8-bit PCM gives the original within one 8-bit step", function()
    local buf = convert("-b 8 -e unsigned-integer")
    assert.equal(original.frames, buf.frames)
    local worst = 0
    for i = 1, buf.frames do
      worst = math.max(worst, math.abs(buf:sample(i, 1) - original:sample(i, 1)))
    end
    assert.is_true(worst <= 1 / 128, "worst difference " .. worst)
  end)

  it("3-channel 16-bit (EXTENSIBLE) gives the original in every channel", function()
    local buf = convert("-c 3")
    assert.equal(3, buf.channels)
    assert.equal(original.frames, buf.frames)
    for _, i in ipairs({ 1, 1000, 34567, original.frames }) do
      for ch = 1, 3 do assert.equal(original:sample(i, 1), buf:sample(i, ch)) end
    end
  end)
end)
