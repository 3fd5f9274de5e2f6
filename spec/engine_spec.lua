-- The engine: one transport, timers and tasks shared by many clients. Two
-- clients in one task, a blocking call across clients inside map, one
-- connection for two clients talking to one host, the module-level driving
-- functions, and hand-overs of freed slots through the scheduler (no nested
-- resume: 1,000 queued requests that fail at once).
local gptaudio = require "gptaudio"
local engine = require "gptaudio.engine"
local util = require "spec.support.util"
local setup_ = require "spec.support.setup"

describe("the engine", function()
  local server
  setup_.fake_server(function(s) server = s end)

  local function new_client(options)
    local all = { api_key = "sk-test", base_url = server.url, max_retries = 0 }
    for k, v in pairs(options or {}) do all[k] = v end
    return gptaudio.new(all)
  end

  it("is shared by default: every client runs on the default engine", function()
    local a, b = new_client(), new_client()
    assert.equal(engine.default(), a.engine)
    assert.equal(a.engine, b.engine)
    a:close()
    b:close()
  end)

  it("lets one task await two clients' requests at once", function()
    server:default("/v1/slow", { delay = 0.2, json = { ok = true } })
    local a, b = new_client(), new_client{ api_key = "sk-other" }
    local task = gptaudio.spawn(function()
      local ra, rb = a:start("request", { path = "/slow" }), b:start("request", { path = "/slow" })
      return ra:wait().status, rb:wait().status
    end)
    local started = require("gptaudio.core").now()
    while gptaudio.step(1) > 0 do end
    local elapsed = require("gptaudio.core").now() - started
    assert.same({ 200, 200 }, { task:result() })
    -- concurrent: well under the 0.4 s two requests one after the other take
    assert.is_true(elapsed < 0.39, ("took %.3f s"):format(elapsed))
    local keys = {}
    for _, r in ipairs(server:requests("/v1/slow")) do keys[#keys + 1] = r.headers.authorization end
    table.sort(keys)
    assert.same({ "Bearer sk-other", "Bearer sk-test" }, keys)
    a:close()
    b:close()
  end)

  it("runs a blocking call of another client inside map", function()
    server:default("/v1/models", { json = { data = {} } })
    local a, b = new_client(), new_client()
    local results = a:map({ 1, 2, 3 }, function() return b:request{ path = "/models" } end)
    assert.equal(3, #results)
    for i = 1, 3 do
      assert.is_true(results[i].ok)
      assert.equal(200, results[i].value.status)
    end
    assert.equal(3, #server:requests("/v1/models"))
    a:close()
    b:close()
  end)

  it("reuses one connection for two clients alternating 200 requests to one host", function()
    server:default("/v1/models", { json = { data = {} } })
    local a, b = new_client(), new_client()
    for i = 1, 200 do
      local res = assert((i % 2 == 1 and a or b):request{ path = "/models" })
      assert.equal(200, res.status)
    end
    local connections = {}
    local requests = server:requests("/v1/models")
    assert.equal(200, #requests)
    for _, r in ipairs(requests) do connections[r.connection] = true end
    local count = 0
    for _ in pairs(connections) do count = count + 1 end
    assert.equal(1, count)
    a:close()
    b:close()
  end)

  it("keeps clients of different engines apart", function()
    server:default("/v1/slow", { delay = 0.1, json = {} })
    local e = engine.new()
    local a, b = new_client(), new_client{ engine = e }
    assert.equal(e, b.engine)
    assert.are_not.equal(a.engine, b.engine)
    local req = b:start("request", { path = "/slow" })
    assert.equal(0, gptaudio.active())
    assert.equal(1, e:active())
    while e:step(1) > 0 do end
    assert.equal(200, req:result().status)
    a:close()
    b:close()
    e:close()
    assert.has_error(function() e:step(0) end, "gptaudio: the engine is closed")
    assert.has_error(function() new_client{ engine = e } end, "gptaudio: the engine is closed")
  end)

  it("drives the default engine from the module: step, pollfd, events, timeout, active", function()
    server:default("/v1/slow", { delay = 0.1, json = {} })
    local a = new_client()
    assert.equal("number", type(gptaudio.pollfd()))
    assert.equal("r", gptaudio.events())
    assert.is_nil(gptaudio.timeout())
    assert.equal(0, gptaudio.active())
    local req = a:start("request", { path = "/slow" })
    assert.equal(1, gptaudio.active())
    assert.is_true(gptaudio.timeout() >= 0)
    while gptaudio.step(1) > 0 do end
    assert.equal("done", req:status())
    assert.equal(0, gptaudio.active())
    assert.has_error(function() gptaudio.step(-1) end,
                     "gptaudio.step: 'timeout' must be non-negative number (got number)")
    local scheduler = require "gptaudio.engine.scheduler"
    local default_log, logged = scheduler.default_log, {}
    scheduler.default_log = function(_, message) logged[#logged + 1] = message end
    local task = gptaudio.spawn(function() return gptaudio.step(0) end)
    scheduler.default_log = default_log
    assert.equal(1, #logged)
    assert.equal("gptaudio: gptaudio.step is not re-entrant: do not call it from a task or a callback",
                 select(2, task:result()))
    a:close()
  end)

  it("closes its clients' requests on close; a new default engine replaces a closed one", function()
    server:default("/v1/slow", { delay = 1, json = {} })
    local e = engine.new()
    local a = new_client{ engine = e }
    local req = a:start("request", { path = "/slow" })
    e:close()
    assert.equal("cancelled", req:status())
    assert.equal("gptaudio.Engine(closed, 0 active)", tostring(e))
    a:close()
    local default = engine.default()
    default:close()
    assert.are_not.equal(default, engine.default())
    assert.is_false(engine.default().closed == true)
  end)

  it("hands 1,000 freed slots over through the scheduler when the queued requests all fail at once", function()
    server:default("/v1/slow", { delay = 0.2, json = {} })
    server:default("/v1/upload", { json = {} })
    local dir = util.temp_dir()
    local path = dir .. "/gone.wav"
    util.write_file(path, "RIFF")
    local a = new_client{ max_concurrency = 1 }
    local first = a:start("request", { path = "/slow" })
    local queued = {}
    for i = 1, 1000 do
      queued[i] = a:start("request", { path = "/upload", multipart = { { name = "file", path = path } } })
    end
    os.remove(path)
    while a:step(1) > 0 do end
    assert.equal("done", first:status())
    local failed = 0
    for _, req in ipairs(queued) do
      local _, err = req:result()
      if req:status() == "failed" and err then failed = failed + 1 end
    end
    assert.equal(1000, failed)
    assert.equal(0, a:active())
    assert.equal(0, a.running)
    assert.equal(0, gptaudio.active())
    -- and the client still works
    assert.equal(200, assert(a:request{ path = "/upload" }).status)
    a:close()
    util.remove_tree(dir)
  end)
end)
