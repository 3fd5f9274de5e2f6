-- gptaudio.phone: a voice agent on a phone line, in OpenResty. One call is one
-- nginx request whose WebSocket speaks the Twilio Media Streams protocol
-- (gptaudio.phone.twilio); all calls of a worker share its client and the
-- ngx driver (gptaudio.loop.ngx).
--
--   location = /call { content_by_lua_block {
--     require("gptaudio.phone").handle{ client = worker_client(), system = "You are ...", tools = box }
--   } }
--
-- Per call, three light threads of the request: this one reads the socket
-- (caller audio into the VAD, marks, DTMF, stop); a speaker sends the reply
-- paced at real time (gptaudio.phone.playout) and is the only one that writes
-- to the socket; each finished utterance starts a turn that streams the chat
-- reply (and runs tool calls between rounds). When the caller speaks over the
-- reply, the speaker sends `clear`, the turn's request is cancelled and the
-- history keeps the transcript cut at what the marks say was heard.
-- luacheck: read globals ngx
local check = require "gptaudio.check"
local core = require "gptaudio.core"
local ngx_loop = require "gptaudio.loop.ngx"
local playout = require "gptaudio.phone.playout"
local twilio = require "gptaudio.phone.twilio"
local tools = require "gptaudio.tools"
local semaphore = require "ngx.semaphore"
-- OpenResty ships lua-resty-websocket as resty.*; Debian's lua-nginx-websocket as nginx.*.
local has_resty, resty_websocket = pcall(require, "resty.websocket.server")
local websocket = has_resty and resty_websocket or require "nginx.websocket.server"

local phone = {}

-- Caller audio kept before the VAD's speech start and after its end, so that
-- the first and last sounds are not clipped.
local PREROLL, TAIL = 0.2, 0.1
-- Caller audio kept while nobody speaks: enough for the preroll.
local KEEP_IDLE = 1
-- Chat rounds of one turn at most (tool calls in between).
local MAX_ROUNDS = 5
-- How long the reader waits for a frame before looking at the call again.
local READ_TIMEOUT_MS = 1000
-- How long the speaker sleeps with nothing to send (it is woken sooner).
local IDLE_WAIT = 0.5

local OPTIONS = { client = true, system = true, tools = true, voice = true, model = true, vad = true, ahead = true,
                  on_event = true, max_payload = true }

local Call = {}
Call.__index = Call

local function now()
  ngx.update_time()
  return ngx.now()
end

function Call:emit(ev)
  if self.on_event then
    local ok, err = pcall(self.on_event, ev)
    if not ok then ngx.log(ngx.ERR, "gptaudio phone: on_event failed: ", tostring(err)) end
  end
end

-- The speaker: the only thread that writes to the socket.
local function speaker(self)
  while true do
    if self.clearing then
      self.clearing = false
      local heard, received = self.playout:clear()
      self:cut_reply(heard, received)
    end
    if self.ended then break end
    local wait, err = self.playout:pump()
    if err then
      self:hangup("send failed: " .. tostring(err))
      break
    end
    self.wake:wait(wait or IDLE_WAIT)
  end
  if self.close_socket then self.ws:send_close() end
end

