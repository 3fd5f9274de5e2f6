-- gptaudio chat "question" [--audio in.wav] [-o reply.wav]: one question to the
-- model, with a recording when given; with -o the answer is also spoken into
-- the file, and its transcript is what stdout gets.
local cli = require "gptaudio.cli"
local audio_files = require "gptaudio.cli.audio_files"

local chat = {}

chat.HELP = [[
Usage: gptaudio chat "question" [--audio FILE] [-o reply.wav] [--system TEXT] [--model MODEL] [--voice VOICE] [--json]

Asks the model (default gpt-audio-mini) and prints its answer on stdout.
--audio FILE   sends a recording along with the question (any format; - reads stdin)
-o FILE        the model also answers aloud, into FILE in the format its extension
               names (.wav, .mp3, .opus/.ogg, .flac, .aac, .m4a, .pcm, .f32);
               -o - writes WAV to stdout and the answer's text to stderr
--json prints {"text", "transcript", "output", "finish_reason", "model", "usage", "cost"}.
]]

local OPTIONS = { audio = { value = "FILE" }, output = { short = "o", value = "FILE" }, system = { value = "TEXT" } }

--- The user message: the question, then the recording when there is one.
function chat.message(text, audio_path)
  local content = { { type = "text", text = text } }
  if audio_path then content[2] = { type = "input_audio", audio = audio_path } end
  return { role = "user", content = content }
end

function chat.run(argv, first)
  local opts, operands = cli.parse(argv, first, OPTIONS)
  if opts.help then
    io.stdout:write(chat.HELP)
    return cli.EXIT.ok
  end
  if #operands ~= 1 then cli.usage_error("chat takes one question") end
  if opts.output == "-" and opts.json then cli.usage_error("-o - and --json both want stdout") end
  local plan = opts.output and audio_files.output(opts.output)
  local audio_path, done = nil, function() end
  if opts.audio then
    audio_path, done = audio_files.input(opts.audio, "chat --audio")
  end
  local messages = {}
  if opts.system then messages[1] = { role = "system", content = opts.system } end
  messages[#messages + 1] = chat.message(operands[1], audio_path)
  local client = cli.client(opts)
  local reply, err = cli.call(opts, function(on_progress)
    return client:chat{ messages = messages, audio = plan and { format = plan.ask } or nil, on_progress = on_progress }
  end)
  done()
  if not reply then return cli.fail(opts, err) end
  if plan then
    local saved, save_err = audio_files.write(opts.output, plan, reply.audio, reply.audio_bytes)
    if not saved then
      return cli.fail(opts, { type = "io", message = ("cannot write %s: %s"):format(opts.output, tostring(save_err)) })
    end
  end
  local text = reply.text or reply.transcript
  if opts.output == "-" then
    io.stderr:write(text or "", "\n")
    text = nil
  end
  return cli.finish(opts, reply, {
    text = reply.text, transcript = reply.transcript, output = opts.output, finish_reason = reply.finish_reason,
  }, text)
end

return chat
