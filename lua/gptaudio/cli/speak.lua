-- gptaudio speak "text" -o out.wav: text to speech into a file, or stdout
-- (-o -, WAV). The extension says the format (cli/audio_files.lua): .mp3,
-- .opus/.ogg, .flac, .aac are asked of the API and written as they came;
-- .wav, .m4a, .pcm, .f32 are written from the decoded audio.
local cli = require "gptaudio.cli"
local audio_files = require "gptaudio.cli.audio_files"

local speak = {}

speak.HELP = [[
Usage: gptaudio speak "text"|- -o FILE [--model MODEL] [--voice VOICE] [--instructions TEXT] [--json]

Speaks the text (-: read from the standard input) into FILE, in the format its
extension names: .wav, .mp3, .opus or .ogg (Opus in Ogg), .flac, .aac, .m4a,
.pcm (s16le), .f32; -o - writes WAV to stdout. --json prints
{"output", "format", "duration", "model", "usage", "cost"}.
]]

local OPTIONS = { output = { short = "o", value = "FILE" }, instructions = { value = "TEXT" } }

function speak.run(argv, first)
  local opts, operands = cli.parse(argv, first, OPTIONS)
  if opts.help then
    io.stdout:write(speak.HELP)
    return cli.EXIT.ok
  end
  if #operands ~= 1 then cli.usage_error("speak takes one text argument") end
  if not opts.output then cli.usage_error("speak needs -o FILE") end
  if opts.output == "-" and opts.json then cli.usage_error("-o - and --json both want stdout") end
  local text = operands[1]
  if text == "-" then text = io.stdin:read("*a") end
  if text:match("^%s*$") then cli.usage_error("speak: the text is empty") end
  local plan = audio_files.output(opts.output)
  local client = cli.client(opts)
  local sp, err = cli.call(opts, function(on_progress)
    return client:speak(text, {
      format = plan.ask == "wav" and "pcm" or plan.ask, instructions = opts.instructions, on_progress = on_progress,
    })
  end)
  if not sp then return cli.fail(opts, err) end
  local saved, save_err = audio_files.write(opts.output, plan, sp.audio, sp.bytes)
  if not saved then
    return cli.fail(opts, { type = "io", message = ("cannot write %s: %s"):format(opts.output, tostring(save_err)) })
  end
  return cli.finish(opts, sp, {
    output = opts.output, format = plan.save or plan.ask, duration = sp.audio and sp.audio.duration or nil,
  })
end

return speak
