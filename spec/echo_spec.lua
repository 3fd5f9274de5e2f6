-- gptaudio.audio.echo_canceller on the echo set made at test time
-- (spec/support/echo_set.lua): how much of the agent's echo it takes out
-- (BENCHMARKS.md has the figures), that the user's voice alone passes at its
-- level, whole 10 ms frames out of any chunk size, and bad input.
local audio = require("gptaudio").audio
local echo_set = require "spec.support.echo_set"

describe("audio.echo_canceller", function()
  for _, rate in ipairs{ 16000, 24000 } do
    it(("at %d Hz takes 15 dB+ of echo out (ERLE) and keeps the user's voice within 1 dB"):format(rate), function()
      local set = echo_set.make(rate)
      local out = echo_set.cancel(set, audio.echo_canceller{ rate = rate })
      -- whole 10 ms frames: the last partial one stays inside
      assert.equal(set.mic.frames - set.mic.frames % (rate / 100), out.frames)
      local m = echo_set.measure(set, out)
      assert.is_true(m.erle >= 15, ("ERLE %.1f dB"):format(m.erle))
      assert.is_true(math.abs(m.near_kept) <= 1, ("user's voice %.1f dB"):format(m.near_kept))
    end)
  end

  it("gives whole 10 ms frames out of any chunk, the rest with the next chunk", function()
    local ec = audio.echo_canceller{ rate = 16000 }
    local out = assert(ec:capture(audio.new{ rate = 16000, frames = 250 }))
    assert.equal(160, out.frames)
    assert.equal(16000, out.rate)
    assert.equal(320, assert(ec:capture(string.rep("\0", 2 * 230))).frames)
    assert.equal(ec, ec:playback(audio.new{ rate = 16000, frames = 100 }))
    assert.equal(ec, ec:playback(""))
    assert.equal(0, assert(ec:capture("")).frames)
    ec:reset()
    assert.equal(0, assert(ec:capture(audio.new{ rate = 16000, frames = 100 })).frames)
  end)

  it("refuses wrong arguments and bad data", function()
    assert.has_error(function() audio.echo_canceller{ rate = 96000 } end)
    assert.has_error(function() audio.echo_canceller{ tail = 2 } end)
    assert.has_error(function() audio.echo_canceller{ tail = "long" } end)
    assert.has_error(function() audio.echo_canceller{ delay = 1 } end)
    local ec = audio.echo_canceller{ rate = 16000 }
    assert.has_error(function() ec:capture(audio.new{ rate = 8000, frames = 10 }) end)
    assert.has_error(function() ec:playback(42) end)
    local none, err = ec:capture("abc")
    assert.is_nil(none)
    assert.equal("audio", err.type)
    assert.matches("EchoCanceller%(16000 Hz, tail 0.25 s%)", tostring(ec))
    ec:close()
    assert.has_error(function() ec:capture("") end)
    assert.equal("EchoCanceller(closed)", tostring(ec))
  end)
end)
