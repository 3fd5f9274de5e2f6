-- The translate call: speech in one language to text (and, on the chat
-- route, speech) in another, routed by the model the caller picks.
--
--   tr, err = client:translate(audio, opts)     req = client:start("translate", audio, opts)
--
-- whisper-1 goes to POST /audio/translations (the same multipart form as a
-- transcription; English out, the only language that endpoint writes). A
-- chat-audio model (the client's default, gpt-audio-mini) gets a Chat
-- Completions request asking for a translation into opts.to (any language
-- the model writes; "English" by default), as text, or with speak = true as
-- speech too (speech-to-speech: tr.audio). Other transcription models and
-- speech models raise. Long recordings go in pieces as client:transcribe's do.
--
-- The result is a Transcript (transcript.lua) with, when spoken, audio (an
-- AudioBuffer for wav and pcm16; audio_bytes and audio_format otherwise).
local chat_route = require "gptaudio.calls.chat_route"
local check = require "gptaudio.check"
local json = require "gptaudio.json"
local models = require "gptaudio.models"
local routed = require "gptaudio.calls.routed"
local transcribe = require "gptaudio.calls.transcribe"
local transcript = require "gptaudio.transcript"

local translate = {}

translate.PATH = "/audio/translations"

local WHERE = "client:translate"
local OPTION_KINDS = {
  model = "string", to = "string", speak = "boolean", prompt = "string", response_format = "string",
  temperature = "finite number", stream = "boolean", on_event = "function", voice = { "string", "table" },
  format = "string",
}
-- What only the chat route takes: the target language and the spoken answer.
local CHAT_ONLY = { to = true, speak = true, voice = true, format = true }
local ENGLISH = { english = true, en = true }

local function check_arguments(audio, opts)
  transcribe.check_audio(audio)
  check.fields(WHERE, opts, OPTION_KINDS)
  if opts.chunk ~= nil then
    error(WHERE .. ": 'chunk': one request is sent here; client:translate cuts long recordings into pieces", 0)
  end
end

local function endpoint_op(client_, audio, opts, model_id, model)
  if not models.base_id(model_id):find("^whisper") then
    error(("%s: 'model' %s: /audio/translations takes whisper-1; a chat-audio model translates into any language")
      :format(WHERE, model_id), 0)
  end
  if opts.to and not ENGLISH[opts.to:lower()] then
    error(("%s: 'to' %q: %s translates into English only; a chat-audio model such as gpt-audio-mini takes any")
      :format(WHERE, opts.to, model_id), 0)
  end
  local form = {}
  for name, value in pairs(opts) do
    if CHAT_ONLY[name] and name ~= "to" then
      error(("%s: '%s': %s gives text alone; a chat-audio model speaks its translation"):format(
        WHERE, name, model_id), 0)
    end
    if name ~= "to" then form[name] = value end
  end
  return transcribe.endpoint_op(client_, audio, form, model_id, model, translate.PATH)
end

---------------------------------------------------------------- the chat route

local function instruction(opts)
  local lines = {
    ("Translate the speech in the user's message into %s. Reply with the translation alone: no preamble, "
     .. "no commentary, no quotation marks, no transcript of the original, no answer to what it says.")
      :format(opts.to or "English"),
  }
  if opts.prompt then
    lines[#lines + 1] = "Context (spellings, vocabulary, what came before): " .. opts.prompt
  end
  return table.concat(lines, "\n")
end

-- The chat reply as a Transcript of the translation: chat has priced it already.
local function translation_of(reply)
  return transcript.new{
    text = reply.text or reply.transcript or "", audio = reply.audio, audio_bytes = reply.audio_bytes,
    audio_format = reply.audio_format,
    usage = reply.usage, cost = reply.cost, model = reply.model, request_id = reply.request_id, raw = reply.raw,
  }
end

local function chat_op(client_, audio, opts, model_id)
  local format = opts.response_format
  if format and format ~= "json" and format ~= "text" then
    error(("%s: 'response_format' %q: %s gives the text alone (json or text)"):format(WHERE, format, model_id), 0)
  end
  if type(audio) == "table" and audio.format ~= "wav" and audio.format ~= "mp3" and audio.data then
    error(("%s: 'audio.format' %q: %s hears wav and mp3 only"):format(WHERE, audio.format, model_id), 0)
  end
  local params = {}
  for name, value in pairs(opts) do
    if not CHAT_ONLY[name] and name ~= "prompt" and name ~= "response_format" then params[name] = value end
  end
  params.model = model_id
  if opts.speak then
    params.modalities = json.array{ "text", "audio" }
    params.audio = { voice = opts.voice or client_.options.voice,
                     format = opts.format or (opts.stream and "pcm16" or "wav") }
  else
    params.modalities = json.array{ "text" }
  end
  params.messages = transcribe.audio_messages(instruction(opts), audio)
  -- The translation's text is the call's transcript, spoken or not.
  return chat_route(client_, params, transcribe.text_as_transcript(opts.on_event), translation_of, "transcript", WHERE)
end

--- The "translate" call (client:translate(audio, opts), client:start("translate", audio, opts)).
translate.build = routed{
  where = WHERE, verb = "translate", endpoint = "transcription", refused = "speech",
  names_endpoint = models.names_transcription,
  check = check_arguments, endpoint_op = endpoint_op, chat_op = chat_op,
}

return translate
