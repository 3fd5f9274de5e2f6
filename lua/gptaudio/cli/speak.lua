-- gptaudio speak "text" -o out.wav: text to speech into a file. A .wav file is
-- written from the decoded audio; another extension (.mp3, .opus, .flac, .aac)
-- asks the API for that format and writes its bytes as they came.
local cli = require "gptaudio.cli"

local speak = {}

speak.HELP = [[
Usage: gptaudio speak "text" -o FILE [--model MODEL] [--voice VOICE] [--instructions TEXT] [--json]

Speaks the text into FILE: .wav, or .mp3/.opus/.flac/.aac (a speech model such as
gpt-4o-mini-tts returns those as they are). --json prints
{"output", "format", "duration", "model", "usage", "cost"}.
]]

local OPTIONS = { output = { short = "o", value = "FILE" }, instructions = { value = "TEXT" } }

local function write_file(path, bytes)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(bytes)
  f:close()
  if not ok then return nil, werr end
  return true
end

function speak.run(argv, first)
  local opts, operands = cli.parse(argv, first, OPTIONS)
  if opts.help then
    io.stdout:write(speak.HELP)
    return cli.EXIT.ok
  end
  if #operands ~= 1 then cli.usage_error("speak takes one text argument") end
  if not opts.output then cli.usage_error("speak needs -o FILE") end
  local extension = opts.output:match("%.(%w+)$")
  extension = extension and extension:lower() or "wav"
  local client = cli.client(opts)
  local sp, err = cli.call(opts, function(on_progress)
    return client:speak(operands[1], {
      format = extension == "wav" and "pcm" or extension, instructions = opts.instructions, on_progress = on_progress,
    })
  end)
  if not sp then return cli.fail(opts, err) end
  local saved, save_err
  if sp.audio then
    saved, save_err = sp.audio:save(opts.output)
  else
    saved, save_err = write_file(opts.output, sp.bytes)
  end
  if not saved then
    return cli.fail(opts, { type = "io", message = ("cannot write %s: %s"):format(opts.output, tostring(save_err)) })
  end
  return cli.finish(opts, sp, {
    output = opts.output, format = extension, duration = sp.audio and sp.audio.duration or nil,
  })
end

return speak
