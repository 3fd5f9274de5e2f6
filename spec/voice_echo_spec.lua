-- The voice agent without headphones (option echo_cancel), in a simulated
-- room (spec/support/room.lua): the microphone hears the user's espeak-ng
-- questions plus what the sink sounded, 40 ms later, filtered, at half the
-- level. Without the canceller the agent's own reply comes back and barges
-- in on itself; with it the reply plays to its end, and the user's question
-- spoken over a later reply still barges in. Then the pieces: sink:played
-- and the canceller fed by the clock (simulated time).
local gptaudio = require "gptaudio"
local echo_path = require "gptaudio.voice.echo_path"
local openai = require "spec.support.openai"
local room = require "spec.support.room"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local audio = gptaudio.audio

local TTFB = 0.3
local PAUSE = 0.6
-- From the end of a question to its answer's first sound: the pause, the server, some slack.
local ANSWER_AFTER = PAUSE + TTFB + 0.1
local ANSWER_1 = "It will be sunny in the morning, with some rain later on."
local ANSWER_2 = "Tomorrow starts cloudy, then the sun comes out by noon and it stays warm and dry all evening."
local ANSWER_3 = "Why did the chicken cross the road?"

-- The user's voice on the microphone's clock: each { at =, audio = }.
local voice = voice_script.laid

local function count(events, kind)
  local n = 0
  for _, ev in ipairs(events) do
    if ev.type == kind then n = n + 1 end
  end
  return n
end

