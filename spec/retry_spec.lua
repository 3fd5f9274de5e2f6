local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local retry = require "gptaudio.retry"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local function api_error(status, code, headers)
  return { status = status, headers = headers,
           json = { error = { message = "status " .. status, type = "server_error", param = gptaudio.json.null,
                              code = code or gptaudio.json.null } } }
end

-- An answer to retry quickly: the server asks for no wait.
local function now_error(status, code)
  return api_error(status, code, { ["retry-after-ms"] = "0" })
end

describe("retry rules", function()
  it("retries connection errors, timeouts, 408, 409, 429 and 5xx, nothing else", function()
    assert.is_true(retry.retryable(nil, nil, nil, "connection"))
    assert.is_true(retry.retryable(nil, nil, nil, "timeout"))
    assert.is_false(retry.retryable(nil, nil, nil, "too_large"))
    assert.is_false(retry.retryable(nil, nil, nil, "protocol"))
    for _, status in ipairs{ 408, 409, 429, 500, 502, 503, 504, 599 } do
      assert.is_true(retry.retryable(status, {}), "status " .. status)
    end
    for _, status in ipairs{ 400, 401, 403, 404, 422 } do
      assert.is_false(retry.retryable(status, {}), "status " .. status)
    end
  end)

  it("never retries insufficient_quota; x-should-retry overrides the status rule", function()
    assert.is_false(retry.retryable(429, {}, "insufficient_quota"))
    assert.is_false(retry.retryable(429, { ["x-should-retry"] = "true" }, "insufficient_quota"))
    assert.is_true(retry.retryable(400, { ["x-should-retry"] = "true" }))
    assert.is_false(retry.retryable(500, { ["x-should-retry"] = "false" }))
    assert.is_true(retry.retryable(500, { ["x-should-retry"] = "maybe" }))
  end)

  it("backs off min(0.5 * 2^n, 8) s times a factor in [0.75, 1]", function()
    local function at(r) return function() return r end end
    assert.equal(0.5, retry.delay(0, nil, nil, at(0)))
    assert.equal(0.375, retry.delay(0, nil, nil, at(1)))
    assert.equal(1, retry.delay(1, nil, nil, at(0)))
    assert.equal(4, retry.delay(3, nil, nil, at(0)))
    assert.equal(8, retry.delay(4, nil, nil, at(0)))
    assert.equal(6, retry.delay(10, nil, nil, at(1)))
    for _ = 1, 100 do
      local d = retry.delay(1, {})
      assert.is_true(d >= 0.75 and d <= 1)
    end
  end)

  it("honours retry-after-ms, then retry-after in seconds or as an HTTP date, from 0 to 120 s", function()
    local function wall() return 1445412470 end -- 10 s before Wed, 21 Oct 2015 07:28:00 GMT
    local none = function() return 0 end
    assert.equal(0.25, retry.delay(0, { ["retry-after-ms"] = "250", ["retry-after"] = "7" }, nil, none))
    assert.equal(7, retry.delay(0, { ["retry-after"] = "7" }, nil, none))
    assert.equal(1.5, retry.delay(3, { ["retry-after"] = "1.5" }, nil, none))
    assert.equal(0, retry.delay(3, { ["retry-after"] = "0" }, nil, none))
    assert.equal(10, retry.delay(0, { ["retry-after"] = "Wed, 21 Oct 2015 07:28:00 GMT" }, nil, none, wall))
    assert.equal(65, retry.delay(0, { ["retry-after"] = "65" }, nil, none))
    assert.equal(120, retry.delay(0, { ["retry-after"] = "120" }, nil, none))
    -- past the cap (120 s, or the client's max_retry_after): no retry at all
    assert.is_nil(retry.delay(0, { ["retry-after"] = "121" }, nil, none))
    assert.is_nil(retry.delay(0, { ["retry-after-ms"] = "3001" }, 3, none))
    assert.equal(3, retry.delay(0, { ["retry-after-ms"] = "3000" }, 3, none))
    assert.equal(0.5, retry.delay(0, { ["retry-after"] = "-1" }, nil, none))
    assert.equal(0.5, retry.delay(0, { ["retry-after"] = "soon" }, nil, none))
    assert.equal(0.5, retry.delay(0, { ["retry-after"] = "Wed, 21 Oct 2015 07:28:00 GMT" }, nil, none))
    assert.equal(61, retry.asked_delay{ ["retry-after"] = "61" })
    assert.is_nil(retry.asked_delay{})
    assert.is_nil(retry.asked_delay(nil))
  end)
end)

describe("retries at the server", function()
  local server, client, lines
  local function log(level, message) lines[#lines + 1] = level .. " " .. message end
  -- The client's own retries (2), not the helper's 0.
  setup_.fake_client({ api_key = "k", max_retries = 2, log = log }, function(s, c) server, client = s, c end)
  before_each(function() lines = {} end)

  local function attempts(path) return #server:requests("/v1" .. path) end

  it("429 then 200: 2 attempts, one line per attempt and retry", function()
    server:script("/v1/r", { now_error(429, "rate_limit_exceeded"), { json = { ok = true } } })
    local res = assert(client:request{ path = "/r" })
    assert.equal(200, res.status)
    assert.equal(2, attempts("/r"))
    assert.equal(3, #lines)
    assert.matches("^debug GET /r attempt 1: status 429 in [%d.]+ s$", lines[1])
    assert.equal("warn GET /r: retrying in 0.000 s (attempt 2 of 3) after status 429", lines[2])
    assert.matches("^debug GET /r attempt 2: status 200 in [%d.]+ s$", lines[3])
  end)

  it("500 three times: 3 attempts and an api error with attempts = 3", function()
    server:script("/v1/r", { now_error(500), now_error(500), now_error(500), { json = {} } })
    local res, err = client:request{ path = "/r" }
    assert.is_nil(res)
    assert.same({ "api", 500, 3 }, { err.type, err.status, err.attempts })
    assert.equal(3, attempts("/r"))
    assert.equal(6, #lines)
    assert.matches("^error GET /r failed: gptaudio api error 500: status 500 %[request req_%d+%] %[attempts 3%]$",
                   lines[6])
  end)

  it("waits the SDK's backoff when the server asks for nothing", function()
    server:script("/v1/r", { api_error(503), api_error(503), { json = {} } })
    local started = core.now()
    assert(client:request{ path = "/r" })
    local elapsed = core.now() - started
    assert.equal(3, attempts("/r"))
    assert.is_true(elapsed >= 0.375 + 0.75 - 0.05, "waited " .. elapsed .. " s")
  end)

  it("takes max_retries from the call", function()
    server:script("/v1/r", { now_error(500), now_error(500) })
    local _, err = client:request{ path = "/r", max_retries = 0 }
    assert.equal(1, err.attempts)
    assert.equal(1, attempts("/r"))
  end)

  it("never retries a 429 insufficient_quota", function()
    server:script("/v1/r", { now_error(429, "insufficient_quota"), { json = {} } })
    local _, err = client:request{ path = "/r" }
    assert.same({ 429, "insufficient_quota", 1 }, { err.status, err.code, err.attempts })
    assert.equal(1, attempts("/r"))
  end)

  it("obeys x-should-retry: false on a 500 and true on a 400", function()
    server:script("/v1/r", { api_error(500, nil, { ["x-should-retry"] = "false" }) })
    local _, err = client:request{ path = "/r" }
    assert.same({ 500, 1 }, { err.status, err.attempts })
    assert.equal(1, attempts("/r"))
    server:clear()
    server:script("/v1/r", { api_error(400, nil, { ["x-should-retry"] = "true", ["retry-after-ms"] = "0" }),
                             { json = { ok = true } } })
    assert(client:request{ path = "/r" })
    assert.equal(2, attempts("/r"))
  end)

  it("retries 408 and 409", function()
    server:script("/v1/r", { now_error(408), now_error(409), { json = {} } })
    assert(client:request{ path = "/r" })
    assert.equal(3, attempts("/r"))
  end)

  it("waits what retry-after and retry-after-ms ask", function()
    server:script("/v1/r", { api_error(429, nil, { ["retry-after"] = "1" }),
                             api_error(429, nil, { ["retry-after-ms"] = "300" }), { json = {} } })
    local started = core.now()
    assert(client:request{ path = "/r" })
    local elapsed = core.now() - started
    assert.equal(3, attempts("/r"))
    assert.is_true(elapsed >= 1.3 - 0.05, "waited " .. elapsed .. " s")
    assert.matches("retrying in 1.000 s", lines[2], 1, true)
    assert.matches("retrying in 0.300 s", lines[4], 1, true)
  end)

  it("waits until an HTTP date, and keeps the asked wait as retry_after", function()
    local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 2)
    server:script("/v1/r", { api_error(503, nil, { ["retry-after"] = date }),
                             api_error(503, nil, { ["retry-after"] = "120" }) })
    local started = core.now()
    local _, err = client:request{ path = "/r", max_retries = 1 }
    local elapsed = core.now() - started
    assert.is_true(elapsed >= 0.9, "waited " .. elapsed .. " s")
    assert.equal(120, err.retry_after)
    assert.equal(2, err.attempts)
  end)

  it("retries a refused connection, then fails with type connection", function()
    local refused = gptaudio.new{ api_key = "k", base_url = "http://127.0.0.1:" .. util.closed_port() .. "/v1",
                                  max_retries = 1, log = log }
    local started = core.now()
    local res, err = refused:request{ path = "/models" }
    assert.is_nil(res)
    assert.same({ "connection", 2 }, { err.type, err.attempts })
    assert.is_true(core.now() - started >= 0.375 - 0.05)
    assert.equal(4, #lines)
    assert.matches("^debug GET /models attempt 1: connection error: ", lines[1])
    assert.matches("^warn GET /models: retrying in [%d.]+ s %(attempt 2 of 2%) after connection error$", lines[2])
    assert.matches("^error GET /models failed: gptaudio connection error: ", lines[4])
    refused:close()
  end)

  it("retries a stream that broke before its first event", function()
    server:script("/v1/s", { { events = { "x" }, cut_after = 0 }, { events = { "1", "2", "[DONE]" } } })
    local seen = {}
    local function on_event(ev) seen[#seen + 1] = ev.data end
    local res = assert(client:request{ path = "/s", stream = true, on_event = on_event })
    assert.same({ "1", "2" }, seen)
    assert.equal(2, #res.events)
    assert.equal(2, attempts("/s"))
  end)

  it("does not retry a stream that broke after an event, and keeps the events as partial", function()
    server:script("/v1/s", { { events = { "1", "2", "3" }, split = 9, cut_after = 13 }, { events = { "again" } } })
    local res, err = client:request{ path = "/s", stream = true }
    assert.is_nil(res)
    assert.same({ "connection", 1 }, { err.type, err.attempts })
    assert.equal(1, attempts("/s"))
    assert.equal(1, #err.partial)
    assert.same({ type = "event", event = "", id = "", data = "1" }, err.partial[1])
  end)
end)
