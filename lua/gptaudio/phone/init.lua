-- gptaudio.phone: a voice agent on a phone line, in OpenResty. One call is one
-- nginx request whose WebSocket speaks the Twilio Media Streams protocol
-- (gptaudio.phone.twilio); all calls of a worker share its client and the
-- ngx driver (gptaudio.loop.ngx).
--
--   location = /call { content_by_lua_block {
--     require("gptaudio.phone").handle{ client = worker_client(), system = "You are ...", tools = box }
--   } }
--
-- The turns are gptaudio.voice.agent's, the same turn loop as every other
-- voice conversation: the caller's audio goes to agent:hear, and the line is
-- the agent's sink. Per call, two light threads of the request: this one
-- reads the socket (caller audio, marks, DTMF, stop); a speaker sends the
-- reply paced at real time (gptaudio.phone.playout), is the only one that
-- writes to the socket, and hands the agent's events to on_event in the
-- request's own context. When the caller speaks over the reply, the agent
-- cancels the turn's request and stops the sink: the speaker sends `clear`,
-- and the history keeps the transcript cut at what the marks say was heard.
-- luacheck: globals ngx
local check = require "gptaudio.check"
local playout = require "gptaudio.phone.playout"
local twilio = require "gptaudio.phone.twilio"
local voice_agent = require "gptaudio.voice.agent"
local semaphore = require "ngx.semaphore"
-- OpenResty ships lua-resty-websocket as resty.*; Debian's lua-nginx-websocket as nginx.*.
local has_resty, resty_websocket = pcall(require, "resty.websocket.server")
local websocket = has_resty and resty_websocket or require "nginx.websocket.server"

local phone = {}

-- How long the reader waits for a frame before looking at the call again.
local READ_TIMEOUT_MS = 1000
-- How long the speaker sleeps with nothing to send (it is woken sooner).
local IDLE_WAIT = 0.5
-- Earlier utterances go into the history as text (see gptaudio.voice.agent).
local TRANSCRIBE_MODEL = "gpt-4o-mini-transcribe"

local OPTIONS = { client = true, system = true, tools = true, voice = true, model = true, vad = true, ahead = true,
                  on_event = true, max_payload = true, transcribe = true }

local Call = {}
Call.__index = Call

local function now()
  ngx.update_time()
  return ngx.now()
end

