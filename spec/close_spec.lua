-- close() frees a buffer or a resampler now, on every Lua (LuaJIT has no
-- <close> variables), and any later use raises instead of crashing.
local audio = require("gptaudio").audio

describe("close()", function()
  it("frees an AudioBuffer now; later use raises; closing again does nothing", function()
    local buf = audio.new{ rate = 24000, channels = 2, frames = 480 }
    buf:close()
    assert.equal("AudioBuffer(closed)", tostring(buf))
    assert.matches("AudioBuffer is closed", select(2, pcall(function() return buf.frames end)), 1, true)
    assert.has_error(function() buf:encode("wav") end)
    buf:close()
  end)

  it("frees a Resampler now; later use raises; closing again does nothing", function()
    local rs = audio.resampler{ from = 24000, to = 48000 }
    rs:close()
    assert.has_error(function() rs:process(audio.new{ rate = 24000, frames = 10 }) end)
    rs:close()
  end)
end)
