-- gptaudio transcribe FILE: speech to text, as text, JSON or subtitles, on
-- stdout or into a file. A recording longer than one request allows goes in
-- pieces (client:transcribe); its progress in seconds of audio goes to stderr.
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local cli = require "gptaudio.cli"
local audio_files = require "gptaudio.cli.audio_files"
local progress = require "gptaudio.cli.progress"

local transcribe = {}

transcribe.HELP = [[
Usage: gptaudio transcribe FILE [--model MODEL] [--language CODE] [--prompt TEXT]
                           [--format text|json|srt|vtt] [-o OUT] [--json]

Prints the transcript of FILE (any audio format; - reads it from stdin) on
stdout, or writes it into OUT. A recording longer than one request allows is cut at
its pauses and sent in pieces.
--format   text (default), json ({"path", "text", "segments", "language",
           "duration", "pieces", "missing", "model", "usage", "cost"}), srt or
           vtt (subtitles: cues of about 30 s cut at pauses, or the model's own
           timed segments with whisper-1 and gpt-4o-transcribe-diarize).
           Without it, OUT's extension (.txt, .json, .srt, .vtt) says.
--json prints {"path", "text", "language", "duration", "output", "model", "usage", "cost"}.
]]

local OPTIONS = { language = { value = "CODE" }, prompt = { value = "TEXT" }, format = { value = "FORMAT" },
                  output = { short = "o", value = "FILE" } }
local FORMATS = { text = true, json = true, srt = true, vtt = true }
local BY_EXTENSION = { txt = "text", text = "text", json = "json", srt = "srt", vtt = "vtt" }
local SUBTITLES = { srt = true, vtt = true }

local function format_of(opts)
  if opts.format then
    if not FORMATS[opts.format] then cli.usage_error("--format wants text, json, srt or vtt") end
    return opts.format
  end
  local extension = opts.output and opts.output:match("%.(%w+)$")
  return extension and BY_EXTENSION[extension:lower()] or "text"
end

-- What the transcript becomes in the chosen format.
local function render(format, path, tr)
  if format == "srt" then return tr:srt() end
  if format == "vtt" then return tr:vtt() end
  if format == "json" then
    return json.encode{
      path = path, text = tr.text, segments = tr.segments, language = tr.language, duration = tr.duration,
      pieces = tr.pieces, missing = tr.missing and #tr.missing or nil, model = tr.model, usage = tr.usage,
      cost = tr.cost,
    } .. "\n"
  end
  return tr.text .. "\n"
end

local function write_file(path, bytes)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, write_err = f:write(bytes)
  f:close()
  if not ok then return nil, write_err end
  return true
end

function transcribe.run(argv, first)
  local opts, operands = cli.parse(argv, first, OPTIONS)
  if opts.help then
    io.stdout:write(transcribe.HELP)
    return cli.EXIT.ok
  end
  if #operands ~= 1 then cli.usage_error("transcribe takes one audio file") end
  local format = format_of(opts)
  local path, done = audio_files.input(operands[1], "transcribe")
  local client = cli.client(opts)
  local line = progress.wanted(opts.progress) and progress.audio(io.stderr, core.now)
  local tr, err = cli.call(opts, function(on_progress)
    return client:transcribe(path, {
      language = opts.language, prompt = opts.prompt, on_progress = on_progress,
      -- Subtitles want cues of a readable length: always pieces.
      chunk = SUBTITLES[format] or nil,
      on_event = line and function(ev)
        if ev.type == "piece" then line:add(ev["end"] - ev.start, ev.total) end
      end or nil,
    })
  end)
  if line then line:finish() end
  done()
  if not tr and err.partial then
    io.stderr:write(("gptaudio: %d of %d pieces failed; the rest follows\n"):format(
      #err.partial.missing, err.partial.pieces))
    tr = err.partial
  end
  if not tr then return cli.fail(opts, err) end
  local rendered = render(format, operands[1], tr)
  if opts.output then
    local ok, write_err = write_file(opts.output, rendered)
    if not ok then
      return cli.fail(opts, { type = "io", message = ("cannot write %s: %s"):format(opts.output, tostring(write_err)) })
    end
  end
  local status = cli.finish(opts, tr, {
    path = operands[1], text = tr.text, language = tr.language, duration = tr.duration, output = opts.output,
  }, not opts.output and rendered:gsub("\n$", "") or nil)
  return err and cli.exit_for(err) or status
end

return transcribe
