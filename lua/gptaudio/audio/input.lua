-- Input audio as each route takes it. The chat route hears WAV and MP3 only:
-- any other recording (m4a, ogg, opus, flac, webm, ...) is decoded by the
-- optional module gptaudio.ffmpeg and re-encoded as mono 24 kHz MP3 (an
-- eighth of the WAV's bytes for the same audio tokens; BENCHMARKS.md has the
-- measurement). The transcription endpoint takes the formats it lists as
-- they are, and the rest converted the same way.
--
--   bytes, format = input.for_chat(audio, where, model_id)  -- raises on a wrong shape; nil, err for bad audio
--   part = input.for_endpoint(audio, model_id)               -- {path | data, filename, content_type} or nil, err
--   wav = input.buffer_wav(buf)                              -- an AudioBuffer as either route gets it
-- Both check the model's limits first (audio/limits.lua): audio too long is
-- refused, bytes too many are sent as speech-bitrate MP3 when that fits.
local core = require "gptaudio.core"
local errors = require "gptaudio.errors"
local limits = require "gptaudio.audio.limits"

local input = {}

-- The model hears 24 kHz: audio above it is only more bytes to send.
input.API_RATE = 24000
-- What converted audio becomes: mono MP3 at the model's rate, at a bitrate
-- that keeps speech clear (libmp3lame at 24 kHz).
input.CONVERTED_FORMAT = "mp3"
input.CONVERTED_BITRATE = 64000

-- The formats /audio/transcriptions takes, by extension, and their MIME types.
input.ENDPOINT_TYPES = {
  wav = "audio/wav", mp3 = "audio/mpeg", mpeg = "audio/mpeg", mpga = "audio/mpeg", flac = "audio/flac",
  ogg = "audio/ogg", oga = "audio/ogg", webm = "audio/webm", m4a = "audio/mp4", mp4 = "audio/mp4",
}
-- What the chat route takes as it is.
local CHAT_FORMATS = { wav = true, mp3 = true }
-- FFmpeg's container names for the formats the endpoint takes, and the extension each is sent under.
local CONTAINER_EXTENSIONS = {
  wav = "wav", mp3 = "mp3", flac = "flac", ogg = "ogg", ["matroska,webm"] = "webm",
  ["mov,mp4,m4a,3gp,3g2,mj2"] = "m4a",
}

local fail = errors.fail

