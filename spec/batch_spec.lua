-- gptaudio batch as a user runs it: a subprocess over a list of small WAV
-- files against the fake server, checked by the results file (one whole JSON
-- line per input, each input once), by what the server received (resumed runs
-- send only what is missing; --rpm paces the requests), and by an interrupted
-- run that leaves a valid file which the next run completes.
local cjson = require "cjson"
local socket = require "socket"
local audio = require("gptaudio").audio
local openai = require "spec.support.openai"
local command = require "spec.support.command"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local TRANSCRIPT = { text = "Tick.", usage = { type = "tokens", input_tokens = 5, output_tokens = 2, total_tokens = 7,
                                               input_token_details = { text_tokens = 0, audio_tokens = 5 } } }
local BAD = { status = 400, json = { error = {
  message = "Audio file might be corrupted or unsupported", type = "invalid_request_error", param = "file",
  code = "invalid_value" } } }

local quote = util.shell_quote

-- A file not written yet reads as empty.
local function read_file(path)
  return util.read_file(path) or ""
end

-- The results file's lines decoded; raises when a line is not whole JSON.
local function lines_of(path)
  local text = read_file(path)
  assert(text == "" or text:sub(-1) == "\n", "the results file ends in the middle of a line")
  local list = {}
  for line in text:gmatch("([^\n]*)\n") do list[#list + 1] = cjson.decode(line) end
  return list
end

-- path -> its line; raises when an input has two lines.
local function by_path(list)
  local map = {}
  for _, object in ipairs(list) do
    assert(map[object.path] == nil, "two lines for " .. object.path)
    map[object.path] = object
  end
  return map
end

local function count(map)
  local n = 0
  for _ in pairs(map) do n = n + 1 end
  return n
end

describe("gptaudio batch", function()
  local server, dir, list, results
  local paths = {}

  local function start(arguments)
    return command.start(server.url, arguments)
  end

  local function run(arguments)
    return command.run(server.url, arguments)
  end

  local function transcribe_args(extra)
    local a = { "batch", "transcribe", list, "-o", results, "--model", "gpt-4o-mini-transcribe", "--json" }
    for _, word in ipairs(extra or {}) do a[#a + 1] = word end
    return a
  end

  -- A list file naming the first n inputs.
  local function use_inputs(n)
    local f = assert(io.open(list, "w"))
    for i = 1, n do f:write(paths[i], "\n") end
    f:close()
  end

  setup_.fake_server(function(s) server = s end)
  setup(function()
    dir = util.temp_dir()
    list, results = dir .. "/inputs.txt", dir .. "/results.jsonl"
    local wav = audio.from_pcm16(("\1\0"):rep(240), 24000, 1):encode("wav")
    for i = 1, 1000 do
      paths[i] = ("%s/clip%04d.wav"):format(dir, i)
      util.write_file(paths[i], wav)
    end
  end)
  teardown(function()
    util.remove_tree(dir)
  end)
  before_each(function()
    server:default(openai.TRANSCRIPTIONS, { json = TRANSCRIPT })
    os.remove(results)
  end)

  it("writes one line per input among 1,000 with failures mixed in; a re-run sends only the failed ones", function()
    use_inputs(1000)
    local failures = {}
    for i = 1, 37 do failures[i] = BAD end
    server:script(openai.TRANSCRIPTIONS, failures)
    local status, out = run(transcribe_args{ "--concurrency", "16" })
    assert.equal(1, status)
    assert.same({ total = 1000, written = 1000, failed = 37, skipped = 0, tokens = 963 * 7, interrupted = false },
                (function(s) s.cost = nil return s end)(cjson.decode(out)))
    assert.equal(1000, #server:requests(openai.TRANSCRIPTIONS))
    local first = by_path(lines_of(results))
    assert.equal(1000, count(first))
    local errors = 0
    for i = 1, 1000 do
      local line = assert(first[paths[i]], paths[i])
      if line.error then
        errors = errors + 1
        assert.same({ type = "api", status = 400, code = "invalid_value",
                      message = "Audio file might be corrupted or unsupported" }, line.error)
      else
        assert.same({ "Tick.", "gpt-4o-mini-transcribe", 7 }, { line.text, line.model, line.usage.total_tokens })
      end
    end
    assert.equal(37, errors)

    server:clear()
    server:default(openai.TRANSCRIPTIONS, { json = TRANSCRIPT })
    status, out = run(transcribe_args())
    assert.equal(0, status)
    assert.same({ 1000, 37, 963 }, { cjson.decode(out).total, cjson.decode(out).written, cjson.decode(out).skipped })
    assert.equal(37, #server:requests(openai.TRANSCRIPTIONS))
    local second = by_path(lines_of(results))
    assert.equal(1000, count(second))
    for i = 1, 1000 do assert.equal("Tick.", second[paths[i]].text) end
  end)

  it("drops a cut-off last line and does that input again", function()
    use_inputs(3)
    local f = assert(io.open(results, "w"))
    f:write(cjson.encode{ path = paths[1], text = "Kept." }, "\n", '{"path":"', paths[2], '","te')
    f:close()
    assert.equal(0, (run(transcribe_args())))
    assert.equal(2, #server:requests(openai.TRANSCRIPTIONS))
    local map = by_path(lines_of(results))
    assert.same({ "Kept.", "Tick.", "Tick." }, { map[paths[1]].text, map[paths[2]].text, map[paths[3]].text })
  end)

  it("stops on SIGINT with exit status 130 and whole lines; the next run completes it", function()
    use_inputs(300)
    server:default(openai.TRANSCRIPTIONS, { json = TRANSCRIPT, delay = 0.05 })
    local child = start(transcribe_args{ "--concurrency", "4" })
    local deadline = socket.gettime() + 30
    repeat socket.sleep(0.02) until select(2, read_file(results):gsub("\n", "")) >= 30 or socket.gettime() > deadline
    os.execute("kill -INT " .. child.pid)
    local status, out = child.wait()
    assert.equal(130, status)
    assert.is_true(cjson.decode(out).interrupted)
    local done = by_path(lines_of(results))
    local n = count(done)
    assert.is_true(n >= 30 and n < 300, "lines: " .. n)
    for _, line in pairs(done) do assert.equal("Tick.", line.text) end

    server:clear()
    server:default(openai.TRANSCRIPTIONS, { json = TRANSCRIPT })
    assert.equal(0, (run(transcribe_args())))
    assert.equal(300 - n, #server:requests(openai.TRANSCRIPTIONS))
    assert.equal(300, count(by_path(lines_of(results))))
  end)

  it("paces requests to --rpm, counted at the server", function()
    use_inputs(20)
    assert.equal(0, (run(transcribe_args{ "--rpm", "600" })))
    local sent = server:requests(openai.TRANSCRIPTIONS)
    assert.equal(20, #sent)
    -- 600 rpm is 10 a second after a burst of one second's worth: the last 10 take 0.9 s or more.
    local span = sent[20].time - sent[1].time
    assert.is_true(span >= 0.8 and span < 20, "span: " .. span)
  end)

  it("batch chat sends the prompt with each recording and writes the replies", function()
    use_inputs(2)
    server:default(openai.CHAT, { json = {
      id = "chatcmpl-1", object = "chat.completion", created = 1764000000, model = "gpt-audio-mini-2025-12-15",
      choices = { { index = 0, message = { role = "assistant", content = "A click." }, finish_reason = "stop" } },
      usage = { prompt_tokens = 20, completion_tokens = 3, total_tokens = 23 },
    } })
    local status = run{ "batch", "chat", "--prompt", "Describe the sound.", list, "-o", results }
    assert.equal(0, status)
    local map = by_path(lines_of(results))
    assert.same({ "A click.", "A click." }, { map[paths[1]].reply, map[paths[2]].reply })
    local sent = server:requests(openai.CHAT)
    assert.equal(2, #sent)
    local content = sent[1].json.messages[1].content
    assert.same({ type = "text", text = "Describe the sound." }, content[1])
    assert.equal("wav", content[2].input_audio.format)
  end)

  it("takes the audio files of a directory, sorted, and leaves the rest", function()
    local sub = dir .. "/folder"
    os.execute(("mkdir -p %s && cp %s %s/b.wav && cp %s %s/a.MP3 && echo notes > %s/notes.txt"):format(
      quote(sub), quote(paths[1]), quote(sub), quote(paths[2]), quote(sub), quote(sub)))
    local a = transcribe_args{ "--concurrency", "1" }
    a[3] = sub
    assert.equal(0, (run(a)))
    local names = {}
    for i, line in ipairs(lines_of(results)) do names[i] = line.path end
    assert.same({ sub .. "/a.MP3", sub .. "/b.wav" }, names)
  end)

  it("draws the progress line with --progress and ends with a summary on stderr", function()
    use_inputs(5)
    local status, _, err = run(transcribe_args{ "--progress", "--concurrency", "1" })
    assert.equal(0, status)
    assert.matches("\r5/5 done, 0 failed, [%d.]+/s, ETA 0:00:00, %$0%.%d%d%d%d, audio 0:00:0%d / 0:00:0%d\27%[K\n",
                   err)
    assert.matches("\n5 inputs: 5 done now, 0 failed, 0 done before; 35 tokens, cost %$0%.%d+\n$", err)
  end)

  it("exits 2 for a missing results file option or an unknown batch kind, sending nothing", function()
    use_inputs(2)
    assert.equal(2, (run{ "batch", "transcribe", list }))
    assert.equal(2, (run{ "batch", "translate", list, "-o", results }))
    assert.equal(2, (run{ "batch", "chat", list, "-o", results }))
    assert.same({}, server:requests())
    local status, _, err = run{ "batch", "transcribe", list, "-o", results, "--model", "gpt-4o-mini-tts" }
    assert.equal(2, status)
    assert.matches("gpt-4o-mini-tts is a speech model", err, 1, true)
    assert.same({}, server:requests())
    assert.equal("", read_file(results))
  end)
end)
