local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local setup_ = require "spec.support.setup"

describe("Request handles and streams", function()
  local server, client
  -- The client's own retries (2), not the helper's 0.
  setup_.fake_client({ api_key = "k", max_retries = 2 }, function(s, c) server, client = s, c end)

  -- Steps until ready() holds (or a generous bound passes).
  local function step_until(ready)
    for _ = 1, 200 do
      if ready() then return end
      client:step(0.02)
    end
    error("condition not reached")
  end

  it("goes queued, running, streaming, done, with no result before the end", function()
    local one = gptaudio.new{ api_key = "k", base_url = server.url, max_concurrency = 1 }
    server:script("/v1/first", { { delay = 0.3, json = {} } })
    server:script("/v1/s", { { events = { "a", "b" }, chunk_delay = 0.3 } })
    local first = one:start("request", { path = "/first" })
    local req = one:start("request", { path = "/s", stream = true })
    assert.equal("running", first:status())
    assert.equal("queued", req:status())
    assert.equal(1, select("#", req:result()))
    assert.is_nil(req:result())
    while req:status() == "queued" do one:step(0.02) end
    assert.equal("done", first:status())
    local seen = {}
    repeat
      seen[req:status()] = true
      one:step(0.02)
    until req:status() == "done"
    assert.is_true(seen.running)
    assert.is_true(seen.streaming)
    assert.same({ "a", "b" }, { req:result().events[1].data, req:result().events[2].data })
    assert.equal("gptaudio.Request(GET /s, done)", tostring(req))
    one:close()
  end)

  it("ends failed with nil, err", function()
    server:script("/v1/bad", { { status = 404, json = { error = { message = "nope" } } } })
    local req = client:start("request", { path = "/bad" })
    local res, err = req:wait()
    assert.equal("failed", req:status())
    assert.is_nil(res)
    assert.equal("nope", err.message)
    assert.equal(err, select(2, req:result()))
  end)

  it("wakes every task that waits on it", function()
    server:script("/v1/slow", { { delay = 0.2, json = { n = 1 } } })
    local req = client:start("request", { path = "/slow" })
    local a = gptaudio.spawn(function() return req:wait() end)
    local b = gptaudio.spawn(function() return req:wait() end)
    while client:step(0.05) > 0 do end
    assert.equal(1, a:result().json.n)
    assert.equal(a:result(), b:result())
  end)

  it("cancels mid-stream: the waiting task wakes with cancelled and the transfer is gone", function()
    server:script("/v1/s", { { events = { "1", "2", "3", "4" }, chunk_delay = 0.5 } })
    local events = {}
    local function on_event(ev) events[#events + 1] = ev end
    local req = client:start("request", { path = "/s", stream = true, on_event = on_event })
    local task = gptaudio.spawn(function() return req:wait() end)
    step_until(function() return #events == 1 end)
    assert.equal("streaming", req:status())
    assert.equal(1, client.transport:active())
    assert.is_true(req:cancel())
    assert.equal("done", task:status())
    local res, err = task:result()
    assert.is_nil(res)
    assert.same({ "cancelled", "request cancelled" }, { err.type, err.message })
    assert.equal("cancelled", req:status())
    assert.equal(0, client.transport:active())
    assert.equal(0, client:step(0))
    assert.is_false(req:cancel())
    assert.equal(1, #events)
  end)

  it("cancels a pending retry", function()
    server:script("/v1/r", { { status = 429, headers = { ["retry-after"] = "30" }, json = {} } })
    local req = client:start("request", { path = "/r" })
    step_until(function() return #server:requests("/v1/r") == 1 and req:status() == "queued" end)
    assert.is_true(client:timeout() > 20)
    req:cancel()
    assert.is_nil(client:timeout())
    assert.equal(0, client:step(0))
    assert.equal("cancelled", select(2, req:result()).type)
    assert.equal(1, #server:requests("/v1/r"))
  end)

  it("cancels a queued request before it reaches the server", function()
    local one = gptaudio.new{ api_key = "k", base_url = server.url, max_concurrency = 1 }
    server:default("/v1/slow", { delay = 0.2, json = {} })
    local first = one:start("request", { path = "/slow?first" })
    local second = one:start("request", { path = "/slow?second" })
    local third = one:start("request", { path = "/slow?third" })
    second:cancel()
    while one:step(0.05) > 0 do end
    assert.equal("done", first:status())
    assert.equal("cancelled", second:status())
    assert.equal("done", third:status())
    local paths = {}
    for i, r in ipairs(server:requests("/v1/slow")) do paths[i] = r.path end
    assert.same({ "/v1/slow?first", "/v1/slow?third" }, paths)
    one:close()
  end)

  it("gives SSE events in order with their name, id and decoded JSON; [DONE] ends the stream", function()
    server:script("/v1/s", { { events = {
      { event = "delta", id = "7", data = { n = 1 } },
      { raw = ": a comment\n\n" },
      { data = "two\nlines" },
      "[DONE]",
      "after the end",
    } } })
    local seen = {}
    local res = assert(client:request{ path = "/s", stream = true, on_event = function(ev) seen[#seen + 1] = ev end })
    assert.equal(2, #seen)
    assert.same({ type = "event", event = "delta", id = "7", data = '{"n": 1}', json = { n = 1 } }, seen[1])
    assert.same({ type = "event", event = "", id = "7", data = "two\nlines" }, seen[2]) -- the last id stays (SSE)
    assert.same(seen, res.events)
    assert.equal("", res.body)
  end)

  it("fails on an error event, with the events before it as partial", function()
    server:script("/v1/s", { { events = {
      { data = { n = 1 } },
      { data = { error = { message = "overloaded", type = "server_error", code = "busy" } } },
    } } })
    local res, err = client:request{ path = "/s", stream = true }
    assert.is_nil(res)
    assert.same({ "api", "overloaded", "busy", "server_error", 1 },
                { err.type, err.message, err.code, err.api_type, err.attempts })
    assert.equal(1, #err.partial)
    assert.equal(1, err.partial[1].json.n)
  end)

  it("streams a raw body in order", function()
    server:script("/v1/raw", { { chunks = { "abc", "def", "ghi" }, chunk_delay = 0.05 } })
    local pieces = {}
    local res = assert(client:request{ path = "/raw", stream = "raw", on_event = function(ev)
      assert.equal("data", ev.type)
      pieces[#pieces + 1] = ev.data
    end })
    assert.equal("abcdefghi", table.concat(pieces))
    assert.equal(#pieces, #res.events)
  end)

  it("fails only the request whose on_event raised", function()
    server:script("/v1/bad", { { events = { "1", "2" }, chunk_delay = 0.2 } })
    server:script("/v1/good", { { events = { "1", "2", "3" }, chunk_delay = 0.1 } })
    local bad = gptaudio.spawn(function()
      return client:request{ path = "/bad", stream = true, on_event = function() error("callback broke", 0) end }
    end)
    local good = gptaudio.spawn(function() return client:request{ path = "/good", stream = true } end)
    while client:step(0.05) > 0 do end
    local res, err = bad:result()
    assert.is_nil(res)
    assert.same({ "interrupted", "callback broke", 1 }, { err.type, err.message, err.attempts })
    assert.equal(1, #err.partial)
    assert.equal(3, #good:result().events)
    assert.equal(1, #server:requests("/v1/bad"))
  end)

  it("lets on_event call the API itself, since it runs in the request's task", function()
    server:script("/v1/s", { { events = { "1", "2" } } })
    local nested = {}
    local res = assert(client:request{ path = "/s", stream = true, on_event = function(ev)
      nested[#nested + 1] = ev.data .. ":" .. assert(client:request{ path = "/models" }).json.object
    end })
    assert.same({ "1:list", "2:list" }, nested)
    assert.equal(2, #res.events)
  end)

  it("refuses to let a request wait for itself from its own callback", function()
    server:script("/v1/s", { { events = { "1" } } })
    local req
    req = client:start("request", { path = "/s", stream = true, on_event = function() req:wait() end })
    local _, err = req:wait()
    assert.same({ "interrupted", "gptaudio: a request cannot wait for itself from its own callback" },
                { err.type, err.message })
  end)

  describe("the registry of kinds", function()
    local kinds = require("gptaudio.client").calls
    after_each(function()
      kinds.doubled, kinds.unreadable = nil, nil
    end)

    it("runs a new kind's op: its request, its events through on_event, its result from finish", function()
      kinds.doubled = function(_, n, on_number)
        return {
          path = "/numbers", json = { n = n }, stream = "sse", max_retries = 0,
          on_event = function(_, ev) on_number(ev.json.n) end,
          finish = function(_, response) return { count = response.events, ended = response.ended } end,
        }
      end
      server:script("/v1/numbers", { { events = { { data = { n = 1 } }, { data = { n = 2 } }, "[DONE]" } } })
      local numbers = {}
      local result = assert(client:call("doubled", 21, function(n) numbers[#numbers + 1] = n * 2 end))
      assert.same({ count = 2, ended = true }, result)
      assert.same({ 2, 4 }, numbers)
      local sent = server:requests("/v1/numbers")[1]
      assert.same({ "POST", '{"n":21}' }, { sent.method, sent.body })
    end)

    it("ends a request at once when the kind returns nil, err", function()
      kinds.unreadable = function() return nil, core.error{ type = "audio", message = "not a WAV file" } end
      local req = client:start("unreadable")
      assert.equal("failed", req:status())
      assert.equal("gptaudio.Request(unreadable, failed)", tostring(req))
      local res, err = client:call("unreadable")
      assert.is_nil(res)
      assert.same({ "audio", "not a WAV file", 0 }, { err.type, err.message, err.attempts })
      assert.equal(0, #server:requests())
    end)
  end)
end)
