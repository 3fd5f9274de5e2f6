-- client:map against the fake server: every item once and in order, the
-- concurrency cap and the rate limit as the server sees them, 429s that slow
-- the whole job, usage that corrects the token estimate.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local setup_ = require "spec.support.setup"

local OK = { json = { done = true } }

local function api_error(status)
  return { status = status, json = { error = { message = "status " .. status, type = "server_error",
                                               param = gptaudio.json.null, code = gptaudio.json.null } } }
end

-- Arrival times at the server, sorted.
local function arrivals(server, path)
  local times = {}
  for _, r in ipairs(server:requests(path)) do times[#times + 1] = r.time end
  table.sort(times)
  return times
end

describe("client:map", function()
  local server, client
  setup_.fake_client({ api_key = "sk-map" }, function(s, c) server, client = s, c end)

  local function post(path, i)
    local res, err = client:request{ method = "POST", path = path, json = { item = i } }
    if not res then return nil, err end
    return { item = i, status = res.status }
  end

  it("accounts for 1,000 items exactly once, in order, with failures mixed in", function()
    server:default("/v1/ok", OK)
    server:default("/v1/broken", api_error(500))
    server:default("/v1/invalid", api_error(400))
    local progress, seen = 0, {}
    local items = {}
    for i = 1, 1000 do items[i] = i end
    local results = client:map(items, function(_, i)
      if i % 13 == 0 then error("item " .. i .. " raised") end
      if i % 7 == 0 then return post("/broken", i) end
      if i % 11 == 0 then return post("/invalid", i) end
      return post("/ok", i)
    end, { concurrency = 16, on_progress = function(done, total, result, i)
      progress = progress + 1
      assert.equal(progress, done)
      assert.equal(1000, total)
      assert.is_nil(seen[i])
      seen[i] = result
    end })
    assert.equal(1000, #results)
    assert.equal(1000, progress)
    local counts = { ok = 0, [500] = 0, [400] = 0, raised = 0 }
    for i = 1, 1000 do
      local r = results[i]
      assert.equal(seen[i], r)
      if i % 13 == 0 then
        assert.is_false(r.ok)
        assert.equal("item " .. i .. " raised", r.error:match("item %d+ raised$"))
        counts.raised = counts.raised + 1
      elseif i % 7 == 0 or i % 11 == 0 then
        assert.is_false(r.ok)
        assert.equal(core.Error, getmetatable(r.error))
        assert.equal("api", r.error.type)
        assert.equal(i % 7 == 0 and 500 or 400, r.error.status)
        counts[r.error.status] = counts[r.error.status] + 1
      else
        assert.same({ ok = true, value = { item = i, status = 200 } }, r)
        counts.ok = counts.ok + 1
      end
    end
    -- 1..1000: 76 multiples of 13; 132 of 7 and 72 of 11 that are not multiples of an earlier rule.
    assert.same({ ok = 720, [500] = 132, [400] = 72, raised = 76 }, counts)
    local got = {}
    for _, r in ipairs(server:requests()) do
      local i = r.json.item
      assert.is_nil(got[i], "item " .. i .. " sent twice")
      got[i] = r.path
    end
    for i = 1, 1000 do
      local path = i % 7 == 0 and "/v1/broken" or i % 11 == 0 and "/v1/invalid" or "/v1/ok"
      assert.equal(i % 13 ~= 0 and path or nil, got[i])
    end
  end)

  it("keeps at most `concurrency` items in flight, as the server sees them", function()
    server:default("/v1/slow", { json = { done = true }, delay = 0.2 })
    local items = { "a", "b", "c", "d", "e", "f", "g", "h", "i" }
    local started = core.now()
    local results = client:map(items, function(item, i)
      local res, err = client:request{ method = "POST", path = "/slow", json = { item = item } }
      return res and (item .. i), err
    end, { concurrency = 3 })
    local elapsed = core.now() - started
    for i, item in ipairs(items) do assert.same({ ok = true, value = item .. i }, results[i]) end
    local times = arrivals(server, "/v1/slow")
    assert.equal(9, #times)
    for k = 4, 9 do
      assert.is_true(times[k] - times[k - 3] >= 0.19,
                     ("request %d arrived %.3f s after request %d"):format(k, times[k] - times[k - 3], k - 3))
    end
    assert.is_true(elapsed < 1.5, ("three at a time take 0.6 s, not %.2f s"):format(elapsed))
  end)

  it("holds the request rate under rpm at the server, after a burst of one second's worth", function()
    server:default("/v1/ok", OK)
    local items = {}
    for i = 1, 25 do items[i] = i end
    local results = client:map(items, function(i) return post("/ok", i) end, { concurrency = 25, rpm = 600 })
    assert.equal(25, #results)
    for i = 1, 25 do assert.is_true(results[i].ok) end
    local times = arrivals(server, "/v1/ok")
    assert.equal(25, #times)
    -- 600 rpm: a burst of 10, then one every 100 ms: never more than 10 + 10 w + 1 in w seconds.
    for k = 1, 25 do
      for _, w in ipairs{ 0.25, 0.5, 1 } do
        local n = 0
        for j = k, 25 do
          if times[j] < times[k] + w then n = n + 1 end
        end
        assert.is_true(n <= 10 + 10 * w + 1, ("%d requests within %.2f s"):format(n, w))
      end
    end
    assert.is_true(times[25] - times[10] >= 1.4, ("the last 15 took %.3f s"):format(times[25] - times[10]))
    assert.is_nil((client.limiter:limits()), "map's rpm ends with the map")
  end)

  it("slows the whole job after a 429, not only the request that got it", function()
    local limited = { status = 429, headers = { ["retry-after-ms"] = "400" },
                      json = { error = { message = "slow down", type = "requests", code = "rate_limit_exceeded" } } }
    server:script("/v1/ok", { limited })
    -- The others answer later than the 429, so the client has seen it before any of them frees a slot.
    server:default("/v1/ok", { delay = 0.1, json = OK.json })
    local items = {}
    for i = 1, 9 do items[i] = i end
    local c = gptaudio.new{ api_key = "sk-map", base_url = server.url, max_retries = 2 }
    local results = c:map(items, function(i)
      local res, err = c:request{ method = "POST", path = "/ok", json = { item = i } }
      return res and res.status, err
    end, { concurrency = 3 })
    c:close()
    for i = 1, 9 do assert.same({ ok = true, value = 200 }, results[i]) end
    local requests = server:requests("/v1/ok")
    assert.equal(10, #requests)
    local limited_at = requests[1].time
    -- Those in flight with the 429 finish; every later start waits out the 400 ms.
    local later = 0
    for k = 4, 10 do
      assert.is_true(requests[k].time >= limited_at + 0.38,
                     ("request %d started %.3f s after the 429"):format(k, requests[k].time - limited_at))
      later = later + 1
    end
    assert.equal(7, later)
  end)

  it("keeps requests waiting for the limiter queued, in client:timeout(), and cancellable unsent", function()
    server:default("/v1/ok", OK)
    local c = gptaudio.new{ api_key = "sk-map", base_url = server.url, rpm = 60 } -- one a second, burst of one
    local first = c:start("request", { method = "POST", path = "/ok", json = { item = 1 } })
    local second = c:start("request", { method = "POST", path = "/ok", json = { item = 2 } })
    local third = c:start("request", { method = "POST", path = "/ok", json = { item = 3 } })
    assert.same({ "running", "queued", "queued" }, { first:status(), second:status(), third:status() })
    assert.equal(200, first:wait().status)
    assert.same({ "queued", "queued" }, { second:status(), third:status() })
    local wait = c:timeout() -- nothing in the transport: only the limiter's timer
    assert.is_true(wait ~= nil and wait > 0.5 and wait <= 1, "the limiter's timer: " .. tostring(wait))
    assert.is_true(second:cancel())
    assert.is_true(third:cancel())
    assert.equal("cancelled", select(2, second:result()).type)
    c:close()
    assert.same({ 1 }, (function()
      local items = {}
      for k, r in ipairs(server:requests("/v1/ok")) do items[k] = r.json.item end
      return items
    end)())
  end)

  it("corrects the token estimate from the usage the server reports", function()
    local function used(total)
      server:script("/v1/chat/tokens", { { json = { usage = { prompt_tokens = total - 1, completion_tokens = 1,
                                                               total_tokens = total } } } })
      local c = gptaudio.new{ api_key = "sk-map", base_url = server.url, tpm = 6000 } -- 100 tokens/s
      local res = c:request{ method = "POST", path = "/chat/tokens", json = { max_completion_tokens = 90 } }
      assert.equal(200, res.status)
      local delay = c.limiter:delay(90)
      c:close()
      return delay
    end
    assert.equal(0, used(5)) -- charged ~97, used 5: the bucket is nearly full again
    assert.is_true(used(300) > 2.5) -- used 300: owed ~200 more, over 2 s of the 100 tokens/s
  end)

  it("works inside a task (yields) as well as outside (blocks)", function()
    server:default("/v1/ok", OK)
    local results
    local task = gptaudio.spawn(function()
      results = client:map({ 10, 20, 30 }, function(n, i)
        local res, err = post("/ok", n)
        return res and res.item + i, err
      end, { concurrency = 2 })
      return #results
    end)
    assert.equal("waiting", task:status())
    while task:status() == "waiting" do client:step(0.05) end
    assert.equal("done", task:status())
    assert.equal(3, task:result())
    assert.same({ { ok = true, value = 11 }, { ok = true, value = 22 }, { ok = true, value = 33 } }, results)
  end)

  it("gives every failure shape as a result", function()
    local err = core.error{ type = "audio", message = "bad audio" }
    local results = client:map({ 1, 2, 3, 4, 5, 6 }, function(n)
      if n == 1 then return "one" end
      if n == 2 then return nil, "no luck" end
      if n == 3 then error("raised a string", 0) end
      if n == 4 then error(err) end
      if n == 5 then return false end
      return nil
    end)
    assert.same({ ok = true, value = "one" }, results[1])
    assert.same({ ok = false, error = "no luck" }, results[2])
    assert.same({ ok = false, error = "raised a string" }, results[3])
    assert.equal(err, results[4].error)
    assert.same({ ok = true, value = false }, results[5])
    assert.same({ ok = false, error = "client:map: fn returned nil" }, results[6])
    assert.same({}, client:map({}, function() error("never") end))
  end)

  it("stops starting items when stop() says so; those not started end cancelled", function()
    local ran = 0
    local results = client:map({ 1, 2, 3, 4, 5, 6, 7, 8 }, function(n)
      ran = ran + 1
      return n * 2
    end, { concurrency = 2, stop = function() return ran >= 3 end })
    assert.equal(3, ran)
    assert.equal(8, #results)
    for i = 1, 3 do assert.same({ ok = true, value = i * 2 }, results[i]) end
    for i = 4, 8 do
      assert.is_false(results[i].ok)
      assert.equal("cancelled", results[i].error.type)
      assert.equal(core.Error, getmetatable(results[i].error))
    end
  end)

  it("re-raises what on_progress raised once the items in flight end, and lifts its limits", function()
    local ran = 0
    assert.has_error(function()
      client:map({ 1, 2, 3, 4 }, function(n)
        ran = ran + 1
        return n
      end, { concurrency = 1, rpm = 6000, on_progress = function(done) if done == 2 then error("enough", 0) end end })
    end, "enough")
    assert.equal(2, ran)
    assert.is_nil((client.limiter:limits()))
  end)

  it("outside a task, raises before starting anything when the attached loop must not block", function()
    local loop = { wakeup = function() end }
    client:attach_loop(loop)
    local called = false
    assert.has_error(function() client:map({ 1 }, function() called = true end) end,
                     "gptaudio: call this from gptaudio.spawn: a call outside a task would block the event loop")
    assert.is_false(called)
    client:detach_loop(loop)
  end)

  it("raises naming a wrong argument", function()
    assert.has_error(function() client:map("items", print) end, "client:map: 'items' must be table (got string)")
    assert.has_error(function() client:map({}, nil) end, "client:map: 'fn' must be function (got nil)")
    assert.has_error(function() client:map({}, print, { concurency = 2 }) end,
                     "client:map: unknown option 'concurency'")
    assert.has_error(function() client:map({}, print, { concurrency = 0 }) end,
                     "client:map: 'concurrency' must be positive integer (got number)")
    assert.has_error(function() client:map({}, print, { rpm = "600" }) end,
                     "client:map: 'rpm' must be positive number (got string)")
    assert.has_error(function() gptaudio.new{ tpm = -1 } end,
                     "gptaudio.new: 'tpm' must be positive number (got number)")
  end)

  it("hands each call's own on_progress the transport's progress, keeping it out of the request", function()
    local body = ("x"):rep(200000)
    server:default("/v1/big", { body = body })
    local events = {}
    local res = client:request{ method = "POST", path = "/big", json = { n = 1 },
                                on_progress = function(ev) events[#events + 1] = ev end }
    assert.equal(200000, #res.body)
    assert.is_true(#events >= 1)
    local last = events[#events]
    assert.same({ "progress", 200000, 200000, 7, 7 },
                { last.type, last.dl_now, last.dl_total, last.ul_now, last.ul_total })
    assert.same({ n = 1 }, server:requests("/v1/big")[1].json)
    assert.has_error(function() client:request{ path = "/big", on_progress = "bar" } end,
                     "client:request: 'on_progress' must be function (got string)")
  end)
end)
