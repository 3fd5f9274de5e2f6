-- The limits of one request, checked before anything is sent (the figures are
-- the registry's, models.limits): audio longer than the model hears in one
-- request is refused with what to do; bytes over a size limit are re-encoded
-- as speech-bitrate MP3 when that fits, and refused naming the limit when
-- even that does not.
--
--   ok, err = limits.check_seconds(model_id, seconds, what)
--   bytes, err = limits.fit(model_id, field, size, what, compress)
--     -- field "max_upload_bytes" | "max_inline_bytes"; compress(bitrate) gives smaller bytes or nil, err;
--     -- nil, nil when size already fits
local errors = require "gptaudio.errors"
local models = require "gptaudio.models"

local limits = {}

-- MP3 at 32 kb/s keeps speech intelligible at a sixth of 16-bit 16 kHz WAV's
-- bytes: 25 MB holds 1 h 49 min of it.
limits.SPEECH_BITRATE = 32000

local fail = errors.fail

local function megabytes(n)
  if n < 2 ^ 20 then return ("%d kB"):format(math.ceil(n / 1024)) end
  return ("%.1f MB"):format(n / 2 ^ 20)
end

function limits.check_seconds(model_id, seconds, what)
  local most = models.limits(model_id).max_audio_seconds
  if seconds and most and seconds > most then
    return fail("audio", ("%s is %.0f s long; %s hears at most %d s in one request: send it in pieces "
                          .. "(client:transcribe's chunk = true) or a shorter recording"):format(
                what, seconds, model_id, most))
  end
  return true
end

function limits.fit(model_id, field, size, what, compress)
  local most = models.limits(model_id)[field]
  if not most or size <= most then return nil end
  local smaller, err = compress(limits.SPEECH_BITRATE)
  if not smaller then return nil, err end
  if #smaller > most then
    return fail("audio", ("%s is %s; one request to %s carries at most %s, and even as %d kb/s MP3 it is %s: "
                          .. "send it in pieces (client:transcribe's chunk = true) or a shorter recording"):format(
                what, megabytes(size), model_id, megabytes(most), limits.SPEECH_BITRATE / 1000, megabytes(#smaller)))
  end
  return smaller
end

return limits
