-- The model registry: what each model OpenAI offers for audio takes and gives,
-- where it is served, what it costs, and what it refuses. A call a known model
-- cannot do raises before anything is sent; an id the registry does not know
-- (a gateway's own, a newer model) passes through unchecked and unpriced.
--
-- An entry: id, kind ("chat-audio" | "transcription" | "speech"), endpoint
-- (under the base URL), input and output (modalities), context_window and
-- max_output_tokens (tokens, where published), billing ("tokens" | "minutes" |
-- "characters"), prices, response_formats (transcription), and refuses: a set
-- of features the API turns down for it: structured_outputs, fine_tuning,
-- batch, realtime (chat-audio); stream (whisper-1); instructions and sse
-- (stream_format = "sse") for tts-1 and tts-1-hd.
local models = {}

-- Prices are USD: per 1M tokens (text_input, text_output, audio_input,
-- audio_output), per minute of audio (minute) or per 1M characters of input
-- (characters_1m); each table says where and when its figures were taken.
-- gpt-audio-mini's text prices are the ones its design names; the others
-- were recorded without access to the live pricing page, and say so: check
-- them, or give the client your own `prices`, before relying on a figure.
local PRICE_SOURCE = "OpenAI's published prices as the team recorded them; not re-checked against the live pricing page"
local PRICE_TAKEN = "2026-11-25"

local function prices(figures)
  figures.source, figures.taken = PRICE_SOURCE, PRICE_TAKEN
  return figures
end

-- What the chat-audio family shares: Chat Completions, text and audio both ways,
-- a 128,000-token context and 16,384 out, no images or files in, no structured
-- outputs, no fine-tuning, no Batch or Realtime API (those are other endpoints
-- this module never routes to); only their prices differ.
local function chat_audio(figures)
  return {
    kind = "chat-audio", endpoint = "/chat/completions",
    input = { "text", "audio" }, output = { "text", "audio" },
    context_window = 128000, max_output_tokens = 16384, billing = "tokens", prices = prices(figures),
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
  ["gpt-4o-audio-preview"] = chat_audio{
    text_input = 2.50, text_output = 10.00, audio_input = 40.00, audio_output = 80.00,
  },
  ["gpt-4o-mini-audio-preview"] = chat_audio{
    text_input = 0.15, text_output = 0.60, audio_input = 10.00, audio_output = 20.00,
  },
  ["gpt-4o-transcribe"] = gpt4o_transcription{ text_input = 2.50, text_output = 10.00, audio_input = 6.00 },
  ["gpt-4o-mini-transcribe"] = gpt4o_transcription{ text_input = 1.25, text_output = 5.00, audio_input = 3.00 },
  ["whisper-1"] = {
    kind = "transcription", endpoint = "/audio/transcriptions",
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
