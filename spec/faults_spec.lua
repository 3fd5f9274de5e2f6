-- Fault injection: each way a server or the network can fail, against the
-- fake server, through the public calls (client:request and client:chat).
-- Each case asserts its documented outcome (the table in RELIABILITY.md) and
-- that it ends within its own timeout plus a generous margin: nothing hangs.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local KEY = "sk-faults-0123456789abcdef"
-- What "promptly" means for a case that should end at once; a timed case gets its timeout on top.
local PROMPT = 3

local function chunk(delta, finish_reason)
  return json.encode{ id = "chatcmpl-f", object = "chat.completion.chunk", model = openai.MODEL,
                      choices = json.array{ { index = 0, delta = delta, finish_reason = finish_reason } } }
end

local HELLO = { chunk{ role = "assistant", content = "Hel" }, chunk{ content = "lo" }, chunk{ content = " world" } }

local function completion(content)
  return { id = "chatcmpl-f", object = "chat.completion", model = openai.MODEL,
           choices = { { index = 0, message = { role = "assistant", content = content }, finish_reason = "stop" } } }
end

-- The bytes the fake server sends for these SSE data lines.
local function sse_length(events)
  local n = 0
  for _, data in ipairs(events) do n = n + #("data: " .. data .. "\n\n") end
  return n
end

