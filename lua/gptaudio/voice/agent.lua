-- gptaudio.voice.agent{...}: a spoken conversation. It listens to a source,
-- finds each utterance with the VAD, sends it (trimmed, mono WAV) to
-- chat with streamed audio out, plays the reply into a sink as it arrives,
-- runs tool calls between rounds, and keeps the history. When the user
-- speaks over a reply (barge-in) the sink stops at once, the request is
-- cancelled, and the history keeps the reply's transcript cut at what was
-- heard.
--
--   local a = voice.agent{ client =, source =, sink =, system =, tools =, voice =, model =,
--                          vad = { sensitivity =, pause = }, on_event = fn(ev), max_rounds = 5,
--                          rate = 24000, preroll = 0.2, tail = 0.1, push_to_talk = false,
--                          transcribe = false, echo_cancel = false }
--   a:start()          the source starts feeding a:hear; or leave `source` out and call
--                      a:hear(chunk, at) yourself (a phone call's socket, a game's microphone)
--   a:run()            start, then wait until the source has ended and the last reply
--                      has been heard (yields in a task, drives the engine outside one)
--   a:stop()           now: the source stops, a reply in flight is cancelled and silenced
--                      (a sink that fails, sink.error set, does the same at the next chunk
--                      heard; the `stopped` event and run's summary carry its error)
--   a:talk(on)         push_to_talk = true: the key went down (true) or up (false); the
--                      VAD is not used then
--   a.history          the messages so far; a.turns the turn records (below)
--
-- Everything runs on the client's engine: the source's and sink's timers,
-- each turn as a task. The source and the sink are duck-typed, so a phone
-- line or a game engine can be either: a source has start(on_chunk, on_end)
-- and stop(); a sink has play, finish, stop, heard, playing, begin and
-- first_at (gptaudio.audio sinks have them all).
--
-- transcribe (a transcription model's name, e.g. "gpt-4o-mini-transcribe"):
-- each utterance also goes there, started after its chat request and never
-- waited for; once its transcript is in, the history keeps the utterance as
-- that text, so a turn sends only its own audio and does not grow with the
-- conversation (a failed transcription leaves it audio). Its usage and cost
-- count in the turn's.
--
-- Utterances are sent at `rate` (default 24000, the model's own; a phone
-- line's 8000 keeps uploads small); the VAD runs at it too.
--
-- echo_cancel (true, or { tail = seconds, guard = dB | false }): for a
-- speaker the microphone hears (no headphones), every chunk the agent hears
-- goes through an audio.echo_canceller before the VAD and the utterance, fed
-- what the sink sounded over the same stretch of the clock (sink:played), so
-- the reply coming back is not taken for the user barging in. While the
-- canceller still learns the room, speech over a reply is held until it is
-- within `guard` dB of the user's own level (gptaudio.voice.echo_path).
--
-- A turn record: number, transcript (what the reply said, cut when
-- interrupted; received_transcript: all that had come), heard and received
-- (seconds of reply audio), interrupted, status (the last request's),
-- usage (summed over its rounds and its utterance's transcription), cost,
-- error, and latency: the time from the end of the user's speech to the reply's first sample at the sink (total),
-- split into endpointing (the VAD's pause and the chunking until the end was
-- known), tools (earlier rounds that called tools), upload (the request
-- handed to the transport to the upload's end), server (then to the first audio event: the server's time
-- to its first audio byte, the network and that event's parsing) and client
-- (the rest: building the request (encoding the history) after the end was
-- known, and the audio's way from its event to the sink); first_byte is the server's time to the
-- response's first byte (a part of server).
local core = require "gptaudio.core"
local check = require "gptaudio.check"
local scheduler = require "gptaudio.engine.scheduler"
local tools = require "gptaudio.tools"
local echo_path = require "gptaudio.voice.echo_path"
local utterance = require "gptaudio.voice.utterance"

local audio = core.audio
local agent = {}

-- The model hears and speaks 24 kHz mono.
local RATE = 24000
local MIN_RATE, MAX_RATE = 8000, 48000
local MAX_ROUNDS = 5
-- echo_cancel's guard: while the canceller learns the room, speech over a
-- reply is the user's within this many dB of their own level (BENCHMARKS.md
-- has the margins on the test room).
local GUARD_DB = 3

local WHERE = "voice.agent"
local OPTIONS = { client = true, source = true, sink = true, system = true, tools = true, voice = true, model = true,
                  vad = true, on_event = true, max_rounds = true, preroll = true, tail = true, push_to_talk = true,
                  rate = true, transcribe = true, echo_cancel = true }
local SINK_METHODS = { "play", "finish", "stop", "heard", "playing", "begin" }

local Agent = { __name = "gptaudio.VoiceAgent" }
Agent.__index = Agent

local function has_methods(value, names)
  local ok = pcall(function()
    for _, name in ipairs(names) do assert(type(value[name]) == "function") end
  end)
  return ok
end

local function check_options(opts)
  check.value(WHERE, "options", opts, "table")
  check.known(WHERE, opts, OPTIONS, "option")
  if type(opts.client) ~= "table" or type(opts.client.start) ~= "function" then
    error(WHERE .. ": 'client' must be a gptaudio client", 0)
  end
  if not has_methods(opts.sink, SINK_METHODS) then
    error(WHERE .. ": 'sink' must be a sink (play, finish, stop, heard, playing, begin)", 0)
  end
  if opts.source ~= nil and not has_methods(opts.source, { "start", "stop" }) then
    error(WHERE .. ": 'source' must be a source (start, stop)", 0)
  end
  if opts.tools ~= nil and not tools.is_toolbox(opts.tools) then
    error(WHERE .. ": 'tools' must be a toolbox (gptaudio.tools.new)", 0)
  end
  check.fields(WHERE, opts, { system = "string", voice = "string", model = "string", vad = "table",
                              on_event = "function", max_rounds = "positive integer",
                              preroll = "non-negative number", tail = "non-negative number",
                              push_to_talk = "boolean", rate = "positive integer" })
  if opts.transcribe ~= nil and opts.transcribe ~= false and type(opts.transcribe) ~= "string" then
    error(WHERE .. ": 'transcribe' must be a transcription model's name or false", 0)
  end
  if opts.rate and (opts.rate < MIN_RATE or opts.rate > MAX_RATE) then
    error(WHERE .. ": 'rate' must be 8000 to 48000", 0)
  end
  if opts.preroll and opts.preroll > 1 then error(WHERE .. ": 'preroll' must be at most 1 second", 0) end
  if opts.tail and opts.tail > 1 then error(WHERE .. ": 'tail' must be at most 1 second", 0) end
  if opts.vad then check.known(WHERE .. ": vad", opts.vad, { sensitivity = true, pause = true }, "option") end
  local echo = opts.echo_cancel
  if echo ~= nil and type(echo) ~= "boolean" and type(echo) ~= "table" then
    error(WHERE .. ": 'echo_cancel' must be true, false or { tail =, guard = }", 0)
  end
  if type(echo) == "table" then
    check.known(WHERE .. ": echo_cancel", echo, { tail = true, guard = true }, "option")
    check.fields(WHERE .. ": echo_cancel", echo, { tail = "positive number" })
    if echo.tail and (echo.tail < 0.01 or echo.tail > 1) then
      error(WHERE .. ": echo_cancel: 'tail' must be 0.01 to 1 second", 0)
    end
    local guard = echo.guard
    if guard ~= nil and guard ~= false and not (type(guard) == "number" and guard >= 0 and guard <= 60) then
      error(WHERE .. ": echo_cancel: 'guard' must be 0 to 60 dB or false", 0)
    end
  end
  if echo and not has_methods(opts.sink, { "played" }) then
    error(WHERE .. ": 'echo_cancel' needs a sink with played(from, to): what it sounded when", 0)
  end
end

--- A new agent (see the top); nothing starts before start, run or hear.
function agent.new(opts)
  check_options(opts)
  local client = opts.client
  local vad_opts = opts.vad or {}
  local rate = opts.rate or RATE
  local echo = type(opts.echo_cancel) == "table" and opts.echo_cancel or {}
  local self = setmetatable({
    rate = rate,
    client = client, source = opts.source, sink = opts.sink, tools = opts.tools, voice = opts.voice,
    model = opts.model, on_event = opts.on_event, max_rounds = opts.max_rounds or MAX_ROUNDS,
    push_to_talk = opts.push_to_talk, transcribe = opts.transcribe or nil, transcribing = {},
    engine = client.engine, scheduler = client.engine.scheduler,
    vad = audio.vad{ rate = rate, sensitivity = vad_opts.sensitivity, pause = vad_opts.pause },
    utterance = utterance.new{ rate = rate, preroll = opts.preroll, tail = opts.tail },
    echo = opts.echo_cancel and echo_path.new{ rate = rate, sink = opts.sink, tail = echo.tail,
                                               guard = echo.guard == nil and GUARD_DB or echo.guard },
    history = {}, turns = {},
  }, Agent)
  if opts.system then self.history[1] = { role = "system", content = opts.system } end
  return self
end

function Agent:__tostring()
  return ("gptaudio.VoiceAgent(%d turns%s)"):format(#self.turns, self.done and ", done" or "")
end

function Agent:now()
  return self.scheduler:now()
end

function Agent:emit(ev)
  if not self.on_event then return end
  local ok, err = pcall(self.on_event, ev)
  if not ok then scheduler.default_log("error", "voice agent: on_event failed: " .. tostring(err)) end
end

-- The end of the conversation: the source is over and nothing is left to hear.
function Agent:check_done()
  if self.done or not self.source_done or self.current or self.sink:playing() then return end
  self.done = true
  self:emit{ type = "stopped", error = self.error }
  if self.waiter then self.scheduler:wake(self.waiter) end
end

local function add_usage(turn, reply)
  for key, value in pairs(reply.usage or {}) do
    if type(value) == "number" then turn.usage[key] = (turn.usage[key] or 0) + value end
  end
  if reply.cost then turn.cost = (turn.cost or 0) + reply.cost end
end

local function latency_of(turn)
  local marks = turn.marks
  if not (marks and turn.first_sample) then return nil end
  local total = turn.first_sample - turn.speech_end
  local endpointing = turn.detected - turn.speech_end
  local tools_time = marks.requested - turn.first_request
  local uploaded = math.min(marks.uploaded or marks.first_byte, marks.first_byte)
  local upload, server = uploaded - marks.built, marks.first_audio - uploaded
  return { total = total, endpointing = endpointing, tools = tools_time, upload = upload, server = server,
           first_byte = marks.first_byte - uploaded, client = total - endpointing - tools_time - upload - server }
end

function Agent:reply_event(turn, ev)
  if self.current ~= turn then return end
  local marks = turn.marks
  if not marks.first_byte then marks.first_byte = self:now() end
  if ev.type == "audio" then
    if turn.received == 0 then
      marks.first_audio = self:now()
      self:emit{ type = "speaking", turn = turn.number }
    end
    turn.received = turn.received + ev.audio.duration
    self.sink:play(ev.audio)
    turn.first_sample = turn.first_sample or self.sink.first_at
  elseif ev.type == "transcript" or ev.type == "text" then
    turn.transcript = turn.transcript .. ev.delta
    self:emit{ type = "transcript", turn = turn.number, delta = ev.delta }
  end
end

function Agent:progress(turn, ev)
  local marks = turn.marks
  if not marks.uploaded and ev.ul_total and ev.ul_total > 0 and ev.ul_now >= ev.ul_total then
    marks.uploaded = self:now()
  end
  if not marks.first_byte and ev.dl_now and ev.dl_now > 0 then marks.first_byte = self:now() end
end

-- One round's tool calls, all run before any is kept: a turn interrupted
-- meanwhile keeps nothing of the round, so the history never holds a call
-- without its answer.
function Agent:run_tools(turn, reply)
  local messages = { reply.message }
  for _, call in ipairs(reply.tool_calls) do
    local record = self.tools:run(call, { client = self.client, messages = self.history })
    self:emit{ type = "tool_call", turn = turn.number, tool_call = call, result = record.result,
               error = record.error }
    messages[#messages + 1] = { role = "tool", tool_call_id = call.id, content = record.content }
  end
  if self.current ~= turn then return end
  for _, m in ipairs(messages) do self.history[#self.history + 1] = m end
end

-- The reply is all in: it joins the history; the turn ends once it has been heard.
function Agent:reply_done(turn, reply)
  if turn.transcript == "" then turn.transcript = reply.transcript or reply.text or "" end
  turn.message = { role = "assistant", content = turn.transcript }
  self.history[#self.history + 1] = turn.message
  turn.latency = latency_of(turn)
  self:emit{ type = "turn_done", turn = turn.number, transcript = turn.transcript, usage = turn.usage,
             cost = turn.cost, latency = turn.latency }
  self.sink:finish(function()
    if self.current ~= turn then return end
    turn.heard = self.sink:heard()
    self.current = nil
    self:emit{ type = "listening" }
    self:check_done()
  end)
end

-- The utterances whose transcripts are in become text in the history.
local function settle_transcripts(self)
  for turn, req in pairs(self.transcribing) do
    if req:ended() then
      self.transcribing[turn] = nil
      local transcript = req:result()
      if transcript then
        turn.said.content = transcript.text
        add_usage(turn, transcript)
      end
    end
  end
end

local function run_turn(self, turn)
  settle_transcripts(self)
  for _ = 1, self.max_rounds do
    turn.marks = { requested = self:now() }
    turn.first_request = turn.first_request or turn.marks.requested
    local req = self.client:start("chat", {
      model = self.model, messages = self.history, stream = true, tools = self.tools,
      audio = { voice = self.voice, format = "pcm16", rate = self.sink.rate },
      on_event = function(ev) self:reply_event(turn, ev) end,
      on_progress = function(ev) self:progress(turn, ev) end,
    })
    -- The request is built (its history encoded) and handed to the transport.
    turn.marks.built = self:now()
    turn.request = req
    if turn.wav then -- the first round: the utterance's transcription starts now
      self.transcribing[turn] = self.client:start("transcribe", assert(audio.decode(turn.wav, "wav")),
                                                  { model = self.transcribe })
      turn.wav = nil
    end
    local reply, err = req:wait()
    turn.request, turn.status = nil, req:status()
    if self.current ~= turn then return end
    if not reply then
      turn.error = err
      self.current = nil
      self:emit{ type = "error", turn = turn.number, error = err }
      self:emit{ type = "listening" }
      return self:check_done()
    end
    add_usage(turn, reply)
    if not (reply.tool_calls and self.tools) then return self:reply_done(turn, reply) end
    self:run_tools(turn, reply)
    if self.current ~= turn then return end
  end
  turn.error = "the model kept calling tools"
  self.current = nil
  self:emit{ type = "error", turn = turn.number, error = turn.error }
  self:check_done()
end

function Agent:begin_turn(wav, speech_end)
  local turn = { number = #self.turns + 1, speech_end = speech_end, detected = self:now(), transcript = "",
                 received = 0, heard = 0, usage = {}, interrupted = false, wav = self.transcribe and wav }
  self.turns[turn.number] = turn
  self.current = turn
  -- In the API's own shape, base64 once: every later turn sends it again as it is.
  turn.said = { role = "user", content = {
    { type = "input_audio", input_audio = { data = core.base64_encode(wav), format = "wav" } } } }
  self.history[#self.history + 1] = turn.said
  self.sink:begin()
  self:emit{ type = "thinking", turn = turn.number }
  scheduler.spawn(run_turn, self, turn)
end

-- The user spoke over the reply: silence it, cancel it, keep what was heard.
function Agent:barge_in()
  local turn = self.current
  self.current = nil
  if turn.request then turn.request:cancel() end
  turn.heard = self.sink:stop()
  turn.interrupted = true
  local share = turn.received > 0 and math.min(1, turn.heard / turn.received) or 0
  local text = turn.transcript
  local cut = share >= 1 and text or text:sub(1, math.floor(#text * share)):gsub("%s*%S*$", "", 1)
  turn.transcript, turn.received_transcript = cut, text
  turn.latency = turn.latency or latency_of(turn)
  if turn.message then
    turn.message.content = cut
  elseif cut ~= "" then
    self.history[#self.history + 1] = { role = "assistant", content = cut }
  end
  self:emit{ type = "interrupted", turn = turn.number, heard = turn.heard, received = turn.received,
             transcript = cut }
end

-- The user started speaking at `time` (seconds of stream).
local function speech_started(self, time)
  self:emit{ type = "user_speech_start", time = time }
  if self.echo then self.echo:user(true) end
  if self.current then self:barge_in() end
end

function Agent:vad_event(ev, at, stream_now)
  if ev.type == "speech_start" then
    self.utterance:start(ev.time)
    -- While the reply sounds, speech may be its echo: held until it is loud enough.
    if self.echo and not self.push_to_talk and self.echo:doubtful(at) and not self.echo:loud_enough() then
      self.held = ev.time
      return
    end
    speech_started(self, ev.time)
  elseif self.held then -- it was the reply's echo: forgotten
    self.held = nil
    self.utterance:stop(ev.time)
  else
    if self.echo then self.echo:user(false) end
    local wav, duration = self.utterance:stop(ev.time)
    self:emit{ type = "user_speech_end", time = ev.time, duration = duration }
    if wav then self:begin_turn(wav, at - (stream_now - ev.time)) end
  end
end

-- A sink that failed (its player died, no sound server, an unknown device)
-- ends the conversation as stop() does, with its error: answers nobody hears
-- are no conversation. Sinks are duck-typed: one without `error` never fails.
local function sink_failed(self)
  local err = self.sink.error
  if err == nil then return false end
  self.source_done, self.error = true, err
  self:stop()
  return true
end

--- Feeds a chunk the user said (any rate and channels; at: the engine-clock
--- time its last frame was captured, default now).
function Agent:hear(chunk, at)
  local mt = type(chunk) == "userdata" and getmetatable(chunk)
  if not (type(mt) == "table" and mt.__name == "gptaudio.AudioBuffer") then
    error("agent:hear: 'chunk' must be an AudioBuffer (got " .. type(chunk) .. ")", 0)
  end
  check.value("agent:hear", "at", at, "number", true)
  if self.done or sink_failed(self) then return end
  at = at or self:now()
  if chunk.channels > 1 then chunk = chunk:to_channels(1) end
  if chunk.rate ~= self.rate then
    if not self.resampler or self.resampler_rate ~= chunk.rate then
      self.resampler, self.resampler_rate = audio.resampler{ from = chunk.rate, to = self.rate }, chunk.rate
    end
    chunk = self.resampler:process(chunk)
  end
  if self.echo then chunk = self.echo:process(chunk, at) end
  self.utterance:feed(chunk)
  if self.push_to_talk then return end
  -- The stream's time at `at`: what the canceller still holds counts too.
  local stream_now = self.utterance:time() + (self.echo and self.echo:held() or 0)
  for _, ev in ipairs(assert(self.vad:process(chunk))) do self:vad_event(ev, at, stream_now) end
  if self.held and self.echo:loud_enough() then
    local time = self.held
    self.held = nil
    speech_started(self, time)
  end
end

--- Push-to-talk (an agent made with push_to_talk = true): talk(true) when the
--- key goes down (the user may speak over the reply), talk(false) when it
--- comes up (what was said since, with the preroll, is sent).
function Agent:talk(on)
  check.value("agent:talk", "on", on, "boolean")
  if not self.push_to_talk then error("agent:talk: the agent was not made with push_to_talk = true", 0) end
  if self.done or on == (self.talking or false) then return end
  self.talking = on
  local now = self.utterance:time()
  self:vad_event({ type = on and "speech_start" or "speech_end", time = now }, self:now(), now)
end

--- The source is over (err: why it failed, or nil): an utterance still
--- going ends here; the agent is done once the last reply has been heard.
function Agent:finish_input(err)
  if self.source_done then return end
  self.source_done, self.error = true, err
  local now, stream_now = self:now(), self.utterance:time()
  if self.push_to_talk then
    if self.talking then self:talk(false) end
  else
    for _, ev in ipairs(self.vad:finish()) do self:vad_event(ev, now, stream_now) end
  end
  self:check_done()
end

--- Starts the source (when there is one): true, or nil, err when it cannot.
function Agent:start()
  if self.started then return true end
  self.started = true
  self:emit{ type = "listening" }
  if not self.source then return true end
  local ok, err = self.source:start(function(chunk, at) self:hear(chunk, at) end,
                                    function(why) self:finish_input(why) end)
  if not ok then
    self:finish_input(err)
    return nil, err
  end
  return true
end

--- Starts, then waits until done; returns { turns, history, cost, error }.
function Agent:run()
  if not self.source then error("agent:run: the agent has no source (feed agent:hear, then call finish_input)", 0) end
  local ok, err = self:start()
  if not ok then return nil, err end
  return self.engine:run(function()
    self.waiter = scheduler.current()
    while not self.done do scheduler.suspend() end
    self.waiter = nil
    local cost
    for _, turn in ipairs(self.turns) do
      if turn.cost then cost = (cost or 0) + turn.cost end
    end
    return { turns = self.turns, history = self.history, cost = cost, error = self.error }
  end, function() self:stop() end)
end

--- Stops now: the source, the reply in flight (cancelled, silenced, cut).
function Agent:stop()
  if self.source then self.source:stop() end
  settle_transcripts(self) -- those that are in still count
  for _, req in pairs(self.transcribing) do req:cancel() end
  if self.current then self:barge_in() end
  self.source_done = true
  self.sink:stop()
  self:check_done()
end

agent.Agent = Agent
return agent
