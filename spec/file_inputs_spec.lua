-- Paths that name no regular file, given where a call reads a file: a
-- directory, a FIFO (opening it blocks until a writer comes), /dev/zero (it
-- never ends). Each call returns nil, err of type "audio" naming the path at
-- once and sends nothing; a ca_file of that kind raises. The calls run in a
-- child process under `timeout`, so a regression that blocks fails the spec
-- instead of hanging the suite.
local util = require "spec.support.util"
local setup_ = require "spec.support.setup"

local SCRIPT = [==[
io.stdout:setvbuf("line")
local gptaudio = require "gptaudio"
local url, dir = ...
local client = gptaudio.new{ api_key = "sk-test", base_url = url, max_retries = 0, timeout = 5 }
local function report(name, value, err)
  io.write(name, "\t", value and "value" or err.type, "\t", value and "" or err.message, "\n")
end
for _, path in ipairs{ dir, dir .. "/pipe.wav", "/dev/zero" } do
  report("chat", client:chat{ messages = { { role = "user", content = {
    { type = "input_audio", audio = path } } } } })
  report("transcribe", client:transcribe(path, { model = "whisper-1" }))
  report("transcribe chat route", client:transcribe(path))
  report("request", client:request{ path = "/audio/transcriptions",
                                    multipart = { { name = "file", path = path } } })
end
for _, path in ipairs{ dir, dir .. "/pipe.wav", "/dev/zero" } do
  local ok, err = pcall(gptaudio.new, { ca_file = path })
  io.write("ca_file\t", ok and "accepted" or "raised", "\t", ok and "" or err, "\n")
end
]==]

describe("a path that is no regular file", function()
  local server
  setup_.fake_server(function(s) server = s end)

  it("fails each call that reads it with an audio error naming it, at once; a ca_file raises", function()
    local dir = util.temp_dir()
    assert(util.succeeded("mkfifo " .. util.shell_quote(dir .. "/pipe.wav")))
    local script = dir .. "/calls.lua"
    util.write_file(script, SCRIPT)
    local out = util.read_command(("%s timeout 60 %s %s %s %s 2>&1"):format(util.spawn_env(), util.LUA,
      util.shell_quote(script), util.shell_quote(server.url), util.shell_quote(dir)))
    local rows = {}
    for line in out:gmatch("[^\n]+") do
      local name, outcome, message = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      assert(name, "not a report line: " .. line)
      rows[#rows + 1] = { name = name, outcome = outcome, message = message }
    end
    assert.equal(15, #rows, out)
    local kinds = { "a directory", "a FIFO", "a character device" }
    local paths = { dir, dir .. "/pipe.wav", "/dev/zero" }
    for i = 1, 12 do
      local row, k = rows[i], math.floor((i - 1) / 4) + 1
      assert.equal("audio", row.outcome, row.name .. ": " .. row.message)
      assert.matches(paths[k] .. ": not a regular file (" .. kinds[k] .. ")", row.message, 1, true)
    end
    for i = 13, 15 do
      local row, k = rows[i], i - 12
      assert.equal("raised", row.outcome)
      assert.equal(("gptaudio.new: 'ca_file' %s is %s, not a regular file"):format(paths[k], kinds[k]),
                   row.message)
    end
    assert.same({}, server:requests())
    util.remove_tree(dir)
  end)
end)
