-- gptaudio translate FILE [--to LANG] [-o out.wav]: speech to text in another
-- language on stdout; with -o the translation is spoken into that WAV file too.
local cli = require "gptaudio.cli"
local audio_files = require "gptaudio.cli.audio_files"

local translate = {}

translate.HELP = [[
Usage: gptaudio translate FILE [--to LANG] [-o OUT.wav] [--model MODEL] [--voice VOICE] [--prompt TEXT] [--json]

Prints the translation of the speech in FILE on stdout: into LANG (default
English) through a chat-audio model (default gpt-audio-mini), or into English
through whisper-1 (--model whisper-1). With -o, the chat-audio model also
speaks its translation into OUT (WAV). A long recording goes in pieces.
--json prints {"path", "text", "to", "output", "duration", "model", "usage", "cost"}.
]]

local OPTIONS = { to = { value = "LANG" }, output = { short = "o", value = "FILE" }, prompt = { value = "TEXT" } }

function translate.run(argv, first)
  local opts, operands = cli.parse(argv, first, OPTIONS)
  if opts.help then
    io.stdout:write(translate.HELP)
    return cli.EXIT.ok
  end
  if #operands ~= 1 then cli.usage_error("translate takes one audio file") end
  local path, done = audio_files.input(operands[1], "translate")
  local client = cli.client(opts)
  local tr, err = cli.call(opts, function(on_progress)
    return client:translate(path, {
      to = opts.to, prompt = opts.prompt, speak = opts.output ~= nil or nil, on_progress = on_progress,
    })
  end)
  done()
  if not tr then return cli.fail(opts, err) end
  if opts.output then
    local saved, save_err = false, "the reply has no audio"
    if tr.audio then saved, save_err = tr.audio:save(opts.output) end
    if not saved then
      return cli.fail(opts, { type = "io", message = ("cannot write %s: %s"):format(opts.output, tostring(save_err)) })
    end
  end
  return cli.finish(opts, tr, {
    path = operands[1], text = tr.text, to = opts.to or "English", output = opts.output,
    duration = tr.audio and tr.audio.duration or nil,
  }, tr.text)
end

return translate
