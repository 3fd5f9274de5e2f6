-- The gptaudio command: `cli.main(arg)` parses the command line, runs one
-- subcommand and returns the exit status (bin/gptaudio passes it to os.exit).
--
-- Exit status: 0 success, 1 other failure (bad audio, a protocol error, a
-- wrong model), 2 usage error (bad arguments or option values, no API key),
-- 3 API error (the server answered with an error status), 4 network error
-- (connection or timeout), 130 interrupted (batch: Ctrl-C or SIGTERM).
-- Internal: doc/API.md documents the command, not this module's functions.
local core = require "gptaudio.core"
local gptaudio = require "gptaudio"
local args = require "gptaudio.cli.args"
local progress = require "gptaudio.cli.progress"

local cli = {}

cli.EXIT = { ok = 0, failure = 1, usage = 2, api = 3, network = 4, interrupted = 130 }

local EXIT_BY_ERROR = { api = cli.EXIT.api, connection = cli.EXIT.network, timeout = cli.EXIT.network,
                        interrupted = cli.EXIT.interrupted, cancelled = cli.EXIT.interrupted }

--- The exit status for a gptaudio.Error.
function cli.exit_for(err)
  return EXIT_BY_ERROR[err.type] or cli.EXIT.failure
end

cli.COMMON_OPTIONS = {
  model = { value = "MODEL" }, voice = { value = "VOICE" }, json = {}, progress = {},
  help = { short = "h" }, version = {},
}