describe("fault injection", function()
  local server, client
  setup_.fake_client({ api_key = KEY }, function(s, c) server, client = s, c end)

  -- Runs fn, asserts it took less than `bound` seconds, returns what fn returned.
  local function within(bound, fn)
    local started = core.now()
    local a, b = fn()
    local elapsed = core.now() - started
    assert.is_true(elapsed < bound, ("took %.2f s, bound %.2f s"):format(elapsed, bound))
    return a, b
  end

  local function chat(params)
    params.messages = { { role = "user", content = "hi" } }
    return client:chat(params)
  end

  -- A 200 carrying body as content_type, which no reply decodes from:
  -- client:request on path hands the body back as it came; a chat fails with
  -- type protocol.
  local function assert_undecodable(path, body, content_type)
    local response = { body = body, headers = { ["content-type"] = content_type } }
    server:script("/v1" .. path, { response })
    local res = within(PROMPT, function() return client:request{ path = path } end)
    assert.equal(200, res.status)
    assert.equal(body, res.body)
    assert.is_nil(res.json)
    server:script(openai.CHAT, { response })
    local reply, err = within(PROMPT, function() return chat{} end)
    assert.is_nil(reply)
    assert.equal("protocol", err.type)
  end

  it("connection refused: type connection, retried like the SDKs, then nil, err", function()
    local port = util.closed_port()
    local refused = gptaudio.new{ api_key = KEY, base_url = ("http://127.0.0.1:%d/v1"):format(port), max_retries = 2 }
    local res, err = within(PROMPT + 2 * 8, function() return refused:request{ path = "/models" } end)
    refused:close()
    assert.is_nil(res)
    assert.equal("connection", err.type)
    assert.equal(3, err.attempts)
    assert.equal(7, err.curl_code)
    assert.matches("^connection refused %(", err.message)
  end)

  it("reset mid-body: type connection, not retried once the body started", function()
    server:script("/v1/reset", { { body = ("x"):rep(100000), split = 1000, cut_after = 5000, reset = true } })
    local res, err = within(PROMPT, function() return client:request{ path = "/reset" } end)
    assert.is_nil(res)
    assert.equal("connection", err.type)
    assert.equal(56, err.curl_code)
    assert.matches("^connection failed while receiving %(", err.message)
    assert.equal(1, #server:requests("/v1/reset"))
  end)

  it("cut mid-stream: type connection, the events received kept in err.partial", function()
    local events = { "one", "two", "three" }
    server:script("/v1/cut", { { events = events, no_length = true, chunk_delay = 0.02,
                                 cut_after = sse_length{ "one", "two" } + 4 } })
    local seen = {}
    local res, err = within(PROMPT, function()
      return client:request{ path = "/cut", stream = true, on_event = function(ev) seen[#seen + 1] = ev.data end }
    end)
    assert.is_nil(res)
    assert.equal("connection", err.type)
    assert.same({ "one", "two" }, seen)
    assert.equal(2, #err.partial)
    assert.same({ "one", "two" }, { err.partial[1].data, err.partial[2].data })
  end)

  it("cut mid-stream in a chat: the partial reply is kept on the error", function()
    server:script(openai.CHAT, { { events = HELLO, no_length = true, chunk_delay = 0.02,
                                   cut_after = sse_length{ HELLO[1], HELLO[2] } + 10 } })
    local reply, err = within(PROMPT, function() return chat{ stream = true } end)
    assert.is_nil(reply)
    assert.equal("connection", err.type)
    assert.equal("Hello", err.partial.text)
    assert.equal(openai.MODEL, err.partial.model)
  end)

  it("headers then silence: type timeout at the call's timeout", function()
    server:script("/v1/silent", { { body = "late", silence = 30 } })
    local res, err = within(1 + PROMPT, function() return client:request{ path = "/silent", timeout = 1 } end)
    assert.is_nil(res)
    assert.equal("timeout", err.type)
    assert.equal(28, err.curl_code)
    assert.matches("^timed out %(", err.message)
  end)

  -- A stream is bounded by its first byte, then by the stall limit, never by its length.
  it("a speech stream that takes longer than timeout completes while bytes keep coming", function()
    local pcm = ("\1\0"):rep(1200) -- 2,400 bytes dripped over about 2.5 s against a 1 s timeout
    server:script(openai.SPEECH, { { body = pcm, drip = { bytes = 96, interval = 0.1 }, no_length = true,
                                       headers = { ["content-type"] = "audio/pcm" } } })
    local started = core.now()
    local speech, err = within(2.5 + PROMPT, function()
      return client:speak("Long.", { model = "tts-1", stream = true, timeout = 1 })
    end)
    assert.is_nil(err)
    assert.equal(pcm, speech.audio:encode("pcm16"))
    assert.is_true(core.now() - started > 2)
  end)

  it("a stream whose first byte never comes fails at timeout", function()
    server:script("/v1/never", { { delay = 5, body = "late" } })
    local started = core.now()
    local res, err = within(1 + PROMPT, function()
      return client:request{ path = "/never", stream = "raw", timeout = 1 }
    end)
    assert.is_nil(res)
    assert.equal("timeout", err.type)
    assert.equal(28, err.curl_code)
    assert.equal("timed out (no response within 1 s)", err.message)
    assert.is_true(core.now() - started >= 0.95)
  end)

  it("a body that takes longer than timeout still fails when not streamed", function()
    server:script("/v1/slow-body", { { body = ("x"):rep(25), drip = { bytes = 1, interval = 0.1 } } })
    local res, err = within(1 + PROMPT, function() return client:request{ path = "/slow-body", timeout = 1 } end)
    assert.is_nil(res)
    assert.equal("timeout", err.type)
    assert.matches("^timed out %(", err.message)
  end)

  -- Responses no HTTP library would write, byte for byte (the fake server's wire mode).
  local function wire(head, body)
    return head .. "Content-Length: " .. #body .. "\r\nConnection: close\r\n\r\n" .. body
  end

  it("\"HTTP/1.1  500\" (two spaces, which curl accepts) is status 500, buffered or streamed", function()
    local body = json.encode{ error = { message = "boom", type = "server_error", code = "boom_code" } }
    local answer = { wire = wire("HTTP/1.1  500 Internal Server Error\r\nContent-Type: application/json\r\n", body) }
    server:script("/v1/two-spaces", { answer, answer })
    for _, stream in ipairs{ false, "sse" } do
      local res, err = within(PROMPT, function() return client:request{ path = "/two-spaces", stream = stream } end)
      assert.is_nil(res)
      assert.equal("api", err.type)
      assert.equal(500, err.status)
      assert.equal("boom", err.message)
      assert.equal("boom_code", err.code)
    end
  end)

  it("a status below 100 is a protocol error that says the response is at fault", function()
    server:script("/v1/low-status", { { wire = wire("HTTP/1.1 099 Odd\r\n", "") } })
    local res, err = within(PROMPT, function() return client:request{ path = "/low-status" } end)
    assert.is_nil(res)
    assert.equal("protocol", err.type)
    assert.matches("^invalid HTTP response %(", err.message)
  end)

  it("a 10 MB header line is a protocol error that names it", function()
    local head = "HTTP/1.1 200 OK\r\nX-Huge: " .. ("a"):rep(10 * 2 ^ 20) .. "\r\n"
    server:script("/v1/huge-line", { { wire = wire(head, "{}") } })
    local res, err = within(PROMPT, function() return client:request{ path = "/huge-line" } end)
    assert.is_nil(res)
    assert.equal("protocol", err.type)
    assert.matches("^response header line too long, or out of memory %(", err.message)
  end)

  it("a response head over 300 KB is a protocol error, not a connection error", function()
    local lines = { "HTTP/1.1 200 OK\r\n" }
    for i = 1, 8 do lines[#lines + 1] = ("X-Pad-%d: %s\r\n"):format(i, ("p"):rep(50 * 1024)) end
    server:script("/v1/huge-head", { { wire = wire(table.concat(lines), "{}") } })
    local res, err = within(PROMPT, function() return client:request{ path = "/huge-head" } end)
    assert.is_nil(res)
    assert.equal("protocol", err.type)
    assert.matches("^response headers too large %(", err.message)
  end)

  -- curl judges the speed over its last few seconds, headers included: with a
  -- limit of 1 byte/s the headers alone would hold the stall off for ~6 s more.
  it("headers then silence on a stream: type timeout once low_speed_time passes", function()
    local stalled = gptaudio.new{ api_key = KEY, base_url = server.url, max_retries = 0,
                                  low_speed_limit = 100, low_speed_time = 1 }
    server:script(openai.CHAT, { { events = HELLO, no_length = true, silence = 30 } })
    local reply, err = within(1 + PROMPT, function()
      return stalled:chat{ messages = { { role = "user", content = "hi" } }, stream = true }
    end)
    stalled:close()
    assert.is_nil(reply)
    assert.equal("timeout", err.type)
    assert.matches("^stream stalled %(", err.message)
  end)

  it("a slow drip under the low-speed limit: type timeout, while a drip above it succeeds", function()
    local limited = gptaudio.new{ api_key = KEY, base_url = server.url, max_retries = 0,
                                  low_speed_limit = 20, low_speed_time = 1 }
    local event = ("d"):rep(60)
    -- 5 bytes/s against a limit of 20: stalled after a second.
    server:script("/v1/drip", { { events = { event }, no_length = true, drip = { bytes = 1, interval = 0.2 } } })
    local res, err = within(1 + PROMPT, function() return limited:request{ path = "/drip", stream = true } end)
    assert.is_nil(res)
    assert.equal("timeout", err.type)
    assert.matches("^stream stalled %(", err.message)
    -- 100 bytes/s: slow, but above the limit.
    server:script("/v1/drip", { { events = { event }, no_length = true, drip = { bytes = 1, interval = 0.01 } } })
    res = within(PROMPT + 2, function() return limited:request{ path = "/drip", stream = true } end)
    limited:close()
    assert.equal(event, res.events[1].data)
  end)

  it("a 10 MB error body: type api with the status and the body's first 200 bytes", function()
    local body = ("E"):rep(200) .. ("e"):rep(10 * 2 ^ 20 - 200)
    server:script("/v1/huge", { { status = 500, body = body } })
    local res, err = within(PROMPT, function() return client:request{ path = "/huge" } end)
    assert.is_nil(res)
    assert.equal("api", err.type)
    assert.equal(500, err.status)
    assert.equal(("E"):rep(200), err.message)
  end)

  it("a 10 MB error body over max_response_bytes: type too_large, with or without a length", function()
    local small = gptaudio.new{ api_key = KEY, base_url = server.url, max_retries = 0, max_response_bytes = 2 ^ 20 }
    local body = ("e"):rep(10 * 2 ^ 20)
    server:script("/v1/huge", { { status = 500, body = body }, { status = 500, body = body, no_length = true } })
    for _ = 1, 2 do
      local res, err = within(PROMPT, function() return small:request{ path = "/huge" } end)
      assert.is_nil(res)
      assert.equal("too_large", err.type)
      assert.equal("response body larger than max_response_bytes (1048576)", err.message)
    end
    small:close()
  end)

  it("invalid JSON: client:request keeps the body undecoded; chat fails with type protocol", function()
    assert_undecodable("/broken", '{"choices": [{"message": ', "application/json")
  end)

  it("invalid UTF-8: the bytes pass through unchanged, whole and streamed", function()
    local text = "caf\233 \255\254 \192\128"
    server:script(openai.CHAT, { { json = completion(text) } })
    local reply = within(PROMPT, function() return chat{} end)
    assert.equal(text, reply.text)
    server:script(openai.CHAT, { { events = { chunk{ content = text }, chunk({}, "stop"), "[DONE]" } } })
    reply = within(PROMPT, function() return chat{ stream = true } end)
    assert.equal(text, reply.text)
    server:script("/v1/bytes", { { body = text } })
    assert.equal(text, within(PROMPT, function() return client:request{ path = "/bytes" } end).body)
  end)

  it("an SSE stream without [DONE]: ends with the body; a chat is complete only with a finish_reason", function()
    server:script("/v1/nodone", { { events = { "a", "b" } } })
    local res = within(PROMPT, function() return client:request{ path = "/nodone", stream = true } end)
    assert.same({ "a", "b" }, { res.events[1].data, res.events[2].data })
    assert.equal(2, #res.events)
    server:script(openai.CHAT, { { events = { HELLO[1], HELLO[2], chunk({}, "stop") } } })
    local reply = within(PROMPT, function() return chat{ stream = true } end)
    assert.equal("Hello", reply.text)
    assert.equal("stop", reply.finish_reason)
    -- close-delimited, cut inside the third event: to curl the body simply ended
    server:script(openai.CHAT, { { events = HELLO, http10 = true, cut_after = sse_length{ HELLO[1], HELLO[2] } + 10 } })
    local cut, err = within(PROMPT, function() return chat{ stream = true } end)
    assert.is_nil(cut)
    assert.equal("protocol", err.type)
    assert.equal("the stream ended before [DONE]", err.message)
    assert.equal("Hello", err.partial.text)
  end)

  it("a 200 with an HTML body: client:request returns it as text; chat fails with type protocol", function()
    local html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    assert_undecodable("/html", html, "text/html")
    server:script(openai.CHAT, { { body = html, headers = { ["content-type"] = "text/html" } } })
    local reply, err = within(PROMPT, function() return chat{ stream = true } end)
    assert.is_nil(reply)
    assert.equal("protocol", err.type)
    assert.equal("the response is not an event stream (content-type text/html)", err.message)
  end)

  it("close-delimited HTTP/1.0: the body ends with the connection, whole and streamed", function()
    server:script("/v1/old", { { json = { ok = true, n = 3 }, http10 = true } })
    local res = within(PROMPT, function() return client:request{ path = "/old" } end)
    assert.equal(200, res.status)
    assert.same({ ok = true, n = 3 }, res.json)
    server:script(openai.CHAT, { { json = completion("over 1.0"), http10 = true } })
    assert.equal("over 1.0", within(PROMPT, function() return chat{} end).text)
    server:script(openai.CHAT, { { events = { HELLO[1], HELLO[2], chunk({}, "stop"), "[DONE]" }, http10 = true,
                                   chunk_delay = 0.01 } })
    local reply = within(PROMPT, function() return chat{ stream = true } end)
    assert.equal("Hello", reply.text)
    -- cut inside a close-delimited JSON body: what arrived is not a reply
    server:script(openai.CHAT, { { json = completion("never whole"), http10 = true, cut_after = 40 } })
    local cut, err = within(PROMPT, function() return chat{} end)
    assert.is_nil(cut)
    assert.equal("protocol", err.type)
  end)
end)
