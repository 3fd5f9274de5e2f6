-- The chunker and the pause finder on made-up audio: tone bursts and gaps at
-- known places, so where each cut must fall is known to the frame.
local chunker = require "gptaudio.chunker"
local pauses = require "gptaudio.pauses"
local recording = require "gptaudio.recording"
local audio = require("gptaudio").audio

local RATE = 16000

-- A buffer of `spans` = { {seconds, loud}, ... }: a 300 Hz tone where loud, faint noise elsewhere.
local function made(spans, rate)
  rate = rate or RATE
  local t, n, seed = {}, 0, 7
  for _, span in ipairs(spans) do
    for _ = 1, math.floor(span[1] * rate + 0.5) do
      n = n + 1
      seed = (seed * 1103515245 + 12345) % 2147483648
      local noise = (seed / 2147483648 - 0.5) * 0.002
      t[n] = noise + (span[2] and 0.4 * math.sin(2 * math.pi * 300 * n / rate) or 0)
    end
  end
  return audio.from_samples(t, rate, 1)
end

-- Every piece, in order, with no gap and no overlap.
local function all_pieces(buf, opts)
  local cutter = chunker.new(assert(recording.open(buf)), opts)
  local pieces = {}
  while true do
    local p, err = cutter:next()
    assert(not err, err)
    if not p then return pieces end
    pieces[#pieces + 1] = p
  end
end

describe("pauses", function()
  it("finds the runs under a threshold between the quiet floor and the speech", function()
    local levels = {}
    for i = 1, 100 do levels[i] = (i > 40 and i <= 60) and -70 or -20 end
    local db = pauses.threshold(levels, 1, 100)
    assert.is_true(db > -70 and db < -20)
    assert.same({ { 41, 60 } }, pauses.find(levels, 1, 100, db, 10))
    assert.same({}, pauses.find(levels, 1, 100, db, 21))
    assert.same({ 1, 100 }, { pauses.speech_span(levels, 1, 100, db) })
    assert.is_nil(pauses.speech_span(levels, 41, 60, db))
  end)
end)

describe("chunker", function()
  it("cuts in the middle of the gap nearest the target, and the pieces cover the recording", function()
    -- loud 0-4, gap 4-5, loud 5-9, gap 9-10.5, loud 10.5-14, gap 14-14.6, loud 14.6-20
    local buf = made{ { 4, true }, { 1, false }, { 4, true }, { 1.5, false }, { 3.5, true }, { 0.6, false },
                      { 5.4, true } }
    local pieces = all_pieces(buf, { target = 8, max = 12, min_silence = 0.3 })
    -- the gap whose middle (9.75) is nearest 8 s, among those between 4 and 12 s; then the
    -- 10.25 s left fit one piece
    assert.equal(2, #pieces)
    assert.near(9.75, pieces[1].stop, 0.011)
    assert.near(20, pieces[2].stop, 0.011)
    -- with a target of 4: the gap nearest 4 s (4-5), then nearest 4.5 + 4 (9-10.5), then 14-14.6
    local short = all_pieces(buf, { target = 4, max = 6, min_silence = 0.3 })
    assert.same({ 4.5, 9.75, 14.3, 20 }, (function()
      local stops = {}
      for i, p in ipairs(short) do stops[i] = math.floor(p.stop * 100 + 0.5) / 100 end
      return stops
    end)())
    for i, p in ipairs(pieces) do
      assert.equal(i, p.index)
      if i > 1 then assert.equal(pieces[i - 1].stop, p.start) end
      local wav = assert(audio.decode(p.wav, "wav"))
      assert.same({ RATE, 1 }, { wav.rate, wav.channels })
      assert.near(p.stop - p.start, wav.duration, 1e-9)
    end
    assert.near(0, pieces[1].speech_start, 0.011)
    assert.near(9, pieces[1].speech_stop, 0.011)
    assert.near(10.5, pieces[2].speech_start, 0.011)
  end)

  it("never makes a piece longer than max, cutting at the quietest window when there is no pause", function()
    local pieces = all_pieces(made{ { 25, true } }, { target = 4, max = 6, min_silence = 0.3 })
    for _, p in ipairs(pieces) do assert.is_true(p.stop - p.start <= 6 + 1e-9) end
    assert.near(25, pieces[#pieces].stop, 0.011)
  end)

  it("reads 48 kHz stereo as 16 kHz mono and cuts it at the same places", function()
    local mono = made({ { 3, true }, { 1, false }, { 3, true } }, 48000)
    local pieces = all_pieces(mono:to_channels(2), { target = 3, max = 4.5, min_silence = 0.3 })
    assert.equal(2, #pieces)
    assert.near(3.5, pieces[1].stop, 0.011)
    assert.equal(RATE, assert(audio.decode(pieces[1].wav, "wav")).rate)
  end)

  it("gives nothing for an empty recording", function()
    assert.same({}, all_pieces(audio.new{ rate = RATE, frames = 0 }, { target = 30, max = 45, min_silence = 0.3 }))
  end)
end)
