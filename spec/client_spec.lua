local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local fake = require "spec.support.fake"

local KEY = "sk-client-spec-0123456789"

describe("gptaudio.new", function()
  it("raises naming an unknown option", function()
    assert.has_error(function() gptaudio.new{ api_key = "k", modle = "x" } end, "gptaudio.new: unknown option 'modle'")
  end)

  it("raises naming an option of the wrong type", function()
    assert.has_error(function() gptaudio.new{ timeout = "10" } end,
                     "gptaudio.new: 'timeout' must be positive number (got string)")
    assert.has_error(function() gptaudio.new{ max_retries = 1.5 } end,
                     "gptaudio.new: 'max_retries' must be non-negative integer (got number)")
    assert.has_error(function() gptaudio.new{ max_concurrency = 0 } end,
                     "gptaudio.new: 'max_concurrency' must be positive integer (got number)")
    assert.has_error(function() gptaudio.new{ model_check = "loose" } end,
                     'gptaudio.new: \'model_check\' must be "exact" or "prefix" or "false" (got string)')
    assert.has_error(function() gptaudio.new{ log = true } end,
                     "gptaudio.new: 'log' must be function (got boolean)")
    assert.has_error(function() gptaudio.new("x") end, "gptaudio.new: 'options' must be table (got string)")
  end)

  it("applies the documented defaults", function()
    local client = gptaudio.new{ api_key = false, base_url = "http://127.0.0.1:9/v1/" }
    local o = client.options
    assert.equal("http://127.0.0.1:9/v1", o.base_url)
    assert.same({ "gpt-audio-mini", "alloy", "exact", 600, 10, 2, 16, 64 * 2 ^ 20, 1, 60 },
                { o.model, o.voice, o.model_check, o.timeout, o.connect_timeout, o.max_retries,
                  o.max_concurrency, o.max_response_bytes, o.low_speed_limit, o.low_speed_time })
    assert.is_nil(o.api_key)
    client:close()
  end)

  it("reads OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID and OPENAI_PROJECT_ID", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
      local client = require("gptaudio").new{}
      local from_option = require("gptaudio").new{ base_url = "http://127.0.0.1:2/v1", organization = false }
      io.write(tostring(client), " ", client.options.organization, " ", client.options.project, " ",
               tostring(from_option), " ", tostring(from_option.options.organization))
    ]])
    f:close()
    local command = ("%s OPENAI_API_KEY=sk-env OPENAI_BASE_URL=http://127.0.0.1:1/v1 OPENAI_ORG_ID=org-1 "
                     .. "OPENAI_PROJECT_ID=proj-1 %s %s"):format(fake.spawn_env(), os.getenv("GPTAUDIO_LUA"), script)
    local out = io.popen(command):read("*a")
    os.remove(script)
    assert.equal("gptaudio.Client(http://127.0.0.1:1/v1, model gpt-audio-mini) org-1 proj-1 "
                 .. "gptaudio.Client(http://127.0.0.1:2/v1, model gpt-audio-mini) false", out)
  end)

  it("refuses CR, LF or NUL in a header name or value, naming the header", function()
    assert.has_error(function() gptaudio.new{ headers = { ["X-Evil"] = "a\r\nInjected: 1" } } end,
                     "gptaudio.new: header 'X-Evil' contains CR, LF or NUL")
    assert.has_error(function() gptaudio.new{ headers = { ["X-Evil\n"] = "a" } } end,
                     "gptaudio.new: header 'X-Evil\\n' contains CR, LF or NUL")
    assert.has_error(function() gptaudio.new{ api_key = "sk-x\nInjected: 1" } end,
                     "gptaudio.new: header 'Authorization' contains CR, LF or NUL")
    assert.has_error(function() gptaudio.new{ headers = { ["X-Nul"] = "a\0b" } } end,
                     "gptaudio.new: header 'X-Nul' contains CR, LF or NUL")
    local client = gptaudio.new{ api_key = "k", base_url = "http://127.0.0.1:9/v1" }
    assert.has_error(function() client:request{ path = "/x", headers = { ["X-Per-Call"] = "a\rb" } } end,
                     "client:request: header 'X-Per-Call' contains CR, LF or NUL")
    assert.equal(0, client:step(0))
    client:close()
  end)
