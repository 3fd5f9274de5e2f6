-- gptaudio.voice.agent, a whole conversation headless: the file source plays
-- two espeak-ng questions in real time, the second one starting while the
-- first answer plays; the fake server answers each with streamed audio after
-- a fixed 0.3 s; the recording sink keeps what was played. Checked: the
-- events, the requests and the history, the barge-in (playback stopped at
-- once, the request cancelled, the transcript cut at what was heard), what
-- the sink played, and the latency split. Then the same with push-to-talk,
-- and a tool round.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local json = require "cjson"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"
local socket = require "socket"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local audio = gptaudio.audio

local PAUSE = 0.6

local function types(events)
  local list = {}
  for _, ev in ipairs(events) do
    if ev.type ~= "transcript" then list[#list + 1] = ev.type end
  end
  return list
end

local function wav_of(message)
  return assert(audio.decode(core.base64_decode(message.content[1].input_audio.data), "wav"))
end

describe("voice.agent: a conversation with a barge-in, headless", function()
  local server, dir, clock
  local q1, q2, a1, a2, marks, ttfb, answers
  local events, summary, sink, requests

  setup_.fake_server(function(s) server = s end)

  setup(function()
    dir = util.temp_dir()
    local c = voice_script.conversation(dir)
    q1, q2, a1, a2, marks, ttfb, answers = c.q1, c.q2, c.a1, c.a2, c.marks, c.ttfb, c.answers
    server:script(openai.CHAT, c.replies)
    local client = gptaudio.new{ base_url = server.url, api_key = "sk-test", max_retries = 0 }
    clock = client.engine.scheduler
    local start = clock:now()
    sink = audio.recording_sink{ rate = 24000 }
    events = {}
    local agent = gptaudio.voice.agent{
      client = client, sink = sink, system = "You are a helpful assistant.", voice = "verse",
      source = assert(audio.capture{ file = c.input, realtime = true }), vad = { pause = PAUSE },
      on_event = function(ev)
        ev.clock = clock:now() - start
        events[#events + 1] = ev
      end,
    }
    summary = assert(agent:run())
    summary.start = start
    requests = server:requests(openai.CHAT)
    client:close()
  end)

  teardown(function() if dir then util.remove_tree(dir) end end)

  it("reports the turn's events in order", function()
    assert.same({ "listening", "user_speech_start", "user_speech_end", "thinking", "speaking",
                  "user_speech_start", "interrupted", "user_speech_end", "thinking", "speaking", "turn_done",
                  "listening", "stopped" }, types(events))
    local starts = {}
    for _, ev in ipairs(events) do
      if ev.type == "user_speech_start" then starts[#starts + 1] = ev.time end
    end
    -- The VAD finds each question where it starts.
    assert.is_true(math.abs(starts[1] - marks[1].start) < 0.1, starts[1])
    assert.is_true(math.abs(starts[2] - marks[2].start) < 0.1, starts[2])
  end)

  it("sends each utterance trimmed as 24 kHz mono WAV, with the history of what was heard", function()
    assert.equal(2, #requests)
    local first, second = requests[1].json, requests[2].json
    assert.is_true(first.stream)
    assert.same({ voice = "verse", format = "pcm16" }, first.audio)
    assert.equal(2, #first.messages)
    assert.same({ role = "system", content = "You are a helpful assistant." }, first.messages[1])
    -- Each utterance: from 0.2 s before the VAD's start to 0.1 s after its end.
    local spans = {}
    for _, ev in ipairs(events) do
      if ev.type == "user_speech_start" then spans[#spans + 1] = { ev.time - 0.2 } end
      if ev.type == "user_speech_end" then spans[#spans][2] = ev.time + 0.1 end
    end
    local heard = wav_of(first.messages[2])
    assert.same({ 24000, 1 }, { heard.rate, heard.channels })
    assert.is_true(math.abs(heard.duration - (spans[1][2] - spans[1][1])) < 2 / 24000, heard.duration)
    assert.is_true(math.abs(heard.duration - (q1.duration + 0.3)) < 0.2, heard.duration)
    assert.equal(4, #second.messages)
    assert.same({ role = "assistant", content = summary.turns[1].transcript }, second.messages[3])
    local heard2 = wav_of(second.messages[4])
    assert.is_true(math.abs(heard2.duration - (spans[2][2] - spans[2][1])) < 2 / 24000, heard2.duration)
    assert.is_true(math.abs(heard2.duration - (q2.duration + 0.3)) < 0.2, heard2.duration)
    assert.equal(5, #summary.history)
    for i = 1, 4 do assert.equal(second.messages[i].role, summary.history[i].role) end
    assert.same({ role = "assistant", content = answers[2] }, summary.history[5])
  end)

  it("barge-in: playback stops at once, the request is cancelled, the transcript is cut at what was heard", function()
    local turn = summary.turns[1]
    assert.is_true(turn.interrupted)
    assert.equal("cancelled", turn.status)
    -- The server saw the connection close while it was still sending the answer.
    assert.is_number(requests[1].closed_after)
    assert.is_nil(requests[2].closed_after)
    local interrupted
    for _, ev in ipairs(events) do
      if ev.type == "interrupted" then interrupted = ev end
    end
    assert.equal(turn.heard, interrupted.heard)
    -- The answer is 5 s long; it played from about 0.9 s after the question to the barge-in.
    assert.is_true(turn.heard > 0.8 and turn.heard < 1.6, turn.heard)
    assert.is_true(turn.received > turn.heard, turn.received)
    -- Cut at a word's end, in proportion to what was heard of what had come.
    local full = turn.received_transcript
    assert.equal(answers[1]:sub(1, #full), full)
    assert.equal(full:sub(1, #turn.transcript), turn.transcript)
    assert.is_truthy(full:sub(#turn.transcript + 1):match("^%s"))
    local share = turn.heard / turn.received
    assert.is_true(#turn.transcript <= share * #full and #turn.transcript > share * #full - 12, #turn.transcript)
    -- Nothing of the first answer sounded after the barge-in.
    local pieces = sink.recorded()
    local played_until = 0
    for _, piece in ipairs(pieces) do
      if piece.time < interrupted.clock + summary.start then
        played_until = math.max(played_until, piece.time + piece.audio.duration)
      end
    end
    assert.is_true(played_until <= interrupted.clock + summary.start + 1e-6)
  end)

  it("the sink played the heard part of the first answer and all of the second, sample for sample", function()
    local pieces = sink.recorded()
    local one, two = summary.turns[1], summary.turns[2]
    local interrupted
    for _, ev in ipairs(events) do
      if ev.type == "interrupted" then interrupted = ev.clock + summary.start end
    end
    local first = audio.new{ rate = 24000 }
    local second = audio.new{ rate = 24000 }
    for _, piece in ipairs(pieces) do
      (piece.time < interrupted and first or second):append(piece.audio)
      -- In 20 ms pieces.
      assert.is_true(piece.audio.duration <= 0.02 + 1e-9)
    end
    assert.is_false(two.interrupted)
    assert.is_true(math.abs(first.frames - one.heard * 24000) < 2, first.frames .. " " .. one.heard * 24000)
    setup_.assert_same_audio(audio.from_pcm16(a1:encode("pcm16"), 24000):slice(1, first.frames), first)
    assert.is_true(math.abs(two.heard - a2.duration) < 1e-6, two.heard)
    setup_.assert_same_audio(audio.from_pcm16(a2:encode("pcm16"), 24000), second)
  end)

  it("measures each turn's latency: endpointing, upload, server, client", function()
    for _, turn in ipairs(summary.turns) do
      local l = turn.latency
      assert.is_true(l.endpointing >= PAUSE - 0.01 and l.endpointing < PAUSE + 0.1, l.endpointing)
      assert.is_true(l.server >= ttfb and l.server < ttfb + 0.2, l.server)
      assert.is_true(l.first_byte >= ttfb - 0.01 and l.first_byte <= l.server + 1e-9, l.first_byte)
      assert.is_true(l.upload >= 0 and l.upload < 0.1, l.upload)
      assert.equal(0, l.tools)
      -- A generous bound (the figure itself is in BENCHMARKS.md).
      assert.is_true(l.client >= 0 and l.client < 0.1, l.client)
      assert.is_true(math.abs(l.total - (l.endpointing + l.upload + l.server + l.client)) < 1e-9)
    end
    -- The cancelled request reported no usage; the second did.
    assert.is_nil(summary.turns[1].cost)
    assert.is_true(summary.turns[2].cost > 0)
    assert.equal(150, summary.turns[2].usage.total_tokens)
    assert.equal(summary.turns[2].cost, summary.cost)
  end)
end)

describe("voice.agent: push-to-talk", function()
  local server, client, dir
  setup_.fake_client({}, function(s, c) server, client = s, c end)
  setup(function() dir = util.temp_dir() end)
  teardown(function() util.remove_tree(dir) end)

  it("sends what was said while the key was down; the key down over the answer silences and cancels it", function()
    local c = voice_script.conversation(dir)
    server:script(openai.CHAT, c.replies)
    local sink = audio.recording_sink{ rate = 24000 }
    local clock = client.engine.scheduler
    local events, barged = {}, nil
    local agent = gptaudio.voice.agent{ client = client, sink = sink, push_to_talk = true, system = "Be brief.",
      source = assert(audio.capture{ file = c.input, realtime = true }),
      on_event = function(ev)
        events[#events + 1] = ev
        if ev.type == "interrupted" then barged = clock:now() end
      end }
    -- The key goes down 0.2 s before each question and comes up 0.25 s after it.
    for _, mark in ipairs(c.marks) do
      clock:after(mark.start - 0.2, function() agent:talk(true) end)
      clock:after(mark.stop + 0.25, function() agent:talk(false) end)
    end
    local summary = assert(agent:run())
    assert.same({ "listening", "user_speech_start", "user_speech_end", "thinking", "speaking",
                  "user_speech_start", "interrupted", "user_speech_end", "thinking", "speaking", "turn_done",
                  "listening", "stopped" }, types(events))
    local requests = server:requests(openai.CHAT)
    assert.equal(2, #requests)
    -- Each utterance: from the preroll before the key went down to the key's release.
    for i, message in ipairs{ requests[1].json.messages[2], requests[2].json.messages[4] } do
      local held = c.marks[i].stop - c.marks[i].start + 0.45
      local said = wav_of(message).duration
      assert.is_true(said > held + 0.1 and said < held + 0.3, said .. " " .. held)
    end
    local one, two = summary.turns[1], summary.turns[2]
    assert.same({ true, "cancelled" }, { one.interrupted, one.status })
    assert.is_number(requests[1].closed_after)
    assert.is_true(one.heard > 0.5 and one.heard < c.a1.duration - 2, one.heard)
    assert.equal(c.answers[1]:sub(1, #one.transcript), one.transcript)
    assert.is_truthy(c.answers[1]:sub(#one.transcript + 1):match("^%s"))
    assert.same({ role = "assistant", content = one.transcript }, requests[2].json.messages[3])
    assert.same({ false, "done", c.answers[2] }, { two.interrupted, two.status, two.transcript })
    -- Nothing of the first answer sounded after the key went down, and what
    -- sounded before it is what the agent counted as heard.
    local before = 0
    for _, piece in ipairs(sink.recorded()) do
      if piece.time < barged then
        assert.is_true(piece.time + piece.audio.duration <= barged + 1e-6)
        before = before + piece.audio.frames
      end
    end
    assert.is_true(math.abs(before - one.heard * 24000) < 2, before)
    -- The key's release is the end of speech: no endpointing wait.
    for _, turn in ipairs(summary.turns) do
      assert.is_true(turn.latency.endpointing >= 0 and turn.latency.endpointing < 0.01, turn.latency.endpointing)
      assert.is_true(turn.latency.server >= c.ttfb, turn.latency.server)
    end
  end)
end)

describe("voice.agent: tools between rounds", function()
  local server, client, dir
  setup_.fake_client({}, function(s, c) server, client = s, c end)
  setup(function() dir = util.temp_dir() end)
  teardown(function() util.remove_tree(dir) end)

  it("runs the model's tool call, then plays the answer that follows it", function()
    local q = voice_script.speech("What time is it?", dir, "q")
    local a = voice_script.speech("It is noon.", dir, "a")
    local path = voice_script.recording({ { at = 0.3, audio = q } }, q.duration + 1.2, dir)
    local call = { id = "call_1", type = "function", ["function"] = { name = "clock", arguments = "{}" } }
    server:script(openai.CHAT, {
      { events = { { data = json.encode{ id = "c", object = "chat.completion.chunk", created = 1, model = openai.MODEL,
                                         choices = { { index = 0, finish_reason = "tool_calls",
                                                       delta = { role = "assistant", tool_calls = {
                                                         { index = 0, id = call.id, type = "function",
                                                           ["function"] = call["function"] } } } } } } },
                   "[DONE]" }, no_length = true },
      voice_script.reply(a, "It is noon."),
    })
    local asked = 0
    local box = gptaudio.tools.new{ { name = "clock", handler = function() asked = asked + 1 return "12:00" end } }
    local sink = audio.recording_sink{ rate = 24000 }
    local seen = {}
    local agent = gptaudio.voice.agent{ client = client, sink = sink, tools = box,
      source = assert(audio.capture{ file = path, realtime = false }),
      on_event = function(ev) if ev.type == "tool_call" then seen[#seen + 1] = ev end end }
    local summary = assert(agent:run())
    assert.equal(1, asked)
    assert.equal(1, #seen)
    assert.same({ "clock", "12:00" }, { seen[1].tool_call.name, seen[1].result })
    local second = server:requests(openai.CHAT)[2].json
    assert.equal("tool", second.messages[3].role)
    assert.same({ "call_1", "12:00" }, { second.messages[3].tool_call_id, second.messages[3].content })
    assert.equal(4, #summary.history)
    assert.same({ role = "assistant", content = "It is noon." }, summary.history[4])
    local _, whole = sink.recorded()
    assert.is_true(math.abs(whole.duration - a.duration) < 1e-3)
  end)
end)

describe("voice.agent: a sink that fails", function()
  local server, client, dir
  setup_.fake_client({}, function(s, c) server, client = s, c end)
  setup(function() dir = util.temp_dir() end)
  teardown(function() util.remove_tree(dir) end)

  it("mid-reply: the agent stops, cancels the request, ends with the sink's error, starts no other turn", function()
    local c = voice_script.conversation(dir)
    server:script(openai.CHAT, c.replies)
    -- A player that dies after the reply's third piece, as audio.playback reports it.
    local sink = audio.recording_sink{ rate = 24000 }
    local died = core.error{ type = "io", message = "pacat ended (status 1): Connection failure: Connection refused" }
    local clock = client.engine.scheduler
    local play, played, failed_at = sink.play, 0, nil
    sink.play = function(self, chunk)
      play(self, chunk)
      played = played + 1
      if played == 3 then self.error, failed_at = died, clock:now() end
    end
    local events = {}
    local agent = gptaudio.voice.agent{ client = client, sink = sink,
      source = assert(audio.capture{ file = c.input, realtime = true }), vad = { pause = PAUSE },
      on_event = function(ev) events[#events + 1] = ev end }
    local start = clock:now()
    local summary = assert(agent:run())
    local ended = clock:now()
    assert.same({ "listening", "user_speech_start", "user_speech_end", "thinking", "speaking", "interrupted",
                  "stopped" }, types(events))
    assert.equal(died, events[#events].error)
    assert.equal(died, summary.error)
    -- The request in flight was cancelled; the second question was never sent.
    -- (the server notices the close at the next piece it cannot send)
    local deadline, requests = socket.gettime() + 5
    repeat
      requests = server:requests(openai.CHAT)
      socket.sleep(0.02)
    until requests[1].closed_after or socket.gettime() > deadline
    assert.equal(1, #requests)
    assert.is_number(requests[1].closed_after)
    assert.equal(1, #summary.turns)
    assert.same({ true, "cancelled" }, { summary.turns[1].interrupted, summary.turns[1].status })
    -- Stopped within a chunk or two of the failure, long before the recording ends.
    assert.is_true(ended - failed_at < 1, ended - failed_at)
    assert.is_true(ended - start < c.marks[2].start, ended - start)
    assert.is_false(sink:playing())
  end)
end)
