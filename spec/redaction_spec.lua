local gptaudio = require "gptaudio"
local scheduler = require "gptaudio.engine.scheduler"
local setup_ = require "spec.support.setup"

local KEY = "sk-proj-REDACTION-test-0123456789abcdef"

describe("the API key", function()
  local server, client, lines

  setup_.fake_client({ api_key = KEY, max_retries = 1,
                       log = function(level, message) lines[#lines + 1] = level .. " " .. message end },
                     function(s, c) server, client, lines = s, c, {} end)

  local function assert_no_key(text)
    assert.is_nil(tostring(text):find(KEY, 1, true), "the key leaked into: " .. tostring(text))
  end

  local function assert_clean_log(expected_lines)
    assert.equal(expected_lines, #lines)
    for _, line in ipairs(lines) do assert_no_key(line) end
  end

  it("is sent, but scrubbed from an error that echoes it, and from every log line", function()
    local echo = { status = 401, headers = { ["retry-after-ms"] = "0", ["x-should-retry"] = "true" },
                   json = { error = { message = "Incorrect API key provided: " .. KEY .. ". Check it.",
                                      type = "invalid_request_error", param = KEY, code = "invalid_api_key" } } }
    server:script("/v1/echo", { echo, echo })
    local res, err = client:request{ path = "/echo" }
    assert.is_nil(res)
    assert.equal("Bearer " .. KEY, server:requests("/v1/echo")[1].headers.authorization)
    assert.equal("Incorrect API key provided: [redacted]. Check it.", err.message)
    assert.equal("[redacted]", err.param)
    assert_no_key(tostring(err))
    assert_clean_log(4) -- attempt, retry, attempt, failure
    assert.matches("^error GET /echo failed: gptaudio api error 401 %(invalid_api_key%): Incorrect API key provided: "
                   .. "%[redacted%]%. Check it%.", lines[4])
  end)

  it("is scrubbed from an error event in a stream and from a body that is no API error", function()
    server:script("/v1/s", { { events = { { data = { error = { message = "bad key " .. KEY } } } } } })
    server:script("/v1/text", { { status = 400, body = "key " .. KEY .. " refused" } })
    local _, stream_err = client:request{ path = "/s", stream = true }
    assert.equal("bad key [redacted]", stream_err.message)
    local _, body_err = client:request{ path = "/text" }
    assert.equal("key [redacted] refused", body_err.message)
    assert_clean_log(4)
  end)

  it("is scrubbed from a callback's error and from a failed task's log line", function()
    server:script("/v1/s", { { events = { "1" } } })
    local _, err = client:request{ path = "/s", stream = true, on_event = function() error("oops " .. KEY, 0) end }
    assert.equal("oops [redacted]", err.message)
    server:script("/v1/slow", { { delay = 0.1, json = {} } })
    local task = gptaudio.spawn(function()
      client:request{ path = "/slow" }
      error("task saw " .. KEY, 0)
    end)
    while client:step(0.05) > 0 do end
    assert.equal("failed", task:status())
    assert.equal("error task failed: task saw [redacted]", lines[#lines])
    assert_clean_log(4) -- attempt + failure of /s, attempt of /slow, the task
  end)

  it("is in no tostring and in no string reachable from the client table", function()
    assert.equal("gptaudio.Client(" .. server.url .. ", model gpt-audio-mini)", tostring(client))
    local seen = {}
    local function walk(v)
      if type(v) == "string" then
        assert_no_key(v)
      elseif type(v) == "table" and not seen[v] then
        seen[v] = true
        for k, item in pairs(v) do
          walk(k)
          walk(item)
        end
      end
    end
    walk(client)
    walk(client:start("request", { path = "/models" }))
  end)

  it("covers credentials given as headers (Azure's api-key, a bearer token)", function()
    local azure = gptaudio.new{ api_key = false, base_url = server.url,
                                headers = { ["api-key"] = "azure-secret-key-123",
                                            Authorization = "Bearer tok-abcdefgh12" } }
    server:script("/v1/echo", { { status = 400,
                                  json = { error = { message = "azure-secret-key-123 tok-abcdefgh12" } } } })
    local _, err = azure:request{ path = "/echo" }
    assert.equal("[redacted] [redacted]", err.message)
    assert.equal("azure-secret-key-123", server:requests("/v1/echo")[1].headers["api-key"])
    azure:close()
  end)

  it("survives a log function that raises: the request goes on, the failure goes to stderr", function()
    local broken = gptaudio.new{ api_key = KEY, base_url = server.url,
                                 log = function() error("log broke " .. KEY, 0) end }
    local reported = {}
    local default_log = scheduler.default_log
    scheduler.default_log = function(level, message) reported[#reported + 1] = level .. " " .. message end
    local res = broken:request{ path = "/models" }
    scheduler.default_log = default_log
    assert.equal(200, res.status)
    assert.same({ "error the log function failed: log broke [redacted]" }, reported)
    broken:close()
  end)
end)

describe("errors.redact", function()
  local errors = require "gptaudio.errors"

  it("replaces every occurrence of every secret, leaves short ones and non-strings alone", function()
    local secrets = { KEY, "Bearer " .. KEY, "tok-0123456789", "short" }
    assert.equal("[redacted] and [redacted], then x[redacted]y; short stays",
                 errors.redact(KEY .. " and " .. KEY .. ", then xtok-0123456789y; short stays", secrets))
    assert.equal("Authorization: [redacted]", errors.redact("Authorization: Bearer " .. KEY, { "Bearer " .. KEY, KEY }))
    assert.equal("nothing here", errors.redact("nothing here", secrets))
    assert.equal(42, errors.redact(42, secrets))
    assert.is_nil(errors.redact(nil, secrets))
    assert.equal("[redacted]", errors.redact(KEY, { KEY, KEY }))
  end)

  it("replaces a start of a secret (8 bytes or more) that ends the text: where an excerpt cut it", function()
    assert.equal("body: [redacted]", errors.redact("body: " .. KEY:sub(1, 8), { KEY }))
    assert.equal("body: [redacted]", errors.redact("body: " .. KEY:sub(1, #KEY - 1), { KEY }))
    assert.equal("body: sk-proj", errors.redact("body: sk-proj", { KEY }))
    assert.equal("[redacted] then [redacted]", errors.redact(KEY .. " then " .. KEY:sub(1, 20), { KEY }))
  end)

  it("cuts a quoted excerpt again from the redacted whole text once the error is scrubbed", function()
    local err = errors.with_excerpt({}, "event: ", ("x"):rep(70) .. KEY, 80)
    assert.equal("event: " .. ("x"):rep(70) .. KEY:sub(1, 10), err.message)
    errors.scrub(err, { KEY })
    assert.equal("event: " .. ("x"):rep(70) .. "[redacted]", err.message)
  end)

  it("is not a method of the client", function()
    local c = gptaudio.new{ api_key = KEY }
    assert.is_nil(c.secrets)
    c:close()
  end)
end)
