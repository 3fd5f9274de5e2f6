-- Secrets and transport safety: a sentinel API key is searched for in every
-- error, log line, tostring and public accessor over many kinds of requests
-- (and, in a child process, in every named local and upvalue a debug hook
-- sees); redirects are not followed; CR, LF or NUL in any header name or value
-- is refused before anything is sent; responses over max_response_bytes fail
-- cleanly.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local socket = require "socket"
local fake = require "spec.support.fake"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local KEY = "sk-proj-SENTINEL-5ecret-0123456789abcdef"
local CHAT = "/v1/chat/completions"
local MESSAGES = { { role = "user", content = "hello" } }

local function closed_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

-- Every string reachable from v (keys, values, tostring of tables and
-- userdata with a metatable), each table visited once.
local function strings_of(v, into, seen)
  into, seen = into or {}, seen or {}
  local kind = type(v)
  if kind == "string" then
    into[#into + 1] = v
  elseif kind == "table" or kind == "userdata" then
    if seen[v] then return into end
    seen[v] = true
    if getmetatable(v) then into[#into + 1] = tostring(v) end
    if kind == "table" then
      for key, item in pairs(v) do
        strings_of(key, into, seen)
        strings_of(item, into, seen)
      end
    end
  end
  return into
end

local function assert_no_key(where, v)
  for _, s in ipairs(strings_of(v)) do
    assert.is_nil(s:find(KEY, 1, true), where .. " shows the key: " .. s:sub(1, 200))
  end
end

describe("secrets", function()
  local server, client, lines

  setup_.fake_client({ api_key = KEY, max_retries = 1, timeout = 5,
                       log = function(level, message) lines[#lines + 1] = level .. " " .. message end },
                     function(s, c) server, client, lines = s, c, {} end)

  it("are in no error, log line, tostring or accessor, whatever the server answers", function()
    -- The server echoes the key wherever an answer can carry text.
    local echo = { status = 401, headers = { ["x-request-id"] = KEY, ["x-should-retry"] = "false" },
                   json = { error = { message = "bad key " .. KEY, type = KEY, param = KEY, code = KEY } } }
    server:script(CHAT, { echo, { events = { { data = { error = { message = "stream " .. KEY } } } } } })
    server:script("/v1/audio/transcriptions", { echo })
    server:script("/v1/audio/speech", { { status = 400, body = "plain " .. KEY } })
    server:script("/v1/retry", { { status = 500, body = KEY }, { json = { ok = true } } })
    server:script("/v1/cut", { { events = { "one", "two " .. KEY }, no_length = true, cut_after = 30 } })
    server:script("/v1/slow", { { delay = 3, json = {} } })
    local results, errors = {}, {}
    local function call(name, ...)
      local value, err = client[name](client, ...)
      if value then results[#results + 1] = value else errors[#errors + 1] = err end
    end
    call("chat", { messages = MESSAGES })
    call("chat", { messages = MESSAGES, stream = true })
    call("transcribe", gptaudio.audio.from_samples({ 0, 0.5, -0.5 }, 24000), { model = "whisper-1" })
    call("speak", "hello", { model = "tts-1" })
    call("request", { path = "/retry" })
    call("request", { path = "/cut", stream = true, max_retries = 0 })
    call("request", { path = "/slow", timeout = 0.2, max_retries = 0 })
    call("request", { path = "/models", headers = { ["X-Echo"] = KEY } })
    local req = client:start("request", { path = "/slow" })
    req:cancel()
    -- a task that raises with the key after a request: its failure goes to the client's log
    local task = gptaudio.spawn(function()
      client:request{ path = "/models" }
      error("task saw " .. KEY, 0)
    end)
    while client:step(0.05) > 0 do end
    local refused = gptaudio.new{ api_key = KEY, max_retries = 0, log = function(level, message)
      lines[#lines + 1] = level .. " " .. message
    end, base_url = ("http://127.0.0.1:%d/v1"):format(closed_port()) }
    local _, refused_err = refused:request{ path = "/models" }
    errors[#errors + 1] = refused_err

    -- what was sent: the key, in the Authorization header of every request
    local sent = server:requests()
    assert.equal(10, #sent)
    for _, r in ipairs(sent) do assert.equal("Bearer " .. KEY, r.headers.authorization) end
    -- what came back: the retried request and the model list succeed, the rest fail
    assert.equal(2, #results)
    assert.equal(7, #errors)
    for i, err in ipairs(errors) do
      assert_no_key("error " .. i, err)
      assert_no_key("tostring(error " .. i .. ")", tostring(err))
    end
    assert.equal("[redacted]", errors[1].request_id)
    assert.equal("bad key [redacted]", errors[1].message)
    assert_no_key("results", results)
    assert_no_key("log", lines)
    assert.is_true(#lines >= 12)
    assert_no_key("the client", client)
    assert_no_key("client:usage()", client:usage())
    assert_no_key("tostring", { tostring(client), tostring(refused), tostring(req), tostring(task) })
    assert_no_key("the request", { req, req:status(), req:result() })
    -- (task:result() is the task's own error value, as raised)
    assert.equal("failed", task:status())
    local task_lines = 0
    for _, line in ipairs(lines) do
      if line:find("task failed", 1, true) then
        task_lines = task_lines + 1
        assert.equal("error task failed: task saw [redacted]", line)
      end
    end
    assert.equal(1, task_lines)
    refused:close()
  end)

  -- A server or proxy that echoes the key where a message quotes only the
  -- start of what came back (200 bytes of a body, 80 of a stream event that is
  -- not JSON): the cut falls inside the key, so its prefix is what is left.
  local LONG_KEY = "sk-proj-" .. ("LongSentinelKey0123456789"):rep(6) .. "end"  -- 161 bytes
  local FILLER = ("f"):rep(100)

  local function assert_no_prefix(where, v)
    local prefix = LONG_KEY:sub(1, 12)
    for _, s in ipairs(strings_of(v)) do
      assert.is_nil(s:find(prefix, 1, true), where .. " shows a start of the key: " .. s:sub(1, 300))
    end
  end

  it("leave no start of the key at the cut of an excerpt, for every call kind", function()
    local cut_body = { status = 400, headers = { ["x-should-retry"] = "false" }, body = FILLER .. LONG_KEY }
    local cut_event = { events = { ("e"):rep(40) .. LONG_KEY } }
    local keyed = gptaudio.new{ api_key = LONG_KEY, base_url = server.url, max_retries = 0,
                                log = function(level, message) lines[#lines + 1] = level .. " " .. message end }
    server:script(CHAT, { cut_body, cut_event })
    server:script("/v1/audio/transcriptions", { cut_body, cut_event })
    server:script("/v1/audio/speech", { cut_body, cut_event })
    server:script("/v1/any", { cut_body, cut_event })
    server:script("/v1/audio/translations", { cut_body })
    local sound = gptaudio.audio.from_samples({ 0, 0.5, -0.5 }, 24000)
    local calls = {
      { "chat", { messages = MESSAGES } },
      { "chat", { messages = MESSAGES, stream = true } },
      { "transcribe", sound, { model = "gpt-4o-mini-transcribe" } },
      { "transcribe", sound, { model = "gpt-4o-mini-transcribe", stream = true } },
      { "speak", "hello", { model = "gpt-4o-mini-tts" } },
      { "speak", "hello", { model = "gpt-4o-mini-tts", stream = true } },
      { "request", { path = "/any" } },
      { "translate", sound, { model = "whisper-1" } },
    }
    local failures = {}
    for i, args in ipairs(calls) do
      local value, err = keyed[args[1]](keyed, args[2], args[3])
      assert.is_nil(value, "call " .. i)
      failures[i] = err
    end
    -- the body excerpts cut at 200 bytes and the event excerpts at 80: each inside the key
    assert.equal(FILLER .. "[redacted]", failures[1].message)
    assert.equal("a stream event is not a JSON object: " .. ("e"):rep(40) .. "[redacted]", failures[2].message)
    assert.equal("a transcript stream event is not a JSON object: " .. ("e"):rep(40) .. "[redacted]",
                 failures[4].message)
    assert.equal("a speech stream event is not a JSON object: " .. ("e"):rep(40) .. "[redacted]",
                 failures[6].message)
    for i, err in ipairs(failures) do
      assert_no_prefix("error " .. i, err)
      assert_no_prefix("tostring(error " .. i .. ")", tostring(err))
    end
    assert.is_true(#lines >= 16)
    assert_no_prefix("log", lines)
    keyed:close()
  end)

  it("leave no start of the key in the command's --json output, its stderr or a batch results file", function()
    local dir = util.temp_dir()
    local wav = dir .. "/tick.wav"
    assert(gptaudio.audio.from_samples({ 0, 0.5, -0.5 }, 24000):save(wav))
    local function run(arguments)
      local words = {}
      for i, a in ipairs(arguments) do words[i] = util.shell_quote(a) end
      local out, err = dir .. "/stdout", dir .. "/stderr"
      local status = tonumber(util.read_command(
        ("%s OPENAI_BASE_URL=%s OPENAI_API_KEY=%s %s bin/gptaudio %s > %s 2> %s; echo $?"):format(
          util.spawn_env(), util.shell_quote(server.url), util.shell_quote(LONG_KEY), util.LUA,
          table.concat(words, " "), out, err)))
      return status, util.read_file(out), util.read_file(err)
    end
    local cut_body = { status = 400, headers = { ["x-should-retry"] = "false" }, body = FILLER .. LONG_KEY }
    server:script("/v1/audio/transcriptions", { cut_body, cut_body, cut_body })
    local status, out, err = run{ "transcribe", wav, "--model", "whisper-1", "--json" }
    assert.equal(3, status)
    assert.matches(FILLER .. "[redacted]", out, 1, true)
    assert_no_prefix("--json output", { out, err })
    status, out, err = run{ "transcribe", wav, "--model", "whisper-1" }
    assert.equal(3, status)
    assert.matches(FILLER .. "[redacted]", err, 1, true)
    assert_no_prefix("stderr", { out, err })
    local results = dir .. "/results.jsonl"
    status, out, err = run{ "batch", "transcribe", dir, "-o", results, "--model", "whisper-1" }
    assert.equal(1, status)
    local written = util.read_file(results)
    assert.matches(FILLER .. "[redacted]", written, 1, true)
    assert_no_prefix("batch", { out, err, written })
    assert.equal(3, #server:requests("/v1/audio/transcriptions"))
    util.remove_tree(dir)
  end)

  -- A debug hook on every line, in the main thread and in every coroutine
  -- (tasks included: the child wraps coroutine.create before gptaudio loads),
  -- looks at every named local and upvalue. The server does not echo the key
  -- here: what the hook sees comes from the module itself.
  local HOOK_SCRIPT = [==[
    local KEY = ...
    local found, hook, lines = {}, nil, 0
    local create = coroutine.create
    coroutine.create = function(f)
      local co = create(f)
      if hook then debug.sethook(co, hook, "l") end
      return co
    end
    local gptaudio = require "gptaudio"
    local fake = require "spec.support.fake"
    local server = fake.start()
    hook = function()
      local info = debug.getinfo(2, "Sf")
      -- the module's own code only (this script holds the key, of course)
      if not info.source:find("/gptaudio/", 1, true) then return end
      lines = lines + 1
      local function look(kind, name, value)
        if type(value) == "string" and name:sub(1, 1) ~= "(" and value:find(KEY, 1, true) then
          found[info.short_src .. " " .. kind .. " " .. name] = true
        end
      end
      for i = 1, 250 do
        local name, value = debug.getlocal(2, i)
        if not name then break end
        look("local", name, value)
      end
      for i = 1, 250 do
        local name, value = debug.getupvalue(info.func, i)
        if not name then break end
        look("upvalue", name, value)
      end
    end
    local client = gptaudio.new{ api_key = KEY, base_url = server.url, max_retries = 1,
                                 log = function() end }
    server:control("standin", { on = true })
    server:script("/v1/retry", { { status = 500, json = { error = { message = "again" } } }, { json = {} } })
    server:script("/v1/s", { { events = { "a", "b", "[DONE]" } } })
    debug.sethook(hook, "l")
    client:request{ path = "/retry" }
    client:request{ path = "/s", stream = true, on_event = function() end }
    client:chat{ messages = { { role = "user", content = "hi" } }, stream = true }
    client:transcribe({ data = "RIFF", format = "wav" }, { model = "whisper-1" })
    client:speak("hi", { model = "tts-1" })
    client:start("request", { path = "/retry" }):cancel()
    debug.sethook()
    client:close()
    server:stop()
    local list = {}
    for where in pairs(found) do list[#list + 1] = where end
    table.sort(list)
    io.write("lines ", lines, "\n", table.concat(list, "\n"), "\n")
  ]==]

  it("are in no named local or upvalue that a debug hook sees during requests", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(HOOK_SCRIPT)
    f:close()
    local lua = os.getenv("GPTAUDIO_LUA") or "lua5.4"
    local pipe = assert(io.popen(("%s %s %s 2>&1"):format(lua, script, KEY)))
    local out = pipe:read("*a")
    pipe:close()
    os.remove(script)
    local seen = {}
    for line in out:gmatch("[^\n]+") do seen[#seen + 1] = line end
    -- The hook looked at many lines of the module's code, and found the key in none.
    local looked = tonumber((table.remove(seen, 1) or ""):match("^lines (%d+)$"))
    assert(looked, "the child said: " .. out)
    assert.is_true(looked > 1000, "the hook saw " .. tostring(looked) .. " lines")
    assert.same({}, seen)
  end)

  it("do not follow a redirect: the 3xx is the result, and the other server sees nothing", function()
    local other = fake.start()
    for _, status in ipairs{ 301, 302, 303, 307, 308 } do
      server:script("/v1/moved", { { status = status, headers = { location = other.url .. "/stolen" } } })
      local res, err = client:request{ path = "/moved", method = "POST", body = "payload" }
      assert.is_nil(res)
      assert.equal("api", err.type)
      assert.equal(status, err.status)
    end
    server:script(CHAT, { { status = 307, headers = { location = other.url .. "/chat/completions" } } })
    local reply, err = client:chat{ messages = MESSAGES }
    assert.is_nil(reply)
    assert.equal(307, err.status)
    assert.same({}, other:requests())
    other:stop()
  end)

  it("refuse CR, LF or NUL in any header name or value, sending nothing", function()
    local breaks = { "\r", "\n", "\r\n", "\0", "a\r\nInjected: 1" }
    local attempts = 0
    for _, bad in ipairs(breaks) do
      local cases = {
        function() gptaudio.new{ headers = { ["X-Name" .. bad] = "v" } } end,
        function() gptaudio.new{ headers = { ["X-Value"] = "v" .. bad } } end,
        function() gptaudio.new{ api_key = KEY .. bad } end,
        function() gptaudio.new{ organization = "org" .. bad } end,
        function() gptaudio.new{ project = "proj" .. bad } end,
        function() client:request{ path = "/models", headers = { ["X-Name" .. bad] = "v" } } end,
        function() client:request{ path = "/models", headers = { ["X-Value"] = "v" .. bad } } end,
        function() client:chat{ messages = MESSAGES, headers = { ["X-Value"] = bad } } end,
        function() client:speak("hi", { model = "tts-1", headers = { ["X-Name" .. bad] = "v" } }) end,
      }
      for i, case in ipairs(cases) do
        attempts = attempts + 1
        local ok, err = pcall(case)
        assert.is_false(ok, ("case %d with %q was accepted"):format(i, bad))
        assert.matches("contains CR, LF or NUL", tostring(err))
        assert.is_nil(tostring(err):find(KEY, 1, true))
      end
    end
    assert.equal(45, attempts)
    assert.same({}, server:requests())
  end)

  it("keep responses within max_response_bytes (64 MiB unless set): over it fails cleanly", function()
    assert.equal(64 * 2 ^ 20, client.options.max_response_bytes)
    local megabyte = ("x"):rep(2 ^ 20)
    -- 65 MiB, announced by its length (refused before the body) and chunked (cut at the limit)
    server:script("/v1/huge", { { body = megabyte, ["repeat"] = 65 },
                                { body = megabyte, ["repeat"] = 65, no_length = true } })
    for _ = 1, 2 do
      local started = core.now()
      local res, err = client:request{ path = "/huge", max_retries = 0 }
      assert.is_true(core.now() - started < 30)
      assert.is_nil(res)
      assert.equal("too_large", err.type)
      assert.equal("response body larger than max_response_bytes (67108864)", err.message)
    end
    -- the boundary, on a small limit: the limit itself is fine, one byte more is not
    local small = gptaudio.new{ api_key = KEY, base_url = server.url, max_retries = 0, max_response_bytes = 1000 }
    server:script("/v1/edge", { { body = ("e"):rep(1000) }, { body = ("e"):rep(1001) },
                                { body = ("e"):rep(1001), no_length = true } })
    assert.equal(1000, #assert(small:request{ path = "/edge" }).body)
    assert.equal("too_large", select(2, small:request{ path = "/edge" }).type)
    assert.equal("too_large", select(2, small:request{ path = "/edge" }).type)
    small:close()
  end)
end)
