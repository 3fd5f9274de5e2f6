-- What the diarizing model (gpt-4o-transcribe-diarize) needs in its form:
-- chunking_strategy (the API refuses more than 30 s without it; "auto" by
-- default) and the known speakers' reference clips as data URLs.
--
--   opts, err = speakers.form_options(opts, model_id)
--
-- known_speaker_names = { "Alice", "Bob" } and known_speaker_references = the
-- same number of clips (2 to 10 s each, as the API asks), each an AudioBuffer
-- (sent as 16-bit WAV), a file path (sent as the file) or a data URL as it is.
local core = require "gptaudio.core"
local errors = require "gptaudio.errors"
local models = require "gptaudio.models"
local recording = require "gptaudio.recording"

local speakers = {}

local WHERE = "client:transcribe"
local MIME = { wav = "audio/wav", mp3 = "audio/mpeg", m4a = "audio/mp4", mp4 = "audio/mp4", webm = "audio/webm",
               ogg = "audio/ogg", flac = "audio/flac", mpeg = "audio/mpeg", mpga = "audio/mpeg" }

local function data_url(clip, i)
  if recording.is_buffer(clip) then
    local mono = clip.channels > 1 and clip:to_channels(1) or clip
    return "data:audio/wav;base64," .. core.base64_encode(mono:encode("wav"))
  end
  if type(clip) ~= "string" then
    error(("%s: 'known_speaker_references[%d]' must be an AudioBuffer, a file path or a data URL (got %s)"):format(
      WHERE, i, type(clip)), 0)
  end
  if clip:find("^data:") then return clip end
  local f, why = io.open(clip, "rb")
  if not f then return errors.fail("audio", "cannot read a known speaker's clip " .. why) end
  local bytes = f:read("*a")
  f:close()
  local extension = (clip:match("%.(%w+)$") or ""):lower()
  return ("data:%s;base64,%s"):format(MIME[extension] or "audio/wav", core.base64_encode(bytes))
end

--- opts as the diarizing model's form wants them (a copy), or opts itself for
--- another model; nil, err when a clip cannot be read.
function speakers.form_options(opts, model_id)
  if not models.diarizes(model_id) then return opts end
  local out = {}
  for k, v in pairs(opts) do out[k] = v end
  out.chunking_strategy = opts.chunking_strategy or "auto"
  local references = opts.known_speaker_references
  if type(references) == "table" then
    local urls = {}
    for i, clip in ipairs(references) do
      local url, err = data_url(clip, i)
      if not url then return nil, err end
      urls[i] = url
    end
    out.known_speaker_references = urls
  end
  return out
end

return speakers
