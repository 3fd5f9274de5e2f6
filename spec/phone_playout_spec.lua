-- gptaudio.phone.playout with a fake clock and socket: 20 ms mu-law frames out
-- of 24 kHz chunks, never more than `ahead` seconds beyond the caller's
-- playback, a mark every 5 frames and at the end, the heard share from the
-- marks that come back, and clear.
local cjson = require "cjson"
local audio = require("gptaudio").audio
local core = require "gptaudio.core"
local playout = require "gptaudio.phone.playout"

local function tone(seconds)
  local t = {}
  for i = 1, math.floor(24000 * seconds) do t[i] = 0.3 * math.sin(2 * math.pi * 440 * (i - 1) / 24000) end
  return audio.from_samples(t, 24000)
end

local function fixture()
  local clock, sent = { t = 100 }, {}
  local p = playout.new{ stream_sid = "MZ1", now = function() return clock.t end,
                         send = function(text) sent[#sent + 1] = cjson.decode(text) return true end }
  return p, clock, sent
end

local function count(sent, event)
  local n = 0
  for _, msg in ipairs(sent) do if msg.event == event then n = n + 1 end end
  return n
end

describe("phone playout", function()
  it("sends 20 ms mu-law frames for the right stream, at most a second ahead of the clock", function()
    local p, clock, sent = fixture()
    p:begin(1)
    p:add(tone(3))
    p:finish()
    local wait = p:pump()
    assert.equal(50, count(sent, "media")) -- one second's worth, then it waits
    assert.is_true(wait > 0 and wait <= 0.02)
    for _, msg in ipairs(sent) do
      assert.equal("MZ1", msg.streamSid)
      if msg.event == "media" then assert.equal(160, #core.base64_decode(msg.media.payload)) end
    end
    clock.t = clock.t + 0.5
    p:pump()
    assert.equal(75, count(sent, "media"))
    -- the caller heard all of it long ago: a second ahead of now again
    clock.t = clock.t + 10
    assert.is_true(p:pump() > 0)
    assert.equal(125, count(sent, "media"))
    clock.t = clock.t + 1
    assert.is_nil(p:pump())
    assert.equal(150, count(sent, "media"))
    assert.is_true(p:playing()) -- the caller has a second left to hear
    clock.t = clock.t + 1
    assert.is_false(p:playing())
    -- a mark every 5 frames and one at the very end
    assert.equal(31, count(sent, "mark"))
    assert.equal("1:3000", sent[#sent].mark.name)
  end)

  it("learns what was heard from the marks that come back, and clear drops the rest", function()
    local p, clock, sent = fixture()
    p:begin(2)
    p:add(tone(2))
    p:pump()
    p:marked("2:400")
    p:marked("1:1800") -- an earlier reply's mark says nothing about this one
    clock.t = clock.t + 0.3
    assert.is_true(p:playing())
    local heard, received = p:clear()
    assert.equal(0.4, heard)
    assert.is_true(math.abs(received - 2) < 0.01)
    assert.equal("clear", sent[#sent].event)
    assert.equal(0, p:queued())
    assert.is_false(p:playing())
  end)

  it("starts the caller's playback clock again after a gap", function()
    local p, clock, sent = fixture()
    p:begin(1)
    p:add(tone(0.2))
    p:finish()
    p:pump()
    assert.equal(10, count(sent, "media"))
    clock.t = clock.t + 5
    p:begin(2)
    p:add(tone(1.5))
    p:pump()
    assert.equal(10 + 50, count(sent, "media"))
  end)
end)
