-- What goes on the wire and how answers are read, where OpenAI's SDKs set the
-- rule: numbers exactly as given, retry-after honoured up to a cap, a 200
-- that carries an API error, streamed audio that ends mid-sample.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"

local CHAT = "/v1/chat/completions"
local MESSAGES = { { role = "user", content = "hi" } }
local REPLY = { id = "chatcmpl-w", object = "chat.completion", model = openai.MODEL,
                choices = { { index = 0, finish_reason = "stop", message = { role = "assistant", content = "ok" } } } }

local function rate_limited(headers)
  return { status = 429, headers = headers,
           json = { error = { message = "slow down", type = "requests", param = json.null,
                              code = "rate_limit_exceeded" } } }
end

describe("on the wire", function()
  local server, client, lines
  local function log(level, message) lines[#lines + 1] = level .. " " .. message end
  setup_.fake_client({ max_retries = 2, log = log }, function(s, c) server, client, lines = s, c, {} end)

  local function sent_body()
    local sent = server:requests(CHAT)
    return sent[#sent].body
  end

  describe("numbers", function()
    it("go out exactly: seed = 2^53 - 1 byte for byte, floats in digits that read back the same", function()
      server:default(CHAT, { json = REPLY })
      assert(client:chat{ messages = MESSAGES, seed = 2 ^ 53 - 1 })
      assert.matches('"seed":9007199254740991[,}]', sent_body())
      assert(client:chat{ messages = MESSAGES, seed = -(2 ^ 53 - 1), temperature = 0.123456789012345678 })
      assert.matches('"seed":%-9007199254740991[,}]', sent_body())
      assert.matches('"temperature":0.12345678901234568[,}]', sent_body())
      -- short floats stay short, as JSON.stringify writes them
      assert(client:chat{ messages = MESSAGES, temperature = 0.7, top_p = 1, max_completion_tokens = 100 })
      assert.matches('"temperature":0.7[,}]', sent_body())
      assert.matches('"top_p":1[,}]', sent_body())
      assert.matches('"max_completion_tokens":100[,}]', sent_body())
      if math.type then -- Lua 5.4 integers, in full
        assert(client:chat{ messages = MESSAGES, seed = math.maxinteger, metadata = { n = math.mininteger } })
        assert.matches('"seed":9223372036854775807[,}]', sent_body())
        assert.matches('"n":%-9223372036854775808[,}]', sent_body())
      end
      for _, r in ipairs(server:requests(CHAT)) do assert.is_nil(r.body:find("e+", 1, true)) end
    end)

    it("in transcription form fields too", function()
      server:default("/v1/audio/transcriptions", { json = { text = "ok" } })
      assert(client:transcribe({ data = "RIFF", format = "wav" },
                               { model = "whisper-1", temperature = 0.123456789012345678 }))
      local form = server:requests("/v1/audio/transcriptions")[1].body
      assert.matches('name="temperature"\r\n\r\n0.12345678901234568\r\n', form, 1, true)
    end)
  end)

  describe("retry-after", function()
    it("is honoured: 3 s asked, 3 s waited, then the retry succeeds", function()
      server:script(CHAT, { rate_limited{ ["retry-after"] = "3" }, { json = REPLY } })
      local started = core.now()
      local reply = assert(client:chat{ messages = MESSAGES })
      local waited = core.now() - started
      assert.equal("ok", reply.text)
      assert.is_true(waited >= 3, ("waited %.3f s"):format(waited))
      local sent = server:requests(CHAT)
      assert.equal(2, #sent)
      assert.is_true(sent[2].time - sent[1].time >= 3)
    end)

    it("past the cap (120 s unless max_retry_after says) fails at once with err.retry_after", function()
      server:script(CHAT, { rate_limited{ ["retry-after"] = "65" }, rate_limited{ ["retry-after"] = "121" } })
      local capped = gptaudio.new{ api_key = "k", base_url = server.url, max_retry_after = 60 }
      assert.equal(120, client.options.max_retry_after)
      for i, c in ipairs{ capped, client } do
        local started = core.now()
        local reply, err = c:chat{ messages = MESSAGES }
        assert.is_nil(reply)
        assert.equal("api", err.type)
        assert.equal(429, err.status)
        assert.equal(({ 65, 121 })[i], err.retry_after)
        assert.equal(1, err.attempts)
        assert.is_true(core.now() - started < 2)
      end
      assert.equal(2, #server:requests(CHAT))
      capped:close()
    end)

    it("holds a whole map job while one of its requests waits out a 429", function()
      server:script("/v1/job", { rate_limited{ ["retry-after-ms"] = "1500" } })
      server:default("/v1/job", { json = { ok = true } })
      local results = client:map({ 1, 2, 3, 4 }, function(_, i)
        return client:request{ method = "POST", path = "/job", json = { item = i } }
      end, { concurrency = 1 })
      assert.equal(4, #results)
      for _, r in ipairs(results) do assert.is_true(r.ok) end
      local sent = server:requests("/v1/job")
      assert.equal(5, #sent)
      for i = 2, 5 do assert.is_true(sent[i].time - sent[1].time >= 1.5, "request " .. i) end
    end)
  end)

  describe("a 200 that carries an API error", function()
    local ERROR_BODY = { error = { message = "upstream quota", type = "insufficient_quota", param = "model",
                                   code = "quota" } }

    it("is an error of type api with its message, code and param", function()
      server:script(CHAT, { { json = ERROR_BODY } })
      local reply, err = client:chat{ messages = MESSAGES }
      assert.is_nil(reply)
      assert.same({ "api", 200, "upstream quota", "quota", "model", "insufficient_quota" },
                  { err.type, err.status, err.message, err.code, err.param, err.api_type })
      assert.equal(1, #server:requests(CHAT))
    end)

    it("is one in a stream too: as an event, or as a JSON body where the stream should be", function()
      server:script(CHAT, { { events = { { data = ERROR_BODY } } }, { json = ERROR_BODY } })
      for _ = 1, 2 do
        local reply, err = client:chat{ messages = MESSAGES, stream = true }
        assert.is_nil(reply)
        assert.same({ "api", "upstream quota", "quota", "model" }, { err.type, err.message, err.code, err.param })
      end
      server:script("/v1/audio/speech", { { json = ERROR_BODY } })
      local speech, err = client:speak("hi", { model = "gpt-4o-mini-tts", stream = true })
      assert.is_nil(speech)
      assert.same({ "api", 200, "upstream quota" }, { err.type, err.status, err.message })
    end)

    -- An error object with a message is the call's error whatever else the body
    -- holds, unless the body is an API resource (a string id and a string object
    -- other than "error") that records its own failure.
    local function answered(body)
      server:script("/v1/thing", { { json = body } })
      return client:request{ path = "/thing" }
    end

    it("is one beside an object field, when the body is no resource", function()
      for _, body in ipairs{
        { object = "chat.completion", error = { message = "gateway: upstream timed out", code = "timeout" } },
        { object = "error", id = "err_1", error = { message = "gateway: upstream timed out", code = "timeout" } },
        { id = "chatcmpl-1", error = { message = "gateway: upstream timed out", code = "timeout" } },
      } do
        local value, err = answered(body)
        assert.is_nil(value)
        assert.same({ "api", 200, "gateway: upstream timed out", "timeout" },
                    { err.type, err.status, err.message, err.code })
      end
    end)

    it("is none in a resource that failed, in a null error, or in an error without a message", function()
      local failed = { object = "response", id = "resp_1", status = "failed",
                       error = { code = "server_error", message = "The model failed to answer." } }
      local body = assert(answered(failed)).json
      assert.same({ "resp_1", "failed", "The model failed to answer." }, { body.id, body.status, body.error.message })
      body = assert(answered{ object = "batch", id = "batch_1", status = "completed", error = json.null }).json
      assert.same({ "batch_1", json.null }, { body.id, body.error })
      for _, plain in ipairs{ { error = json.null, ok = true }, { error = { code = "x" }, ok = true },
                              { error = "text", ok = true }, { error = { message = 3 }, ok = true } } do
        assert.is_true(assert(answered(plain)).json.ok)
      end
    end)
  end)

  describe("streamed audio that ends in the middle of a sample", function()
    it("keeps every whole sample and logs the odd byte, in chat as in speak", function()
      local function chunk(delta, finish)
        return { id = "c", object = "chat.completion.chunk", model = openai.MODEL,
                 choices = { { index = 0, delta = delta, finish_reason = finish or json.null } } }
      end
      server:script(CHAT, { { events = {
        { data = chunk{ audio = { id = "audio_1", data = core.base64_encode("\1\0\2\0\3") } } },
        { data = chunk({}, "stop") }, "[DONE]" } } })
      local reply = assert(client:chat{ messages = MESSAGES, stream = true, audio = { format = "pcm16" } })
      assert.equal(2, #reply.audio)
      assert.equal(2 / 32768, reply.audio:sample(2))
      local warned = 0
      for _, line in ipairs(lines) do
        if line == "warn chat: the audio stream ended in the middle of a sample; its odd byte is dropped" then
          warned = warned + 1
        end
      end
      assert.equal(1, warned)
    end)
  end)
end)
