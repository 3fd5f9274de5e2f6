-- Sources and sinks driven by the engine's timers: a recording played as a
-- microphone (in real time, or as fast as the engine steps), a recorder
-- child's output read without waiting (sox standing in for parec/arecord, as
-- there is no sound card here), a recorder that fails, and the three sinks:
-- what the recording sink keeps, a player child's input, the host's callbacks.
local gptaudio = require "gptaudio"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local audio = gptaudio.audio

-- Steps the engine until done() or `limit` seconds; returns the longest step.
local function drive(engine, done, limit)
  local start, longest = engine.scheduler:now(), 0
  while not done() and engine.scheduler:now() - start < (limit or 10) do
    local before = engine.scheduler:now()
    engine:step(0.005)
    longest = math.max(longest, engine.scheduler:now() - before)
  end
  assert(done(), "timed out")
  return longest
end

local function joined(chunks, rate, channels)
  local whole = audio.new{ rate = rate, channels = channels or 1 }
  for _, c in ipairs(chunks) do whole:append(c.audio) end
  return whole
end

describe("audio.capture", function()
  local dir, path, recording, engine

  setup(function()
    dir = util.temp_dir()
    path = dir .. "/tone.wav"
    local samples = {}
    for i = 1, 12000 do samples[i] = 0.5 * math.sin(i * 0.05) end
    recording = audio.from_samples(samples, 24000)
    assert(recording:save(path))
  end)
  teardown(function() util.remove_tree(dir) end)
  before_each(function() engine = gptaudio.engine.new() end)
  after_each(function() engine:close() end)

  it("plays a file in real time, in chunks of about 20 ms, then ends", function()
    local source = assert(audio.capture{ file = path, realtime = true, engine = engine })
    assert.same({ 24000, 1 }, { source.rate, source.channels })
    local chunks, ended, ends = {}, false, 0
    local start = engine.scheduler:now()
    source:start(function(chunk, at) chunks[#chunks + 1] = { audio = chunk, at = at } end,
                 function(err) ended, ends = true, ends + 1 assert.is_nil(err) end)
    assert.is_true(source:running())
    local longest = drive(engine, function() return ended end)
    local took = engine.scheduler:now() - start
    assert.is_true(took >= 0.49 and took < 1.5, took)
    assert.equal(1, ends)
    assert.is_false(source:running())
    setup_.assert_same_audio(audio.from_pcm16(recording:encode("pcm16"), 24000), joined(chunks, 24000))
    -- 0.5 s in 20 ms chunks: about 25 of them, each when the clock says its frames are due.
    assert.is_true(#chunks >= 15 and #chunks <= 30, #chunks)
    -- By each chunk, what the clock made due has been delivered, give or take a period.
    local delivered = 0
    for _, c in ipairs(chunks) do
      delivered = delivered + c.audio.frames
      local due = math.min(recording.frames, (c.at - start) * 24000)
      assert.is_true(math.abs(due - delivered) <= 0.04 * 24000, ("%.0f due, %d delivered"):format(due, delivered))
    end
    -- Stepping never waited on the source.
    assert.is_true(longest < 0.1, longest)
  end)

  it("converts the file to the rate and channels asked; realtime = false goes as fast as the engine steps", function()
    local source = assert(audio.capture{ file = path, realtime = false, rate = 16000, channels = 2, engine = engine })
    assert.same({ 16000, 2 }, { source.rate, source.channels })
    local chunks, ended = {}, false
    local start = engine.scheduler:now()
    source:start(function(chunk) chunks[#chunks + 1] = { audio = chunk } end, function() ended = true end)
    drive(engine, function() return ended end)
    assert.is_true(engine.scheduler:now() - start < 0.4)
    local whole = joined(chunks, 16000, 2)
    assert.equal(8000, whole.frames)
    assert.equal(320, chunks[1].audio.frames)
  end)

  it("reads a recorder child's raw output without waiting (sox standing in for parec)", function()
    local source = assert(audio.capture{ engine = engine, rate = 24000, channels = 1,
      command = { "sox", "-q", path, "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", "24000", "-" } })
    local chunks, ended, failure = {}, false, nil
    assert(source:start(function(chunk) chunks[#chunks + 1] = { audio = chunk } end,
                        function(err) ended, failure = true, err end))
    drive(engine, function() return ended end)
    assert.is_nil(failure)
    setup_.assert_same_audio(audio.from_pcm16(recording:encode("pcm16"), 24000), joined(chunks, 24000))
  end)

  it("a recorder that fails ends the source with what it said", function()
    local source = assert(audio.capture{ engine = engine,
      command = { "sh", "-c", "echo 'no such device' >&2; exit 1" } })
    local failure, ends = nil, 0
    source:start(function() end, function(err) failure, ends = err, ends + 1 end)
    drive(engine, function() return ends > 0 end)
    assert.equal(1, ends)
    assert.equal("io", failure.type)
    assert.equal("sh ended (status 1): no such device", failure.message)
    local missing = assert(audio.capture{ engine = engine, command = { "gptaudio-no-such-recorder" } })
    local ok, err = missing:start(function() end)
    assert.is_nil(ok)
    assert.equal("io", err.type)
    assert.is_false(missing:running())
  end)

  it("stop from inside on_chunk: no more chunks, no on_end", function()
    local source = assert(audio.capture{ file = path, engine = engine })
    local count, ended = 0, false
    source:start(function() count = count + 1 source:stop() end, function() ended = true end)
    local deadline = engine.scheduler:now() + 0.2
    drive(engine, function() return engine.scheduler:now() >= deadline end)
    assert.equal(1, count)
    assert.is_false(ended)
    assert.is_false(source:running())
  end)

  it("refuses what is not a source's setting", function()
    assert.has_error(function() audio.capture{ file = path, device = "x" } end,
                     "audio.capture: 'file' takes no 'command', 'device' or 'backend'")
    assert.has_error(function() audio.capture{ realtime = true } end,
                     "audio.capture: 'realtime' is for a 'file' source")
    assert.has_error(function() audio.capture{ backend = "oss" } end)
    assert.has_error(function() audio.capture{ colour = 1 } end, "audio.capture: unknown option 'colour'")
    local none, err = audio.capture{ file = dir .. "/missing.wav", engine = engine }
    assert.is_nil(none)
    assert.equal("audio", err.type)
  end)
end)

describe("sinks", function()
  local engine
  local half = audio.from_samples((function()
    local t = {}
    for i = 1, 12000 do t[i] = 0.25 * math.sin(i * 0.03) end
    return t
  end)(), 24000)

  before_each(function() engine = gptaudio.engine.new() end)
  after_each(function() engine:close() end)

  it("the recording sink plays at real time in 20 ms pieces and says when all was heard", function()
    local sink = audio.recording_sink{ rate = 24000, engine = engine }
    local start = engine.scheduler:now()
    sink:play(half)
    assert.is_true(sink:playing())
    assert.is_true(sink.first_at - start < 0.01)
    local done_at
    sink:finish(function() done_at = engine.scheduler:now() end)
    drive(engine, function() return done_at ~= nil end)
    assert.is_true(done_at - start >= 0.5 - 1e-3 and done_at - start < 0.7, done_at - start)
    assert.is_false(sink:playing())
    assert.is_true(math.abs(sink:heard() - 0.5) < 1e-6)
    local pieces, whole = sink.recorded()
    assert.equal(25, #pieces)
    for i = 2, #pieces do
      assert.is_true(math.abs(pieces[i].time - (pieces[i - 1].time + 0.02)) < 1e-6)
    end
    setup_.assert_same_audio(half, whole)
  end)

  it("stop drops what is queued, keeps what sounded, and returns the seconds heard", function()
    local sink = audio.recording_sink{ rate = 24000, engine = engine }
    sink:play(half)
    local deadline = engine.scheduler:now() + 0.2
    drive(engine, function() return engine.scheduler:now() >= deadline end)
    local heard = sink:stop()
    assert.is_true(heard >= 0.2 - 1e-3 and heard < 0.3, heard)
    assert.is_false(sink:playing())
    local _, whole = sink.recorded()
    assert.is_true(math.abs(whole.duration - heard) < 2 / 24000, whole.duration)
    sink:begin()
    assert.equal(0, sink:heard())
    assert.is_nil(sink.first_at)
  end)

  it("playback writes what plays to a player child's stdin; stop ends the player", function()
    local dir = util.temp_dir()
    local out = dir .. "/played.raw"
    local sink = audio.playback{ rate = 24000, engine = engine, command = { "sh", "-c", "cat > " .. out } }
    sink:play(half)
    local done = false
    sink:finish(function() done = true end)
    drive(engine, function() return done end)
    sink:close()
    assert.equal(half:encode("pcm16"), setup_.read_file(out))
    util.remove_tree(dir)
  end)

  it("the host's own output gets each piece as it is due, and stop", function()
    local pieces, stops = {}, 0
    local sink = audio.sink{ rate = 24000, channels = 2, engine = engine,
                             play = function(p) pieces[#pieces + 1] = p end,
                             stop = function() stops = stops + 1 end }
    sink:play(half)
    assert.is_true(#pieces >= 1 and #pieces <= 4, #pieces)
    assert.equal(2, pieces[1].channels)
    sink:stop()
    assert.equal(1, stops)
    assert.has_error(function() sink:play(half:resample(16000)) end,
                     "sink:play: the chunk is at 16000 Hz, the sink at 24000 Hz")
    assert.has_error(function() sink:play("bytes") end, "sink:play: 'chunk' must be an AudioBuffer (got string)")
  end)
end)
