local core = require "gptaudio.core"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

-- Steps until nothing is active (or `limit` seconds pass); returns every event, oldest first.
local function run(t, limit)
  local events = {}
  local deadline = core.now() + (limit or 10)
  while t:active() > 0 and core.now() < deadline do
    for _, ev in ipairs(t:step(0.05)) do events[#events + 1] = ev end
  end
  return events
end

local function pick(events, x, kind)
  local list = {}
  for _, ev in ipairs(events) do
    if ev.transfer == x and ev.type == kind then list[#list + 1] = ev end
  end
  return list
end

local function only(events, x, kind)
  local list = pick(events, x, kind)
  assert.equal(1, #list, "one " .. kind .. " event expected")
  return list[1]
end

local function is_integer(v)
  return type(v) == "number" and v == math.floor(v)
end

describe("core.transport", function()
  local server, t
  setup_.fake_server(function(s) server = s end)
  before_each(function() t = core.transport() end)
  after_each(function() t:close() end)

  it("buffers a GET: status, lower-case headers with repeats joined, exact body", function()
    server:script("/v1/get", { { status = 201, body = "hello\0world",
      headers = { { "X-Multi", "a" }, { "x-multi", "b" }, { "X-Single", " padded " } } } })
    local x = t:add{ url = server.url .. "/get" }
    assert.equal("Transfer(GET " .. server.url .. "/get, running)", tostring(x))
    local events = run(t)
    assert.equal(2, #events)
    assert.same({ "headers", "done" }, { events[1].type, events[2].type })
    local headers = only(events, x, "headers")
    assert.equal(201, headers.status)
    assert.equal("a, b", headers.headers["x-multi"])
    assert.equal("padded", headers.headers["x-single"])
    assert.equal("11", headers.headers["content-length"])
    local done = only(events, x, "done")
    assert.equal(201, done.status)
    assert.equal("hello\0world", done.body)
    assert.same(headers.headers, done.headers)
    assert.is_nil(done.error)
    assert.equal(0, t:active())
    assert.equal("Transfer(GET " .. server.url .. "/get, done)", tostring(x))
    local sent = server:requests("/v1/get")
    assert.equal(1, #sent)
    assert.equal("GET", sent[1].method)
    assert.equal("", sent[1].body)
  end)

  it("POSTs the exact body with the caller's headers, and never shows them", function()
    server:script("/v1/post", { { json = { ok = true } } })
    local body = '{"a":"\0\1\255"}' .. string.rep("z", 70000)
    local x = t:add{ url = server.url .. "/post?api-key=secret", body = body,
                     headers = { "Authorization: Bearer sk-secret", "Content-Type: application/json" } }
    assert.equal("Transfer(POST " .. server.url .. "/post, running)", tostring(x))
    local done = only(run(t), x, "done")
    assert.equal(200, done.status)
    assert.equal('{"ok": true}', done.body)
    local sent = server:requests("/v1/post")[1]
    assert.equal("POST", sent.method)
    assert.equal(body, sent.body)
    assert.equal("Bearer sk-secret", sent.headers["authorization"])
    assert.equal("application/json", sent.headers["content-type"])
    assert.is_nil(sent.headers["expect"])
    assert.is_nil(tostring(x):find("secret", 1, true))
  end)

  it("sends other methods, with and without a body", function()
    local del = t:add{ url = server.url:gsub("//", "//user:pw@") .. "/m", method = "DELETE" }
    assert.equal("Transfer(DELETE " .. server.url .. "/m, running)", tostring(del))
    local put = t:add{ url = server.url .. "/m", method = "PUT", body = "up" }
    local empty = t:add{ url = server.url .. "/m", method = "POST" }
    local events = run(t)
    for _, x in ipairs{ del, put, empty } do assert.equal(404, only(events, x, "done").status) end
    local seen = {}
    for _, r in ipairs(server:requests("/v1/m")) do seen[r.method] = r.body end
    assert.same({ DELETE = "", PUT = "up", POST = "" }, seen)
  end)

  it("uploads multipart parts from memory and from a file", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write("RIFF-from-file\0\1")
    f:close()
    local x = t:add{ url = server.url .. "/upload", multipart = {
      { name = "file", data = "RIFF\0memory", filename = "a.wav", content_type = "audio/wav" },
      { name = "second", path = path, filename = "b.wav" },
      { name = "model", data = "whisper-1" },
    } }
    local done = only(run(t), x, "done")
    os.remove(path)
    assert.equal(404, done.status)
    local sent = server:requests("/v1/upload")[1]
    assert.equal("POST", sent.method)
    local boundary = sent.headers["content-type"]:match("^multipart/form%-data; boundary=(.+)$")
    assert.is_string(boundary)
    local function has(text) assert.is_truthy(sent.body:find(text, 1, true), text) end
    has('Content-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        .. "Content-Type: audio/wav\r\n\r\nRIFF\0memory\r\n")
    has('Content-Disposition: form-data; name="second"; filename="b.wav"\r\n')
    has("\r\n\r\nRIFF-from-file\0\1\r\n")
    has('Content-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--' .. boundary .. "--")
  end)

  it("returns nil and an error for a multipart file that cannot be read", function()
    local x, err = t:add{ url = server.url .. "/upload", multipart = { { name = "file", path = "no/such.wav" } } }
    assert.is_nil(x)
    assert.equal("audio", err.type)
    assert.equal("multipart[1].path: cannot read no/such.wav: No such file or directory", err.message)
    assert.equal(0, t:active())
  end)

  it("parses SSE in order when the server splits the stream at every byte", function()
    server:script("/v1/sse", { { split = 1, events = {
      { data = "one" },
      { event = "delta", id = "7", data = "two\nlines" },
      { raw = ": a comment\r\ndata:  spaced\r\n\r\n" },
      "[DONE]",
    } } })
    local x = t:add{ url = server.url .. "/sse", stream = "sse" }
    local events = run(t)
    local got = {}
    for _, ev in ipairs(pick(events, x, "sse")) do got[#got + 1] = { ev.event, ev.data, ev.id } end
    assert.same({ { "", "one", "" }, { "delta", "two\nlines", "7" }, { "", " spaced", "7" }, { "", "[DONE]", "7" } },
                got)
    assert.equal("headers", events[1].type)
    assert.equal("done", events[#events].type)
    assert.equal("", events[#events].body)
    assert.equal("text/event-stream", events[1].headers["content-type"])
  end)

  it("buffers the body of an error status even when streaming", function()
    server:script("/v1/sse-error", { { status = 429, json = { error = { message = "slow down" } } } })
    local x = t:add{ url = server.url .. "/sse-error", stream = "sse" }
    local events = run(t)
    assert.equal(0, #pick(events, x, "sse"))
    local done = only(events, x, "done")
    assert.equal(429, done.status)
    assert.equal('{"error": {"message": "slow down"}}', done.body)
    assert.is_nil(done.error)
  end)

  it("queues raw chunks that reassemble exactly", function()
    local chunks, whole = {}, {}
    for i = 1, 40 do
      chunks[i] = string.rep(string.char(i), i * 97) .. "\0"
      whole[i] = chunks[i]
    end
    server:script("/v1/raw", { { chunks = chunks, chunk_delay = 0.005, no_length = true } })
    local x = t:add{ url = server.url .. "/raw", stream = "raw" }
    local events = run(t)
    local got = {}
    for _, ev in ipairs(pick(events, x, "data")) do got[#got + 1] = ev.data end
    assert.is_true(#got >= 2)
    assert.equal(table.concat(whole), table.concat(got))
    assert.equal("", only(events, x, "done").body)
  end)

  it("runs 20 transfers of 0.3 s each at once", function()
    server:default("/v1/slow", { delay = 0.3, body = "late" })
    local list = {}
    local started = core.now()
    for i = 1, 20 do list[i] = t:add{ url = server.url .. "/slow" } end
    assert.equal(20, t:active())
    local events = run(t)
    local elapsed = core.now() - started
    server:default("/v1/slow", nil)
    for _, x in ipairs(list) do
      local done = only(events, x, "done")
      assert.equal(200, done.status)
      assert.equal("late", done.body)
    end
    assert.is_true(elapsed < 2, "took " .. elapsed .. " s")
  end)

  it("starts every transfer of a fresh transport at once over plain http", function()
    -- Waiting to multiplex on the first connection only pays with TLS (ALPN);
    -- over http it would hold the rest until the first answer.
    server:clear()
    server:default("/v1/slow", { delay = 1, body = "late" })
    local list = {}
    for i = 1, 8 do list[i] = t:add{ url = server.url .. "/slow" } end
    local events = run(t)
    server:default("/v1/slow", nil)
    for _, x in ipairs(list) do assert.equal(200, only(events, x, "done").status) end
    local seen = server:requests("/v1/slow")
    assert.equal(8, #seen)
    local first, last = math.huge, -math.huge
    for _, r in ipairs(seen) do first, last = math.min(first, r.time), math.max(last, r.time) end
    assert.is_true(last - first < 0.5, "arrivals spread over " .. (last - first) .. " s")
  end)

  it("reuses one connection for sequential transfers", function()
    local ports = {}
    for i = 1, 3 do
      local x = t:add{ url = server.url .. "/keep" }
      assert.equal(404, only(run(t), x, "done").status)
      local info = x:info()
      ports[i] = info.local_port
      assert.equal("127.0.0.1", info.primary_ip)
      assert.equal("1.1", info.http_version)
      assert.is_true(info.total_time > 0)
    end
    assert.is_true(is_integer(ports[1]))
    assert.same({ ports[1], ports[1] }, { ports[2], ports[3] })
  end)

  it("times out", function()
    server:script("/v1/late", { { delay = 3, body = "too late" } })
    local started = core.now()
    local x = t:add{ url = server.url .. "/late", timeout = 0.3 }
    local done = only(run(t), x, "done")
    assert.is_true(core.now() - started < 2)
    assert.equal(0, done.status)
    assert.equal("timeout", done.error.type)
    assert.equal(28, done.error.curl_code)
    assert.truthy(done.error.message:find("^timed out"))
  end)

  it("times out waiting for the first byte, and lets a slow body through once it came", function()
    server:script("/v1/late", { { delay = 3, body = "too late" } })
    server:script("/v1/drip", { { body = string.rep("d", 10), drip = { bytes = 1, interval = 0.1 } } })
    local started = core.now()
    local late = t:add{ url = server.url .. "/late", first_byte_timeout = 0.3 }
    local slow = t:add{ url = server.url .. "/drip", first_byte_timeout = 0.3 }
    local wait = t:timeout()
    assert.is_true(wait ~= nil and wait <= 0.3)
    local events = run(t)
    local failed, done = only(events, late, "done"), only(events, slow, "done")
    assert.equal(0, failed.status)
    assert.equal("timeout", failed.error.type)
    assert.equal(28, failed.error.curl_code)
    assert.equal("timed out (no response within 0.3 s)", failed.error.message)
    assert.is_nil(done.error)
    assert.equal(string.rep("d", 10), done.body)
    assert.is_true(core.now() - started > 0.8 and core.now() - started < 3)
  end)

  it("reports a stalled stream as a timeout", function()
    server:script("/v1/drip", { { body = string.rep("d", 200), drip = { bytes = 1, interval = 0.25 } } })
    local started = core.now()
    local x = t:add{ url = server.url .. "/drip", stream = "raw", low_speed_limit = 100, low_speed_time = 1 }
    local done = only(run(t), x, "done")
    assert.is_true(core.now() - started < 4)
    assert.equal(200, done.status)
    assert.equal("timeout", done.error.type)
    assert.truthy(done.error.message:find("^stream stalled"))
  end)

  it("aborts a body larger than max_response_bytes without reading it all", function()
    -- 64 pieces 0.05 s apart, chunked so no length warns curl: reading it all takes over 3 s.
    server:script("/v1/huge", { { body = string.rep("h", 64 * 65536), split = 65536, chunk_delay = 0.05,
                                  no_length = true } })
    local started = core.now()
    local x = t:add{ url = server.url .. "/huge", max_response_bytes = 100000 }
    local done = only(run(t), x, "done")
    assert.is_true(core.now() - started < 1.5)
    assert.equal("too_large", done.error.type)
    assert.equal("response body larger than max_response_bytes (100000)", done.error.message)
    assert.is_true(#done.body <= 100000)
  end)

  it("refuses a declared length over max_response_bytes before the body", function()
    server:script("/v1/long", { { body = string.rep("l", 5000) } })
    local x = t:add{ url = server.url .. "/long", stream = "sse", max_response_bytes = 4999 }
    local events = run(t)
    assert.equal("too_large", only(events, x, "done").error.type)
    assert.equal(0, #pick(events, x, "sse"))
  end)

  it("reports a refused connection", function()
    local port = util.closed_port()
    local x = t:add{ url = "http://127.0.0.1:" .. port .. "/v1/x" }
    local done = only(run(t), x, "done")
    assert.equal(0, done.status)
    assert.same({}, done.headers)
    assert.equal("connection", done.error.type)
    assert.equal(7, done.error.curl_code)
    assert.truthy(done.error.message:find("^connection refused %("))
    assert.equal("gptaudio connection error: " .. done.error.message, tostring(done.error))
  end)

  it("goes through the proxy it is given", function()
    local x = t:add{ url = server.url .. "/x", proxy = "http://127.0.0.1:" .. util.closed_port() }
    local done = only(run(t), x, "done")
    assert.equal("connection", done.error.type)
    assert.truthy(done.error.message:find("^connection refused %("))
    assert.same({}, server:requests("/v1/x"))
  end)

  it("reports a TLS failure as a connection error", function()
    local x = t:add{ url = "https://127.0.0.1:" .. server.port .. "/v1/tls" }
    local y = t:add{ url = "https://127.0.0.1:" .. server.port .. "/v1/tls", ca_file = "no/such.pem" }
    local events = run(t)
    local handshake, certificates = only(events, x, "done").error, only(events, y, "done").error
    assert.equal("connection", handshake.type)
    assert.equal(35, handshake.curl_code)
    assert.truthy(handshake.message:find("^TLS handshake failed %("))
    assert.equal("connection", certificates.type)
    assert.truthy(certificates.message:find("^cannot load the TLS certificates %(.*no/such%.pem"))
  end)

  it("refuses protocols other than http and https", function()
    local x = t:add{ url = "ftp://127.0.0.1:" .. server.port .. "/x" }
    local failure = only(run(t), x, "done").error
    assert.equal("protocol", failure.type)
    assert.equal(1, failure.curl_code)
  end)

  it("cancels mid-stream: no further events, not active", function()
    server:script("/v1/trickle", { { events = { "1", "2", "3", "4", "5", "6" }, chunk_delay = 0.2 } })
    local x = t:add{ url = server.url .. "/trickle", stream = "sse" }
    local first
    local deadline = core.now() + 5
    repeat
      for _, ev in ipairs(t:step(0.05)) do
        if ev.type == "sse" then first = first or ev.data end
      end
    until first or core.now() > deadline
    assert.equal("1", first)
    x:cancel()
    x:cancel()
    assert.equal(0, t:active())
    assert.equal("Transfer(GET " .. server.url .. "/trickle, cancelled)", tostring(x))
    local later = {}
    deadline = core.now() + 0.6
    repeat
      for _, ev in ipairs(t:step(0.05)) do later[#later + 1] = ev end
    until core.now() > deadline
    assert.same({}, later)
  end)

  it("reports upload and download progress, at most once per transfer per step", function()
    local body = string.rep("u", 300000)
    server:script("/v1/progress", { { body = string.rep("p", 200000), split = 50000, chunk_delay = 0.02 } })
    local x = t:add{ url = server.url .. "/progress", body = body, progress = true }
    local last
    local deadline = core.now() + 10
    while t:active() > 0 and core.now() < deadline do
      local step = t:step(0.05)
      local seen = pick(step, x, "progress")
      assert.is_true(#seen <= 1)
      last = seen[1] or last
    end
    assert.same({ ul_now = 300000, ul_total = 300000, dl_now = 200000, dl_total = 200000 },
                { ul_now = last.ul_now, ul_total = last.ul_total, dl_now = last.dl_now, dl_total = last.dl_total })
  end)

  it("raises on a header with CR, LF or NUL, and on other bad specs", function()
    local url = server.url .. "/never"
    assert.has_error(function() t:add{ url = url, headers = { "A: 1", "B: 2", "X: y\r\nEvil: 1" } } end,
                     "headers[3]: CR or LF not allowed")
    assert.has_error(function() t:add{ url = url, headers = { "X: y\n" } } end, "headers[1]: CR or LF not allowed")
    assert.has_error(function() t:add{ url = url, headers = { "X: \0" } } end, "headers[1]: CR or LF not allowed")
    assert.has_error(function() t:add{ url = url, headers = { 5 } } end, "headers[1]: string expected, got number")
    assert.has_error(function() t:add{} end, "url: string expected, got nil")
    assert.has_error(function() t:add{ url = url, stream = "x" } end, 'stream: "sse" or "raw" expected')
    assert.has_error(function() t:add{ url = url, timeout = -1 } end, "timeout: must be a number from 0 to 1e15")
    assert.has_error(function() t:add{ url = url, first_byte_timeout = 0 / 0 } end,
                     "first_byte_timeout: must be a number from 0 to 1e15")
    assert.has_error(function() t:add{ url = url, first_byte_timeout = "1" } end,
                     "first_byte_timeout: number expected, got string")
    assert.has_error(function() t:add{ url = url, method = "GET /x" } end, "method: not an HTTP method")
    assert.has_error(function() t:add{ url = url, body = "a", multipart = {} } end,
                     "body and multipart: give one or the other")
    assert.has_error(function() t:add{ url = url, multipart = { { name = "a" } } } end,
                     "multipart[1]: exactly one of data and path expected")
    assert.has_error(function() t:add("x") end)
    assert.has_error(function() t:step(-1) end)
    collectgarbage()
    collectgarbage()
    assert.equal(0, t:active())
    assert.same({}, server:requests("/v1/never"))
  end)

  it("has a pollfd, and a timeout only while curl has a deadline", function()
    local fd = t:pollfd()
    assert.is_true(is_integer(fd) and fd >= 0)
    assert.is_nil(t:timeout())
    assert.same({}, t:step(0))
    local x = t:add{ url = server.url .. "/sanity" }
    local left = t:timeout()
    assert.is_true(left >= 0 and left <= 1)
    assert.equal(404, only(run(t), x, "done").status)
    assert.is_nil(t:timeout())
    assert.equal("Transport(0 active)", tostring(t))
  end)

  it("closes with transfers in flight", function()
    server:default("/v1/inflight", { delay = 1, body = "x" })
    local list = {}
    for i = 1, 3 do list[i] = t:add{ url = server.url .. "/inflight", stream = i == 1 and "sse" or nil } end
    t:step(0.05)
    assert.equal("Transport(3 active)", tostring(t))
    t:close()
    t:close()
    server:default("/v1/inflight", nil)
    assert.equal(0, t:active())
    assert.is_nil(t:pollfd())
    assert.is_nil(t:timeout())
    assert.equal("Transport(closed)", tostring(t))
    assert.has_error(function() t:step(0) end, "Transport is closed")
    assert.has_error(function() t:add{ url = server.url .. "/inflight" } end, "Transport is closed")
    for _, x in ipairs(list) do
      x:cancel()
      assert.truthy(tostring(x):find(", cancelled%)$"))
      assert.is_number(x:info().total_time)
    end
  end)

  it("survives collection with transfers alive, in any order", function()
    server:default("/v1/gc", { delay = 1, body = "x" })
    do
      local kept
      do
        local other = core.transport()
        for _ = 1, 3 do other:add{ url = server.url .. "/gc" } end
        kept = other:add{ url = server.url .. "/gc" }
        other:step(0.05)
      end
      collectgarbage()
      collectgarbage()
      kept:cancel()
      assert.truthy(tostring(kept):find(", cancelled%)$"))
      assert.is_number(kept:info().total_time)
    end
    do
      local dropped = core.transport()
      for _ = 1, 3 do dropped:add{ url = server.url .. "/gc" } end
    end
    collectgarbage()
    collectgarbage()
    server:default("/v1/gc", nil)
  end)

  it("lets a process exit with transfers alive", function()
    server:default("/v1/exit", { delay = 2, body = "x" })
    local script = ([[
      local core = require "gptaudio.core"
      local t = core.transport()
      X = {}
      for i = 1, 5 do X[i] = t:add{ url = "%s/exit", stream = i %% 2 == 0 and "sse" or nil } end
      for _ = 1, 5 do t:step(0.01) end
      T = t
    ]]):format(server.url)
    local started = core.now()
    -- The same interpreter and environment as this one (LUA_CPATH, and any sanitizer preload it needs).
    local a, _, code = os.execute(util.LUA .. " -e '" .. script .. "'")
    server:default("/v1/exit", nil)
    assert.is_true(a == true or a == 0)
    assert.is_true(code == nil or code == 0)
    assert.is_true(core.now() - started < 2)
  end)
end)
