-- client:conversation against the fake server: the exact history sent each
-- turn, earlier audio answers referred to by id and by transcript once they
-- expire (an injected clock), tools inside a turn, the oldest turns dropped
-- by the usage counts, usage and cost of the whole conversation.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local tools = gptaudio.tools
local chat = require "gptaudio.calls.chat"
local setup_ = require "spec.support.setup"

local audio = gptaudio.audio
local PATH = "/v1/chat/completions"
local MODEL = "gpt-audio-mini-2025-12-15"
local NOW = 1764000000
local EXPIRES = NOW + 3600

local function usage(prompt, completion)
  return { prompt_tokens = prompt, completion_tokens = completion, total_tokens = prompt + completion,
           prompt_tokens_details = { audio_tokens = 0, cached_tokens = 0, text_tokens = prompt },
           completion_tokens_details = { audio_tokens = 0, reasoning_tokens = 0, text_tokens = completion } }
end

local function completion(message, finish_reason, prompt, answer)
  return { json = { id = "chatcmpl-c", object = "chat.completion", created = NOW, model = MODEL,
                    choices = json.array{ { index = 0, message = message, finish_reason = finish_reason } },
                    usage = usage(prompt or 30, answer or 10) } }
end

local function answering(text, prompt, answer)
  return completion({ role = "assistant", content = text, refusal = json.null }, "stop", prompt, answer)
end

-- 10 ms of silence at 24 kHz, as the API's wav.
local WAV = audio.new{ rate = 24000, frames = 240 }:encode("wav")

local function speaking(id, transcript, prompt, answer)
  return completion({ role = "assistant", content = json.null, refusal = json.null,
                      audio = { id = id, data = core.base64_encode(WAV), expires_at = EXPIRES,
                                transcript = transcript } }, "stop", prompt, answer)
end

local function calling(id, name, arguments)
  return completion({ role = "assistant", content = json.null, refusal = json.null, tool_calls = json.array{
    { id = id, type = "function", ["function"] = { name = name, arguments = arguments } } } }, "tool_calls")
end

