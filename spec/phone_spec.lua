-- gptaudio.phone against a simulated caller: a WebSocket client that plays the
-- Twilio side (connected, start, 20 ms mu-law media frames of an espeak-ng
-- question, marks echoed as its playback reaches them, stop) against nginx
-- running examples/phone and the fake server answering with streamed audio.
local cjson = require "cjson"
local socket = require "socket"
local audio = require("gptaudio").audio
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"
local twilio_caller = require "spec.support.twilio_caller"

local TICK, SILENCE = twilio_caller.TICK, twilio_caller.SILENCE
local run, closed_by_server = twilio_caller.run, twilio_caller.closed_by_server
local spoken_frames = twilio_caller.spoken_frames
local SERVER_DELAY = 0.3
-- The fake server drips the reply's pieces this far apart; the first audio
-- comes in the second piece (the first names the audio, as the API's does).
local DRIP = twilio_caller.DRIP
local audio_reply = twilio_caller.audio_reply
local PAUSE = 0.6 -- the VAD's default endpointing wait

-- The dominant frequency of 8 kHz audio, by its zero crossings.
local function frequency(buf)
  local crossings, last = 0, buf:sample(1)
  for i = 2, buf.frames do
    local s = buf:sample(i)
    if (s >= 0) ~= (last >= 0) then crossings = crossings + 1 end
    last = s
  end
  return crossings / 2 / buf.duration
end

-- Every message the call got named its own stream, and every media frame was 20 ms of mu-law.
local function assert_own_valid_frames(c)
  assert.is_nil(c.foreign, "messages for another stream")
  assert.is_nil(c.bad_frames, "media frames that are not 160 bytes")
end

describe("gptaudio.phone on OpenResty", function()
  local server, site
  local question = spoken_frames("Where is my order one two three four?", "en-us")
  local interruption = spoken_frames("No wait, I meant the other order.", "en-us+f3")

  setup(function()
    server = fake.start()
    site = nginx.start("examples/phone/nginx.conf", { OPENAI_API_KEY = "sk-phone-test", OPENAI_BASE_URL = server.url })
  end)
  teardown(function()
    if site then site:stop() end
    if server then server:stop() end
  end)
  before_each(function() server:clear() end)

  it("answers after endpointing, paces the reply, echoes marks, clears on barge-in and cuts the history", function()
    local full = "Your order one two three four has shipped with DHL and arrives on Thursday, " ..
      "is there anything else I can do for you today?"
    server:script("/v1/chat/completions", { audio_reply(440, 3, full, SERVER_DELAY),
                                            audio_reply(660, 1, "Sure, which order do you mean?", SERVER_DELAY) })
    local t = {}
    local c = twilio_caller.new(site.port, 1, function(self, now)
      local reply1 = self.media[1]
      if not t.start then t.start = now end
      local i = math.floor((now - t.start) / TICK + 0.5) - 25 -- half a second of silence first
      if i >= 1 and i <= #question then
        t.question_end = now + TICK
        return question[i]
      end
      -- the caller talks over the reply 0.6 s after it began
      if reply1 and now >= reply1.at + 0.6 then
        t.barge = t.barge or now
        local k = math.floor((now - t.barge) / TICK + 0.5) + 1
        if k <= #interruption then return interruption[k] end
      end
      return SILENCE
    end)
    -- until the second reply (1 s, 50 frames) has come and played
    run({ c }, function()
      if not c.clears[1] then return false end
      local after = 0
      for _, m in ipairs(c.media) do if m.at > c.clears[1] then after = after + 1 end end
      t.second_done = t.second_done or (after >= 45 and socket.gettime())
      return t.second_done and socket.gettime() > t.second_done + 1.2
    end, 20)
    c:stop()
    assert.is_true(closed_by_server(c, 5), "the server closes the call after stop")
    assert.is_truthy(t.second_done, ("%d frames, %d clears"):format(#c.media, #c.clears))

    assert_own_valid_frames(c)
    local requests = server:requests("/v1/chat/completions")
    assert.equal(2, #requests)
    -- first reply frame: the question's end + endpointing + the server's delay + our own work
    local first = c.media[1].at - (t.question_end + PAUSE + SERVER_DELAY + DRIP)
    print(("\n# phone: first reply frame %.0f ms after question end + pause + server time to first audio"):format(
      first * 1000))
    assert.is_true(first < 0.25, ("first reply frame %.3f s late"):format(first))
    -- paced: never more than about a second ahead of the caller's playback
    local reply1 = {}
    for _, m in ipairs(c.media) do if m.at < c.clears[1] then reply1[#reply1 + 1] = m end end
    for i, m in ipairs(reply1) do
      assert.is_true(i * TICK - (m.at - reply1[1].at) <= 1.0 + 0.1, ("frame %d %.2f s ahead"):format(i,
        i * TICK - (m.at - reply1[1].at)))
    end
    assert.is_true(#reply1 < 3 / TICK, "the 3 s reply was cut")
    -- the reply is the 440 Hz tone, as valid mu-law
    local tone = audio.decode(table.concat((function()
      local b = {}
      for i = 5, math.min(#reply1, 30) do b[#b + 1] = reply1[i].bytes end
      return b
    end)()), "mulaw", 8000)
    assert.is_true(math.abs(frequency(tone) - 440) < 20, ("reply at %.0f Hz"):format(frequency(tone)))
    -- barge-in: clear within 300 ms of the caller's speech, marks came back before it
    assert.equal(1, #c.clears)
    assert.is_true(c.clears[1] - t.barge < 0.3, ("clear %.3f s after speech start"):format(c.clears[1] - t.barge))
    assert.is_true(#c.echoed >= 2)
    -- the history holds what the caller heard: the first words of the transcript, not all of it
    local messages = requests[2].json.messages
    assert.equal("system", messages[1].role)
    assert.equal("user", messages[2].role)
    assert.equal("input_audio", messages[2].content[1].type)
    assert.equal("assistant", messages[3].role)
    local heard = messages[3].content
    assert.is_true(#heard > 0 and #heard < #full / 2, "cut transcript: " .. tostring(heard))
    assert.equal(full:sub(1, #heard), heard)
    assert.equal("user", messages[4].role)
    -- the log line of the call
    assert.matches("gptaudio phone: call " .. c.call .. " ended %(stop%): [%d.]+ s, 2 turns, 150 tokens",
      site:error_log())
  end)

  -- The caller's frames: half a second of silence, the question, then silence.
  local function asking(self, now)
    self.t0 = self.t0 or now
    local i = math.floor((now - self.t0) / TICK + 0.5) - 25
    if i >= 1 and i <= #question then
      self.question_end = now + TICK
      return question[i]
    end
    return SILENCE
  end

  it("a stop while the reply is awaited cancels its request: the call ends at once", function()
    server:script("/v1/chat/completions", { audio_reply(440, 1, "Too late.", 3) })
    local c = twilio_caller.new(site.port, 2, asking)
    run({ c }, function() return c.question_end and socket.gettime() > c.question_end + PAUSE + 0.4 end, 10)
    local stopped = socket.gettime()
    c:stop()
    assert.is_true(closed_by_server(c, 2.5))
    assert.is_true(socket.gettime() - stopped < 1, "the call waited for the reply")
    assert.equal(0, #c.media)
    assert.equal(1, #server:requests("/v1/chat/completions"))
    assert.matches("call " .. c.call .. " ended %(stop%): [%d.]+ s, 1 turns, 0 tokens", site:error_log())
  end)

  -- The caller's frames: `offset` s of silence, the question, then silence.
  local function asking_after(offset)
    return function(self, now)
      self.t0 = self.t0 or now
      local i = math.floor((now - self.t0 - offset) / TICK + 0.5)
      if i >= 1 and i <= #question then
        self.question_end = now + TICK
        return question[i]
      end
      return SILENCE
    end
  end

  -- Polls the fake server until its first chat request records the client's close, or `limit` s.
  local function upstream_closed(limit)
    local deadline = socket.gettime() + limit
    repeat
      local first = server:requests("/v1/chat/completions")[1]
      if first and first.closed_after then return first end
      socket.sleep(0.02)
    until socket.gettime() > deadline
  end

  it("a hung upstream stalls only its own call: another call's turn answers at the usual latency", function()
    server:script("/v1/chat/completions", { { hold = 20 }, audio_reply(660, 1, "Here you are.", SERVER_DELAY) })
    local hung = twilio_caller.new(site.port, 5, asking_after(0.5))
    local other = twilio_caller.new(site.port, 6, asking_after(1.5))
    run({ hung, other }, function() return #other.media >= 45 end, 15)
    assert.is_true(#other.media >= 45, "the other call was answered")
    assert.equal(0, #hung.media)
    local first = other.media[1].at - (other.question_end + PAUSE + SERVER_DELAY + DRIP)
    assert.is_true(first < 0.25, ("the other call's first reply frame %.3f s late"):format(first))
    assert.equal(2, #server:requests("/v1/chat/completions"))
    -- the hung call still hangs up at once: its request is cancelled, the upstream sees it go
    local stopped = socket.gettime()
    hung:stop()
    other:stop()
    assert.is_true(closed_by_server(hung, 2))
    assert.is_true(socket.gettime() - stopped < 1, "the hung call waited for its upstream")
    assert.is_truthy(upstream_closed(1), "the hung request's connection was not closed")
    assert.is_true(closed_by_server(other, 5))
  end)

  it("a caller whose line drops (no stop, the connection closed) cancels its request at once", function()
    server:script("/v1/chat/completions", { { hold = 20 } })
    local c = twilio_caller.new(site.port, 7, asking)
    run({ c }, function() return c.question_end and socket.gettime() > c.question_end + PAUSE + 0.4 end, 10)
    assert.equal(1, #server:requests("/v1/chat/completions"))
    local dropped = socket.gettime()
    c:drop()
    local request = upstream_closed(3)
    assert.is_truthy(request, "the request's connection was not closed")
    local took = socket.gettime() - dropped
    assert.is_true(took < 1, ("cancelled %.2f s after the drop"):format(took))
    local log
    for _ = 1, 50 do
      log = site:error_log()
      if log:find("call " .. c.call .. " ended", 1, true) then break end
      socket.sleep(0.02)
    end
    assert.matches("call " .. c.call .. " ended %(read failed: [^)]*%): [%d.]+ s, 1 turns, 0 tokens", log)
  end)

  it("keeps earlier turns as their transcripts: a turn sends only its own audio", function()
    local said = "Where is my order one two three four?"
    local heard = { json = { text = said } }
    server:script("/v1/audio/transcriptions", { heard, heard, heard })
    server:script("/v1/chat/completions", { audio_reply(450, 0.5, "One.", 0.05), audio_reply(550, 0.5, "Two.", 0.05),
                                            audio_reply(650, 0.5, "Three.", 0.05) })
    -- the question three times, 2 s apart (each short reply has played by then)
    local c = twilio_caller.new(site.port, 8, function(self, now)
      self.t0 = self.t0 or now
      local i = math.floor((now - self.t0) / TICK + 0.5) - 25
      local k = i % (#question + 100)
      if i >= 1 and i <= 3 * (#question + 100) and k >= 1 and k <= #question then return question[k] end
      return SILENCE
    end)
    run({ c }, function() return #c.media >= 72 end, 20)
    c:stop()
    assert.is_true(closed_by_server(c, 5))
    assert.is_true(#c.media >= 72, "three replies came: " .. #c.media .. " frames")
    local requests = server:requests("/v1/chat/completions")
    assert.equal(3, #requests)
    assert.equal(3, #server:requests("/v1/audio/transcriptions"))
    local messages = requests[3].json.messages
    assert.same({ "system", "user", "assistant", "user", "assistant", "user" }, (function()
      local roles = {}
      for i, m in ipairs(messages) do roles[i] = m.role end
      return roles
    end)())
    assert.equal(said, messages[2].content)
    assert.equal("One.", messages[3].content)
    assert.equal(said, messages[4].content)
    assert.equal("input_audio", messages[6].content[1].type)
    -- turn 3 carries one utterance's audio, as turn 1 did: its body grew by the text alone
    local first, third = #requests[1].body, #requests[3].body
    print(("\n# phone: request body of turn 1 %d bytes, turn 3 %d bytes"):format(first, third))
    assert.is_true(third < first * 1.15, ("turn 3 sent %d bytes, turn 1 %d"):format(third, first))
  end)

  it("eight calls at once in one worker keep their audio apart", function()
    local tones, replies = {}, {}
    for k = 1, 8 do
      tones[k] = 300 + 100 * k
      replies[k] = audio_reply(tones[k], 1.5, "Call number " .. k .. " here.", SERVER_DELAY)
    end
    server:script("/v1/chat/completions", replies)
    local callers = {}
    for k = 1, 8 do callers[k] = twilio_caller.new(site.port, 10 + k, asking) end
    run(callers, function()
      for _, c in ipairs(callers) do
        if #c.media < 70 then return false end
      end
      return true
    end, 20)
    local heard = {}
    for _, c in ipairs(callers) do
      c:stop()
      assert_own_valid_frames(c)
      assert.is_true(#c.media >= 70, ("%s got %d frames"):format(c.call, #c.media))
      local bytes = {}
      for i = 5, 70 do bytes[#bytes + 1] = c.media[i].bytes end
      local reply = assert(audio.decode(table.concat(bytes), "mulaw", 8000))
      -- one tone from its start to its end: no other call's audio mixed in
      local early, late = frequency(reply:slice(1, 4000)), frequency(reply:slice(-4000))
      assert.is_true(math.abs(early - late) < 15, ("%.0f Hz then %.0f Hz"):format(early, late))
      local nearest = math.floor(early / 100 + 0.5) * 100
      assert.is_true(math.abs(early - nearest) < 15)
      assert.is_nil(heard[nearest], "two calls got the same reply")
      heard[nearest] = true
    end
    for _, tone in ipairs(tones) do assert.is_true(heard[tone], tone .. " Hz went to no call") end
    for _, c in ipairs(callers) do assert.is_true(closed_by_server(c, 5)) end
  end)

  it("runs a tool call between rounds and reports the caller's keys (DTMF)", function()
    local base = { id = "chatcmpl-tool", object = "chat.completion.chunk", created = 0, model = "gpt-audio-mini" }
    local function chunk(delta, reason)
      local c = {}
      for k, v in pairs(base) do c[k] = v end
      c.choices = { { index = 0, delta = delta, finish_reason = reason or cjson.null } }
      return { data = c }
    end
    local tool_round = { no_length = true, delay = 0.05, events = {
      chunk{ role = "assistant", content = cjson.null, tool_calls = { { index = 0, id = "call_1", type = "function",
             ["function"] = { name = "order_status", arguments = "" } } } },
      chunk{ tool_calls = { { index = 0, ["function"] = { arguments = '{"order_id":' } } } },
      chunk{ tool_calls = { { index = 0, ["function"] = { arguments = '"1234"}' } } } },
      chunk({}, "tool_calls"), "[DONE]" } }
    server:script("/v1/chat/completions", { tool_round, audio_reply(500, 1, "It has shipped with DHL.", 0.05) })
    local c = twilio_caller.new(site.port, 3, asking)
    local pressed = false
    run({ c }, function()
      if c.question_end and not pressed then
        pressed = true
        c:send{ event = "dtmf", streamSid = c.sid, dtmf = { track = "inbound_track", digit = "5" } }
      end
      return #c.media >= 45
    end, 15)
    c:stop()
    assert.is_true(closed_by_server(c, 5))
    assert_own_valid_frames(c)
    assert.is_true(#c.media >= 45, "the answer after the tool came through")
    local requests = server:requests("/v1/chat/completions")
    assert.equal(2, #requests)
    local messages = requests[2].json.messages
    local call, result = messages[#messages - 1], messages[#messages]
    assert.equal("assistant", call.role)
    assert.equal("order_status", call.tool_calls[1]["function"].name)
    assert.equal("tool", result.role)
    assert.equal("call_1", result.tool_call_id)
    assert.same({ status = "shipped", carrier = "DHL", arrives = "Thursday" }, cjson.decode(result.content))
    local log = site:error_log()
    assert.matches("tool order_status for the caller", log, 1, true)
    assert.matches("caller pressed 5", log, 1, true)
  end)

  it("an upstream failure loses that turn only: the call goes on and answers the next question", function()
    local refused = { status = 400, json = { error = { message = "boom", type = "invalid_request_error" } } }
    server:script("/v1/chat/completions", { refused, audio_reply(550, 1, "Back again.", SERVER_DELAY) })
    local t = {}
    local c = twilio_caller.new(site.port, 4, function(_, now)
      t.start = t.start or now
      local i = math.floor((now - t.start) / TICK + 0.5) - 25
      if i >= 1 and i <= #question then return question[i] end
      -- the same question again 2 s after the first ended
      local j = i - #question - 100
      if j >= 1 and j <= #question then return question[j] end
      return SILENCE
    end)
    run({ c }, function() return #c.media >= 45 end, 15)
    c:stop()
    assert.is_true(closed_by_server(c, 5))
    assert.is_true(#c.media >= 45, "the second question was answered")
    assert.equal(2, #server:requests("/v1/chat/completions"))
    assert.matches("turn 1 failed", site:error_log(), 1, true)
    assert.matches("call " .. c.call .. " ended %(stop%): [%d.]+ s, 2 turns", site:error_log())
  end)

  it("answers a request that is no WebSocket handshake in a short text: 426 for a plain GET, 400 for a bad one",
     function()
    local http = require "socket.http"
    local ltn12 = require "ltn12"
    local logged = #site:error_log()
    local function get(headers)
      local body = {}
      local _, status, head = http.request{ url = site.url .. "/call", headers = headers,
                                            sink = ltn12.sink.table(body) }
      return status, head, table.concat(body)
    end
    local status, head, body = get()
    assert.equal(426, status)
    assert.equal("websocket", head.upgrade)
    assert.equal("text/plain", head["content-type"])
    assert.equal("a WebSocket endpoint (Twilio Media Streams): connect with Upgrade: websocket\n", body)
    status, head, body = get{ upgrade = "websocket", connection = "Upgrade" }
    assert.equal(400, status)
    assert.is_nil(head.upgrade)
    assert.equal("bad WebSocket handshake: bad \"sec-websocket-key\" request header\n", body)
    assert.is_nil(site:error_log():sub(logged + 1):find("[error]", 1, true),
                  "a stray request is not the server's error")
    assert.equal(0, #server:requests("/v1/chat/completions"))
  end)
end)
