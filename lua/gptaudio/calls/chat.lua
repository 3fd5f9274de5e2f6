-- The chat call: Chat Completions requests built from the caller's tables,
-- replies decoded into the reply of doc/API.md (client:chat), and streamed
-- chunks gathered into that same reply while on_event sees each piece as it
-- arrives.
--
--   call = chat.request(params, defaults[, where])   -- raises on a programmer error; nil, err on bad audio
--   wav = chat.upload_wav(buf)                -- an AudioBuffer as the API gets it
--   reply, err = chat.decode(call, response, config)
--   stream = chat.stream(call, config, emit[, log])  -- stream:event(ev), stream:finish(response), stream:partial()
--
-- defaults = { model =, voice = } and config = { model_check =, prices = }: the
-- client's options (client.options holds both).
local check = require "gptaudio.check"
local core = require "gptaudio.core"
local errors = require "gptaudio.errors"
local input = require "gptaudio.audio.input"
local received = require "gptaudio.audio.received"
local json = require "gptaudio.json"
local call_stream = require "gptaudio.calls.stream"
local models = require "gptaudio.models"
local usage = require "gptaudio.usage"

local chat = {}

chat.PATH = "/chat/completions"

-- The model hears and speaks 24 kHz: pcm16 comes at that rate, and input audio
-- above it is only more bytes to send.
local API_RATE = 24000
-- What the call takes for itself: none of it goes on the wire.
local CALL_OPTIONS = { on_event = true, timeout = true, max_retries = true, headers = true, keep_raw = true }
-- The fields checked here: the model, and the numbers a JSON body could not carry as NaN or infinity.
local FIELD_KINDS = {
  model = "string", temperature = "finite number", top_p = "finite number", frequency_penalty = "finite number",
  presence_penalty = "finite number", max_completion_tokens = "finite number", max_tokens = "finite number",
  n = "finite number", seed = "finite number", top_logprobs = "finite number",
}
local AUDIO_OPTIONS = { voice = true, format = true, rate = true }

local fail = errors.fail

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

---------------------------------------------------------------- audio in

--- An AudioBuffer as it goes up to the API (audio/input.lua).
chat.upload_wav = input.buffer_wav

local function is_audio_part(part)
  return type(part) == "table" and part.type == "input_audio" and part.audio ~= nil
end

-- A content list with its audio parts in wire form; the caller's tables are left alone.
local function wire_content(content, i, model_id)
  local parts = {}
  for j, part in ipairs(content) do
    if is_audio_part(part) then
      local data, format = input.for_chat(part.audio, ("messages[%d].content[%d].audio"):format(i, j), model_id)
      if not data then return nil, format end
      local wire = copy(part)
      wire.audio = nil
      wire.input_audio = { data = core.base64_encode(data), format = format }
      parts[j] = wire
    else
      parts[j] = part
    end
  end
  return parts
end

local function has_audio_part(content)
  for _, part in ipairs(content) do
    if is_audio_part(part) then return true end
  end
  return false
end

-- The messages as they go on the wire: every message and field as given,
-- except that audio parts become input_audio parts.
local function wire_messages(messages, model_id)
  local out = json.array()
  for i, message in ipairs(messages) do
    local content = type(message) == "table" and message.content
    if type(content) == "table" and has_audio_part(content) then
      local parts, err = wire_content(content, i, model_id)
      if not parts then return nil, err end
      out[i] = copy(message)
      out[i].content = parts
    else
      out[i] = message
    end
  end
  return out
end

---------------------------------------------------------------- the request

local function wants_audio_out(params)
  if params.audio ~= nil and params.audio ~= false then return true end
  for _, m in ipairs(type(params.modalities) == "table" and params.modalities or {}) do
    if m == "audio" then return true end
  end
  return false
end