describe("client:conversation", function()
  local server, client, now

  setup_.fake_client(nil, function(s, c) server, client, now = s, c, NOW end)

  local function clock() return now end

  local function sent(i)
    return server:requests(PATH)[i].json
  end

  it("refers to an earlier audio answer by id, then by its transcript once it is about to expire", function()
    local conv = client:conversation{ system = "You are a call-center agent.", voice = "coral", clock = clock }
    server:script(PATH, { speaking("audio_1", "Your order has shipped.", 30, 10),
                          speaking("audio_2", "It arrives Friday.", 60, 10),
                          speaking("audio_3", "You are welcome.", 80, 10) })
    local reply = assert(conv:say("Where is my order?"))
    assert.equal("Your order has shipped.", reply.transcript)
    assert.equal(240, #reply.audio)
    assert.same({ voice = "coral", format = "wav" }, sent(1).audio)
    assert.same({ "text", "audio" }, sent(1).modalities)
    now = EXPIRES - 31 -- still good: sent by id
    assert(conv:say("When will it arrive?"))
    local system = { role = "system", content = "You are a call-center agent." }
    assert.same({ system, { role = "user", content = "Where is my order?" },
                  { role = "assistant", audio = { id = "audio_1" } },
                  { role = "user", content = "When will it arrive?" } }, sent(2).messages)
    -- From EXPIRY_MARGIN (30) seconds before expires_at on: by transcript (both answers expire together).
    now = EXPIRES - 30
    assert(conv:say("Thanks."))
    local expected = { system, { role = "user", content = "Where is my order?" },
                       { role = "assistant", content = "Your order has shipped." },
                       { role = "user", content = "When will it arrive?" },
                       { role = "assistant", content = "It arrives Friday." },
                       { role = "user", content = "Thanks." } }
    assert.same(expected, sent(3).messages)
    expected[7] = { role = "assistant", audio = { id = "audio_3" } }
    assert.same(expected, json.decode(json.encode(conv.history)))
  end)

  it("keeps an id valid until EXPIRY_MARGIN seconds before expires_at", function()
    local conv = client:conversation{ clock = clock, audio = { format = "wav" } }
    server:script(PATH, { speaking("audio_1", "Hello.", 10, 5), answering("Hi again.") })
    assert(conv:say("Hi"))
    now = EXPIRES - require("gptaudio.conversation").EXPIRY_MARGIN - 1
    assert(conv:say("Hi again", { audio = false }))
    assert.same({ role = "assistant", audio = { id = "audio_1" } }, sent(2).messages[2])
    assert.is_nil(sent(2).audio)
    assert.same({ voice = "alloy", format = "wav" }, sent(1).audio)
  end)

  it("finds expires_at in a streamed answer too", function()
    local conv = client:conversation{ clock = clock }
    local function chunk(delta, finish_reason)
      return { data = { id = "chatcmpl-s", object = "chat.completion.chunk", created = NOW, model = MODEL,
                        choices = json.array{ { index = 0, delta = delta, finish_reason = finish_reason } } } }
    end
    server:script(PATH, { { events = {
      chunk{ role = "assistant", audio = { id = "audio_s", transcript = "" } },
      chunk{ audio = { transcript = "Streamed.", data = core.base64_encode(("\0"):rep(480)) } },
      chunk{ audio = { expires_at = EXPIRES } },
      "[DONE]" } }, answering("ok"), answering("ok") })
    local reply = assert(conv:say("Stream it", { stream = true }))
    assert.equal("Streamed.", reply.transcript)
    assert.equal("pcm16", sent(1).audio.format)
    assert(conv:say("And now?"))
    assert.same({ role = "assistant", audio = { id = "audio_s" } }, sent(2).messages[2])
    now = EXPIRES
    assert(conv:say("Later"))
    assert.same({ role = "assistant", content = "Streamed." }, sent(3).messages[2])
  end)

  it("runs the tools the model calls within the turn and keeps the exchange in the history", function()
    local box = tools.new{
      { name = "lookup_order", parameters = { type = "object", properties = { id = { type = "integer" } },
                                              required = { "id" } },
        handler = function(args) return { id = args.id, status = "shipped" } end },
    }
    local conv = client:conversation{ system = "Agent.", tools = box, audio = false }
    server:script(PATH, { calling("call_1", "lookup_order", '{"id": 7}'), answering("Order 7 has shipped."),
                          answering("Bye.") })
    local reply = assert(conv:say("Where is order 7?"))
    assert.equal("Order 7 has shipped.", reply.text)
    assert.equal(2, #reply.rounds)
    assert(conv:say("Thanks, bye."))
    local history = {
      { role = "system", content = "Agent." },
      { role = "user", content = "Where is order 7?" },
      { role = "assistant", tool_calls = { { id = "call_1", type = "function",
                                             ["function"] = { name = "lookup_order", arguments = '{"id": 7}' } } } },
      { role = "tool", tool_call_id = "call_1", content = '{"id":7,"status":"shipped"}' },
      { role = "assistant", content = "Order 7 has shipped." },
      { role = "user", content = "Thanks, bye." },
    }
    history[4].content = sent(2).messages[4].content
    assert.same({ id = 7, status = "shipped" }, json.decode(history[4].content))
    assert.same(history, sent(3).messages)
    assert.same(json.decode(json.encode(box)), sent(3).tools)
    assert.is_nil(sent(1).audio)
    local u = conv:usage()
    assert.equal(3, u.calls)
    assert.equal(90, u.input_tokens)
    assert.equal(30, u.output_tokens)
    assert.equal(120, u.total_tokens)
    assert.near(90 * 0.60e-6 + 30 * 2.40e-6, u.cost, 1e-12)
  end)

  it("drops the oldest turns, whole, to stay within max_history_tokens by the usage counts", function()
    local conv = client:conversation{ system = "Be brief.", audio = false, max_history_tokens = 100 }
    -- total_tokens after each turn: 40, 90, 150 (over: drop turns 1 and 2 -> 60), 95
    server:script(PATH, { answering("one", 35, 5), answering("two", 80, 10), answering("three", 140, 10),
                          answering("four", 85, 10) })
    for _, said in ipairs{ "1", "2", "3" } do assert(conv:say(said)) end
    local system = { role = "system", content = "Be brief." }
    assert.same({ system, { role = "user", content = "3" }, { role = "assistant", content = "three" } },
                json.decode(json.encode(conv.history)))
    assert(conv:say("4"))
    assert.same({ system, { role = "user", content = "3" }, { role = "assistant", content = "three" },
                  { role = "user", content = "4" } }, sent(4).messages)
    assert.same({ system, { role = "user", content = "1" }, { role = "assistant", content = "one" },
                  { role = "user", content = "2" }, { role = "assistant", content = "two" },
                  { role = "user", content = "3" } }, sent(3).messages)
    assert.equal(5, #conv.history)
    assert.equal(4, conv:usage().calls)
  end)

  it("never drops the latest turn, even when it alone passes the limit", function()
    local conv = client:conversation{ audio = false, max_history_tokens = 10 }
    server:script(PATH, { answering("long", 50, 10), answering("longer", 90, 10) })
    assert(conv:say("a"))
    assert.equal(2, #conv.history)
    assert(conv:say("b"))
    assert.same({ { role = "user", content = "b" }, { role = "assistant", content = "longer" } },
                json.decode(json.encode(conv.history)))
  end)

  it("sends spoken input as WAV, once encoded, with text parts around it", function()
    local buf = audio.load("/usr/share/sounds/alsa/Front_Center.wav"):slice(1, 4800)
    local conv = client:conversation{ audio = false }
    server:script(PATH, { answering("Heard you."), answering("Again.") })
    assert(conv:say{ "Listen:", buf })
    assert(conv:say(buf))
    local wav = assert(chat.upload_wav(buf))
    local part = { type = "input_audio", input_audio = { data = core.base64_encode(wav), format = "wav" } }
    assert.same({ { type = "text", text = "Listen:" }, part }, sent(1).messages[1].content)
    assert.same({ part }, sent(2).messages[3].content)
    assert.same(sent(1).messages[1], sent(2).messages[1])
  end)

  it("leaves the history as it was when a turn's first call fails or raises", function()
    local conv = client:conversation{ system = "S", audio = false }
    server:script(PATH, { { status = 500, json = { error = { message = "down", type = "server_error",
                                                             param = json.null, code = json.null } } },
                          answering("Up again.") })
    local reply, err = conv:say("Hello?")
    assert.is_nil(reply)
    assert.equal("api", err.type)
    assert.equal(1, #conv.history)
    assert.has_error(function() conv:say("Hello?", { on_event = 1 }) end, "on_event: a function expected, got number")
    assert.equal(1, #conv.history)
    assert(conv:say("Hello?"))
    assert.same({ { role = "system", content = "S" }, { role = "user", content = "Hello?" } }, sent(2).messages)
    assert.equal(1, conv:usage().calls)
    assert.same({ calls = 0 }, client:conversation{}:usage())
  end)

  it("raises at the call for bad options and bad input", function()
    assert.has_error(function() client:conversation{ tool = 1 } end, "client:conversation: unknown option 'tool'")
    assert.has_error(function() client:conversation{ tools = {} } end,
                     "client:conversation: 'tools' must be a toolbox from gptaudio.tools.new (got table)")
    assert.has_error(function() client:conversation{ max_history_tokens = 0.5 } end,
                     "client:conversation: 'max_history_tokens' must be positive integer (got number)")
    local conv = client:conversation{}
    assert.has_error(function() conv:say(42) end,
                     "conv:say: text, an AudioBuffer or a list of parts expected, got number")
    assert.has_error(function() conv:say{} end, "conv:say: an empty list of parts")
    assert.has_error(function() conv:say{ "a", 5 } end,
                     "conv:say: parts[2] must be a string, an AudioBuffer or a content part (got number)")
    assert.equal(0, #server:requests(PATH))
  end)

  it("raises on a closed client, like the client's other calls, and a conversation made before stops", function()
    local closing = gptaudio.new{ api_key = "k", base_url = server.url }
    local conv = closing:conversation{}
    closing:close()
    assert.has_error(function() closing:conversation{} end, "gptaudio: the client is closed")
    assert.has_error(function() conv:say("Hello?") end, "gptaudio: the client is closed")
    assert.equal(0, #server:requests(PATH))
  end)

  it("drives examples/voice_agent.lua: a spoken question, both tools called in turn, a spoken answer", function()
    local lua = os.getenv("GPTAUDIO_LUA") or "lua5.4"
    local run = io.popen("env -u OPENAI_API_KEY -u OPENAI_BASE_URL " .. lua .. " examples/voice_agent.lua 2>&1")
    local out = run:read("*a")
    local ok = run:close()
    assert.is_truthy(ok, out)
    assert.truthy(out:find('tool call   lookup_order {"order_id": "A1001"}\n', 1, true), out)
    assert.truthy(out:find('tool call   issue_refund {"order_id": "A1001", "amount": 59.9, "reason": "damaged"}\n',
                           1, true), out)
    assert.truthy(out:find('"refund_id":"R-0001"', 1, true), out)
    assert.truthy(out:find("usage       3 calls, ", 1, true), out)
    local answer = assert(audio.load("out/voice_agent_answer.wav"))
    assert.is_true(answer.duration > 1)
  end)
end)
