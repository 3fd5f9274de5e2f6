-- The command's audio files: "-" reads the recording from stdin or writes the
-- answer to stdout (a missing file or a directory is cli.input_file's usage
-- error), and -o FILE's extension says what format the answer is asked in and
-- written as.
--
--   path, done = audio_files.input(operand, what)      -- done() removes stdin's temporary copy
--   plan = audio_files.output(path)                     -- { ask =, save = } (usage error for an unknown extension)
--   ok, err = audio_files.write(path, plan, buf, bytes)
local cli = require "gptaudio.cli"

local audio_files = {}

-- By -o's extension: the format the API is asked for, and the format the
-- decoded audio is saved as (nil: the answer's bytes are written as they came).
local OUTPUTS = {
  wav = { ask = "wav", save = "wav" },
  mp3 = { ask = "mp3" }, flac = { ask = "flac" }, aac = { ask = "aac" },
  -- the API's opus is Ogg Opus
  opus = { ask = "opus" }, ogg = { ask = "opus" }, oga = { ask = "opus" },
  m4a = { ask = "wav", save = "aac" }, pcm = { ask = "wav", save = "pcm16" }, raw = { ask = "wav", save = "pcm16" },
  f32 = { ask = "wav", save = "f32" },
}
local STDOUT = OUTPUTS.wav

local function nothing() end

--- The file to read a recording from: the operand itself (checked by
--- cli.input_file, `what` naming it), or for "-" a temporary copy of stdin
--- (removed by done()).
function audio_files.input(operand, what)
  if operand ~= "-" then
    return cli.input_file(operand, what), nothing
  end
  local bytes = io.stdin:read("*a") or ""
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path, function() os.remove(path) end
end

--- What -o PATH asks for; "-" is WAV on stdout.
function audio_files.output(path)
  if path == "-" then return STDOUT end
  local extension = path:match("%.(%w+)$")
  local plan = OUTPUTS[extension and extension:lower() or "wav"]
  if not plan then
    cli.usage_error(("-o %s: the extension says no audio format (.wav, .mp3, .opus/.ogg, .flac, .aac, .m4a, "
                     .. ".pcm, .f32)"):format(path))
  end
  return plan
end

--- Writes the answer: buf saved in plan.save's format, or bytes as they came; "-" is stdout.
function audio_files.write(path, plan, buf, bytes)
  if plan.save then
    if not buf then return nil, "the answer has no audio" end
    local err
    bytes, err = buf:encode(plan.save)
    if not bytes then return nil, tostring(err) end
  end
  if not bytes then return nil, "the answer has no audio" end
  if path == "-" then
    io.stdout:write(bytes)
    io.stdout:flush()
    return true
  end
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, write_err = f:write(bytes)
  f:close()
  if not ok then return nil, write_err end
  return true
end

return audio_files