-- The audio the caller wants to hear, { voice, format, rate }, or nil for text only.
local function audio_out(params, defaults)
  if not wants_audio_out(params) then return nil end
  local asked = params.audio
  if asked == true or asked == nil then asked = {} end
  if type(asked) ~= "table" then error("audio: a table or true expected, got " .. type(asked), 0) end
  for key in pairs(asked) do
    if not AUDIO_OPTIONS[key] then
      error(("audio.%s: unknown field (voice, format and rate are known)"):format(tostring(key)), 0)
    end
  end
  local rate = asked.rate
  if rate ~= nil and (type(rate) ~= "number" or rate < 1 or rate % 1 ~= 0) then
    error("audio.rate: a positive whole number of Hz expected, got " .. tostring(rate), 0)
  end
  return {
    voice = asked.voice or defaults.voice,
    format = asked.format or (params.stream and "pcm16" or "wav"),
    rate = rate,
  }
end

-- Builds the call: { method, path, json (the body), stream, model, audio
-- (what to decode: voice, format, rate), on_event }. Raises naming the field
-- for what no server could take; nil, err when input audio cannot be read.
-- where names the call in messages (transcribe and speak route through here).
function chat.request(params, defaults, where)
  if type(params) ~= "table" then error("chat: a table of parameters expected, got " .. type(params), 0) end
  if type(params.messages) ~= "table" then
    error("messages: a list of messages expected, got " .. type(params.messages), 0)
  end
  if params.on_event ~= nil and type(params.on_event) ~= "function" then
    error("on_event: a function expected, got " .. type(params.on_event), 0)
  end
  check.fields(where or "client:chat", params, FIELD_KINDS, json.null)
  local body = {}
  for key, value in pairs(params) do
    if not CALL_OPTIONS[key] then body[key] = value end
  end
  body.model = params.model or defaults.model
  local out = audio_out(params, defaults)
  models.check_chat(body, out and out.format)
  local messages, err = wire_messages(params.messages, body.model)
  if not messages then return nil, err end
  body.messages = messages
  body.audio = out and { voice = out.voice, format = out.format }
  if out then body.modalities = params.modalities or json.array{ "text", "audio" } end
  if params.stream then
    body.stream = true
    body.stream_options = type(params.stream_options) == "table" and copy(params.stream_options) or {}
    body.stream_options.include_usage = true
  end
  return {
    method = "POST", path = chat.PATH, json = body, stream = body.stream == true,
    model = body.model, audio = out, on_event = params.on_event,
  }
end

---------------------------------------------------------------- the reply

-- The most a tool call's arguments may be: real ones are a few kB, and a
-- million keys took 7 s of CPU to decode and check.
local MAX_TOOL_ARGUMENTS = 1024 * 1024

