-- The fake OpenAI server does what scripts say, seen through LuaSocket alone:
-- raw TCP where framing, timing of writes or the way a connection ends matters.
local cjson = require "cjson"
local fake = require "spec.support.fake"
local setup_ = require "spec.support.setup"
local socket = require "socket"
local util = require "spec.support.util"

-- Writes a request on connection c, with a Content-Length when it has a body.
local function send_request(c, method, path, headers, body)
  local lines = { ("%s %s HTTP/1.1"):format(method, path), "Host: 127.0.0.1" }
  for _, pair in ipairs(headers or {}) do lines[#lines + 1] = pair[1] .. ": " .. pair[2] end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  assert(c:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")))
end

-- The status line, the headers by lower-case name, and the header lines in order.
local function read_head(c)
  local status_line = assert(c:receive("*l"))
  local headers, lines = {}, {}
  while true do
    local line = assert(c:receive("*l"))
    if line == "" then break end
    lines[#lines + 1] = line
    local name, value = line:match("^([^:]+): (.*)$")
    headers[name:lower()] = value
  end
  return status_line, headers, lines
end

-- A chunked body: the pieces as framed, then whether the terminating chunk came.
local function read_chunks(c)
  local pieces = {}
  while true do
    local size = tonumber(assert(c:receive("*l")), 16)
    if size == 0 then
      assert.equal("", c:receive("*l"))
      return pieces
    end
    pieces[#pieces + 1] = assert(c:receive(size))
    assert.equal("", c:receive("*l"))
  end
end

-- Whether nothing more arrives within a moment far shorter than the scripted pause.
local function quiet(c)
  c:settimeout(0.05)
  local byte, err, partial = c:receive(1)
  c:settimeout(5)
  return byte == nil and err == "timeout" and partial == ""
end

-- The distinct connection numbers the server gave these requests.
local function connections_used(requests)
  local seen, list = {}, {}
  for _, r in ipairs(requests) do
    if not seen[r.connection] then
      seen[r.connection] = true
      list[#list + 1] = r.connection
    end
  end
  return list
end

describe("fake OpenAI server", function()
  local server
  setup_.fake_server(function(s) server = s end)

  local function connect()
    local c = assert(socket.connect("127.0.0.1", server.port))
    c:settimeout(5)
    return c
  end

  -- A new connection on which a GET of path went out.
  local function get(path)
    local c = connect()
    send_request(c, "GET", path)
    return c
  end

  -- One request on a fresh connection; the body read by its content-length.
  local function exchange(method, path, headers, body)
    local c = connect()
    send_request(c, method, path, headers, body)
    local status_line, head, lines = read_head(c)
    local received = assert(c:receive(tonumber(head["content-length"])))
    c:close()
    return status_line, head, received, lines
  end

  it("serves scripted statuses in order, then the default again", function()
    server:script("/v1/chat/completions", {
      { status = 429, headers = { ["retry-after"] = "0" }, json = { error = { message = "slow down" } } },
      { status = 503, body = "overloaded" },
      { status = 200, json = { id = "chatcmpl-1", choices = { { index = 0 } } } },
    })
    local statuses, bodies, retry_after = {}, {}, {}
    for i = 1, 4 do
      local status_line, head, body = exchange("POST", "/v1/chat/completions", nil, "{}")
      statuses[i], bodies[i], retry_after[i] = status_line, body, head["retry-after"]
    end
    assert.same({ "HTTP/1.1 429 Too Many Requests", "HTTP/1.1 503 Service Unavailable", "HTTP/1.1 200 OK",
                  "HTTP/1.1 404 Not Found" }, statuses)
    assert.same({ error = { message = "slow down" } }, cjson.decode(bodies[1]))
    assert.equal("overloaded", bodies[2])
    assert.same({ id = "chatcmpl-1", choices = { { index = 0 } } }, cjson.decode(bodies[3]))
    assert.equal("0", retry_after[1])
    assert.is_nil(retry_after[2])
  end)

  it("matches a script on the path with its query, or on the path alone", function()
    server:script("/v1/files?purpose=batch", { { body = "exact" } })
    server:script("/v1/files", { { body = "bare" } })
    local _, _, first = exchange("GET", "/v1/files?purpose=batch")
    local _, _, second = exchange("GET", "/v1/files?purpose=other")
    assert.same({ "exact", "bare" }, { first, second })
  end)

  it("sends default and scripted headers, repeats included, and a fresh x-request-id", function()
    server:script("/v1/h", {
      { json = {} },
      { headers = { { "x-ratelimit-remaining-requests", "9" }, { "set-cookie", "a=1" }, { "set-cookie", "b=2" } },
        events = { "x" } },
      { headers = { ["x-request-id"] = "req_mine", ["content-type"] = "audio/wav" }, body = "RIFF" },
    })
    local _, json_head = exchange("GET", "/v1/h")
    local _, sse_head, _, sse_lines = exchange("GET", "/v1/h")
    local _, own_head, _, own_lines = exchange("GET", "/v1/h")
    assert.equal("application/json", json_head["content-type"])
    assert.equal("text/event-stream", sse_head["content-type"])
    assert.equal("9", sse_head["x-ratelimit-remaining-requests"])
    local cookies = {}
    for _, line in ipairs(sse_lines) do cookies[#cookies + 1] = line:match("^set%-cookie: (.*)$") end
    assert.same({ "a=1", "b=2" }, cookies)
    assert.matches("^req_%d+$", json_head["x-request-id"])
    assert.matches("^req_%d+$", sse_head["x-request-id"])
    assert.not_equal(json_head["x-request-id"], sse_head["x-request-id"])
    assert.equal("req_mine", own_head["x-request-id"])
    assert.equal("audio/wav", own_head["content-type"])
    local content_types = 0
    for _, line in ipairs(own_lines) do
      if line:lower():match("^content%-type:") then content_types = content_types + 1 end
    end
    assert.equal(1, content_types)
  end)

  it("encodes SSE events: strings as data, fields, multi-line and JSON data, raw bytes", function()
    server:script("/v1/sse", { { events = {
      "{\"a\":1}",
      { event = "response.delta", id = "7", data = "line one\nline two" },
      { data = { type = "speech.audio.done" } },
      { raw = ": comment\r\ndata: crlf\r\n\r\n" },
      "[DONE]",
    } } })
    local _, _, body = exchange("GET", "/v1/sse")
    assert.equal('data: {"a":1}\n\n'
                 .. "event: response.delta\nid: 7\ndata: line one\ndata: line two\n\n"
                 .. 'data: {"type": "speech.audio.done"}\n\n'
                 .. ": comment\r\ndata: crlf\r\n\r\n"
                 .. "data: [DONE]\n\n", body)
  end)

  it("sends each event as its own write when chunk_delay is set", function()
    server:script("/v1/slow", { { events = { "one", "two" }, chunk_delay = 0.5 } })
    local c = get("/v1/slow")
    local _, head = read_head(c)
    assert.equal(tostring(#"data: one\n\ndata: two\n\n"), head["content-length"])
    assert.equal("data: one\n\n", c:receive(#"data: one\n\n"))
    assert.is_true(quiet(c))
    assert.equal("data: two\n\n", c:receive(#"data: two\n\n"))
    c:close()
  end)

  it("repeats the body, chunks or events", function()
    server:script("/v1/again", { { body = "ab", ["repeat"] = 3 }, { events = { "x", "y" }, ["repeat"] = 2 } })
    local _, _, body = exchange("GET", "/v1/again")
    local _, _, events = exchange("GET", "/v1/again")
    assert.equal("ababab", body)
    assert.equal(("data: x\n\ndata: y\n\n"):rep(2), events)
  end)

  it("frames pieces as chunks with no_length, re-cut by split or by drip", function()
    server:script("/v1/chunks", {
      { chunks = { "ab", "cde", "f" }, no_length = true },
      { chunks = { "ab", "cde", "f" }, split = 4, no_length = true },
      { body = "0123456789", drip = { bytes = 3, interval = 0.01 }, no_length = true },
    })
    local pieces = {}
    for i = 1, 3 do
      local c = get("/v1/chunks")
      local _, head = read_head(c)
      assert.equal("chunked", head["transfer-encoding"])
      assert.is_nil(head["content-length"])
      pieces[i] = read_chunks(c)
      c:close()
    end
    assert.same({ "ab", "cde", "f" }, pieces[1])
    assert.same({ "abcd", "ef" }, pieces[2])
    assert.same({ "012", "345", "678", "9" }, pieces[3])
  end)

  it("cuts the connection after exactly cut_after body bytes, with FIN or with RST", function()
    server:script("/v1/cut", {
      { body = "0123456789", cut_after = 4 },
      { body = "0123456789", cut_after = 4, reset = true },
      { events = { "first", "second" }, cut_after = 15, no_length = true },
    })
    local c = get("/v1/cut")
    local _, head = read_head(c)
    assert.equal("10", head["content-length"])
    assert.same({ "0123" }, { c:receive("*a") })
    c:close()

    c = connect()
    send_request(c, "GET", "/v1/cut")
    read_head(c)
    assert.same({ nil, "closed", "0123" }, { c:receive("*a") })
    c:close()

    c = connect()
    send_request(c, "GET", "/v1/cut")
    read_head(c)
    assert.equal("d\r\ndata: first\n\n\r\ne\r\nda", c:receive("*a"))
    c:close()
  end)

  it("closes without an answer on hangup", function()
    server:script("/v1/gone", { { hangup = true } })
    local c = get("/v1/gone")
    assert.same({ nil, "closed", "" }, { c:receive("*l") })
    c:close()
    assert.equal(1, #server:requests("/v1/gone"))
  end)

  it("answers HTTP/1.0 with a close-delimited body on http10", function()
    server:script("/v1/old", { { body = "until the end", http10 = true } })
    local c = get("/v1/old")
    local status_line, head = read_head(c)
    assert.equal("HTTP/1.0 200 OK", status_line)
    assert.is_nil(head["content-length"])
    assert.is_nil(head["transfer-encoding"])
    assert.equal("close", head["connection"])
    assert.equal("until the end", c:receive("*a"))
    c:close()
  end)

  it("holds the status line for delay and the body for silence", function()
    server:script("/v1/wait", { { delay = 0.5, body = "late" }, { silence = 0.5, body = "quiet" } })
    local c = get("/v1/wait")
    assert.is_true(quiet(c))
    local status_line = read_head(c)
    assert.equal("HTTP/1.1 200 OK", status_line)
    assert.equal("late", c:receive(4))
    send_request(c, "GET", "/v1/wait")
    read_head(c)
    assert.is_true(quiet(c))
    assert.equal("quiet", c:receive(5))
    c:close()
  end)

  it("closes after the response on close", function()
    server:script("/v1/bye", { { body = "bye", close = true } })
    local c = get("/v1/bye")
    local _, head = read_head(c)
    assert.equal("close", head["connection"])
    assert.same({ "bye" }, { c:receive("*a") })
    c:close()
  end)

  it("records requests with method, path and query, lower-case headers and the exact body", function()
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    local binary = table.concat(bytes):rep(3)
    exchange("POST", "/v1/audio/transcriptions?x=1",
             { { "Content-Type", "multipart/form-data; boundary=b" }, { "X-Dup", "1" }, { "X-Dup", "2" } }, binary)
    exchange("POST", "/v1/chat/completions", { { "Content-Type", "application/json" } },
             '{"model":"gpt-audio-mini","messages":[]}')
    local all = server:requests()
    assert.equal(2, #all)
    local upload = server:requests("/v1/audio/transcriptions")
    assert.equal(1, #upload)
    assert.equal("POST", upload[1].method)
    assert.equal("/v1/audio/transcriptions?x=1", upload[1].path)
    assert.equal(binary, upload[1].body)
    assert.equal("multipart/form-data; boundary=b", upload[1].headers["content-type"])
    assert.equal("768", upload[1].headers["content-length"])
    assert.equal("1, 2", upload[1].headers["x-dup"])
    assert.same({ "x-dup", "2" }, upload[1].header_list[4])
    assert.is_nil(upload[1].json)
    local chat = server:requests("/v1/chat/completions")
    assert.equal('{"model":"gpt-audio-mini","messages":[]}', chat[1].body)
    assert.equal("gpt-audio-mini", chat[1].json.model)
  end)

  it("reads chunked request bodies and answers Expect: 100-continue", function()
    local c = connect()
    send_request(c, "POST", "/v1/up", { { "Transfer-Encoding", "chunked" } })
    assert(c:send("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"))
    read_head(c)
    c:close()
    c = connect()
    assert(c:send("POST /v1/up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"))
    assert.equal("HTTP/1.1 100 Continue", c:receive("*l"))
    assert.equal("", c:receive("*l"))
    assert(c:send("body"))
    assert.equal("HTTP/1.1 404 Not Found", read_head(c))
    c:close()
    local bodies = {}
    for _, r in ipairs(server:requests("/v1/up")) do bodies[#bodies + 1] = r.body end
    assert.same({ "hello world", "body" }, bodies)
  end)

  it("answers 100 quick requests on one keep-alive connection", function()
    local c = connect()
    local started = socket.gettime()
    local ok = 0
    for _ = 1, 100 do
      send_request(c, "GET", "/v1/models")
      local status_line, head = read_head(c)
      local body = cjson.decode((assert(c:receive(tonumber(head["content-length"])))))
      if status_line == "HTTP/1.1 200 OK" and body.object == "list" then ok = ok + 1 end
    end
    c:close()
    assert.equal(100, ok)
    local recorded = server:requests("/v1/models")
    assert.equal(100, #recorded)
    assert.equal(1, #connections_used(recorded))
    assert.is_true(socket.gettime() - started < 5)
  end)

  it("answers a burst of 300 connections opened at once", function()
    local clients = {}
    for i = 1, 300 do
      clients[i] = connect()
      send_request(clients[i], "GET", "/v1/models?n=" .. i)
    end
    local answered = 0
    for _, c in ipairs(clients) do
      if read_head(c) == "HTTP/1.1 200 OK" then answered = answered + 1 end
      c:close()
    end
    assert.equal(300, answered)
    assert.equal(300, #connections_used(server:requests("/v1/models")))
  end)

  it("lists models by default and answers 404 with an OpenAI error elsewhere", function()
    local models_status, _, models = exchange("GET", "/v1/models")
    assert.equal("HTTP/1.1 200 OK", models_status)
    local ids = {}
    for _, m in ipairs(cjson.decode(models).data) do ids[m.id] = true end
    assert.is_true(ids["gpt-audio-mini"])
    assert.is_true(ids["whisper-1"])

    local status_line, head, body = exchange("POST", "/v1/nowhere", nil, "{}")
    assert.equal("HTTP/1.1 404 Not Found", status_line)
    assert.equal("application/json", head["content-type"])
    local err = cjson.decode(body).error
    assert.equal("invalid_request_error", err.type)
    assert.equal("unknown_url", err.code)
    assert.equal(cjson.null, err.param)
    assert.matches("POST /v1/nowhere", err.message, 1, true)
  end)

  it("serves a sticky default until it is removed or cleared", function()
    server:default("/v1/models", { status = 500, body = "down" })
    server:script("/v1/models", { { body = "scripted first" } })
    local bodies = {}
    for i = 1, 3 do bodies[i] = select(3, exchange("GET", "/v1/models")) end
    server:default("/v1/models", nil)
    local status_line = exchange("GET", "/v1/models")
    assert.same({ "scripted first", "down", "down" }, bodies)
    assert.equal("HTTP/1.1 200 OK", status_line)
    server:default("/v1/x", { body = "sticky" })
    server:clear()
    assert.equal("HTTP/1.1 404 Not Found", (exchange("GET", "/v1/x")))
  end)

  it("forgets scripts and requests on clear", function()
    server:script("/v1/y", { { body = "never served" } })
    exchange("GET", "/v1/z")
    server:clear()
    assert.same({}, server:requests())
    assert.equal("HTTP/1.1 404 Not Found", (exchange("GET", "/v1/y")))
  end)

  it("exits when the process that started it ends without stopping it", function()
    local script = 'print(require("spec.support.fake").start().port) os.exit(0)'
    local child = io.popen(("%s GPTAUDIO_PYTHON=%s %s -e %s"):format(util.spawn_env(), util.shell_quote(fake.python()),
                                                                     util.LUA, util.shell_quote(script)))
    local port = tonumber(child:read("*l"))
    child:close()
    assert.is_number(port)
    local deadline = socket.gettime() + 5
    local c
    repeat
      c = socket.connect("127.0.0.1", port)
      if c then c:close() socket.sleep(0.02) end
    until not c or socket.gettime() > deadline
    assert.is_nil(c)
  end)

  it("stops on stop()", function()
    local other = fake.start()
    local port = other.port
    other:stop()
    assert.is_nil(socket.connect("127.0.0.1", port))
    other:stop()
  end)
end)
