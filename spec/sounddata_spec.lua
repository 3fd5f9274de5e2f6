-- audio.from_sounddata: a LÖVE SoundData (here a stand-in with the same
-- methods over an AudioBuffer's 16-bit samples) becomes an AudioBuffer.
local audio = require("gptaudio").audio

local function sounddata(buf)
  local pointer, size = buf:pointer()
  return {
    keep = buf, -- the memory behind the pointer
    getPointer = function() return pointer end,
    getSize = function() return size end,
    getSampleRate = function() return buf.rate end,
    getBitDepth = function() return 16 end,
    getChannelCount = function() return buf.channels end,
  }
end

describe("audio.from_sounddata", function()
  it("copies the samples, rate and channels of a SoundData", function()
    local source = audio.from_samples({ 0.5, -0.25, 0.125, -1 }, 22050, 2)
    local buf = audio.from_sounddata(sounddata(source))
    assert.same({ 22050, 2, 2 }, { buf.rate, buf.channels, buf.frames })
    assert.equal(source:encode("pcm16"), buf:encode("pcm16"))
  end)

  it("raises naming the argument for anything else", function()
    for _, bad in ipairs{ 1, "x", {}, { getPointer = 1 } } do
      local ok, err = pcall(audio.from_sounddata, bad)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'from_sounddata' %(LÖVE SoundData expected", err)
    end
  end)
end)
