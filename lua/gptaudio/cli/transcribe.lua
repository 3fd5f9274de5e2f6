-- gptaudio transcribe file.wav: speech to text on stdout.
local cli = require "gptaudio.cli"

local transcribe = {}

transcribe.HELP = [[
Usage: gptaudio transcribe FILE [--model MODEL] [--language CODE] [--prompt TEXT] [--json]

Prints the transcript of FILE (wav, mp3, ... as the model takes it) on stdout.
--json prints {"path", "text", "language", "duration", "model", "usage", "cost"}.
]]

local OPTIONS = { language = { value = "CODE" }, prompt = { value = "TEXT" } }

function transcribe.run(argv, first)
  local opts, operands = cli.parse(argv, first, OPTIONS)
  if opts.help then
    io.stdout:write(transcribe.HELP)
    return cli.EXIT.ok
  end
  if #operands ~= 1 then cli.usage_error("transcribe takes one audio file") end
  local client = cli.client(opts)
  local tr, err = cli.call(opts, function(on_progress)
    return client:transcribe(operands[1], { language = opts.language, prompt = opts.prompt, on_progress = on_progress })
  end)
  if not tr then return cli.fail(opts, err) end
  return cli.finish(opts, tr, {
    path = operands[1], text = tr.text, language = tr.language, duration = tr.duration,
  }, tr.text)
end

return transcribe