-- Calls on_event in the request's context: the speaker drains what the agent
-- reported (from the read loop or from a turn's task) in order.
function Call:emit(ev)
  self.events[#self.events + 1] = ev
  self.wake:post(1)
end

function Call:deliver_events()
  local events = self.events
  self.events = {}
  for _, ev in ipairs(events) do
    if ev.type == "error" then ngx.log(ngx.ERR, "gptaudio phone: turn ", ev.turn, " failed: ", tostring(ev.error)) end
    if self.on_event then
      local ok, err = pcall(self.on_event, ev)
      if not ok then ngx.log(ngx.ERR, "gptaudio phone: on_event failed: ", tostring(err)) end
    end
  end
end

-- The speaker: the only thread that writes to the socket.
local function speaker(self)
  while true do
    self:deliver_events()
    if self.clearing then
      self.clearing = false
      if not self.ended then
        local heard, err = self.playout:clear()
        if not heard then self:hangup("send failed: " .. tostring(err)) end
      end
    end
    if self.ended then break end
    local wait, err = self.playout:pump()
    if err then
      self:hangup("send failed: " .. tostring(err))
      break
    end
    self:heard_check()
    self.wake:wait(wait or IDLE_WAIT)
  end
  self:deliver_events()
  if self.close_socket then self.ws:send_close() end
end

-- The line as the agent's sink (see gptaudio.voice.agent): the reply goes
-- into the playout; what was heard is what the caller's marks say.
local function line_sink(call)
  local line = call.playout
  local sink = { rate = 24000 }
  function sink.play(_, chunk)
    sink.first_at = sink.first_at or call.agent:now()
    line:add(chunk)
    call.wake:post(1)
  end
  function sink.finish(_, on_done)
    line:finish()
    call.on_heard = on_done
    call.wake:post(1)
  end
  -- The speaker sends the clear (it alone writes); what was heard is known now.
  function sink.stop()
    call.on_heard = nil
    call.clearing = true
    call.wake:post(1)
    return line.heard
  end
  function sink.heard() return line.heard end
  function sink.playing() return line:playing() end
  function sink.begin()
    call.replies = call.replies + 1
    line:begin(call.replies)
    sink.first_at = nil
  end
  return sink
end

-- The whole reply has been sent and the caller's marks say it was heard.
function Call:heard_check()
  local line = self.playout
  if self.on_heard and line.finished and line:queued() == 0 and line.heard >= line.received - 0.03 then
    local on_heard = self.on_heard
    self.on_heard = nil
    on_heard()
  end
end

function Call:message(text)
  local ev, err = twilio.read(text)
  if not ev then
    ngx.log(ngx.WARN, "gptaudio phone: ignored a message: ", tostring(err))
    return
  end
  if ev.type == "media" then
    if ev.track == nil or ev.track == "inbound" then self.agent:hear(ev.audio) end
  elseif ev.type == "start" then
    self.stream_sid, self.call_sid, self.parameters = ev.stream_sid, ev.call_sid, ev.parameters
    self.playout.stream_sid = ev.stream_sid
    if ev.encoding and ev.encoding ~= twilio.ENCODING then
      ngx.log(ngx.WARN, "gptaudio phone: media format ", ev.encoding, ", expected ", twilio.ENCODING)
    end
    self:emit{ type = "start", stream_sid = ev.stream_sid, call_sid = ev.call_sid, parameters = ev.parameters }
    self.agent:start()
  elseif ev.type == "mark" then
    self.playout:marked(ev.name)
    self.wake:post(1)
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
  self.agent:stop()
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

-- The call's own options; those of its turns voice.agent checks, as the
-- call makes its agent before it touches the request.
local function check_options(opts)
  check.value("phone.handle", "options", opts, "table")
  check.known("phone.handle", opts, OPTIONS, "option")
  check.fields("phone.handle", opts, { ahead = "positive number", on_event = "function",
                                       max_payload = "positive integer" })
end

-- Answers a request that is no WebSocket handshake with a short text, and
-- ends it: 426 and the Upgrade it needs when it asked for none (a browser, a
-- probe), 400 when its handshake is broken. Neither is the server's error.
local function refuse(why)
  local asked = ngx.var.http_upgrade ~= nil
  local status = asked and ngx.HTTP_BAD_REQUEST or 426 -- Upgrade Required
  ngx.log(ngx.INFO, "gptaudio phone: not a WebSocket handshake: ", why)
  ngx.status = status
  if not asked then ngx.header["Upgrade"] = "websocket" end
  ngx.header["Content-Type"] = "text/plain"
  ngx.say(asked and ("bad WebSocket handshake: " .. tostring(why))
          or "a WebSocket endpoint (Twilio Media Streams): connect with Upgrade: websocket")
  return ngx.exit(status)
end

--- Runs one call on this nginx request's WebSocket until the caller hangs
--- up; returns a summary {call_sid, stream_sid, seconds, turns, tokens, cost, why}.
function phone.handle(opts)
  check_options(opts)
  local self = setmetatable({ on_event = opts.on_event, events = {}, replies = 0, close_socket = true }, Call)
  self.playout = playout.new{ send = function(text) return self.ws:send_text(text) end, now = now,
                              ahead = opts.ahead }
  -- Made before the handshake: a bad option raises while the request can still answer 500.
  self.agent = voice_agent.new{
    client = opts.client, sink = line_sink(self), rate = twilio.RATE, system = opts.system, tools = opts.tools,
    voice = opts.voice, model = opts.model, vad = opts.vad, on_event = function(ev) self:emit(ev) end,
    transcribe = opts.transcribe == nil and TRANSCRIBE_MODEL or opts.transcribe,
  }
  local ws, err = websocket:new{ timeout = READ_TIMEOUT_MS, max_payload_len = opts.max_payload or 65536 }
  if not ws then return refuse(err) end
  self.ws, self.wake, self.started = ws, assert(semaphore.new()), now()
  local speaking = ngx.thread.spawn(speaker, self)
  read_loop(self)
  ngx.thread.wait(speaking)
  local tokens, cost = 0, nil
  for _, turn in ipairs(self.agent.turns) do
    tokens = tokens + (turn.usage.total_tokens or 0)
    if turn.cost then cost = (cost or 0) + turn.cost end
  end
  local summary = { call_sid = self.call_sid, stream_sid = self.stream_sid, seconds = now() - self.started,
                    turns = #self.agent.turns, tokens = tokens, cost = cost, why = self.why }
  ngx.log(ngx.NOTICE, ("gptaudio phone: call %s ended (%s): %.1f s, %d turns, %d tokens, cost %s"):format(
    tostring(self.call_sid), tostring(self.why), summary.seconds, summary.turns, summary.tokens,
    cost and ("$%.4f"):format(cost) or "unknown"))
  self:emit{ type = "hangup", summary = summary }
  self:deliver_events()
  return summary
end

return phone
