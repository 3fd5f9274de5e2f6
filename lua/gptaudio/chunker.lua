-- A long recording cut into pieces at its pauses, one piece at a time, so
-- that memory holds the audio of the piece being cut and no more.
--
--   cutter = chunker.new(reader, { target = 30, max = 45, min_silence = 0.3 })
--   piece, err = cutter:next()     nil at the end
--   piece = { index, start, stop (seconds in the recording), speech_start, speech_stop
--             (where its speech starts and ends; nil when it holds none),
--             wav (16-bit mono WAV bytes), seconds }
--
-- reader is a recording reader (recording.lua). The audio is read in blocks,
-- mixed to mono and resampled to 16 kHz (what speech recognition hears; lower
-- rates stay as they are), metered in 10 ms windows (core.audio.level_meter)
-- and kept as 16-bit samples. Each cut falls in the middle of the pause whose
-- middle lies nearest `target` seconds into the piece, among the pauses of at
-- least min_silence seconds between half the target and the largest piece
-- (the smaller of max and 1.5 targets). With no such pause: the longest quiet
-- run there, else the quietest window; the last piece is what is left once it
-- fits. No piece is longer than max.
-- Internal: not part of the API (doc/API.md is the manual); the calls use it.
local core = require "gptaudio.core"
local pauses = require "gptaudio.pauses"
local wav_header = require "gptaudio.audio.wav_header"

local chunker = {}

local audio = core.audio

-- 16 kHz mono 16-bit: what the models hear (more is only more bytes to send).
local PIECE_RATE = 16000
local WINDOWS_PER_SECOND = 100
-- Seconds read from the recording at a time.
local BLOCK_SECONDS = 5
-- A search for a cut starts at this share of the target.
local EARLIEST_CUT = 0.5
-- The largest piece is this many targets, unless max is smaller.
local LONGEST_PIECE = 1.5
chunker.LONGEST_PIECE = LONGEST_PIECE

local Chunker = {}
Chunker.__index = Chunker

function chunker.new(reader, opts)
  local rate = math.min(PIECE_RATE, reader.rate)
  local window = math.max(1, math.floor(rate / WINDOWS_PER_SECOND))
  local self = setmetatable({
    reader = reader, rate = rate, window = window, window_seconds = window / rate,
    target = opts.target, max = opts.max,
    longest = math.min(opts.max, opts.target * LONGEST_PIECE),
    min_windows = math.max(1, math.floor(opts.min_silence * rate / window + 0.5)),
    meter = audio.level_meter(window),
    -- The audio not yet cut: 16-bit sample strings, their frames, their levels.
    parts = {}, frames = 0, levels = {},
    start_frame = 0, index = 0, ended = false,
  }, Chunker)
  if reader.rate ~= rate then
    self.resampler = audio.resampler{ from = reader.rate, to = rate, channels = 1, quality = "fastest" }
  end
  return self
end

function Chunker:keep(buf)
  if #buf == 0 then return end
  local levels = self.levels
  for _, level in ipairs(self.meter:feed(buf)) do levels[#levels + 1] = level end
  self.parts[#self.parts + 1] = buf:encode("pcm16")
  self.frames = self.frames + #buf
end

-- Reads one block; true while there is more.
function Chunker:read()
  local buf, err = self.reader:read(BLOCK_SECONDS)
  if err then return nil, err end
  if not buf then
    if self.resampler then
      local tail = self.resampler:flush()
      self:keep(tail)
      tail:close()
      self.resampler:close()
    end
    local last = self.meter:flush()
    if last then self.levels[#self.levels + 1] = last end
    self.ended = true
    return true
  end
  -- Each buffer is closed once used: its samples live outside the Lua heap,
  -- where the collector does not see them pile up.
  if buf.channels > 1 then
    local mono = buf:to_channels(1)
    buf:close()
    buf = mono
  end
  if self.resampler then
    local resampled
    resampled, err = self.resampler:process(buf)
    buf:close()
    if not resampled then return nil, err end
    buf = resampled
  end
  self:keep(buf)
  buf:close()
  return true
end

-- The number of windows in the first `seconds` of the pending audio.
function Chunker:windows(seconds)
  return math.min(#self.levels, math.floor(seconds / self.window_seconds + 0.5))
end

-- The window after which to cut the pending audio (see the top).
function Chunker:cut_window(threshold)
  local levels = self.levels
  local first, last = math.max(1, self:windows(self.target * EARLIEST_CUT)), self:windows(self.longest)
  local target = self:windows(self.target)
  local best, best_distance
  for _, run in ipairs(pauses.find(levels, first, last, threshold, self.min_windows)) do
    local middle = math.floor((run[1] + run[2]) / 2)
    local distance = math.abs(middle - target)
    if not best or distance < best_distance then best, best_distance = middle, distance end
  end
  if best then return best end
  local longest = 0
  for _, run in ipairs(pauses.find(levels, first, last, threshold, 1)) do
    if run[2] - run[1] + 1 > longest then best, longest = math.floor((run[1] + run[2]) / 2), run[2] - run[1] + 1 end
  end
  if best then return best end
  best = last
  for i = first, last do
    if levels[i] < levels[best] then best = i end
  end
  return best
end

-- Takes the first `frames` frames of the pending audio as a 16-bit WAV, made
-- in one concatenation (a piece is the largest string there is).
function Chunker:take(frames)
  local want, taken, parts = frames * 2, { wav_header(self.rate, frames * 2) }, self.parts
  local bytes = 0
  while bytes < want do
    local part = table.remove(parts, 1)
    if bytes + #part > want then
      local keep = want - bytes
      taken[#taken + 1] = part:sub(1, keep)
      table.insert(parts, 1, part:sub(keep + 1))
      bytes = want
    else
      taken[#taken + 1] = part
      bytes = bytes + #part
    end
  end
  self.frames = self.frames - frames
  return table.concat(taken)
end

--- The next piece, nil at the end, or nil, err when the recording cannot be read.
function Chunker:next()
  while not self.ended and self.frames < self.longest * self.rate do
    local ok, err = self:read()
    if not ok then return nil, err end
  end
  if self.frames == 0 then return nil end
  local levels = self.levels
  local threshold = pauses.threshold(levels, 1, self:windows(self.longest))
  local windows
  if self.ended and self.frames <= self.longest * self.rate then
    windows = #levels
  else
    windows = self:cut_window(threshold)
  end
  local frames = math.min(self.frames, windows * self.window)
  local from, to = pauses.speech_span(levels, 1, windows, threshold)
  local rest = {}
  for i = windows + 1, #levels do rest[#rest + 1] = levels[i] end
  self.levels = rest
  local wav = self:take(frames)
  local start = self.start_frame / self.rate
  self.start_frame = self.start_frame + frames
  self.index = self.index + 1
  local ws = self.window_seconds
  return {
    index = self.index, start = start, stop = self.start_frame / self.rate, seconds = frames / self.rate,
    speech_start = from and start + (from - 1) * ws, speech_stop = to and math.min(start + to * ws,
                                                                                   self.start_frame / self.rate),
    wav = wav,
  }
end

return chunker
