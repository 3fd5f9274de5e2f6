-- gptaudio batch transcribe|chat: one call per input file, many at once within
-- the rate limits (client:map), one JSON line per input in the results file,
-- written as each input finishes. A re-run with the same results file does only
-- what is not done yet (inputs without a line, or whose line is an error).
--
-- Ctrl-C (SIGINT) or SIGTERM: no new input starts, the calls in flight are
-- cancelled (their inputs get no line: the next run does them), the answers
-- that had already arrived are written, and the exit status is 130.
local core = require "gptaudio.core"
local gptaudio = require "gptaudio"
local cli = require "gptaudio.cli"
local chat_command = require "gptaudio.cli.chat"
local progress = require "gptaudio.cli.progress"
local results = require "gptaudio.cli.results"
local long = require "gptaudio.calls.long"
local recording = require "gptaudio.recording"
local protect = require "gptaudio.engine.protect"

local batch = {}

batch.HELP = [[
Usage: gptaudio batch transcribe DIR|LIST -o results.jsonl [OPTIONS]
       gptaudio batch chat --prompt TEXT DIR|LIST -o results.jsonl [OPTIONS]

Runs one call per input: the audio files of DIR (.wav, .mp3, .flac, .ogg, .m4a,
.webm, .opus, ...), or the paths LIST names, one a line (# starts a comment).
In DIR, a symbolic link to a regular file is an input; an audio-named entry
that is no regular file (a directory, a FIFO, a broken link) is skipped with a
line on stderr; subdirectories are not entered.
Each input gets one JSON line in the results file as it finishes:
  {"path", "text" (transcribe) | "reply" (chat), "model", "usage", "cost"}
  {"path", "error": {"type", "message", "status", "code"}}
A name that is not UTF-8 has its bytes as U+FFFD in "path" and exactly, in
base64, in "path_base64".
Running again with the same results file skips the inputs already done and
retries the failed ones; a line cut off by a crash is dropped and redone.
One run at a time per results file: a second is refused (FILE.lock holds the
lock; the kernel drops it when a run ends, however it ends). A write that
fails (a full disk) stops the run and never shortens the file.

Options:
  -o, --output FILE   the results file (JSON lines), required
  --prompt TEXT       batch chat: the instruction sent with each recording
  --language CODE     batch transcribe: the language of the audio
  --concurrency N     inputs in flight at once (default 8)
  --rpm N, --tpm N    at most N requests / tokens per minute
  --srt DIR           batch transcribe: subtitles of each input into DIR/NAME.srt
                      (NAME: the input's file name without its extension)
  --model, --voice, --progress   as for every command; --json prints the summary as JSON

Progress (done/total, rate, ETA, cost so far, and for batch transcribe the
seconds of audio done of those of the WAV and other readable inputs) goes to
stderr when it is a terminal or with --progress; a summary line goes to
stderr at the end. A recording longer than one request allows goes in pieces.
Ctrl-C stops cleanly: no new input starts, calls in flight are cancelled and
left for the next run, every line in the file is whole; exit status 130.
Exit status: 0 every input done, 1 some inputs failed (see their lines),
2 usage error, 130 interrupted.
]]

local OPTIONS = {
  output = { short = "o", value = "FILE" }, prompt = { value = "TEXT" }, language = { value = "CODE" },
  concurrency = { value = "N", number = true }, rpm = { value = "N", number = true },
  tpm = { value = "N", number = true }, srt = { value = "DIR" },
}

local AUDIO_EXTENSIONS = {
  wav = true, mp3 = true, mpeg = true, mpga = true, flac = true, ogg = true, oga = true, m4a = true, mp4 = true,
  webm = true, opus = true, aac = true,
}

-- What each kind of batch sends for one input, and what its line says.
local JOBS = {
  transcribe = {
    -- A long recording goes in pieces (long.lua); on_event hears each piece end.
    start = function(client, path, opts, on_event)
      return long.start(client, "transcribe", path, { language = opts.language, on_event = on_event,
                                                      chunk = opts.srt and true or nil })
    end,
    fields = function(tr)
      return { text = tr.text, language = tr.language, duration = tr.duration, pieces = tr.pieces }
    end,
  },
  chat = {
    start = function(client, path, opts)
      return client:start("chat", { messages = { chat_command.message(opts.prompt, path) } })
    end,
    fields = function(reply)
      return { reply = reply.text or reply.transcript, finish_reason = reply.finish_reason }
    end,
  },
}

local function quote(s)
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end

-- find's letters for a file's type (-printf %y, %Y) as words.
local FIND_TYPES = { d = "a directory", p = "a FIFO", c = "a character device", b = "a block device",
                     s = "a socket", N = "a broken symbolic link", L = "a symbolic link loop" }

local function has_audio_extension(name)
  local extension = name:match("%.(%w+)$")
  return extension ~= nil and AUDIO_EXTENSIONS[extension:lower()] == true
end

-- A directory's audio files, sorted by name (bytewise). Entries come NUL-
-- separated (any byte but NUL may be in a name, a newline too). A symbolic
-- link to a regular file is an input under its own name; an audio-named entry
-- that is no regular file (a directory, a FIFO, a broken link, ...) is skipped
-- with a line on stderr. Subdirectories are not entered.
local function directory_inputs(dir)
  local find = assert(io.popen("find " .. quote(dir) .. " -mindepth 1 -maxdepth 1 -printf '%y%Y%p\\0'"))
  local listing = find:read("*a")
  find:close()
  local names = {}
  for own, target, path in listing:gmatch("(.)(.)([^%z]*)%z") do
    if has_audio_extension(path) then
      if target == "f" then
        names[#names + 1] = path
      else
        local what = FIND_TYPES[target] or "a special file"
        if own == "l" and target ~= "N" and target ~= "L" then what = "a symbolic link to " .. what end
        io.stderr:write(("gptaudio: skipped %q: %s, not a regular file\n"):format(path, what))
      end
    end
  end
  table.sort(names)
  return names
end

-- The inputs, each once, in order: a directory's audio files sorted by name,
-- or the lines of a list file.
local function inputs(source)
  local names = {}
  if core.file_kind(source) == "directory" then
    names = directory_inputs(source)
  else
    local f = io.open(source, "rb")
    if not f or core.file_kind(source) ~= "regular file" then
      if f then f:close() end
      cli.usage_error(("%s is neither a directory nor a readable list file"):format(source))
    end
    for line in f:lines() do
      line = line:match("^%s*(.-)%s*$")
      if line ~= "" and line:sub(1, 1) ~= "#" then names[#names + 1] = line end
    end
    f:close()
  end
  local seen, unique = {}, {}
  for _, name in ipairs(names) do
    if not seen[name] then
      seen[name] = true
      unique[#unique + 1] = name
    end
  end
  return unique
end

-- The seconds of audio in an input, when its header says; 0 otherwise.
local function audio_seconds(path)
  local reader = recording.open(path)
  if not reader then return 0 end
  local duration = reader.duration or 0
  reader:close()
  return duration
end

-- DIR/NAME.srt for an input (NAME: its file name without the extension). A
-- raise from here stops the map, as a results line that cannot be written does.
local function write_subtitles(dir, path, tr)
  local name = path:match("([^/]*)$"):gsub("%.[^.]*$", "")
  local target = ("%s/%s.srt"):format(dir, name)
  local f, err = io.open(target, "wb")
  if f then
    local written
    written, err = f:write(tr:srt())
    f:close()
    if written then return end
  end
  error({ message = ("cannot write %s: %s"):format(target, tostring(err)) }, 0)
end

local function check_operands(opts, operands)
  local kind = operands[1]
  if not JOBS[kind or ""] then cli.usage_error("batch wants 'transcribe' or 'chat' (gptaudio batch --help)") end
  if #operands ~= 2 then cli.usage_error(("batch %s takes one DIR or LIST"):format(kind)) end
  if not opts.output then cli.usage_error("batch needs -o results.jsonl") end
  if kind == "chat" and not opts.prompt then cli.usage_error("batch chat needs --prompt TEXT") end
  if kind == "chat" and opts.srt then cli.usage_error("--srt is for batch transcribe") end
  return JOBS[kind], operands[2]
end

local function summary(opts, counts, total, interrupted)
  if opts.json then
    io.stdout:write(gptaudio.json.encode{
      total = total, written = counts.done + counts.failed, failed = counts.failed, skipped = counts.skipped,
      tokens = counts.tokens, cost = counts.cost, interrupted = interrupted,
    }, "\n")
  end
  io.stderr:write(("%d inputs: %d done now, %d failed, %d done before; %d tokens, cost $%.6f%s\n"):format(
    total, counts.done, counts.failed, counts.skipped, counts.tokens, counts.cost,
    interrupted and "; interrupted: run again to finish" or ""))
end

function batch.run(argv, first)
  local opts, operands = cli.parse(argv, first, OPTIONS)
  if opts.help then
    io.stdout:write(batch.HELP)
    return cli.EXIT.ok
  end
  local job, source = check_operands(opts, operands)
  local all = inputs(source)
  local client = cli.client(opts, { max_concurrency = opts.concurrency })
  local file, open_err = results.open(opts.output)
  if not file then return cli.fail(opts, { type = "io", message = tostring(open_err) }) end
  local remaining = {}
  for _, path in ipairs(all) do
    if not file.done[path] then remaining[#remaining + 1] = path end
  end

  local counts = { done = 0, failed = 0, skipped = #all - #remaining, cost = 0, tokens = 0, audio_done = 0,
                   audio_total = 0 }
  local line = progress.wanted(opts.progress) and progress.batch(io.stderr, #remaining, core.now)
  local in_flight, stopping = {}, false
  -- Seconds of audio of each input (when its header says), and how much of it is done.
  local seconds, heard = {}, {}
  if line and job == JOBS.transcribe then
    for _, path in ipairs(remaining) do seconds[path] = audio_seconds(path) end
    for _, s in pairs(seconds) do counts.audio_total = counts.audio_total + s end
  end

  local function process(path)
    local req = job.start(client, path, opts, line and function(ev)
      if ev.type ~= "piece" then return end
      local piece = ev["end"] - ev.start
      heard[path] = (heard[path] or 0) + piece
      counts.audio_done = counts.audio_done + piece
      line:update(counts)
    end or nil)
    in_flight[req] = true
    local value, err = req:wait()
    in_flight[req] = nil
    -- The rest of the input counts as heard once it ends (one request, or pieces).
    counts.audio_done = counts.audio_done + math.max(0, (seconds[path] or 0) - (heard[path] or 0))
    return value, err
  end

  -- A raise from here stops the map; the loop below reports it.
  local function write(object)
    local ok, err = file:write(object)
    if not ok then error({ message = ("cannot write %s: %s"):format(opts.output, tostring(err)) }, 0) end
  end

  local function on_progress(_, _, result, i)
    if not result.ok and type(result.error) == "string" then
      -- The call raised: an option this kind of call refuses, the same for every input.
      error({ usage = result.error }, 0)
    end
    if result.ok then
      local object = results.path_fields(remaining[i])
      for key, value in pairs(job.fields(result.value)) do object[key] = value end
      object.model, object.usage, object.cost = result.value.model, result.value.usage, result.value.cost
      write(object)
      if opts.srt then write_subtitles(opts.srt, remaining[i], result.value) end
      counts.done = counts.done + 1
      counts.cost = counts.cost + (result.value.cost or 0)
      counts.tokens = counts.tokens + (result.value.usage and result.value.usage.total_tokens or 0)
    elseif not stopping then
      local object = results.path_fields(remaining[i])
      object.error = cli.error_object(result.error)
      write(object)
      counts.failed = counts.failed + 1
    end
    if line then line:update(counts) end
  end

  assert(core.catch_interrupt())
  local task = gptaudio.spawn(function()
    return protect(client.map, client, remaining, process, {
      concurrency = opts.concurrency, rpm = opts.rpm, tpm = opts.tpm, on_progress = on_progress,
      stop = function() return stopping end,
    })
  end)
  while task:status() ~= "done" and task:status() ~= "failed" do
    client:step(0.1)
    if not stopping and core.interrupted() then
      stopping = true
      for req in pairs(in_flight) do req:cancel() end
    end
  end
  local closed, close_err = file:close()
  client:close()
  if line then line:finish(counts) end
  summary(opts, counts, #all, stopping)
  local ok, failure = task:result()
  if not closed then
    io.stderr:write(("gptaudio: cannot write %s: %s\n"):format(opts.output, tostring(close_err)))
    return cli.EXIT.failure
  end
  if stopping then return cli.EXIT.interrupted end
  if not ok then
    if type(failure) == "table" and failure.usage then cli.usage_error(failure.usage) end
    io.stderr:write(cli.error_line(failure))
    return cli.EXIT.failure
  end
  return counts.failed > 0 and cli.EXIT.failure or cli.EXIT.ok
end

return batch
