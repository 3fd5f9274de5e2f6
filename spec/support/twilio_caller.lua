-- A simulated Twilio side of a phone call, for the specs and benches: a
-- WebSocket client (spec/support/ws_client.lua) that sends connected, start,
-- a 20 ms media frame of mu-law every step, dtmf and stop as Twilio does, and
-- plays the media it receives in real time: a mark goes back once the audio
-- sent before it has played, and a clear drops what has not played.
--
--   local c = twilio_caller.new(port, n, next_frame)  -- next_frame(c, now) -> 160 bytes
--   twilio_caller.run({ c, ... }, done, limit)         -- steps them every 20 ms
--   c.media ({at, bytes}), c.marks, c.echoed, c.clears; c:stop(); c:drop(); twilio_caller.closed_by_server(c, seconds)
local cjson = require "cjson"
local socket = require "socket"
local core = require "gptaudio.core"
local util = require "spec.support.util"
local ws_client = require "spec.support.ws_client"

local audio = core.audio

local twilio_caller = {}

-- How far apart the fake server drips a reply's pieces (0.1 s of audio each).
twilio_caller.DRIP = 0.09

local TICK = 0.02
twilio_caller.TICK = TICK
twilio_caller.SILENCE = ("\255"):rep(160)

local Caller = {}
Caller.__index = Caller

--- A call to the handler on the loopback port; next_frame(self, now) gives the 160 bytes to send each step.
function twilio_caller.new(port, n, next_frame)
  local self = setmetatable({
    ws = ws_client.connect("127.0.0.1", port, "/call"), sid = ("MZ%032d"):format(n), call = ("CA%032d"):format(n),
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
  if self.dropped then return end
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
      if msg.streamSid ~= self.sid then self.foreign = (self.foreign or 0) + 1 end
      if msg.event == "media" then
        local bytes = assert(core.base64_decode(msg.media.payload))
        if #bytes ~= 160 then self.bad_frames = (self.bad_frames or 0) + 1 end
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

--- Steps the callers every 20 ms until done() or `limit` seconds.
function twilio_caller.run(callers, done, limit)
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

--- Hangs up as a dropped line does: the TCP connection closes, no stop is sent.
function Caller:drop()
  self.ws.sock:close()
  self.stopped, self.dropped = true, true
end

function twilio_caller.closed_by_server(c, limit)
  local deadline = socket.gettime() + limit
  while not c.ws.closed and socket.gettime() < deadline do
    c.ws:poll()
    socket.sleep(0.02)
  end
  return c.ws.closed
end

--- An espeak-ng sentence as 8 kHz mu-law, cut into 160-byte frames.
function twilio_caller.spoken_frames(text, voice)
  local dir = util.temp_dir()
  assert(util.succeeded(("%s espeak-ng -v %s -w %s %s"):format(util.spawn_env(), voice,
    util.shell_quote(dir .. "/q.wav"), util.shell_quote(text))))
  local said = assert(audio.load(dir .. "/q.wav")):trim(-45):resample(8000)
  util.remove_tree(dir)
  said:gain(20 * math.log(0.5 / said:peak(), 10))
  local bytes, frames = said:encode("mulaw"), {}
  for i = 1, #bytes, 160 do frames[#frames + 1] = (bytes:sub(i, i + 159) .. twilio_caller.SILENCE):sub(1, 160) end
  return frames
end

--- A streamed chat reply (a fake server response) of `seconds` of a `hz` tone with its transcript, as
--- the API sends it, dripped at about real time after `delay`.
function twilio_caller.audio_reply(hz, seconds, transcript, delay)
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
  return { events = events, no_length = true, delay = delay, chunk_delay = twilio_caller.DRIP }
end

return twilio_caller
