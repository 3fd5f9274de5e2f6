-- gptaudio batch and the files around it: one run at a time per results file,
-- a full disk at resume that must not shorten the file, input names with any
-- bytes in them, symbolic links and other entries of the input directory, and
-- a results path that is not a regular file.
local cjson = require "cjson"
local socket = require "socket"
local audio = require("gptaudio").audio
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local command = require "spec.support.command"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local TRANSCRIPT = { text = "Tick.", usage = { type = "tokens", input_tokens = 5, output_tokens = 2, total_tokens = 7,
                                               input_token_details = { text_tokens = 0, audio_tokens = 5 } } }
local quote = util.shell_quote

local function lines_of(path)
  local list = {}
  for line in (util.read_file(path) or ""):gmatch("([^\n]*)\n") do list[#list + 1] = line end
  return list
end

describe("gptaudio batch files", function()
  local server, dir, results, wav

  setup_.fake_server(function(s) server = s end)
  before_each(function()
    dir = util.temp_dir()
    results = dir .. "/results.jsonl"
    wav = audio.from_pcm16(("\1\0"):rep(240), 24000, 1):encode("wav")
    server:default(openai.TRANSCRIPTIONS, { json = TRANSCRIPT })
  end)
  after_each(function() util.remove_tree(dir) end)

  local function inputs_dir(n)
    local inputs = dir .. "/in"
    os.execute("mkdir " .. quote(inputs))
    for i = 1, n do util.write_file(("%s/clip%02d.wav"):format(inputs, i), wav) end
    return inputs
  end

  local function transcribe(source, extra)
    local a = { "batch", "transcribe", source, "-o", results, "--model", "gpt-4o-mini-transcribe" }
    for _, word in ipairs(extra or {}) do a[#a + 1] = word end
    return a
  end

  it("refuses a second run on the same results file while the first runs; nothing is sent twice", function()
    local inputs = inputs_dir(8)
    server:default(openai.TRANSCRIPTIONS, { json = TRANSCRIPT, delay = 0.3 })
    local first = command.start(server.url, transcribe(inputs, { "--concurrency", "1" }))
    local deadline = socket.gettime() + 20
    repeat socket.sleep(0.02) until #server:requests(openai.TRANSCRIPTIONS) > 0 or socket.gettime() > deadline
    local status, _, err = command.run(server.url, transcribe(inputs))
    assert.equal(1, status)
    assert.equal("gptaudio io error: " .. results .. " is in use by another batch run; wait for it to end\n", err)
    assert.equal(0, (first.wait()))
    assert.equal(8, #server:requests(openai.TRANSCRIPTIONS))
    assert.equal(8, #lines_of(results))
    -- the lock went with the run: the next run starts, and has nothing to do
    assert.equal(0, (command.run(server.url, transcribe(inputs))))
    assert.equal(8, #server:requests(openai.TRANSCRIPTIONS))
  end)

  it("takes the lock back from a run killed with SIGKILL", function()
    local inputs = inputs_dir(4)
    server:default(openai.TRANSCRIPTIONS, { json = TRANSCRIPT, delay = 5 })
    local first = command.start(server.url, transcribe(inputs))
    local deadline = socket.gettime() + 20
    repeat socket.sleep(0.02) until #server:requests(openai.TRANSCRIPTIONS) > 0 or socket.gettime() > deadline
    os.execute("kill -KILL " .. first.pid)
    assert.equal(137, (first.wait()))
    server:default(openai.TRANSCRIPTIONS, { json = TRANSCRIPT })
    assert.equal(0, (command.run(server.url, transcribe(inputs))))
    assert.equal(4, #lines_of(results))
  end)

  it("keeps the results file whole when the disk fills during the rewrite at resume", function()
    local inputs = inputs_dir(30)
    assert.equal(0, (command.run(server.url, transcribe(inputs))))
    -- a failed line makes the next run rewrite the file without it
    local f = assert(io.open(results, "ab"))
    f:write(cjson.encode{ path = inputs .. "/clip01.wav", error = { type = "api", message = "x" } }, "\n")
    f:close()
    local before = util.read_file(results)
    assert.is_true(#before > 4096)
    server:clear()
    -- Files may grow to 4 KiB at most (EFBIG past it, as a full disk gives ENOSPC).
    local status, _, err = command.run(server.url, transcribe(inputs),
                                       { limits = "trap '' XFSZ; ulimit -f 8" })
    assert.equal(1, status)
    assert.matches("cannot write " .. results .. ".tmp: ", err, 1, true)
    assert.equal(before, util.read_file(results))
    assert.is_false(util.exists(results .. ".tmp"))
    assert.same({}, server:requests())
  end)

  it("reads a directory's names whole: a newline in one, bytes that are not UTF-8", function()
    local inputs = dir .. "/in"
    os.execute("mkdir " .. quote(inputs))
    local names = { "x\nsecret.wav", "caf\233.wav", "plain.wav" }
    for _, name in ipairs(names) do util.write_file(inputs .. "/" .. name, wav) end
    -- what a name split at its newline would upload instead, from the current directory
    assert.is_false(util.exists("secret.wav"))
    assert.equal(0, (command.run(server.url, transcribe(inputs))))
    assert.equal(3, #server:requests(openai.TRANSCRIPTIONS))
    local seen = {}
    for _, line in ipairs(lines_of(results)) do
      assert.is_true(json.is_utf8(line), "a line that is not UTF-8: " .. line)
      local object = cjson.decode(line)
      local exact = object.path_base64 and core.base64_decode(object.path_base64) or object.path
      seen[#seen + 1] = exact
      assert.equal("Tick.", object.text)
    end
    table.sort(seen)
    assert.same({ inputs .. "/caf\233.wav", inputs .. "/plain.wav", inputs .. "/x\nsecret.wav" }, seen)
    local shown = {}
    for _, line in ipairs(lines_of(results)) do
      local object = cjson.decode(line)
      if object.path_base64 then shown[#shown + 1] = object.path end
    end
    assert.same({ inputs .. "/caf\239\191\189.wav" }, shown)
    -- a resumed run knows every one of them by its bytes
    assert.equal(0, (command.run(server.url, transcribe(inputs))))
    assert.equal(3, #server:requests(openai.TRANSCRIPTIONS))
  end)

  it("follows a link to a regular file and names each other entry it skips", function()
    local inputs = inputs_dir(1)
    util.write_file(dir .. "/outside.wav", wav)
    assert(util.succeeded(("cd %s && ln -s ../outside.wav link.wav && ln -s nowhere.wav broken.wav && "
      .. "mkdir folder.wav && mkfifo pipe.wav && ln -s folder.wav dirlink.wav && mkdir sub && cp clip01.wav sub/")
      :format(quote(inputs))))
    local status, _, err = command.run(server.url, transcribe(inputs, { "--concurrency", "1" }))
    assert.equal(0, status)
    local paths = {}
    for i, line in ipairs(lines_of(results)) do paths[i] = cjson.decode(line).path end
    assert.same({ inputs .. "/clip01.wav", inputs .. "/link.wav" }, paths)
    assert.equal(2, #server:requests(openai.TRANSCRIPTIONS))
    for _, skipped in ipairs{
      ('"%s/broken.wav": a broken symbolic link'):format(inputs),
      ('"%s/folder.wav": a directory'):format(inputs),
      ('"%s/pipe.wav": a FIFO'):format(inputs),
      ('"%s/dirlink.wav": a symbolic link to a directory'):format(inputs),
    } do
      assert.matches("gptaudio: skipped " .. skipped .. ", not a regular file\n", err, 1, true)
    end
  end)

  it("refuses -o naming a directory with a message, sending nothing", function()
    local inputs = inputs_dir(1)
    local a = transcribe(inputs)
    a[5] = dir
    local status, _, err = command.run(server.url, a)
    assert.equal(1, status)
    assert.equal("gptaudio io error: " .. dir .. " is a directory, not a results file\n", err)
    assert.same({}, server:requests())
  end)
end)