end)

describe("client:request", function()
  local server, client

  setup(function() server = fake.start() end)
  teardown(function() server:stop() end)
  before_each(function()
    server:clear()
    client = gptaudio.new{ api_key = KEY, base_url = server.url, organization = "org-9", project = "proj-9",
                           headers = { ["X-Client"] = "c", ["X-Both"] = "client" } }
  end)
  after_each(function() client:close() end)

  it("sends JSON with the documented headers and returns status, headers, body and json", function()
    server:script("/v1/things", { { status = 201, body = '{"id": "t_1", "n": 3}',
                                    headers = { ["X-Extra"] = "e", ["Content-Type"] = "application/json" } } })
    local res = assert(client:request{ method = "POST", path = "/things", json = { a = gptaudio.json.array{} },
                                       headers = { ["X-Both"] = "call", ["x-call"] = "1" } })
    assert.equal(201, res.status)
    assert.equal("e", res.headers["x-extra"])
    assert.equal("req_1", res.headers["x-request-id"])
    assert.equal('{"id": "t_1", "n": 3}', res.body)
    assert.same({ id = "t_1", n = 3 }, res.json)
    local sent = server:requests("/v1/things")
    assert.equal(1, #sent)
    assert.equal("POST", sent[1].method)
    assert.equal('{"a":[]}', sent[1].body)
    local h = sent[1].headers
    assert.equal("Bearer " .. KEY, h.authorization)
    assert.equal("org-9", h["openai-organization"])
    assert.equal("proj-9", h["openai-project"])
    assert.equal("application/json", h["content-type"])
    assert.equal("gptaudio/" .. gptaudio.VERSION, h["user-agent"])
    assert.equal("c", h["x-client"])
    assert.equal("call", h["x-both"])
    assert.equal("1", h["x-call"])
  end)

  it("sends no Authorization without a key, and drops a header set to false", function()
    local bare = gptaudio.new{ api_key = false, base_url = server.url, headers = { ["User-Agent"] = false } }
    assert(bare:request{ path = "/models" })
    local h = server:requests("/v1/models")[1].headers
    assert.is_nil(h.authorization)
    assert.is_nil(h["openai-organization"])
    assert.is_nil(h["user-agent"])
    bare:close()
  end)

  it("uses GET without a body and sends a raw body as given", function()
    assert.equal("list", assert(client:request{ path = "/models" }).json.object)
    server:script("/v1/raw", { { body = "plain" } })
    local res = assert(client:request{ path = "/raw", body = "\0bytes\255", headers = { ["Content-Type"] = "x/y" } })
    assert.equal("plain", res.body)
    assert.is_nil(res.json)
    local sent = server:requests("/v1/raw")[1]
    assert.equal("POST", sent.method)
    assert.equal("\0bytes\255", sent.body)
    assert.equal("x/y", sent.headers["content-type"])
    assert.equal("GET", server:requests("/v1/models")[1].method)
  end)

  it("sends multipart parts", function()
    server:script("/v1/upload", { { json = { ok = true } } })
    assert(client:request{ path = "/upload", multipart = {
      { name = "purpose", data = "batch" },
      { name = "file", data = "line\n", filename = "a.jsonl", content_type = "application/jsonl" },
    } })
    local sent = server:requests("/v1/upload")[1]
    assert.matches("^multipart/form%-data; boundary=", sent.headers["content-type"])
    assert.matches('name="purpose"\r\n\r\nbatch\r\n', sent.body, 1, true)
    assert.matches('filename="a.jsonl"\r\nContent-Type: application/jsonl\r\n\r\nline\n\r\n', sent.body, 1, true)
  end)

  it("raises on programmer errors at the call, naming the field", function()
    assert.has_error(function() client:request{ path = "/x", jsno = {} } end, "client:request: unknown field 'jsno'")
    assert.has_error(function() client:request{ path = 3 } end, "client:request: 'path' must be string (got number)")
    assert.has_error(function() client:request{ path = "x" } end,
                     "client:request: 'path' must start with / or be an http(s) URL")
    assert.has_error(function() client:request{ path = "/x", json = {}, body = "" } end,
                     "client:request: give only one of 'json', 'body' and 'multipart'")
    assert.has_error(function() client:request{ path = "/x", json = { f = print } } end)
    assert.has_error(function() client:request{ path = "/x", timeout = -1 } end,
                     "client:request: 'timeout' must be positive number (got number)")
    assert.has_error(function() client:start("nope") end, "client:start: unknown kind 'nope'")
    assert.has_error(function() client:request{ path = "/x", multipart = { { name = "a" } } } end,
                     "client:request: multipart[1] needs one of 'data' and 'path'")
    assert.has_error(function() client:request{ path = "/x", multipart = { { name = 1, data = "" } } } end,
                     "client:request: 'multipart[1].name' must be string (got number)")
    assert.equal(0, #server:requests())
  end)

  it("turns an error status into an api error with the API's fields", function()
    server:script("/v1/bad", { { status = 400, headers = { ["x-request-id"] = "req_bad" }, json = {
      error = { message = "Invalid value for 'model'.", type = "invalid_request_error", param = "model",
                code = "invalid_value" } } } })
    local res, err = client:request{ path = "/bad", json = {} }
    assert.is_nil(res)
    assert.equal(gptaudio.Error, getmetatable(err))
    assert.same({ "api", 400, "invalid_value", "Invalid value for 'model'.", "model", "invalid_request_error",
                  "req_bad", 1 },
                { err.type, err.status, err.code, err.message, err.param, err.api_type, err.request_id, err.attempts })
    assert.equal("gptaudio api error 400 (invalid_value): Invalid value for 'model'. [param model] "
                 .. "[request req_bad] [attempts 1]", tostring(err))
  end)

  it("keeps a null code and param as nil, and uses the body when it is no API error", function()
    server:script("/v1/bad", {
      { status = 404, json = { error = { message = "gone", type = "not_found", param = gptaudio.json.null,
                                         code = gptaudio.json.null } } },
      { status = 403, body = "  <html>Forbidden by proxy</html>\n" },
      { status = 401, body = "" },
    })
    local _, err = client:request{ path = "/bad" }
    assert.same({ "gone", "not_found" }, { err.message, err.api_type })
    assert.is_nil(err.code)
    assert.is_nil(err.param)
    _, err = client:request{ path = "/bad" }
    assert.same({ 403, "<html>Forbidden by proxy</html>" }, { err.status, err.message })
    _, err = client:request{ path = "/bad" }
    assert.same({ 401, "HTTP status 401" }, { err.status, err.message })
  end)

  it("is driven by a plain loop around step", function()
    server:default("/v1/slow", { delay = 0.2, json = { ok = true } })
    local tasks = {}
    for i = 1, 3 do tasks[i] = gptaudio.spawn(function() return client:request{ path = "/slow" } end) end
    assert.equal(3, client:step(0))
    local steps = 0
    while client:step(0.05) > 0 do steps = steps + 1 end
    assert.is_true(steps > 1)
    for i = 1, 3 do
      assert.equal("done", tasks[i]:status())
      assert.equal(200, tasks[i]:result().status)
    end
    assert.is_nil(client:timeout())
  end)

  it("step returns at once when no transfer is active and no timer is set, whatever its timeout", function()
    for _, timeout in ipairs{ 0.5, 5, 1e9, math.huge } do
      local started = core.now()
      assert.equal(0, client:step(timeout))
      assert.is_true(core.now() - started < 0.1, ("step(%g) took %.3f s"):format(timeout, core.now() - started))
    end
  end)

  it("step with no transfer still waits for the next timer, and no longer", function()
    local task = gptaudio.spawn(function() return client.scheduler:sleep(0.3) end)
    local started = core.now()
    assert.equal(0, client:step(5))
    local elapsed = core.now() - started
    assert.equal("done", task:status())
    assert.is_true(elapsed > 0.25 and elapsed < 1, ("took %.3f s"):format(elapsed))
  end)

  it("step waits for an active transfer and for a retry's delay", function()
    server:script("/v1/again", { { status = 500, headers = { ["retry-after-ms"] = "300" }, json = {} },
                                 { delay = 0.2, json = { ok = true } } })
    local task = gptaudio.spawn(function() return client:request{ path = "/again", max_retries = 1 } end)
    local started, steps = core.now(), 0
    while client:step(5) > 0 do steps = steps + 1 end
    local elapsed = core.now() - started
    assert.equal(200, task:result().status)
    assert.equal(2, #server:requests("/v1/again"))
    -- Each step waited for something (a response, the retry timer): a handful, not a busy loop.
    assert.is_true(steps >= 2 and steps < 20, steps .. " steps")
    assert.is_true(elapsed > 0.45 and elapsed < 2, ("took %.3f s"):format(elapsed))
  end)

  it("raises for a blocking call that waits on work its client does not drive, instead of spinning", function()
    server:default("/v1/models", { json = { data = {} } })
    local elsewhere = gptaudio.engine.new() -- the work of another engine: client's engine does not drive it
    local other = gptaudio.new{ api_key = KEY, base_url = server.url, engine = elsewhere }
    local steps, step = 0, client.engine.drive_step
    client.engine.drive_step = function(self, wait, where)
      steps = steps + 1
      return step(self, wait, where)
    end
    assert.has_error(function()
      client:map({ 1 }, function() return other:request{ path = "/models" } end)
    end, "gptaudio: this call waits on work its client does not drive (a request of another client,"
         .. " or a task that yields by itself): it could never end")
    client.engine.drive_step = nil
    assert.equal(1, steps)
    other:close()
    elsewhere:close()
  end)

  it("runs 20 slow requests at once", function()
    server:default("/v1/slow", { delay = 0.3, json = { ok = true } })
    local started = core.now()
    local tasks = {}
    for i = 1, 20 do tasks[i] = gptaudio.spawn(function() return client:request{ path = "/slow" } end) end
    while client:step(0.05) > 0 do end
    local elapsed = core.now() - started
    for i = 1, 20 do assert.equal(200, tasks[i]:result().status) end
    assert.equal(20, #server:requests("/v1/slow"))
    assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
  end)

  it("queues beyond max_concurrency, in order, without starting the queued timeouts", function()
    local two = gptaudio.new{ api_key = KEY, base_url = server.url, max_concurrency = 2 }
    server:default("/v1/slow", { delay = 0.4, json = { ok = true } })
    local tasks = {}
    for i = 1, 5 do tasks[i] = gptaudio.spawn(function() return two:request{ path = "/slow?i=" .. i } end) end
    -- behind the slow ones for 0.8 s, yet its 0.5 s timeout only starts when it leaves the queue
    local quick = gptaudio.spawn(function() return two:request{ path = "/models", timeout = 0.5, max_retries = 0 } end)
    while two:step(0.05) > 0 do end
    for i = 1, 5 do assert.equal(200, tasks[i]:result().status) end
    assert.equal(200, quick:result().status)
    local seen = server:requests()
    assert.equal(6, #seen)
    local arrived = {}
    for _, r in ipairs(seen) do arrived[r.path] = r.time end
    -- first in, first out: two at a time, the quick one last, with the fifth
    local waves = { { 1, 2 }, { 3, 4 }, { 5 } }
    for w = 1, 2 do
      for _, i in ipairs(waves[w]) do
        for _, j in ipairs(waves[w + 1]) do
          assert.is_true(arrived["/v1/slow?i=" .. i] < arrived["/v1/slow?i=" .. j], i .. " before " .. j)
        end
      end
    end
    assert.is_true(arrived["/v1/slow?i=4"] < arrived["/v1/models"])
    -- never more than two at once: any three arrivals span at least one server delay
    for i = 1, #seen - 2 do
      assert.is_true(seen[i + 2].time - seen[i].time > 0.3, "three requests at once near " .. i)
    end
    two:close()
  end)

  it("fails an attempt that takes longer than timeout with type timeout", function()
    server:script("/v1/slow", { { delay = 3, json = {} } })
    local started = core.now()
    local res, err = client:request{ path = "/slow", timeout = 0.3, max_retries = 0 }
    assert.is_nil(res)
    assert.equal("timeout", err.type)
    assert.equal(1, err.attempts)
    assert.is_true(core.now() - started < 2)
  end)

  it("fails a stalled stream through the low-speed limit with type timeout", function()
    local stalling = gptaudio.new{ api_key = KEY, base_url = server.url, low_speed_time = 1, max_retries = 0 }
    server:script("/v1/stall", { { events = { "1" }, silence = 6 } })
    local started = core.now()
    local res, err = stalling:request{ path = "/stall", stream = true }
    assert.is_nil(res)
    assert.equal("timeout", err.type)
    assert.equal(1, err.attempts)
    assert.is_true(core.now() - started < 4)
    stalling:close()
  end)

  it("fails a response larger than max_response_bytes with type too_large, without retrying", function()
    local small = gptaudio.new{ api_key = KEY, base_url = server.url, max_response_bytes = 1000 }
    server:script("/v1/big", { { body = string.rep("x", 5000) } })
    local res, err = small:request{ path = "/big" }
    assert.is_nil(res)
    assert.equal("too_large", err.type)
    assert.equal(1, err.attempts)
    assert.equal(1, #server:requests("/v1/big"))
    small:close()
  end)

  it("exposes pollfd, events and timeout for an outer loop", function()
    assert.equal("number", type(client:pollfd()))
    assert.equal("r", client:events())
    assert.is_nil(client:timeout())
    local req = client:start("request", { path = "/models" })
    assert.is_true(client:timeout() >= 0)
    req:cancel()
  end)

  it("refuses step from inside a task or a callback", function()
    local scheduler = require "gptaudio.engine.scheduler"
    local logged = {}
    local default_log = scheduler.default_log
    scheduler.default_log = function(level, message) logged[#logged + 1] = level .. ": " .. message end
    local task = gptaudio.spawn(function() return client:step(0) end)
    scheduler.default_log = default_log
    assert.same({ "error: task failed: gptaudio: client:step is not re-entrant: do not call it from a task "
                  .. "or a callback" }, logged)
    assert.equal("failed", task:status())
    assert.equal("gptaudio: client:step is not re-entrant: do not call it from a task or a callback",
                 select(2, task:result()))
    server:script("/v1/s", { { events = { "a" } } })
    local res, err = client:request{ path = "/s", stream = true, on_event = function() client:step(0) end }
    assert.is_nil(res)
    assert.equal("interrupted", err.type)
    assert.equal("gptaudio: client:step is not re-entrant: do not call it from a task or a callback", err.message)
  end)

  it("cancels everything on close and raises on later calls", function()
    server:default("/v1/slow", { delay = 1, json = {} })
    local task = gptaudio.spawn(function() return client:request{ path = "/slow" } end)
    local req = client:start("request", { path = "/slow" })
    client:close()
    assert.equal("cancelled", req:status())
    assert.equal("cancelled", select(2, task:result()).type)
    assert.equal(0, client.transport:active())
    assert.has_error(function() client:request{ path = "/models" } end, "gptaudio: the client is closed")
    assert.has_error(function() client:step(0) end, "gptaudio: the client is closed")
    client:close()
  end)

  it("closes at the end of a to-be-closed scope on Lua 5.4", function()
    if not _VERSION:find("5.4") then return end
    local body = load([[
      local gptaudio, url = ...
      local c <close> = gptaudio.new{ api_key = "k", base_url = url }
      return c
    ]])
    assert.is_true(body(gptaudio, server.url).closed)
  end)
end)
