-- Memory stays bounded by max_response_bytes whatever a server sends: each
-- case runs in a child process, whose peak resident size (VmHWM) may grow by
-- less than 4 times the limit over what it was before the call.
local util = require "spec.support.util"
local setup_ = require "spec.support.setup"

local LIMIT = 8 * 1024 * 1024

-- The child: one case against the server, then "<outcome> <grown kB> <cpu s>".
local SCRIPT = [==[
local gptaudio = require "gptaudio"
local url, case, limit = ...
local function peak_kb()
  local f = assert(io.open("/proc/self/status"))
  local kb = tonumber(f:read("*a"):match("VmHWM:%s*(%d+)"))
  f:close()
  return kb
end
local client = gptaudio.new{ api_key = "sk-test", base_url = url, max_retries = 0, timeout = 120,
                             max_response_bytes = tonumber(limit) }
assert(client:request{ path = "/warm" })
collectgarbage()
local before, started = peak_kb(), os.clock()
local value, err
if case == "chat" or case == "tool" then
  value, err = client:chat{ messages = { { role = "user", content = "hi" } }, stream = case == "chat" }
else
  value, err = client:request{ path = "/" .. case }
end
local outcome = value and "ok" or err.type
if case == "tool" and value then outcome = value.tool_calls[1].error and "refused" or "decoded" end
io.write(outcome, " ", peak_kb() - before, " ", os.clock() - started, "\n")
]==]

describe("memory under max_response_bytes", function()
  local server, dir, script
  setup_.fake_server(function(s) server = s end)
  setup(function()
    dir = util.temp_dir()
    script = dir .. "/case.lua"
    util.write_file(script, SCRIPT)
  end)
  teardown(function() util.remove_tree(dir) end)
  before_each(function() server:default("/v1/warm", { json = {} }) end)

  -- Runs a case; returns its outcome, how much the peak grew (bytes) and its CPU seconds.
  local function run(case)
    -- Under AddressSanitizer (make check-asan) freed memory waits in a quarantine
    -- of up to 256 MB before reuse: without it the peak is the program's own.
    local out = util.read_command(("%s ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0\" "
      .. "%s %s %s %s %d 2>&1"):format(util.spawn_env(), util.LUA,
      util.shell_quote(script), util.shell_quote(server.url), case, LIMIT))
    local outcome, kb, cpu = out:match("^(%S+) (%d+) (%S+)\n$")
    assert(outcome, "the child said: " .. out)
    return outcome, tonumber(kb) * 1024, tonumber(cpu)
  end

  local function assert_bounded(case, grown)
    assert.is_true(grown < 4 * LIMIT, ("%s: the peak grew by %.1f MiB (limit %d MiB)"):format(
      case, grown / 2 ^ 20, LIMIT / 2 ^ 20))
  end

  it("refuses to decode a valid JSON body that would take many times its size", function()
    -- 7.5 MiB of [[],[],...]: 2.6 million empty tables once decoded
    server:script("/v1/arrays", { { headers = { ["content-type"] = "application/json" },
                                    body = "[" .. ("[],"):rep(5 * 2 ^ 19) .. "[]]" } })
    local outcome, grown = run("arrays")
    assert.equal("too_large", outcome)
    assert_bounded("arrays", grown)
  end)

  it("does not decode the body of a transfer that failed as too_large", function()
    server:script("/v1/over", { { headers = { ["content-type"] = "application/json" }, no_length = true,
                                  body = "[" .. ("[],"):rep(3 * 2 ^ 20) .. "[]]" } })
    local outcome, grown = run("over")
    assert.equal("too_large", outcome)
    assert_bounded("over", grown)
  end)

  it("keeps no stream chunk unless keep_raw asks: 7.5 MiB of tiny chunks", function()
    local event = '{"id":"c","object":"chat.completion.chunk","model":"gpt-audio-mini","choices":[{"index":0,'
      .. '"delta":{"content":"x"},"finish_reason":null}]}'
    server:script("/v1/chat/completions", { { events = { event }, ["repeat"] = math.floor(7.5 * 2 ^ 20 / (#event + 8)),
                                              no_length = true } })
    local outcome, grown = run("chat")
    assert.equal("protocol", outcome) -- no [DONE]: cut short, and said so
    assert_bounded("chat", grown)
  end)

  it("refuses tool arguments past 1 MiB without decoding them, whole or streamed (a million keys)", function()
    local long = '{"text":"' .. ("x"):rep(3 * 2 ^ 19) .. '"}'
    server:script("/v1/chat/completions", { { json = {
      id = "c", object = "chat.completion", model = "gpt-audio-mini",
      choices = { { index = 0, finish_reason = "tool_calls", message = { role = "assistant", tool_calls = { {
        id = "call_1", type = "function", ["function"] = { name = "f", arguments = long } } } } } } } } })
    local outcome, grown = run("tool")
    assert.equal("refused", outcome)
    assert_bounded("tool", grown)
    -- a million keys in 64 kB pieces: refused at the piece that passes 1 MiB
    local keys = {}
    for i = 1, 1000000 do keys[i] = ('"k%d":1'):format(i) end
    local arguments, events = "{" .. table.concat(keys, ",") .. "}", {}
    for at = 1, #arguments, 65536 do
      events[#events + 1] = { data = { id = "c", object = "chat.completion.chunk", model = "gpt-audio-mini",
        choices = { { index = 0, delta = { tool_calls = { { index = 0, id = at == 1 and "call_1" or nil,
          ["function"] = { name = at == 1 and "f" or nil, arguments = arguments:sub(at, at + 65535) } } } } } } } }
    end
    server:script("/v1/chat/completions", { { events = events, no_length = true } })
    local streamed, streamed_grown, cpu = run("chat")
    assert.equal("protocol", streamed)
    assert_bounded("chat", streamed_grown)
    assert.is_true(cpu < 5, ("%.1f s of CPU"):format(cpu))
  end)
end)
