-- The Transcript: what client:transcribe (and client:translate) return, and
-- its subtitles.
--
--   tr.text, tr.segments = { {start, end, text, speaker?}, ... } (seconds from the
--   start of the recording), tr.words, tr.language, tr.duration, tr.usage, tr.cost,
--   tr.model, tr.request_id, tr.raw; with pieces: tr.pieces, tr.missing
--   tostring(tr) is tr.text; tr:srt() and tr:vtt() are its subtitles.
-- The Transcript's methods are API; this module's functions are internal (the calls use them).
local transcript = {}

-- The metatable of every Transcript: its text is its string.
local Transcript = { __name = "gptaudio.Transcript" }
Transcript.__index = Transcript
transcript.Transcript = Transcript

function Transcript:__tostring()
  return self.text
end

local function clock(seconds, separator)
  local ms = math.floor(math.max(0, seconds) * 1000 + 0.5)
  return ("%02d:%02d:%02d%s%03d"):format(math.floor(ms / 3600000), math.floor(ms / 60000) % 60,
                                        math.floor(ms / 1000) % 60, separator, ms % 1000)
end

local function trim(text)
  return (text:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- The cues of a transcript: its segments with text, in time order, each
-- starting no earlier than the one before ends; the whole text as one cue
-- when there are no segments but the duration is known.
local function cues(tr)
  local list = {}
  local segments = tr.segments
  if (segments == nil or #segments == 0) and tr.duration and tr.text then
    segments = { { start = 0, ["end"] = tr.duration, text = tr.text } }
  end
  local last_end = 0
  for _, s in ipairs(segments or {}) do
    local text = type(s.text) == "string" and trim(s.text) or ""
    if text ~= "" and type(s.start) == "number" and type(s["end"]) == "number" then
      local start = math.max(s.start, last_end)
      local stop = math.max(s["end"], start)
      list[#list + 1] = { start = start, stop = stop, text = text, speaker = s.speaker }
      last_end = stop
    end
  end
  return list
end

--- The transcript as SubRip subtitles (a speaker, when known, before the text).
function Transcript:srt()
  local out = {}
  for i, cue in ipairs(cues(self)) do
    local text = cue.speaker and (cue.speaker .. ": " .. cue.text) or cue.text
    out[#out + 1] = ("%d\n%s --> %s\n%s\n"):format(i, clock(cue.start, ","), clock(cue.stop, ","), text)
  end
  return table.concat(out, "\n")
end

--- The transcript as WebVTT subtitles (a speaker, when known, as a voice tag).
function Transcript:vtt()
  local out = { "WEBVTT\n" }
  for _, cue in ipairs(cues(self)) do
    local text = cue.speaker and ("<v %s>%s"):format(cue.speaker, cue.text) or cue.text
    out[#out + 1] = ("%s --> %s\n%s\n"):format(clock(cue.start, "."), clock(cue.stop, "."), text)
  end
  return table.concat(out, "\n")
end

--- fields as a Transcript.
function transcript.new(fields)
  return setmetatable(fields, Transcript)
end

--- The API's segments (verbose_json, diarized_json) of a piece that starts
--- at `offset` and ends at `stop`, in the recording's time: {start, end, text, speaker}.
function transcript.shift(segments, offset, stop)
  local out = {}
  for _, s in ipairs(segments) do
    if type(s) == "table" and type(s.start) == "number" and type(s["end"]) == "number" then
      out[#out + 1] = {
        start = math.min(offset + s.start, stop), ["end"] = math.min(offset + s["end"], stop),
        text = type(s.text) == "string" and trim(s.text) or "", speaker = s.speaker,
      }
    end
  end
  return out
end

--- The API's timed words of a piece, shifted the same way.
function transcript.shift_words(words, offset, stop)
  local out = {}
  for _, w in ipairs(words) do
    if type(w) == "table" and type(w.start) == "number" and type(w["end"]) == "number" then
      out[#out + 1] = { word = w.word, start = math.min(offset + w.start, stop),
                        ["end"] = math.min(offset + w["end"], stop) }
    end
  end
  return out
end

return transcript