local function tool_call(id, name, arguments_json)
  local call = { id = id, name = name, arguments_json = arguments_json }
  if type(arguments_json) == "string" and #arguments_json > MAX_TOOL_ARGUMENTS then
    call.error = ("arguments are %d bytes, more than the %d a tool call may carry"):format(
      #arguments_json, MAX_TOOL_ARGUMENTS)
    return call
  end
  local arguments, why = json.decode(arguments_json)
  if type(arguments) == "table" then
    call.arguments = arguments
  else
    call.error = why and ("arguments are not JSON: " .. why) or "arguments are not a JSON object"
  end
  return call
end

-- The reply both paths end in. `got` holds what the response said, read field
-- by field: model, content, refusal, transcript, audio_id, audio_expires_at
-- (Unix seconds: after it the audio id is no use in a history), calls ({id, type,
-- name, arguments} in order), finish_reason, usage (raw), and the audio
-- already decoded (audio, or audio_bytes and audio_format). raw is the
-- response's JSON, or the list of a stream's chunks (with keep_raw; else nil).
local function build_reply(call, got, raw, headers, config)
  local reply = {
    text = got.content or got.transcript,
    transcript = got.transcript,
    audio = got.audio, audio_bytes = got.audio_bytes, audio_format = got.audio_format, audio_error = got.audio_error,
    audio_id = got.audio_id,
    audio_expires_at = got.audio_expires_at,
    finish_reason = got.finish_reason,
    model = got.model,
    request_id = headers and headers["x-request-id"],
    raw = raw,
  }
  reply.usage = usage.normalize(got.usage, call.model)
  -- Billed as the model that answered when its price is known, else as the one asked for.
  local billed = usage.prices_for(got.model, config.prices) and got.model or call.model
  reply.cost = usage.cost(billed, reply.usage, config.prices)
  local message = { role = "assistant", content = got.content, refusal = got.refusal }
  if got.audio_id then message.audio = { id = got.audio_id } end
  if #got.calls > 0 then
    reply.tool_calls, message.tool_calls = {}, json.array()
    for i, c in ipairs(got.calls) do
      reply.tool_calls[i] = tool_call(c.id, c.name, c.arguments)
      message.tool_calls[i] = { id = c.id, type = c.type or "function",
                                ["function"] = { name = c.name, arguments = c.arguments } }
    end
  end
  reply.message = message
  return reply
end

local function mismatch(call, answered, fields)
  fields.request_id = fields.reply and fields.reply.request_id
  local named = answered and "names " .. answered or "names no model"
  return fail("model_mismatch", ("asked for %s, the response %s"):format(call.model, named), fields)
end

local function checked(call, reply, config)
  if models.matches(call.model, reply.model, config.model_check) then return reply end
  return mismatch(call, reply.model, { reply = reply, raw = reply.raw })
end

-- Decodes one whole audio reply in the asked format: an AudioBuffer (at
-- audio.rate when given); the compressed formats also keep their bytes, and
-- are decoded when gptaudio.ffmpeg is there.
local function decode_audio(got, data, out)
  local bytes, err = core.base64_decode(data)
  if not bytes then return nil, err end
  local format = out and out.format
  local buf
  if format == "wav" then
    buf, err = core.audio.decode(bytes, "wav")
  elseif format == "pcm16" then
    buf, err = core.audio.from_pcm16(bytes, API_RATE, 1)
  else
    got.audio_bytes, got.audio_format = bytes, format
    buf, got.audio_error = received.decode(bytes)
    if not buf then return true end
  end
  if buf and out.rate and buf.rate ~= out.rate then buf, err = buf:resample(out.rate) end
  if not buf then return nil, err end
  got.audio = buf
  return true
end

--- The reply of a whole (not streamed) response { status, headers, json }.
function chat.decode(call, response, config)
  local raw = response.json
  local message = json.get(raw, "choices", 1, "message")
  if type(message) ~= "table" then
    return fail("protocol", "the response has no choices[1].message", { raw = raw })
  end
  local got = {
    model = json.get(raw, "model"),
    content = json.get(message, "content"),
    refusal = json.get(message, "refusal"),
    transcript = json.get(message, "audio", "transcript"),
    audio_id = json.get(message, "audio", "id"),
    audio_expires_at = json.integer(json.get(message, "audio", "expires_at")),
    finish_reason = json.get(raw, "choices", 1, "finish_reason"),
    usage = json.get(raw, "usage"),
    calls = {},
  }
  for i, c in ipairs(json.get(message, "tool_calls") or {}) do
    got.calls[i] = { id = json.get(c, "id"), type = json.get(c, "type"),
                     name = json.get(c, "function", "name"), arguments = json.get(c, "function", "arguments") }
  end
  local data = json.get(message, "audio", "data")
  if data then
    local ok, err = decode_audio(got, data, call.audio)
    if not ok then
      err.raw = raw
      return nil, err
    end
  end
  return checked(call, build_reply(call, got, raw, response.headers, config), config)
end

---------------------------------------------------------------- streaming

local Stream = {}
Stream.__index = Stream

--- A stream accumulator. emit(ev) hands each event on (the client runs the
--- caller's on_event under its own rules); log(level, message) takes what
--- the call does not fail for (default: nowhere).
function chat.stream(call, config, emit, log)
  local out = call.audio
  local rate = out and out.rate or API_RATE
  return setmetatable({
    call = call, config = config, emit = emit, log = log or function() end,
    chunks = {}, content = {}, refusal = {}, transcript = {}, calls = {}, completed = 0,
    pcm = core.pcm_stream(API_RATE),
    resampler = rate ~= API_RATE and core.audio.resampler{ from = API_RATE, to = rate } or nil,
    audio = core.audio.new{ rate = rate },
    model_checked = false,
  }, Stream)
end

function Stream:add_audio(chunk)
  if #chunk > 0 then
    self.audio:append(chunk)
    self.emit{ type = "audio", audio = chunk }
  end
end

function Stream:audio_delta(data)
  local chunk, err = self.pcm:feed_base64(data)
  if chunk and self.resampler then chunk, err = self.resampler:process(chunk) end
  if not chunk then return nil, err end
  self:add_audio(chunk)
  return true
end

-- Hands on every call before index `upto` (all of them when nil) not yet handed on:
-- a call is complete once a later one starts or the choice ends.
function Stream:complete_calls(upto)
  upto = upto or #self.calls + 1
  while self.completed + 1 < upto and self.calls[self.completed + 1] do
    self.completed = self.completed + 1
    local c = self.calls[self.completed]
    self.emit{ type = "tool_call", tool_call = tool_call(c.id, c.name, table.concat(c.pieces)) }
  end
end

-- The list position of a tool call delta's "index" (from 0): a call already
-- open or the next one; nil for anything else (NaN, a gap, a negative).
local function call_position(index, open_calls)
  if index == nil then return 1 end
  if type(index) ~= "number" or index % 1 ~= 0 or index < 0 or index > open_calls then return nil end
  return index + 1
end

function Stream:tool_call_deltas(deltas)
  if type(deltas) ~= "table" then return fail("protocol", "a delta's tool_calls is not a list") end
  for _, d in ipairs(deltas) do
    local index = call_position(json.get(d, "index"), #self.calls)
    if not index then
      return fail("protocol", ("a tool call delta's index is %s; calls so far: %d"):format(
        tostring(json.get(d, "index")), #self.calls))
    end
    self:complete_calls(index)
    local c = self.calls[index]
    if not c then
      c = { name = "", pieces = {}, size = 0 } -- the arguments, joined once the call is whole
      self.calls[index] = c
    end
    c.id = json.get(d, "id") or c.id
    c.type = json.get(d, "type") or c.type
    c.name = c.name .. (json.get(d, "function", "name") or "")
    local piece = json.get(d, "function", "arguments")
    if type(piece) == "string" and piece ~= "" then
      c.size = c.size + #piece
      if c.size > MAX_TOOL_ARGUMENTS then
        return fail("protocol", ("a tool call's arguments run past %d bytes"):format(MAX_TOOL_ARGUMENTS))
      end
      c.pieces[#c.pieces + 1] = piece
    end
  end
  return true
end

function Stream:delta(delta)
  local text = json.get(delta, "content")
  if text and text ~= "" then
    self.content[#self.content + 1] = text
    self.emit{ type = "text", delta = text }
  end
  local refusal = json.get(delta, "refusal")
  if refusal then self.refusal[#self.refusal + 1] = refusal end
  local audio = json.get(delta, "audio")
  if audio then
    self.audio_id = json.get(audio, "id") or self.audio_id
    self.audio_expires_at = json.integer(json.get(audio, "expires_at")) or self.audio_expires_at
    local transcript = json.get(audio, "transcript")
    if transcript then
      self.has_transcript = true
      if transcript ~= "" then
        self.transcript[#self.transcript + 1] = transcript
        self.emit{ type = "transcript", delta = transcript }
      end
    end
    local data = json.get(audio, "data")
    if data then
      local ok, err = self:audio_delta(data)
      if not ok then return nil, err end
    end
  end
  local calls = json.get(delta, "tool_calls")
  if calls then return self:tool_call_deltas(calls) end
  return true
end

-- What has arrived, in the shape build_reply reads.
function Stream:gathered()
  local calls = {}
  for i, c in ipairs(self.calls) do
    calls[i] = { id = c.id, type = c.type, name = c.name, arguments = table.concat(c.pieces) }
  end
  local got = {
    model = self.model, audio_id = self.audio_id, audio_expires_at = self.audio_expires_at,
    finish_reason = self.finish_reason, usage = self.usage,
    content = #self.content > 0 and table.concat(self.content) or nil,
    refusal = #self.refusal > 0 and table.concat(self.refusal) or nil,
    transcript = self.has_transcript and table.concat(self.transcript) or nil,
    calls = calls,
  }
  if self.audio_id or #self.audio > 0 then got.audio = self.audio end
  return got
end

--- The reply as far as it has arrived (err.partial when a stream breaks).
function Stream:partial(headers)
  return build_reply(self.call, self:gathered(), self.call.keep_raw and self.chunks or nil, headers, self.config)
end

--- Takes one SSE event ({ data, json }: the client has already ended the
--- stream at "[DONE]" and failed it at an error event); true, or nil, err when
--- the stream must stop (a wrong model, an event that is not JSON, undecodable audio).
function Stream:event(ev)
  local chunk = ev.json
  if type(chunk) ~= "table" then
    return errors.fail_excerpt("protocol", "a stream event is not a JSON object: ", ev.data)
  end
  if self.call.keep_raw then self.chunks[#self.chunks + 1] = chunk end
  local model = json.get(chunk, "model")
  if model and not self.model_checked then
    self.model, self.model_checked = model, true
    if not models.matches(self.call.model, model, self.config.model_check) then
      return mismatch(self.call, model, { raw = self.call.keep_raw and self.chunks or { chunk } })
    end
  end
  local choice = json.get(chunk, "choices", 1)
  if choice then
    local ok, err = self:delta(json.get(choice, "delta") or {})
    if not ok then return nil, err end
    local reason = json.get(choice, "finish_reason")
    if reason then
      self.finish_reason = reason
      self:complete_calls()
    end
  end
  local raw_usage = json.get(chunk, "usage")
  if raw_usage then
    self.usage = raw_usage
    self.emit{ type = "usage", usage = usage.normalize(raw_usage, self.call.model) }
  end
  return true
end

--- Ends the stream: flushes the resampler, hands on the calls still open, and
--- returns the reply the whole call would have given, after a done event.
function Stream:finish(response)
  call_stream.end_pcm(self.pcm, self.log, "chat")
  if self.resampler then self:add_audio(self.resampler:flush()) end
  self:complete_calls()
  -- A close-delimited body cut short looks like a clean end: without [DONE]
  -- and without a finish_reason the reply may be truncated.
  if not response.ended and not self.finish_reason then
    return fail("protocol", "the stream ended before [DONE]", { partial = self:partial(response.headers) })
  end
  -- The audio ending may carry only expires_at, with no finish_reason at all.
  self.finish_reason = self.finish_reason or "stop"
  local reply = self:partial(response.headers)
  if self.config.model_check ~= false and not self.model_checked then
    return mismatch(self.call, nil, { reply = reply, raw = reply.raw })
  end
  self.emit{ type = "done", reply = reply }
  return reply
end

---------------------------------------------------------------- the call

--- The "chat" call of the client's registry (client:chat(params),
--- client:start("chat", params)): the op the client sends, with its hooks.
--- where names the call in messages when another call routes through chat.
function chat.build(client, params, where)
  local call, err = chat.request(params, client.options, where)
  if not call then return nil, err end
  return call_stream.op(client, { method = call.method, path = call.path, json = call.json }, call,
                        { headers = params.headers, timeout = params.timeout, max_retries = params.max_retries,
                          stream = call.stream, on_event = params.on_event, keep_raw = params.keep_raw },
                        { decode = chat.decode, stream = chat.stream, mode = "sse" })
end

return chat