local function speech_starts(events)
  local times = {}
  for _, ev in ipairs(events) do
    if ev.type == "user_speech_start" then times[#times + 1] = ev.time end
  end
  return times
end

-- One conversation in the room, in real time; the replies scripted in order.
local function converse(server, user, seconds, replies, echo_cancel)
  server:clear()
  server:script(openai.CHAT, replies)
  local client = gptaudio.new{ base_url = server.url, api_key = "sk-test", max_retries = 0 }
  local r = room.new{ engine = client.engine, user = user, seconds = seconds }
  local events = {}
  local agent = gptaudio.voice.agent{ client = client, source = r.source, sink = r.sink, voice = "verse",
                                      vad = { pause = PAUSE }, echo_cancel = echo_cancel,
                                      on_event = function(ev) events[#events + 1] = ev end }
  local summary = assert(agent:run())
  local run = { summary = summary, events = events, requests = server:requests(openai.CHAT), room = r }
  client:close()
  return run
end

-- What happened, for a failure's message.
local function story(run)
  local lines = {}
  for _, ev in ipairs(run.events) do
    if ev.type ~= "transcript" then lines[#lines + 1] = ev.type .. (ev.time and ("@%.2f"):format(ev.time) or "") end
  end
  return table.concat(lines, " ")
end

-- Seconds into the input when a turn's reply began to sound.
local function sounded_at(run, turn)
  return turn.first_sample - run.room.started
end

describe("voice.agent in a room without headphones", function()
  local server, dir, q1, q2, q3, a1, a2, a3
  setup_.fake_server(function(s) server = s end)

  setup(function()
    dir = util.temp_dir()
    q1 = voice_script.speech("What is the weather like today?", dir, "q1")
    q2 = voice_script.speech("And what about tomorrow?", dir, "q2")
    q3 = voice_script.speech("Stop. Tell me a joke instead.", dir, "q3")
    a1 = voice_script.speech(ANSWER_1, dir, "a1", "en-gb")
    a2 = voice_script.speech(ANSWER_2, dir, "a2", "en-gb")
    a3 = voice_script.speech(ANSWER_3, dir, "a3", "en-gb")
  end)
  teardown(function() if dir then util.remove_tree(dir) end end)

  it("without the canceller the reply comes back and barges in on itself", function()
    local seconds = 0.3 + q1.duration + ANSWER_AFTER + a1.duration + 1
    local replies = {}
    for i = 1, 6 do replies[i] = voice_script.reply(i == 1 and a1 or a3, i == 1 and ANSWER_1 or ANSWER_3,
                                                    { delay = TTFB }) end
    local run = converse(server, voice({ { at = 0.3, audio = q1 } }, seconds), seconds, replies, false)
    local turn = run.summary.turns[1]
    assert.is_true(turn.interrupted)
    assert.equal("cancelled", turn.status)
    assert.is_true(turn.heard < 0.5 * a1.duration, turn.heard)
    -- The second "speech" is the reply itself, heard 40 ms after it began to sound.
    local starts = speech_starts(run.events)
    assert.is_true(math.abs(starts[1] - 0.3) < 0.1, starts[1])
    local echo_start = starts[2] - sounded_at(run, turn)
    assert.is_true(echo_start > 0 and echo_start < 0.3, echo_start)
    -- The user asked once; the agent sent its own echo as more questions.
    assert.is_true(#run.requests >= 2, #run.requests)
    assert.equal(#run.requests, #run.summary.turns)
    assert.is_true(count(run.events, "interrupted") >= 1)
  end)

  describe("with the canceller", function()
    local run, marks
    setup(function()
      local q2_at = 0.3 + q1.duration + ANSWER_AFTER + a1.duration + 1
      -- The third question starts 1.5 s into the second answer.
      local q3_at = q2_at + q2.duration + ANSWER_AFTER + 1.5
      local seconds = q3_at + q3.duration + ANSWER_AFTER + a3.duration + 1
      marks = { 0.3, q2_at, q3_at }
      local user = voice({ { at = 0.3, audio = q1 }, { at = q2_at, audio = q2 }, { at = q3_at, audio = q3 } }, seconds)
      run = converse(server, user, seconds, { voice_script.reply(a1, ANSWER_1, { delay = TTFB }),
                                              -- streamed a little faster than it plays: still
                                              -- arriving when the third question comes
                                              voice_script.reply(a2, ANSWER_2, { delay = TTFB, chunk_delay = 0.08 }),
                                              voice_script.reply(a3, ANSWER_3, { delay = TTFB }) }, true)
    end)

    it("hears each question once and sends three requests, no more", function()
      assert.equal(3, #run.requests, story(run))
      assert.equal(3, #run.summary.turns)
      local starts = speech_starts(run.events)
      assert.equal(3, #starts, story(run))
      for i, at in ipairs(marks) do assert.is_true(math.abs(starts[i] - at) < 0.15, i .. ": " .. starts[i]) end
      assert.equal(3, count(run.events, "user_speech_end"))
    end)

    it("the first reply plays to its end: no barge-in on itself", function()
      local turn = run.summary.turns[1]
      assert.is_false(turn.interrupted)
      assert.equal("done", turn.status)
      assert.is_true(math.abs(turn.heard - a1.duration) < 1e-6, turn.heard)
      assert.equal(ANSWER_1, turn.transcript)
    end)

    it("the user's question over the second reply still barges in; the third reply plays whole", function()
      local two, three = run.summary.turns[2], run.summary.turns[3]
      assert.is_true(two.interrupted)
      assert.equal("cancelled", two.status)
      assert.equal(1, count(run.events, "interrupted"), story(run))
      assert.is_true(two.heard < two.received and two.received < a2.duration, two.received)
      -- Stopped within about the VAD's onset (and the guard's window) of the question.
      local late = sounded_at(run, two) + two.heard - marks[3]
      assert.is_true(late > 0 and late < 0.4, late)
      assert.is_false(three.interrupted)
      assert.is_true(math.abs(three.heard - a3.duration) < 1e-6, three.heard)
    end)

    it("each utterance sent is the question, trimmed as usual", function()
      local questions = { q1, q2, q3 }
      for i, request in ipairs(run.requests) do
        local messages = request.json.messages
        local said = assert(audio.decode(require("gptaudio.core").base64_decode(
          messages[#messages].content[1].input_audio.data), "wav"))
        assert.is_true(math.abs(said.duration - (questions[i].duration + 0.3)) < 0.2, i .. ": " .. said.duration)
      end
    end)
  end)
end)

describe("voice.agent echo_cancel options", function()
  it("needs a sink that can say what it played, and refuses what is not a setting", function()
    local client = gptaudio.new{ api_key = false, base_url = "http://127.0.0.1:9", engine = gptaudio.engine.new() }
    local function nothing() end
    local duck = { play = nothing, finish = nothing, stop = nothing, heard = nothing, playing = nothing,
                   begin = nothing }
    -- The same sink serves without the canceller.
    assert.is_table(gptaudio.voice.agent{ client = client, sink = duck })
    assert.has_error(function() gptaudio.voice.agent{ client = client, sink = duck, echo_cancel = true } end,
                     "voice.agent: 'echo_cancel' needs a sink with played(from, to): what it sounded when")
    local sink = audio.recording_sink{ rate = 24000, engine = client.engine }
    for _, bad in ipairs{ "yes", 1, { tail = 2 }, { tail = 0 }, { guard = -1 }, { guard = "loud" }, { delay = 1 } } do
      assert.has_error(function() gptaudio.voice.agent{ client = client, sink = sink, echo_cancel = bad } end)
    end
    for _, good in ipairs{ true, false, { tail = 0.1 }, { guard = false }, { tail = 0.5, guard = 10 } } do
      assert.is_table(gptaudio.voice.agent{ client = client, sink = sink, echo_cancel = good })
    end
    client:close()
    client.engine:close()
  end)
end)

describe("sink:played", function()
  local now, engine
  before_each(function()
    now = 100
    engine = gptaudio.engine.new{ clock = function() return now end }
  end)
  after_each(function() engine:close() end)

  local function advance(seconds)
    local stop = now + seconds
    while now < stop - 1e-9 do
      now = math.min(stop, now + 0.005)
      engine:step(0)
    end
  end

  local function ramp(frames, channels)
    local t = {}
    for i = 1, frames * channels do t[i] = (math.floor((i - 1) / channels) % 1000) / 2000 end
    return audio.from_samples(t, 24000, channels)
  end

  it("gives what sounded on the clock's frames, silence around it, spans end to end", function()
    local sink = audio.recording_sink{ rate = 24000, engine = engine }
    advance(0.1)
    local started = now
    local reply = ramp(4800, 1)
    sink:play(reply)
    advance(0.5)
    local whole = audio.new{ rate = 24000 }
    for from = started - 0.05, started + 0.3 - 1e-9, 0.01 do whole:append(sink:played(from, from + 0.01)) end
    -- 0.35 s on the grid; the reply from 0.05 s on
    assert.equal(8400, whole.frames)
    setup_.assert_same_audio(audio.new{ rate = 24000, frames = 1200 }, whole:slice(1, 1200))
    setup_.assert_same_audio(reply, whole:slice(1201, 6000))
    assert.equal(0, whole:slice(6001):peak())
  end)

  it("a stop cuts it at what had sounded; a stereo sink gives mono", function()
    local sink = audio.sink{ rate = 24000, channels = 2, engine = engine, play = function() end }
    local started = now
    sink:play(ramp(4800, 2))
    advance(0.1)
    local heard = sink:stop()
    assert.is_true(math.abs(heard - 0.1) < 1e-6, heard)
    local played = sink:played(started, started + 0.2)
    assert.equal(1, played.channels)
    assert.equal(4800, played.frames)
    setup_.assert_same_audio(ramp(2400, 1), played:slice(1, 2400))
    assert.equal(0, played:slice(2401):peak())
  end)

  it("refuses a span that is not one", function()
    local sink = audio.recording_sink{ rate = 24000, engine = engine }
    assert.has_error(function() sink:played(1, 0) end, "sink:played: 'to' must be 0 to 60 seconds after 'from'")
    assert.has_error(function() sink:played(0, 0 / 0) end)
    assert.has_error(function() sink:played(0, 1e9) end)
    assert.has_error(function() sink:played("0", 1) end)
    assert.equal(0, sink:played(5, 5).frames)
  end)
end)

describe("the echo path on a simulated clock", function()
  local dir, reply
  setup(function()
    dir = util.temp_dir()
    reply = voice_script.speech(ANSWER_2, dir, "a", "en-gb")
  end)
  teardown(function() if dir then util.remove_tree(dir) end end)

  -- The reply played into the room from 0.5 s on, every chunk through the echo path; late(i)
  -- (default none): the seconds chunk i is handed over after it was captured, as a recorder's
  -- pipe and a busy host delay it.
  local function cancel(sink_rate, chunk_seconds, late, drift)
    local now = 1000
    local engine = gptaudio.engine.new{ clock = function() return now end }
    local r = room.new{ engine = engine, user = audio.new{ rate = 24000 }, seconds = reply.duration + 1,
                        sink_rate = sink_rate, drift = drift }
    local path = echo_path.new{ rate = 24000, sink = r.sink }
    local clean = audio.new{ rate = 24000 }
    r:capture(now)
    local played, next_chunk, chunks = false, now + chunk_seconds, 0
    while r.heard.frames < r.frames do
      now = now + 0.005
      if not played and now >= 1000.5 then
        r.sink:play(sink_rate == 24000 and reply or reply:resample(sink_rate))
        played = true
      end
      engine:step(0)
      if now >= next_chunk - 1e-9 then
        next_chunk = next_chunk + chunk_seconds
        local chunk = r:capture(now)
        if chunk then
          chunks = chunks + 1
          clean:append(path:process(chunk, now + (late and late(chunks) or 0)))
        end
      end
    end
    engine:close()
    -- ERLE after the canceller's first second of the reply
    local from, to = math.floor(1.5 * 24000), math.floor((0.5 + reply.duration) * 24000)
    return 20 * math.log(r.echo:slice(from, to):rms() / clean:slice(from, to):rms(), 10), clean, r
  end

  for _, case in ipairs{ { 24000, 0.02 }, { 24000, 0.03 }, { 48000, 0.02 } } do
    it(("takes 15 dB+ of the echo out (sink at %d Hz, %d ms chunks)"):format(case[1], case[2] * 1000), function()
      local erle, clean, r = cancel(case[1], case[2])
      assert.is_true(erle >= 15, ("ERLE %.1f dB"):format(erle))
      -- whole 10 ms frames come out; what is held stays under one
      assert.is_true(r.heard.frames - clean.frames < 240, clean.frames)
    end)
  end

  -- A real recorder hands chunks over late by varying amounts, and a sound card's clock is not the
  -- engine's: the microphone's place on the clock must follow the card without following each
  -- chunk's lateness (each move shifts the echo against its reference, and the canceller learns
  -- the room again).
  it("takes 15 dB+ out when chunks come 0 to 15 ms late, unevenly, from a card 300 ppm fast", function()
    local x = 1 -- Park and Miller's generator: the same numbers on every Lua
    local erle = cancel(24000, 0.02, function()
      x = x * 16807 % 2147483647
      return 0.015 * x / 2147483647
    end, 3e-4)
    assert.is_true(erle >= 15, ("ERLE %.1f dB"):format(erle))
  end)
end)