local function is_buffer(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return type(mt) == "table" and mt.__name == "gptaudio.AudioBuffer"
end
input.is_buffer = is_buffer

--- An AudioBuffer as it goes up to the API: 16-bit mono WAV at the buffer's
--- own rate or 24 kHz, whichever is lower (downmixed, downsampled, never
--- upsampled). Returns the bytes, or nil, err.
function input.buffer_wav(buf)
  if buf.channels > 1 then buf = buf:to_channels(1) end
  if buf.rate > input.API_RATE then
    local err
    buf, err = buf:resample(input.API_RATE)
    if not buf then return nil, err end
  end
  return buf:encode("wav")
end

--- "wav" or "mp3" when the bytes begin as those files do, else nil.
function input.sniff(bytes)
  if bytes:sub(1, 4) == "RIFF" and bytes:sub(9, 12) == "WAVE" then return "wav" end
  if bytes:sub(1, 3) == "ID3" then return "mp3" end
  local b1, b2 = bytes:byte(1, 2)
  if b1 == 0xFF and b2 and b2 >= 0xE0 then return "mp3" end
  return nil
end

local function ffmpeg()
  local ok, module = pcall(require, "gptaudio.ffmpeg")
  return ok and module or nil
end

-- Mono 24 kHz samples of any recording: a path read in chunks, or bytes.
-- Without gptaudio.ffmpeg, core's own call says what is missing.
local function decode_for_upload(path, bytes)
  local module = ffmpeg()
  local options = { rate = input.API_RATE, channels = 1 }
  if module then
    if path then return module.load(path, options) end
    return module.decode(bytes, nil, options)
  end
  if path then return core.audio.load(path) end
  return core.audio.decode(bytes)
end

-- An AudioBuffer as mono MP3 at the model's rate or below, at `bitrate`.
local function buffer_mp3(buf, bitrate)
  if buf.channels > 1 then buf = buf:to_channels(1) end
  if buf.rate > input.API_RATE then
    local err
    buf, err = buf:resample(input.API_RATE)
    if not buf then return nil, err end
  end
  return buf:encode(input.CONVERTED_FORMAT, { bitrate = bitrate or input.CONVERTED_BITRATE })
end

--- Any recording (a path, or bytes) as the MP3 the routes take, at
--- `bitrate` (default CONVERTED_BITRATE): bytes, "mp3", its seconds; or nil, err.
function input.convert(path, bytes, bitrate)
  local buf, err = decode_for_upload(path, bytes)
  if not buf then return nil, err end
  local seconds = buf.duration
  local mp3
  mp3, err = buffer_mp3(buf, bitrate)
  buf:close()
  if not mp3 then return nil, err end
  return mp3, input.CONVERTED_FORMAT, seconds
end

local function read_file(path)
  local regular, err = errors.check_regular_file(path)
  if not regular then return nil, err end
  local f, why = io.open(path, "rb")
  if not f then return fail("audio", "cannot read input audio " .. why) end
  local bytes, read_why = f:read("*a")
  f:close()
  if not bytes then return fail("audio", ("cannot read input audio %s: %s"):format(path, tostring(read_why))) end
  return bytes
end

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local size = f:seek("end")
  f:close()
  return size or 0
end

-- What gptaudio.ffmpeg can tell of a file before decoding it: the extension
-- the endpoint knows its container by (nil: none it takes) and its declared
-- seconds (nil: unknown, or no module).
local function probe(path)
  local module = ffmpeg()
  local reader = module and module.open(path)
  if not reader then return nil, nil end
  local extension, seconds = CONTAINER_EXTENSIONS[reader.format], reader.duration
  reader:close()
  return extension, seconds
end

-- Bytes (and their format) within the model's limits: `seconds` checked,
-- and `size` bytes replaced by what compress(bitrate) gives when over.
local function within(model_id, field, what, seconds, size, compress)
  local ok, err = limits.check_seconds(model_id, seconds, what)
  if not ok then return nil, err end
  return limits.fit(model_id, field, size, what, compress)
end

--- The bytes and format of one chat input audio: an AudioBuffer, a path, or
--- {data = bytes, format = name}. Raises naming `where` for a wrong shape;
--- nil, err for audio that cannot be read, converted, or fitted.
function input.for_chat(audio, where, model_id)
  local bytes, format, seconds, path, err
  if is_buffer(audio) then
    bytes, err = input.buffer_wav(audio)
    if not bytes then return nil, err end
    format, seconds = "wav", audio.duration
  elseif type(audio) == "string" then
    path = audio
    bytes, err = read_file(path)
    if not bytes then return nil, err end
    format = input.sniff(bytes)
    if format then
      seconds = select(2, probe(path))
    else
      bytes, format, seconds = input.convert(path)
      if not bytes then return nil, format end
    end
  elseif type(audio) == "table" then
    if type(audio.data) ~= "string" then
      error(("%s.data: a string of audio bytes expected, got %s"):format(where, type(audio.data)), 0)
    end
    if type(audio.format) ~= "string" or not audio.format:find("^%w+$") then
      error(('%s.format: a format name such as "wav", "mp3" or "m4a" expected, got %s'):format(
        where, tostring(audio.format)), 0)
    end
    format = audio.format:lower()
    bytes = audio.data
    if not CHAT_FORMATS[format] then
      bytes, format, seconds = input.convert(nil, audio.data)
      if not bytes then return nil, format end
    end
  else
    error(("%s: an AudioBuffer, a file path or {data =, format =} expected, got %s"):format(where, type(audio)), 0)
  end
  local smaller
  smaller, err = within(model_id, "max_inline_bytes", path or "the input audio", seconds, #bytes, function(bitrate)
    if is_buffer(audio) then return buffer_mp3(audio, bitrate) end
    return input.convert(path, not path and audio.data or nil, bitrate)
  end)
  if err then return nil, err end
  if smaller then return smaller, input.CONVERTED_FORMAT end
  return bytes, format
end

--- The multipart part of /audio/transcriptions for `audio`: a path whose
--- extension the endpoint takes goes as the file it names (libcurl reads it);
--- another path as the file under the extension of its content, or converted;
--- bytes in a format it takes go as they are, others converted; an
--- AudioBuffer as WAV. Within the model's limits, or nil, err.
function input.for_endpoint(audio, model_id)
  local part, seconds, size, path, err
  if is_buffer(audio) then
    local wav
    wav, err = input.buffer_wav(audio)
    if not wav then return nil, err end
    part, seconds = { data = wav, filename = "audio.wav", content_type = input.ENDPOINT_TYPES.wav }, audio.duration
  elseif type(audio) == "string" then
    path = audio
    -- The transport reads the file as it sends it; these checks only name the file in the error.
    local regular
    regular, err = errors.check_regular_file(path)
    if not regular then return nil, err end
    local f, why = io.open(path, "rb")
    if not f then return fail("audio", "cannot read input audio " .. why) end
    f:close()
    local filename = path:match("[^/]*$")
    local stem = filename:gsub("%.%w+$", "")
    local extension = (filename:match("%.(%w+)$") or ""):lower()
    local content
    content, seconds = probe(path)
    if input.ENDPOINT_TYPES[extension] then
      part = { path = path, filename = filename, content_type = input.ENDPOINT_TYPES[extension] }
    elseif content then
      part = { path = path, filename = stem .. "." .. content, content_type = input.ENDPOINT_TYPES[content] }
    else
      local mp3
      mp3, err, seconds = input.convert(path)
      if not mp3 then return nil, err end
      part = { data = mp3, filename = stem .. ".mp3", content_type = input.ENDPOINT_TYPES.mp3 }
    end
  else
    local format = audio.format:lower()
    if input.ENDPOINT_TYPES[format] then
      part = { data = audio.data, filename = "audio." .. format, content_type = input.ENDPOINT_TYPES[format] }
    else
      local mp3
      mp3, err, seconds = input.convert(nil, audio.data)
      if not mp3 then return nil, err end
      part = { data = mp3, filename = "audio.mp3", content_type = input.ENDPOINT_TYPES.mp3 }
    end
  end
  size = part.data and #part.data or file_size(path)
  local smaller
  smaller, err = within(model_id, "max_upload_bytes", path or "the audio", seconds, size, function(bitrate)
    if is_buffer(audio) then return buffer_mp3(audio, bitrate) end
    return input.convert(path, not path and audio.data or nil, bitrate)
  end)
  if err then return nil, err end
  if smaller then
    return { data = smaller, filename = (part.filename:gsub("%.%w+$", "")) .. ".mp3",
             content_type = input.ENDPOINT_TYPES.mp3 }
  end
  return part
end

return input