cli.USAGE = [[
Usage: gptaudio COMMAND [OPTIONS] ARGUMENTS

Commands:
  speak "text"|- -o out.wav         text (-: from stdin) to speech
                                    (-o: .wav, or .mp3/.opus/.flac/.aac from a speech model)
  transcribe file.wav [-o out.srt]  speech to text, printed on stdout (or text/json/srt/vtt into a file)
  translate file.wav [--to LANG] [-o out.wav]
                                    speech to text in another language; with -o spoken too
  chat "question" [--audio in.wav] [-o reply.wav]
                                    ask the model; with -o it also answers aloud into that file
  talk [--input question.wav] [--push-to-talk]
                                    a spoken conversation: speak, it answers aloud (see gptaudio talk --help)
  batch transcribe DIR|LIST -o results.jsonl
  batch chat --prompt "..." DIR|LIST -o results.jsonl
                                    one JSON line per input file; see gptaudio batch --help

Options (every command):
  --model MODEL      the model (default: gpt-audio-mini; e.g. gpt-4o-mini-transcribe, gpt-4o-mini-tts)
  --voice VOICE      the voice of spoken answers (default: alloy)
  --json             print one JSON object on stdout: the result, or {"error": {...}}
  --progress         show upload/download progress on stderr even when it is not a terminal
  -h, --help         this text (gptaudio COMMAND --help: that command's)
  --version          the version, the Lua running it and the Lua the module was built for

Environment: OPENAI_API_KEY (required against the real API), OPENAI_BASE_URL
(another server speaking the same API; then the key may be empty).
Without --json, the tokens and the cost of the call go to stderr.

Exit status: 0 success, 1 other failure, 2 usage error (bad arguments, no API key),
3 API error (the server answered with an error), 4 network error (connection,
timeout), 130 interrupted (batch).
]]

--- Raised (as a table) for a usage error; main turns it into exit status 2.
function cli.usage_error(message)
  error({ usage = message }, 0)
end

--- Raises a usage error unless path names a readable regular file ("-", the
--- standard input, passes). what names the argument in the message.
function cli.input_file(path, what)
  if path == "-" then return path end
  local f, err = io.open(path, "rb")
  if not f then
    local reason = err:match(": ([^:]+)$") or err
    cli.usage_error(("%s: cannot open %s: %s"):format(what, path, reason))
  end
  local _, read_err = f:read(0)
  f:close()
  if read_err then
    cli.usage_error(("%s: %s is %s"):format(what, path, read_err:find("directory", 1, true) and "a directory"
                                                        or "not readable (" .. read_err .. ")"))
  end
  return path
end

--- Parses the arguments after the subcommand's name with its options and the common ones.
function cli.parse(argv, first, options)
  local all = {}
  for name, spec in pairs(cli.COMMON_OPTIONS) do all[name] = spec end
  for name, spec in pairs(options) do all[name] = spec end
  local parsed, err = args.parse(argv, first, all)
  if not parsed then cli.usage_error(err) end
  return parsed.options, parsed.operands
end

--- A client for the command's options; no key against the real API is a usage error.
function cli.client(opts, extra)
  local key, base_url = os.getenv("OPENAI_API_KEY"), os.getenv("OPENAI_BASE_URL")
  if (key == nil or key == "") and (base_url == nil or base_url == "") then
    cli.usage_error("OPENAI_API_KEY is not set: export it, or point OPENAI_BASE_URL at a server that needs no key")
  end
  local options = { model = opts.model, voice = opts.voice }
  for k, v in pairs(extra or {}) do options[k] = v end
  return gptaudio.new(options)
end

--- Makes one call through call(on_progress), with a progress bar on stderr
--- fed by on_progress when progress is wanted (on_progress is nil otherwise).
function cli.call(opts, call)
  if not progress.wanted(opts.progress) then return call(nil) end
  local bar = progress.transfer(io.stderr, core.now)
  local result, err = call(function(ev) bar:event(ev) end)
  bar:finish()
  return result, err
end

local function tokens_line(result)
  local u = result.usage or {}
  local parts = {}
  if u.input_tokens then parts[#parts + 1] = ("%d tokens in"):format(u.input_tokens) end
  if u.output_tokens then parts[#parts + 1] = ("%d tokens out"):format(u.output_tokens) end
  if u.seconds then parts[#parts + 1] = ("%g s of audio"):format(u.seconds) end
  if u.characters then parts[#parts + 1] = ("%d characters"):format(u.characters) end
  parts[#parts + 1] = result.cost and ("cost $%.6f"):format(result.cost) or "cost unknown"
  return ("%s: %s\n"):format(result.model or "?", table.concat(parts, ", "))
end

--- The error as the JSON output's "error" object.
function cli.error_object(err)
  return { type = err.type, message = err.message, status = err.status, code = err.code }
end

--- Ends a command: the JSON object or the text on stdout, tokens and cost on stderr.
function cli.finish(opts, result, fields, text)
  if opts.json then
    fields.model, fields.usage, fields.cost = result.model, result.usage, result.cost
    io.stdout:write(gptaudio.json.encode(fields), "\n")
  else
    if text then io.stdout:write(text, "\n") end
    io.stderr:write(tokens_line(result))
  end
  return cli.EXIT.ok
end

--- The line stderr gets for an error: a gptaudio.Error (or {type =, message =})
--- as its tostring, which starts "gptaudio TYPE error: "; any other message
--- after "gptaudio: ". One prefix either way.
function cli.error_line(err)
  if type(err) ~= "table" then return "gptaudio: " .. tostring(err) .. "\n" end
  if not err.type then return "gptaudio: " .. tostring(err.message) .. "\n" end
  return tostring(getmetatable(err) == core.Error and err or core.error(cli.error_object(err))) .. "\n"
end

--- Ends a command that failed with a gptaudio.Error (or {type = "io", message} for a local file).
function cli.fail(opts, err)
  if opts.json then
    io.stdout:write(gptaudio.json.encode{ error = cli.error_object(err) }, "\n")
  else
    io.stderr:write(cli.error_line(err))
  end
  return cli.exit_for(err)
end

local COMMANDS = {
  speak = "gptaudio.cli.speak", transcribe = "gptaudio.cli.transcribe", translate = "gptaudio.cli.translate",
  chat = "gptaudio.cli.chat", talk = "gptaudio.cli.talk",
  batch = "gptaudio.cli.batch",
}

-- The command is the first word that is neither an option nor an option's value,
-- so common options may come before it; the rest goes to the command.
local function split_command(argv)
  local i = 1
  while argv[i] and argv[i]:sub(1, 1) == "-" do
    local spec = cli.COMMON_OPTIONS[argv[i]:match("^%-%-([^=]+)$") or ""]
    i = i + ((spec and spec.value) and 2 or 1)
  end
  local rest = {}
  for j, word in ipairs(argv) do
    if j ~= i then rest[#rest + 1] = word end
  end
  return argv[i], rest
end

local function run(argv)
  local name, rest = split_command(argv)
  if name == nil or name == "help" then
    local opts = cli.parse(rest, 1, {})
    if opts.version and name == nil then
      io.stdout:write(("gptaudio %s (%s; module built on %s headers)\n")
                      :format(gptaudio.VERSION, rawget(_G, "jit") and jit.version or _VERSION, core.HEADERS))
      return cli.EXIT.ok
    end
    io.stdout:write(cli.USAGE)
    return (name or opts.help) and cli.EXIT.ok or cli.EXIT.usage
  end
  if not COMMANDS[name] then cli.usage_error(("unknown command '%s'"):format(name)) end
  return require(COMMANDS[name]).run(rest, 1)
end

function cli.main(argv)
  local ok, status = pcall(run, argv)
  if ok then return status end
  local message = type(status) == "table" and status.usage or tostring(status)
  io.stderr:write("gptaudio: ", message, "\n(gptaudio --help for usage)\n")
  return cli.EXIT.usage
end

return cli
