-- The model registry: what each model OpenAI offers for audio takes and gives,
-- where it is served, what it costs, and what it refuses. A call a known model
-- cannot do raises before anything is sent; an id the registry does not know
-- (a gateway's own, a newer model) passes through unchecked and unpriced.
--
-- An entry: id, kind ("chat-audio" | "transcription" | "speech"), endpoint
-- (under the base URL), input and output (modalities), context_window and
-- max_output_tokens (tokens, where published), speakers (true: it labels
-- who speaks, response_format diarized_json), billing ("tokens" | "minutes" |
-- "characters"), prices, response_formats (transcription), and refuses: a set
-- of features the API turns down for it: structured_outputs, fine_tuning,
-- batch, realtime (chat-audio); stream (whisper-1); instructions and sse
-- (stream_format = "sse") for tts-1 and tts-1-hd; prompt (the diarizing model).
-- Limits of one request (long recordings are cut into pieces within them):
-- max_audio_seconds (the audio one request may hold) and max_upload_bytes
-- (the file one multipart upload may carry), and for chat-audio models
-- max_inline_bytes (the audio one chat request carries before the module
-- compresses it); models.limits(id) gives them for any id, known or not.
local models = {}

-- Prices are USD: per 1M tokens (text_input, text_output, audio_input,
-- audio_output), per minute of audio (minute) or per 1M characters of input
-- (characters_1m); each table says where and when its figures were taken.
-- gpt-audio-mini's text prices are the ones its design names; the others
-- were recorded without access to the live pricing page, and say so: check
-- them, or give the client your own `prices`, before relying on a figure.
local PRICE_SOURCE = "OpenAI's published prices as the team recorded them; not re-checked against the live pricing page"
local PRICE_TAKEN = "2026-11-25"

local function prices(figures, source, taken)
  figures.source, figures.taken = source or PRICE_SOURCE, taken or PRICE_TAKEN
  return figures
end

-- The entries added with long recordings were read from OpenAI's model pages
-- (developers.openai.com/api/docs/models/<id>), which list no cached-input
-- price for these models: cached tokens are billed as other input there.
local MODEL_PAGES = "OpenAI's model pages (developers.openai.com/api/docs/models/<id>)"
local MODEL_PAGES_TAKEN = "2026-12-07"

-- /audio/transcriptions takes files up to 25 MB.
local UPLOAD_LIMIT = 25 * 1024 * 1024
-- gpt-4o(-mini)-transcribe hear at most 1,500 s a request.
local GPT4O_TRANSCRIBE_SECONDS = 1500
-- What one chat request holds: its 16,384 output tokens cover about an hour
-- of speech, but its JSON grows by 43 kB for each second of 16 kHz audio;
-- 20 minutes keeps a request near 50 MB.
local CHAT_AUDIO_SECONDS = 1200
-- Chat requests have no published size limit: audio bytes beyond the
-- endpoint's 25 MB are sent compressed (audio/limits.lua).
local INLINE_LIMIT = UPLOAD_LIMIT

-- What the chat-audio family shares: Chat Completions, text and audio both ways,
-- a 128,000-token context and 16,384 out, no images or files in, no structured
-- outputs, no fine-tuning, no Batch or Realtime API (those are other endpoints
-- this module never routes to); only their prices differ.
local function chat_audio(figures, source, taken)
  return {
    kind = "chat-audio", endpoint = "/chat/completions",
    input = { "text", "audio" }, output = { "text", "audio" },
    context_window = 128000, max_output_tokens = 16384, max_audio_seconds = CHAT_AUDIO_SECONDS,
    max_inline_bytes = INLINE_LIMIT,
    billing = "tokens", prices = prices(figures, source, taken),
    refuses = { structured_outputs = true, fine_tuning = true, batch = true, realtime = true },
  }
end

-- What the gpt-4o transcription models share: tokens in and out, a 16,000-token
-- context, json alone as response format; only their prices differ.
local function gpt4o_transcription(figures)
  return {
    kind = "transcription", endpoint = "/audio/transcriptions",
    input = { "audio", "text" }, output = { "text" },
    context_window = 16000, max_output_tokens = 2000, billing = "tokens",
    max_audio_seconds = GPT4O_TRANSCRIBE_SECONDS, max_upload_bytes = UPLOAD_LIMIT,
    prices = prices(figures), response_formats = { "json" }, refuses = {},
  }
end

-- What tts-1 and tts-1-hd share: billed by the character, no instructions, no
-- SSE stream; only their price per 1M characters differs.
local function character_tts(per_million_characters)
  return {
    kind = "speech", endpoint = "/audio/speech",
    input = { "text" }, output = { "audio" }, billing = "characters",
    prices = prices{ characters_1m = per_million_characters },
    refuses = { instructions = true, sse = true },
  }
end

models.known = {
  ["gpt-audio-mini"] = chat_audio{
    text_input = 0.60, text_output = 2.40, audio_input = 10.00, audio_output = 20.00,
  },
  ["gpt-audio"] = chat_audio{
    text_input = 2.50, text_output = 10.00, audio_input = 32.00, audio_output = 64.00,
  },
  -- Text 2.50 / 10.00, audio 32.00 / 64.00 per 1M tokens; no dated snapshot published yet
  -- (a dated one is found through its base id).
  ["gpt-audio-1.5"] = chat_audio({
    text_input = 2.50, text_output = 10.00, audio_input = 32.00, audio_output = 64.00,
  }, MODEL_PAGES, MODEL_PAGES_TAKEN),
  ["gpt-4o-audio-preview"] = chat_audio{
    text_input = 2.50, text_output = 10.00, audio_input = 40.00, audio_output = 80.00,
  },
  ["gpt-4o-mini-audio-preview"] = chat_audio{
    text_input = 0.15, text_output = 0.60, audio_input = 10.00, audio_output = 20.00,
  },
  ["gpt-4o-transcribe"] = gpt4o_transcription{ text_input = 2.50, text_output = 10.00, audio_input = 6.00 },
  ["gpt-4o-mini-transcribe"] = gpt4o_transcription{ text_input = 1.25, text_output = 5.00, audio_input = 3.00 },
  -- Speakers: segments with speaker labels (response_format diarized_json), no
  -- prompt; priced as gpt-4o-transcribe (the pricing page's estimate: $0.006 a minute).
  ["gpt-4o-transcribe-diarize"] = {
    kind = "transcription", endpoint = "/audio/transcriptions",
    input = { "audio", "text" }, output = { "text" },
    context_window = 16000, max_output_tokens = 2000, billing = "tokens",
    max_audio_seconds = GPT4O_TRANSCRIBE_SECONDS, max_upload_bytes = UPLOAD_LIMIT,
    prices = prices({ text_input = 2.50, text_output = 10.00, audio_input = 6.00 }, MODEL_PAGES, MODEL_PAGES_TAKEN),
    response_formats = { "json", "text", "diarized_json" }, refuses = { prompt = true }, speakers = true,
  },
  ["whisper-1"] = {
    kind = "transcription", endpoint = "/audio/transcriptions", max_upload_bytes = UPLOAD_LIMIT,
    input = { "audio", "text" }, output = { "text" }, billing = "minutes",
    prices = prices{ minute = 0.006 },
    response_formats = { "json", "text", "srt", "verbose_json", "vtt" }, refuses = { stream = true },
  },
  ["gpt-4o-mini-tts"] = {
    kind = "speech", endpoint = "/audio/speech",
    input = { "text" }, output = { "audio" }, billing = "tokens",
    prices = prices{ text_input = 0.60, audio_output = 12.00 },
    refuses = {},
  },
  ["tts-1"] = character_tts(15.00),
  ["tts-1-hd"] = character_tts(30.00),
}

for id, model in pairs(models.known) do
  model.id = id
end

local SNAPSHOT = "%-%d%d%d%d%-%d%d%-%d%d$"

-- The id without its snapshot date: "gpt-audio-mini-2025-12-15" -> "gpt-audio-mini".
function models.base_id(id)
  return (id:gsub(SNAPSHOT, ""))
end

-- The registry entry for an id or one of its dated snapshots, or nil.
function models.get(id)
  if type(id) ~= "string" then return nil end
  return models.known[id] or models.known[models.base_id(id)]
end

-- Whether a response that names `answered` honours a request for `asked`
-- under the client's model_check rule: "exact" (the id or a dated snapshot of
-- it), "prefix" (starts with it) or false (anything).
function models.matches(asked, answered, rule)
  if rule == false then return true end
  if type(answered) ~= "string" then return false end
  if rule == "prefix" then
    return answered:sub(1, #asked) == asked
  end
  return answered == asked
    or (answered:sub(1, #asked) == asked and answered:sub(#asked + 1):match("^" .. SNAPSHOT) ~= nil)
end

-- What an id the registry does not know is limited to: that of its route's
-- known models (a gateway's transcription model by the endpoint's upload limit).
local UNKNOWN_LIMITS = {
  transcription = { max_audio_seconds = GPT4O_TRANSCRIBE_SECONDS, max_upload_bytes = UPLOAD_LIMIT },
  ["chat-audio"] = { max_audio_seconds = CHAT_AUDIO_SECONDS, max_inline_bytes = INLINE_LIMIT },
}

--- Whether an id the registry does not know names a transcription model
--- (it says "transcribe" or starts with "whisper"): such ids go to /audio/transcriptions.
function models.names_transcription(id)
  id = id:lower()
  return id:find("transcribe", 1, true) ~= nil or id:find("^whisper") ~= nil
end

--- The kind of model an id is: the registry's, else judged by its name
--- ("transcription" or "chat-audio").
function models.kind_of(id)
  local model = models.get(id)
  if model then return model.kind end
  return models.names_transcription(id) and "transcription" or "chat-audio"
end

--- Whether the model labels speakers (the registry's speakers; an unknown id saying "diarize").
function models.diarizes(id)
  local model = models.get(id)
  if model then return model.speakers == true end
  return id:lower():find("diarize", 1, true) ~= nil
end

--- { max_audio_seconds, max_upload_bytes, max_inline_bytes } of one request to the model (any may be nil: no limit).
function models.limits(id)
  local model = models.get(id)
  local known = model or UNKNOWN_LIMITS[models.kind_of(id)] or {}
  return { max_audio_seconds = known.max_audio_seconds, max_upload_bytes = known.max_upload_bytes,
           max_inline_bytes = known.max_inline_bytes }
end

local PART_MODALITY = { text = "text", input_audio = "audio", image_url = "image", file = "file" }

local function takes(model, modality)
  for _, m in ipairs(model.input) do
    if m == modality then return true end
  end
  return false
end

local function refuse(field, model, what)
  error(("%s: %s %s"):format(field, model.id, what), 0)
end

-- Raises, naming the field, when `params` (a chat call's arguments as the
-- caller gave them, model already resolved) asks a known model for something
-- it cannot do. `stream_format` is the audio format a streamed call would get.
function models.check_chat(params, stream_format)
  -- The API streams pcm16 only, and it is the only audio a stream can be
  -- decoded from: this holds for every model, known or not.
  if params.stream and stream_format and stream_format ~= "pcm16" then
    error(("audio.format: %q cannot be streamed (stream = true takes pcm16 only)"):format(stream_format), 0)
  end
  local model = models.get(params.model)
  if not model then return end
  if model.kind ~= "chat-audio" then
    refuse("model", model, ("is a %s model, not a chat model"):format(model.kind))
  end
  for _, field in ipairs{ "max_completion_tokens", "max_tokens" } do
    local n = params[field]
    if type(n) == "number" and n > model.max_output_tokens then
      refuse(field, model, ("takes at most %d output tokens, not %s"):format(model.max_output_tokens, n))
    end
  end
  local format = type(params.response_format) == "table" and params.response_format.type
  if format == "json_schema" and model.refuses.structured_outputs then
    refuse("response_format", model, "does not take structured outputs (json_schema)")
  end
  for i, message in ipairs(params.messages or {}) do
    if type(message) == "table" and type(message.content) == "table" then
      for j, part in ipairs(message.content) do
        local modality = type(part) == "table" and PART_MODALITY[part.type]
        if modality and not takes(model, modality) then
          refuse(("messages[%d].content[%d]"):format(i, j), model, ("does not take %s input"):format(modality))
        end
      end
    end
  end
end

return models