-- The history keeps what the caller heard of the interrupted reply: its
-- transcript cut in proportion, at a word's end.
function Call:cut_reply(heard, received)
  local text = self.transcript or ""
  local share = received and received > 0 and math.min(1, (heard or 0) / received) or 0
  local cut = text:sub(1, math.floor(#text * share)):gsub("%s*%S*$", "", 1)
  if share >= 1 then cut = text end
  if self.reply_message then
    self.reply_message.content = cut
  elseif cut ~= "" then
    self.history[#self.history + 1] = { role = "assistant", content = cut }
  end
  self:emit{ type = "interrupted", heard = heard, received = received, transcript = cut }
end

function Call:account(reply)
  local usage = reply.usage or {}
  self.tokens = self.tokens + (usage.total_tokens or 0)
  if reply.cost then self.cost = (self.cost or 0) + reply.cost end
end

local function run_tools(self, reply)
  self.history[#self.history + 1] = reply.message
  for _, call in ipairs(reply.tool_calls) do
    local record = self.tools:run(call, { client = self.client, call = call, messages = self.history })
    self:emit{ type = "tool_call", tool_call = call, result = record.result, error = record.error }
    self.history[#self.history + 1] = { role = "tool", tool_call_id = call.id, content = record.content }
  end
end

-- One turn: the utterance to chat, the reply to the speaker, tools between rounds.
local function turn(self, utterance, number)
  self.history[#self.history + 1] = { role = "user", content = { { type = "input_audio", audio = utterance } } }
  self.playout:begin(number)
  self.transcript, self.reply_message = "", nil
  self:emit{ type = "thinking", turn = number }
  for _ = 1, MAX_ROUNDS do
    local events, req = ngx_loop.stream(self.client, "chat", {
      model = self.model, messages = self.history, stream = true, tools = self.tools,
      audio = { voice = self.voice, format = "pcm16" },
    })
    self.request = req
    local pieces, speaking = {}, false
    for ev in events do
      if ev.type == "audio" and self.turns == number then
        if not speaking then
          speaking = true
          self:emit{ type = "speaking", turn = number }
        end
        self.playout:add(ev.audio)
        self.wake:post(1)
      elseif ev.type == "transcript" then
        pieces[#pieces + 1] = ev.delta
        self.transcript = table.concat(pieces)
      end
    end
    if self.request == req then self.request = nil end
    local reply, err = req:result()
    if not reply then
      if err.type ~= "cancelled" then ngx.log(ngx.ERR, "gptaudio phone: turn ", number, " failed: ", tostring(err)) end
      return
    end
    self:account(reply)
    if not reply.tool_calls or not self.tools then
      self.playout:finish()
      self.wake:post(1)
      self.reply_message = { role = "assistant", content = reply.transcript or reply.text or "" }
      self.history[#self.history + 1] = self.reply_message
      self:emit{ type = "turn_done", turn = number, usage = reply.usage, cost = reply.cost }
      return
    end
    run_tools(self, reply)
  end
end

-- The caller spoke over the reply: stop it now.
function Call:barge_in()
  if self.request then
    self.request:cancel()
    self.request = nil
  end
  self.clearing = true
  self.wake:post(1)
end

-- The caller's audio from stream time `from` to `to`, in seconds.
function Call:utterance(from, to)
  local first = math.max(1, math.floor((from - PREROLL) * twilio.RATE) - self.dropped + 1)
  local last = math.floor((to + TAIL) * twilio.RATE) - self.dropped
  return self.inbound:slice(first, last)
end

function Call:heard_media(ev)
  self.inbound:append(ev.audio)
  for _, vad_event in ipairs(assert(self.vad:process(ev.audio))) do
    if vad_event.type == "speech_start" then
      self.speech_from = vad_event.time
      self:emit{ type = "user_speech_start", time = vad_event.time }
      if self.request or self.playout:playing() then self:barge_in() end
    else
      self:emit{ type = "user_speech_end", time = vad_event.time }
      self.turns = self.turns + 1
      local utterance = self:utterance(self.speech_from, vad_event.time)
      self.threads[#self.threads + 1] = ngx.thread.spawn(turn, self, utterance, self.turns)
    end
  end
  -- Nobody speaks: keep only what a preroll may need.
  if not self.vad:in_speech() and self.inbound.duration > 2 * KEEP_IDLE then
    local drop = self.inbound.frames - KEEP_IDLE * twilio.RATE
    self.inbound = self.inbound:slice(drop + 1)
    self.dropped = self.dropped + drop
  end
end

function Call:message(text)
  local ev, err = twilio.read(text)
  if not ev then
    ngx.log(ngx.WARN, "gptaudio phone: ignored a message: ", tostring(err))
    return
  end
  if ev.type == "media" then
    if ev.track == nil or ev.track == "inbound" then self:heard_media(ev) end
  elseif ev.type == "start" then
    self.stream_sid, self.call_sid, self.parameters = ev.stream_sid, ev.call_sid, ev.parameters
    self.playout.stream_sid = ev.stream_sid
    if ev.encoding and ev.encoding ~= twilio.ENCODING then
      ngx.log(ngx.WARN, "gptaudio phone: media format ", ev.encoding, ", expected ", twilio.ENCODING)
    end
    self:emit{ type = "start", stream_sid = ev.stream_sid, call_sid = ev.call_sid, parameters = ev.parameters }
    self:emit{ type = "listening" }
  elseif ev.type == "mark" then
    self.playout:marked(ev.name)
  elseif ev.type == "dtmf" then
    self:emit{ type = "dtmf", digit = ev.digit }
  elseif ev.type == "stop" then
    self:hangup("stop")
  end
end

-- Ends the call: its requests are cancelled at once, the speaker stops.
function Call:hangup(why)
  if self.ended then return end
  self.ended, self.why = true, why
  if self.request then self.request:cancel() end
  self.wake:post(1)
end

local function read_loop(self)
  while not self.ended do
    local data, kind, err = self.ws:recv_frame()
    if not data then
      if not (err and err:find("timeout", 1, true)) then
        self:hangup("read failed: " .. tostring(err))
      end
    elseif kind == "text" then
      self:message(data)
    elseif kind == "close" then
      self:hangup("closed by the caller")
    elseif kind == "ping" then
      self.ws:send_pong(data)
    end
  end
end

local function check_options(opts)
  check.value("phone.handle", "options", opts, "table")
  check.known("phone.handle", opts, OPTIONS, "option")
  if type(opts.client) ~= "table" or type(opts.client.start) ~= "function" then
    error("phone.handle: 'client' must be a gptaudio client", 0)
  end
  if opts.tools ~= nil and not tools.is_toolbox(opts.tools) then
    error("phone.handle: 'tools' must be a toolbox (gptaudio.tools.new)", 0)
  end
  check.fields("phone.handle", opts, { system = "string", voice = "string", model = "string", vad = "table",
                                       ahead = "positive number", on_event = "function",
                                       max_payload = "positive integer" })
end

--- Runs one call on this nginx request's WebSocket until the caller hangs
--- up; returns a summary {call_sid, stream_sid, seconds, turns, tokens, cost, why}.
function phone.handle(opts)
  check_options(opts)
  local ws, err = websocket:new{ timeout = READ_TIMEOUT_MS, max_payload_len = opts.max_payload or 65536 }
  if not ws then
    ngx.log(ngx.ERR, "gptaudio phone: not a WebSocket handshake: ", err)
    return ngx.exit(400)
  end
  local vad_opts = opts.vad or {}
  local self = setmetatable({
    client = opts.client, tools = opts.tools, voice = opts.voice, model = opts.model, on_event = opts.on_event,
    ws = ws, wake = assert(semaphore.new()), history = {}, threads = {}, turns = 0, tokens = 0,
    inbound = core.audio.new{ rate = twilio.RATE }, dropped = 0, started = now(), close_socket = true,
    vad = core.audio.vad{ rate = twilio.RATE, sensitivity = vad_opts.sensitivity, pause = vad_opts.pause },
  }, Call)
  if opts.system then self.history[1] = { role = "system", content = opts.system } end
  self.playout = playout.new{ send = function(text) return ws:send_text(text) end, now = now, ahead = opts.ahead }
  local speaking = ngx.thread.spawn(speaker, self)
  read_loop(self)
  ngx.thread.wait(speaking)
  for _, thread in ipairs(self.threads) do ngx.thread.wait(thread) end
  self.vad:close()
  local summary = { call_sid = self.call_sid, stream_sid = self.stream_sid, seconds = now() - self.started,
                    turns = self.turns, tokens = self.tokens, cost = self.cost, why = self.why }
  ngx.log(ngx.NOTICE, ("gptaudio phone: call %s ended (%s): %.1f s, %d turns, %d tokens, cost %s"):format(
    tostring(self.call_sid), tostring(self.why), summary.seconds, summary.turns, summary.tokens,
    self.cost and ("$%.4f"):format(self.cost) or "unknown"))
  self:emit{ type = "hangup", summary = summary }
  return summary
end

return phone
