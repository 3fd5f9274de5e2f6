-- A recording read piece by piece, so that a long one never sits in memory
-- whole: the small reader interface the chunker of long recordings reads.
--
--   reader, err = recording.open(audio)
--   reader.rate, reader.channels, reader.duration (seconds; nil when unknown)
--   buf, err = reader:read(seconds)   the next AudioBuffer of at most that long; nil at the end
--   reader:close()
--
-- audio is what client:transcribe takes: an AudioBuffer (read by slices), a
-- file path (decoded as it is read by audio.open, the optional FFmpeg module,
-- mixed to mono at 16 kHz; without that module a WAV file only: its header
-- parsed here, its samples read a block at a time and decoded by the C WAV
-- reader), or {data = bytes, format = "wav"}. recording.open returns false
-- for audio it cannot read in pieces: such audio goes to the API whole.
-- Internal: not part of the API (doc/API.md is the manual); the calls use it.
local core = require "gptaudio.core"
local errors = require "gptaudio.errors"

local recording = {}

local audio = core.audio
local fail = errors.fail

local function is_buffer(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return type(mt) == "table" and mt.__name == "gptaudio.AudioBuffer"
end
recording.is_buffer = is_buffer

---------------------------------------------------------------- an AudioBuffer

local BufferReader = {}
BufferReader.__index = BufferReader

local function buffer_reader(buf)
  return setmetatable({ buf = buf, rate = buf.rate, channels = buf.channels, duration = buf.duration, at = 1 },
                      BufferReader)
end

function BufferReader:read(seconds)
  local frames = #self.buf
  if self.at > frames then return nil end
  local last = math.min(frames, self.at + math.max(1, math.floor(seconds * self.rate)) - 1)
  local piece = self.buf:slice(self.at, last)
  self.at = last + 1
  return piece
end

function BufferReader:close()
  self.buf = nil
end

---------------------------------------------------------------- a WAV file

-- Little-endian unsigned integers out of a string (string.unpack is 5.3+).
local function u16(s, at)
  local a, b = s:byte(at, at + 1)
  return a + b * 256
end

local function u32(s, at)
  local a, b, c, d = s:byte(at, at + 3)
  return a + b * 256 + c * 65536 + d * 16777216
end

local function le32(n)
  return string.char(n % 256, math.floor(n / 256) % 256, math.floor(n / 65536) % 256,
                     math.floor(n / 16777216) % 256)
end

-- A data size the writer did not know (a streamed WAV): "to the end of the file".
local UNKNOWN_SIZE = { [0] = true, [0xFFFFFFFF] = true }
-- Far more than any real header holds before its data chunk.
local MAX_HEADER_CHUNK = 1024 * 1024

local WavReader = {}
WavReader.__index = WavReader

-- The fmt chunk's bytes and the data chunk's place, or nil, err.
local function wav_layout(f, path)
  local riff = f:read(12)
  if not riff or #riff < 12 or riff:sub(1, 4) ~= "RIFF" or riff:sub(9, 12) ~= "WAVE" then
    return fail("audio", path .. " is not a WAV file")
  end
  local fmt
  while true do
    local head = f:read(8)
    if not head or #head < 8 then return fail("audio", path .. ": no data chunk") end
    local id, size = head:sub(1, 4), u32(head, 5)
    if id == "data" then
      if not fmt then return fail("audio", path .. ": the data chunk comes before fmt") end
      return fmt, f:seek(), size
    end
    if size > MAX_HEADER_CHUNK then
      if not f:seek("cur", size + size % 2) then return fail("audio", path .. ": a chunk runs past the end") end
    else
      local body = f:read(size + size % 2) or ""
      if #body < size then return fail("audio", path .. ": a chunk runs past the end") end
      if id == "fmt " then fmt = head .. body end
    end
  end
end

local function wav_reader(path)
  local f, why = io.open(path, "rb")
  if not f then return fail("audio", "cannot read input audio " .. why) end
  local fmt, data_at, size = wav_layout(f, path)
  if not fmt then
    f:close()
    return nil, data_at
  end
  if #fmt < 24 then
    f:close()
    return fail("audio", path .. ": the fmt chunk is too short")
  end
  local channels, rate, block = u16(fmt, 11), u32(fmt, 13), u16(fmt, 21)
  if channels == 0 or rate == 0 or block == 0 then
    f:close()
    return fail("audio", path .. ": the fmt chunk says 0 channels, 0 Hz or 0-byte frames")
  end
  local file_end = f:seek("end")
  local available = file_end - data_at
  if not UNKNOWN_SIZE[size] and size < available then available = size end
  f:seek("set", data_at)
  local frames = math.floor(available / block)
  return setmetatable({
    f = f, fmt = fmt, block = block, rate = rate, channels = channels, left = frames * block,
    duration = frames / rate,
  }, WavReader)
end

function WavReader:read(seconds)
  if self.left <= 0 then return nil end
  local bytes = math.min(self.left, math.max(1, math.floor(seconds * self.rate)) * self.block)
  local data = self.f:read(bytes)
  if not data or #data < bytes then return fail("audio", "the WAV file ended early") end
  self.left = self.left - bytes
  -- The block as a WAV of its own, with the file's fmt chunk: the C reader
  -- decodes every layout the file may use.
  local header = "RIFF" .. le32(4 + #self.fmt + 8 + bytes) .. "WAVE" .. self.fmt .. "data" .. le32(bytes)
  return audio.decode(header .. data, "wav")
end

function WavReader:close()
  if self.f then self.f:close() end
  self.f = nil
end

---------------------------------------------------------------- any format (gptaudio.ffmpeg)

-- What the pieces are cut from: what speech recognition hears.
local STREAM_RATE = 16000

local MediaReader = {}
MediaReader.__index = MediaReader

local function media_reader(path)
  local r, err = audio.open(path, { rate = STREAM_RATE, channels = 1 })
  if not r then return nil, err end
  return setmetatable({ r = r, rate = r.rate, channels = r.channels, duration = r.duration }, MediaReader)
end

function MediaReader:read(seconds)
  return self.r:read(math.max(1, math.floor(seconds * self.rate)))
end

function MediaReader:close()
  self.r:close()
end

local function has_ffmpeg()
  local ok, formats = pcall(audio.formats)
  return ok and type(formats) == "table" and formats.ffmpeg == true
end

---------------------------------------------------------------- open

local function is_wav_file(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local head = f:read(12) or ""
  f:close()
  return head:sub(1, 4) == "RIFF" and head:sub(9, 12) == "WAVE"
end

--- A reader for audio (see the top), false when it cannot be read in pieces,
--- or nil, err (type "audio") for a WAV that cannot be read.
function recording.open(input)
  if is_buffer(input) then return buffer_reader(input) end
  if type(input) == "string" then
    -- Only a regular file is opened: a FIFO would block here; the call itself
    -- then reports what the path names.
    if core.file_kind(input) ~= "regular file" then return false end
    if has_ffmpeg() then return media_reader(input) end
    if is_wav_file(input) then return wav_reader(input) end
    return false
  end
  if type(input) == "table" and input.format == "wav" and type(input.data) == "string" then
    local buf, err = audio.decode(input.data, "wav")
    if not buf then return nil, err end
    return buffer_reader(buf)
  end
  return false
end

return recording
