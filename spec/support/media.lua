-- Test recordings in every format, made at test time: espeak-ng speech, turned
-- into each format by the ffmpeg command; and how close two buffers are.
local audio = require("gptaudio").audio
local util = require "spec.support.util"

local media = {}

media.SENTENCE = "The quick brown fox jumps over the lazy dog, then sleeps until noon."

-- Each format as ffmpeg makes it: the file's extension, ffmpeg's options, the
-- least signal-to-noise ratio (dB) its decoded samples keep against the
-- source (nil: lossless, the 16-bit samples come back exactly), and the
-- container and codec ffprobe names.
media.FORMATS = {
  { ext = "m4a", args = "-c:a aac -b:a 96k", snr = 12, codec = "aac" },
  { ext = "mp3", args = "-c:a libmp3lame -b:a 96k", snr = 12, codec = "mp3" },
  { ext = "ogg", args = "-c:a libvorbis -q:a 5", snr = 10, codec = "vorbis" },
  { ext = "opus", args = "-c:a libopus -b:a 64k", snr = 6, codec = "opus" },
  { ext = "webm", args = "-c:a libopus -b:a 64k", snr = 6, codec = "opus" },
  { ext = "flac", args = "-c:a flac", codec = "flac" },
  { ext = "aiff", args = "-c:a pcm_s16be", codec = "pcm_s16be" },
  { ext = "caf", args = "-c:a pcm_s16le", codec = "pcm_s16le" },
  -- the audio track of a video: a test picture beside the speech
  { ext = "mp4", args = "-f lavfi -i testsrc=size=64x48:rate=10 -map 1:v -map 0:a -shortest -c:v mpeg4 "
                        .. "-c:a aac -b:a 96k", snr = 12, codec = "aac" },
}

local function run(command)
  assert(util.succeeded(util.spawn_env() .. " " .. command .. " >/dev/null 2>&1"), command)
end

--- A new directory holding speech.wav (espeak-ng) and speech.<ext> for every
--- format; returns the directory and the WAV's AudioBuffer.
function media.make(dir)
  local wav = dir .. "/speech.wav"
  run("espeak-ng -w " .. util.shell_quote(wav) .. " " .. util.shell_quote(media.SENTENCE))
  for _, f in ipairs(media.FORMATS) do
    local input = util.shell_quote(wav)
    local args = f.args
    -- the video's picture comes second, the speech first
    if f.ext == "mp4" then
      input = input .. " " .. args:match("^(%-f lavfi %-i %S+)")
      args = args:gsub("^%-f lavfi %-i %S+ ", "")
    end
    run("ffmpeg -nostdin -loglevel error -y -i " .. input .. " " .. args .. " "
        .. util.shell_quote(dir .. "/speech." .. f.ext))
  end
  return assert(audio.load(wav))
end

--- What ffprobe says of a file: its container's name and its first audio codec.
function media.probe(path)
  local out = util.read_command(util.spawn_env() .. " ffprobe -v error -select_streams a:0 -show_entries "
    .. "stream=codec_name:format=format_name -of default=nw=1 " .. util.shell_quote(path))
  return out:match("format_name=([^\n]+)"), out:match("codec_name=([^\n]+)")
end

--- The signal-to-noise ratio (dB) of b against a, the best over shifts of b
--- within ±max_lag frames (codecs may move the audio by a few samples), over
--- a's frames. Both are taken mono at a's rate.
function media.snr(a, b, max_lag)
  if b.rate ~= a.rate then b = b:resample(a.rate) end
  if b.channels ~= 1 then b = b:to_channels(1) end
  if a.channels ~= 1 then a = a:to_channels(1) end
  local best = -math.huge
  local lag_most = max_lag or 64
  local n = math.min(a.frames, b.frames) - 2 * lag_most
  local reference = a:slice(lag_most + 1, lag_most + n)
  local signal = reference:rms()
  for lag = -lag_most, lag_most do
    local diff = b:slice(lag_most + 1 + lag, lag_most + n + lag):mix(reference, -1)
    local noise = diff:rms()
    local snr = noise == 0 and math.huge or 20 * math.log(signal / noise, 10)
    if snr > best then best = snr end
  end
  return best
end

return media
