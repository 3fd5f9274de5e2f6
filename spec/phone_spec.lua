-- gptaudio.phone against a simulated caller: a WebSocket client that plays the
-- Twilio side (connected, start, 20 ms mu-law media frames of an espeak-ng
-- question, marks echoed as its playback reaches them, stop) against nginx
-- running examples/phone and the fake server answering with streamed audio.
local cjson = require "cjson"
local socket = require "socket"
local audio = require("gptaudio").audio
local core = require "gptaudio.core"
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"
local util = require "spec.support.util"
local ws_client = require "spec.support.ws_client"

local TICK = 0.02
local SILENCE = ("\255"):rep(160)
local SERVER_DELAY = 0.3
-- The fake server drips the reply's pieces this far apart; the first audio
-- comes in the second piece (the first names the audio, as the API's does).
local DRIP = 0.09
local PAUSE = 0.6 -- the VAD's default endpointing wait

-- An espeak-ng sentence as 8 kHz mu-law, cut into 160-byte frames.
local function spoken_frames(text, voice)
  local dir = util.temp_dir()
  assert(util.succeeded(("%s espeak-ng -v %s -w %s %s"):format(util.spawn_env(), voice,
    util.shell_quote(dir .. "/q.wav"), util.shell_quote(text))))
  local said = assert(audio.load(dir .. "/q.wav")):trim(-45):resample(8000)
  util.remove_tree(dir)
  said:gain(20 * math.log(0.5 / said:peak(), 10))
  local bytes, frames = said:encode("mulaw"), {}
  for i = 1, #bytes, 160 do frames[#frames + 1] = (bytes:sub(i, i + 159) .. SILENCE):sub(1, 160) end
  return frames
end

-- A streamed chat reply of `seconds` of a `hz` tone with its transcript, as
-- the API sends it, dripped at about real time after `delay`.
local function audio_reply(hz, seconds, transcript, delay)
  local t = {}
  for i = 1, math.floor(24000 * seconds) do t[i] = 0.3 * math.sin(2 * math.pi * hz * (i - 1) / 24000) end
  local pcm = audio.from_samples(t, 24000):encode("pcm16")
  local base = { id = "chatcmpl-phone", object = "chat.completion.chunk", created = 0, model = "gpt-audio-mini" }
  local function chunk(delta, reason)
    local c = {}
    for k, v in pairs(base) do c[k] = v end
    c.choices = { { index = 0, delta = delta, finish_reason = reason or cjson.null } }
    return { data = c }
  end
  local events = { chunk{ role = "assistant", audio = { id = "audio_phone", transcript = "" } } }
  local words, piece = {}, 4800 -- 0.1 s of audio a piece
  for w in transcript:gmatch("%S+") do words[#words + 1] = w end
  local pieces = math.ceil(#pcm / piece)
  for i = 1, math.max(pieces, #words) do
    local delta = {}
    if i <= #words then delta.transcript = (i > 1 and " " or "") .. words[i] end
    if i <= pieces then delta.data = core.base64_encode(pcm:sub((i - 1) * piece + 1, i * piece)) end
    events[#events + 1] = chunk{ audio = delta }
  end
  events[#events + 1] = chunk({}, "stop")
  local usage = { prompt_tokens = 100, completion_tokens = 50, total_tokens = 150 }
  local last = chunk({})
  last.data.choices, last.data.usage = {}, usage
  events[#events + 1] = last
  events[#events + 1] = "[DONE]"
  return { events = events, no_length = true, delay = delay, chunk_delay = DRIP }
end

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

local Caller = {}
Caller.__index = Caller

-- A simulated Twilio side; next_frame(self, now) gives the 160 bytes to send this tick.
local function caller(site, n, next_frame)
  local self = setmetatable({
    ws = ws_client.connect("127.0.0.1", site.port, "/call"), sid = ("MZ%032d"):format(n), call = ("CA%032d"):format(n),
    next_frame = next_frame, sequence = 0, chunk = 0, media = {}, marks = {}, clears = {}, echoed = {},
    playback_end = 0, pending = {}, sent_voice = {},
  }, Caller)
  self:send{ event = "connected", protocol = "Call", version = "1.0.0" }
  self:send{ event = "start", streamSid = self.sid, start = {
    streamSid = self.sid, callSid = self.call, accountSid = "AC0", tracks = { "inbound" },
    customParameters = { order = "1234" },
    mediaFormat = { encoding = "audio/x-mulaw", sampleRate = 8000, channels = 1 } } }
  return self
end

function Caller:send(msg)
  self.sequence = self.sequence + 1
  msg.sequenceNumber = tostring(self.sequence)
  assert(self.ws:send_text(cjson.encode(msg)))
end

function Caller:step(now)
  if self.stopped then
    self.ws:poll()
    return
  end
  local frame = self:next_frame(now)
  self.chunk = self.chunk + 1
  self:send{ event = "media", streamSid = self.sid, media = { track = "inbound", chunk = tostring(self.chunk),
             timestamp = tostring((self.chunk - 1) * 20), payload = core.base64_encode(frame) } }
  for _, f in ipairs(self.ws:poll()) do
    if f.opcode == "text" then
      local msg = cjson.decode(f.payload)
      assert.equal(self.sid, msg.streamSid)
      if msg.event == "media" then
        local bytes = assert(core.base64_decode(msg.media.payload))
        assert.equal(160, #bytes)
        self.media[#self.media + 1] = { at = now, bytes = bytes }
        self.playback_end = math.max(self.playback_end, now) + TICK
      elseif msg.event == "mark" then
        self.pending[#self.pending + 1] = { name = msg.mark.name, at = self.playback_end }
        self.marks[#self.marks + 1] = msg.mark.name
      elseif msg.event == "clear" then
        self.clears[#self.clears + 1] = now
        self.playback_end, self.pending = now, {}
      end
    end
  end
  -- Marks go back once the audio sent before them has played.
  local still = {}
  for _, mark in ipairs(self.pending) do
    if mark.at <= now then
      self:send{ event = "mark", streamSid = self.sid, mark = { name = mark.name } }
      self.echoed[#self.echoed + 1] = mark.name
    else
      still[#still + 1] = mark
    end
  end
  self.pending = still
end

function Caller:stop()
  self:send{ event = "stop", streamSid = self.sid, stop = { callSid = self.call, accountSid = "AC0" } }
  self.stopped = true
end

-- Steps the callers every 20 ms until done() or `limit` seconds.
local function run(callers, done, limit)
  local start = socket.gettime()
  local tick = 0
  while not done() and socket.gettime() - start < limit do
    tick = tick + 1
    local now = socket.gettime()
    for _, c in ipairs(callers) do c:step(now) end
    local wait = start + tick * TICK - socket.gettime()
    if wait > 0 then socket.sleep(wait) end
  end
end

local function closed_by_server(c, limit)
  local deadline = socket.gettime() + limit
  while not c.ws.closed and socket.gettime() < deadline do
    c.ws:poll()
    socket.sleep(0.02)
  end
  return c.ws.closed
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
    local c = caller(site, 1, function(self, now)
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
    local c = caller(site, 2, asking)
    run({ c }, function() return c.question_end and socket.gettime() > c.question_end + PAUSE + 0.4 end, 10)
    local stopped = socket.gettime()
    c:stop()
    assert.is_true(closed_by_server(c, 2.5))
    assert.is_true(socket.gettime() - stopped < 1, "the call waited for the reply")
    assert.equal(0, #c.media)
    assert.equal(1, #server:requests("/v1/chat/completions"))
    assert.matches("call " .. c.call .. " ended %(stop%): [%d.]+ s, 1 turns, 0 tokens", site:error_log())
  end)

  it("eight calls at once in one worker keep their audio apart", function()
    local tones, replies = {}, {}
    for k = 1, 8 do
      tones[k] = 300 + 100 * k
      replies[k] = audio_reply(tones[k], 1.5, "Call number " .. k .. " here.", SERVER_DELAY)
    end
    server:script("/v1/chat/completions", replies)
    local callers = {}
    for k = 1, 8 do callers[k] = caller(site, 10 + k, asking) end
    run(callers, function()
      for _, c in ipairs(callers) do
        if #c.media < 70 then return false end
      end
      return true
    end, 20)
    local heard = {}
    for _, c in ipairs(callers) do
      c:stop()
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
end)
