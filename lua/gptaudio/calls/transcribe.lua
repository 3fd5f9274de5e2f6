-- The transcribe call: speech to text, routed by the model the caller picks,
-- never another.
--
--   tr, err = client:transcribe(audio, opts)     req = client:start("transcribe", audio, opts)
--
-- audio: an AudioBuffer (sent as 16-bit mono WAV at its own rate or 24 kHz,
-- whichever is lower), a file path (sent as the file it names), or
-- {data = bytes, format = "wav" | "mp3" | "flac" | ...} (sent with a made-up filename);
-- formats a route does not take are converted (audio/input.lua).
--
-- A transcription model (gpt-4o-mini-transcribe, gpt-4o-transcribe, whisper-1,
-- or an unknown id naming "transcribe" or "whisper") goes to
-- POST /audio/transcriptions as multipart form data built in memory. A chat-audio
-- model (the client's default, gpt-audio-mini) gets a Chat Completions request
-- with the audio and an instruction to transcribe it verbatim, text out only.
-- A speech model raises.
--
-- The result is a Transcript: text, language, duration, words, segments,
-- usage, cost, model, request_id, raw; tostring(tr) is tr.text.
local errors = require "gptaudio.errors"
local check = require "gptaudio.check"
local input = require "gptaudio.audio.input"
local json = require "gptaudio.json"
local chat_route = require "gptaudio.calls.chat_route"
local call_stream = require "gptaudio.calls.stream"
local routed = require "gptaudio.calls.routed"
local speakers = require "gptaudio.calls.speakers"
local models = require "gptaudio.models"
local transcript = require "gptaudio.transcript"
local usage = require "gptaudio.usage"

local transcribe = {}

transcribe.PATH = "/audio/transcriptions"

local WHERE = "client:transcribe"
-- What the call takes for itself: none of it goes into the form as it is.
local CALL_OPTIONS = { model = true, on_event = true, timeout = true, max_retries = true, headers = true,
                       keep_raw = true }
-- The response formats whose body is the transcript itself rather than JSON.
local PLAIN_FORMATS = { text = true, srt = true, vtt = true }
-- Options only /audio/transcriptions has: the chat route raises for them.
local ENDPOINT_ONLY = { timestamp_granularities = true, include = true, chunking_strategy = true }

local Transcript = transcript.Transcript
transcribe.Transcript = Transcript

local fail = errors.fail

local function is_buffer(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return type(mt) == "table" and mt.__name == "gptaudio.AudioBuffer"
end

local function check_audio(audio)
  if is_buffer(audio) or type(audio) == "string" then return end
  if type(audio) ~= "table" then
    error(("%s: 'audio' must be an AudioBuffer, a file path or {data =, format =} (got %s)"):format(
      WHERE, type(audio)), 0)
  end
  if type(audio.data) ~= "string" then
    error(("%s: 'audio.data' must be a string of audio bytes (got %s)"):format(WHERE, type(audio.data)), 0)
  end
  if type(audio.format) ~= "string" or not audio.format:find("^%w+$") then
    error(("%s: 'audio.format' must be a file extension such as \"wav\" (got %s)"):format(
      WHERE, type(audio.format) == "string" and ("%q"):format(audio.format) or type(audio.format)), 0)
  end
end

local OPTION_KINDS = {
  model = "string", language = "string", prompt = "string", response_format = "string",
  temperature = "finite number", stream = "boolean", on_event = "function", keep_raw = "boolean",
}

local function check_arguments(audio, opts)
  check_audio(audio)
  check.fields(WHERE, opts, OPTION_KINDS)
  if opts.chunk ~= nil then
    error(WHERE .. ": 'chunk': one request is sent here; client:transcribe cuts long recordings into pieces", 0)
  end
end

---------------------------------------------------------------- the Transcript

-- Usage as reported; for a model billed by the minute that reported none, the
-- whole seconds of audio it was given (the API bills a started second whole).
local function usage_of(raw_usage, model_id, duration)
  local u = usage.normalize(raw_usage, model_id)
  local model = models.get(model_id)
  if u == nil and duration and model and model.billing == "minutes" then
    u = { seconds = math.ceil(duration) }
  end
  return u
end

-- A Transcript priced as the model that answered when its price is known,
-- else as the one asked for.
local function priced(fields, asked, config)
  local billed = usage.prices_for(fields.model, config.prices) and fields.model or asked
  fields.cost = usage.cost(billed, fields.usage, config.prices)
  return setmetatable(fields, Transcript)
end

local function mismatch(asked, answered, fields)
  return fail("model_mismatch", ("asked for %s, the response names %s"):format(asked, answered), fields)
end

-- The model a response names (transcription responses name none; a gateway's
-- may), checked against the one asked for under the client's model_check.
local function answered_model(call, named, config, fields)
  if named == nil then return call.model end
  if not models.matches(call.model, named, config.model_check) then
    return mismatch(call.model, named, fields)
  end
  return named
end

---------------------------------------------------------------- /audio/transcriptions

-- Appends form fields for value under name the way OpenAI's SDKs flatten
-- them: lists as name[] (one part per item), tables as name[key], booleans
-- as true/false, numbers without a trailing .0.
local function add_fields(parts, name, value)
  local kind = type(value)
  if kind == "table" then
    if #value > 0 or json.is_array(value) then
      for _, item in ipairs(value) do add_fields(parts, name .. "[]", item) end
    else
      local keys = {}
      for key in pairs(value) do keys[#keys + 1] = tostring(key) end
      table.sort(keys)
      for _, key in ipairs(keys) do add_fields(parts, ("%s[%s]"):format(name, key), value[key]) end
    end
  elseif kind == "number" then
    check.value(WHERE, name, value, "finite number")
    parts[#parts + 1] = { name = name, data = json.number(value) }
  elseif kind == "string" or kind == "boolean" then
    parts[#parts + 1] = { name = name, data = tostring(value) }
  else
    error(("%s: '%s' cannot go into a form (got %s)"):format(WHERE, name, kind), 0)
  end
end

-- The multipart part for the audio (audio/input.lua: a path the endpoint
-- takes goes as the file it names, read by the transport; formats it does
-- not take are converted).
local function file_part(audio, model_id)
  local part, err = input.for_endpoint(audio, model_id)
  if not part then return nil, err end
  part.name = "file"
  return part
end

-- Raises, naming the field, for what a known transcription model refuses or
-- no transcription request can mean.
local function check_endpoint_options(opts, model)
  local format = opts.response_format
  if model and format and model.response_formats then
    local takes = table.concat(model.response_formats, ", ")
    local known = false
    for _, f in ipairs(model.response_formats) do known = known or f == format end
    if not known then
      error(("%s: 'response_format' %q: %s takes %s"):format(WHERE, format, model.id, takes), 0)
    end
  end
  if opts.prompt and model and model.refuses.prompt then
    error(("%s: 'prompt': %s takes no prompt"):format(WHERE, model.id), 0)
  end
  if opts.stream and model and model.refuses.stream then
    error(("%s: 'stream': %s does not stream transcripts"):format(WHERE, model.id), 0)
  end
  if opts.timestamp_granularities ~= nil and format ~= "verbose_json" then
    error(WHERE .. ": 'timestamp_granularities' needs response_format = \"verbose_json\"", 0)
  end
end

-- The transcript of a whole (not streamed) response.
local function decode_response(call, response, config)
  local headers = response.headers or {}
  local fields = { request_id = headers["x-request-id"] }
  if PLAIN_FORMATS[call.format] then
    fields.text, fields.raw, fields.model = response.body, response.body, call.model
    fields.usage = usage_of(nil, call.model, call.duration)
    return priced(fields, call.model, config)
  end
  local raw = response.json
  local text = json.get(raw, "text")
  if type(text) ~= "string" then
    return fail("protocol", "the transcription response has no text", { raw = raw or response.body,
                                                                          request_id = fields.request_id })
  end
  local model, err = answered_model(call, json.get(raw, "model"), config, { raw = raw, request_id = fields.request_id })
  if not model then return nil, err end
  fields.text, fields.raw, fields.model = text, raw, model
  fields.language = json.get(raw, "language")
  fields.duration = json.get(raw, "duration")
  fields.words = json.get(raw, "words")
  fields.segments = json.get(raw, "segments")
  fields.usage = usage_of(json.get(raw, "usage"), model, fields.duration or call.duration)
  return priced(fields, call.model, config)
end

-- Gathers a streamed transcription: transcript.text.delta pieces, then
-- transcript.text.done with the whole text and the usage.
local Stream = {}
Stream.__index = Stream

local function new_stream(call, config, emit)
  return setmetatable({ call = call, config = config, emit = emit, pieces = {}, events = {}, segments = {} }, Stream)
end

function Stream:event(ev)
  local data = ev.json
  if type(data) ~= "table" then
    return errors.fail_excerpt("protocol", "a transcript stream event is not a JSON object: ", ev.data)
  end
  if self.call.keep_raw then self.events[#self.events + 1] = data end
  local named = json.get(data, "model")
  if named and not self.model then
    local model, err = answered_model(self.call, named, self.config, { raw = data })
    if not model then return nil, err end
    self.model = model
  end
  local kind = json.get(data, "type")
  if kind == "transcript.text.delta" then
    local delta = json.get(data, "delta")
    if type(delta) == "string" and delta ~= "" then
      self.pieces[#self.pieces + 1] = delta
      self.emit{ type = "transcript", delta = delta }
    end
  elseif kind == "transcript.text.segment" then
    -- The diarizing model's finished segments, with their speaker and times.
    local segment = { start = json.get(data, "start"), ["end"] = json.get(data, "end"), text = json.get(data, "text"),
                      speaker = json.get(data, "speaker"), id = json.get(data, "id") }
    self.segments[#self.segments + 1] = segment
    self.emit{ type = "segment", segment = segment }
  elseif kind == "transcript.text.done" then
    self.text = json.get(data, "text")
    local raw_usage = json.get(data, "usage")
    if raw_usage then
      self.usage = usage_of(raw_usage, self.model or self.call.model)
      self.emit{ type = "usage", usage = self.usage }
    end
  end
  return true
end

function Stream:partial(headers)
  local model = self.model or self.call.model
  return priced({
    model = model,
    text = type(self.text) == "string" and self.text or table.concat(self.pieces),
    usage = self.usage or usage_of(nil, model, self.call.duration),
    segments = #self.segments > 0 and self.segments or nil,
    request_id = headers and headers["x-request-id"], raw = self.call.keep_raw and self.events or nil,
  }, self.call.model, self.config)
end

function Stream:finish(response)
  local tr = self:partial(response.headers)
  self.emit{ type = "done", transcript = tr }
  return tr
end

-- The op of a form posted to path (default /audio/transcriptions; translate posts
-- the same form to /audio/translations).
local function endpoint_op(client_, audio, opts, model_id, model, path)
  check_endpoint_options(opts, model)
  local err
  opts, err = speakers.form_options(opts, model_id)
  if not opts then return nil, err end
  local form = {}
  local names = {}
  for name in pairs(opts) do
    if not CALL_OPTIONS[name] then names[#names + 1] = name end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    if name ~= "stream" or opts.stream then add_fields(form, name, opts[name]) end
  end
  local part
  part, err = file_part(audio, model_id)
  if not part then return nil, err end
  local parts = { { name = "model", data = model_id }, part }
  for _, field in ipairs(form) do parts[#parts + 1] = field end
  local call = { model = model_id, format = opts.response_format or "json",
                 duration = is_buffer(audio) and audio.duration or nil }
  return call_stream.op(client_, { method = "POST", path = path or transcribe.PATH, multipart = parts }, call, opts,
                        { decode = decode_response, stream = new_stream, mode = "sse" })
end

---------------------------------------------------------------- the chat route

local INSTRUCTION = "Transcribe the audio in the user's message verbatim. Reply with the transcript alone: "
  .. "no preamble, no commentary, no quotation marks, no translation, no answer to what it says."

local function instruction(opts)
  local lines = { INSTRUCTION }
  if opts.language then
    lines[#lines + 1] = ("The audio is in the language with ISO-639-1 code %q: write the transcript in it."):format(
      opts.language)
  end
  if opts.prompt then
    lines[#lines + 1] = "Context for the transcript (spellings, vocabulary, what came before): " .. opts.prompt
  end
  return table.concat(lines, "\n")
end

local function check_chat_options(opts, model_id)
  local format = opts.response_format
  if format and format ~= "json" and format ~= "text" then
    error(("%s: 'response_format' %q: %s is a chat model and gives the text alone (json or text); "
           .. "use a transcription model such as whisper-1"):format(WHERE, format, model_id), 0)
  end
  for name in pairs(opts) do
    if ENDPOINT_ONLY[name] then
      error(("%s: '%s': %s is a chat model; only /audio/transcriptions takes it"):format(WHERE, name, model_id), 0)
    end
  end
end

-- The chat reply as a Transcript: chat has priced it already.
local function transcript_of(reply)
  return setmetatable({
    text = reply.text or "", usage = reply.usage, cost = reply.cost, model = reply.model,
    request_id = reply.request_id, raw = reply.raw,
  }, Transcript)
end

local function chat_op(client_, audio, opts, model_id)
  check_chat_options(opts, model_id)
  local params = {}
  for name, value in pairs(opts) do
    if name ~= "language" and name ~= "prompt" and name ~= "response_format" then params[name] = value end
  end
  params.model = model_id
  params.modalities = json.array{ "text" }
  params.messages = transcribe.audio_messages(instruction(opts), audio)
  return chat_route(client_, params, transcribe.text_as_transcript(opts.on_event), transcript_of, "transcript", WHERE)
end

--- The chat messages that ask for something of one recording: the
--- instruction as the system turn, the audio alone as the user's.
function transcribe.audio_messages(instruction_text, audio)
  return json.array{
    { role = "system", content = instruction_text },
    { role = "user", content = json.array{ { type = "input_audio", audio = audio } } },
  }
end

--- on_event for a chat whose text is the call's transcript: text events
--- become transcript events (nil when there is no on_event).
function transcribe.text_as_transcript(on_event)
  return on_event and function(ev)
    if ev.type == "text" then return on_event{ type = "transcript", delta = ev.delta } end
    on_event(ev)
  end
end

transcribe.check_audio = check_audio
transcribe.endpoint_op = endpoint_op

---------------------------------------------------------------- the call

--- The "transcribe" call (client:transcribe(audio, opts), client:start("transcribe", audio, opts)).
transcribe.build = routed{
  where = WHERE, verb = "transcribe", endpoint = "transcription", refused = "speech",
  names_endpoint = models.names_transcription,
  check = check_arguments, endpoint_op = endpoint_op, chat_op = chat_op,
}

return transcribe
