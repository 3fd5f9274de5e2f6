-- What the user said, made ready to send while they say it: the voice
-- agent's 24 kHz mono input goes in chunk by chunk; between utterances only
-- the last second is kept (for the preroll); from the VAD's speech start on,
-- each chunk is encoded to 16-bit PCM as it arrives, so at the speech end
-- only a WAV header and one concatenation are left to do.
--
--   local u = utterance.new{ rate = 24000, preroll = 0.2, tail = 0.1 }
--   u:feed(chunk)           every chunk, in order (mono, at rate)
--   u:start(time)           the VAD's speech_start time (seconds of stream)
--   u:stop(time) -> wav     the VAD's speech_end time: the WAV bytes from
--                           time - preroll (at the start) to time + tail
local audio = require("gptaudio.core").audio
local wav_header = require "gptaudio.audio.wav_header"

local utterance = {}

-- Audio kept between utterances: the longest preroll asked for, and some.
local KEEP = 1

local Utterance = {}
Utterance.__index = Utterance

function utterance.new(opts)
  return setmetatable({
    rate = opts.rate, preroll = opts.preroll or 0.2, tail = opts.tail or 0.1,
    recent = audio.new{ rate = opts.rate }, recent_from = 0, -- frame offset of recent's first frame
    frames = 0, pieces = nil, from = nil,
  }, Utterance)
end

function Utterance:feed(chunk)
  self.frames = self.frames + chunk.frames
  if self.pieces then
    self.pieces[#self.pieces + 1] = chunk:encode("pcm16")
    return
  end
  self.recent:append(chunk)
  if self.recent.duration > 2 * KEEP then
    local drop = self.recent.frames - math.floor(KEEP * self.rate)
    self.recent = self.recent:slice(drop + 1)
    self.recent_from = self.recent_from + drop
  end
end

--- Seconds of stream fed so far.
function Utterance:time()
  return self.frames / self.rate
end

function Utterance:start(time)
  local from = math.max(self.recent_from, math.floor((time - self.preroll) * self.rate))
  self.from = from
  self.pieces = { self.recent:slice(from - self.recent_from + 1):encode("pcm16") }
  self.recent, self.recent_from = audio.new{ rate = self.rate }, self.frames
end

--- The WAV of the utterance and its duration in seconds; between utterances
--- again. A stop without a start gives nil.
function Utterance:stop(time)
  if not self.pieces then return nil end
  local whole = table.concat(self.pieces)
  local last = math.min(self.frames, math.floor((time + self.tail) * self.rate))
  local pcm = whole:sub(1, 2 * math.max(0, last - self.from))
  -- What came after the cut stays for the next preroll (nothing, when the
  -- stop is at the last frame fed, as push-to-talk's is).
  local after = whole:sub(#pcm + 1)
  self.pieces, self.from = nil, nil
  self.recent = #after >= 2 and assert(audio.from_pcm16(after, self.rate)) or audio.new{ rate = self.rate }
  self.recent_from = self.frames - self.recent.frames
  return wav_header(self.rate, #pcm) .. pcm, #pcm / 2 / self.rate
end

return utterance
