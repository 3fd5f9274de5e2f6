-- Compressed audio the API answers with (mp3, opus, aac, flac from speak and
-- chat) decoded into samples by the optional module gptaudio.ffmpeg. The
-- bytes as received stay with the caller, for saving without re-encoding, so
-- a failure to decode never loses the answer: it is told, not raised.
--
--   buf, err = received.decode(bytes)
--     -- an AudioBuffer; nil without gptaudio.ffmpeg; nil, err (type audio) for bytes it cannot read
local received = {}

function received.decode(bytes)
  local ok, ffmpeg = pcall(require, "gptaudio.ffmpeg")
  if not ok then return nil end
  return ffmpeg.decode(bytes)
end

return received
