-- Contract: every kind of chat request the module builds goes through the real
-- client to Prism serving OpenAI's own spec (spec/contract/openapi-audio.yaml);
-- Prism answers 422 with the violations when a request breaks it. Prism's
-- answers are the spec's examples ("string" for every string), so the model
-- check is off and each reply is what that example decodes to.
local gptaudio = require "gptaudio"
local chat = require "gptaudio.calls.chat"
local json = require "gptaudio.json"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"

local function hello() return { { role = "user", content = "Say hello." } } end

describe("chat requests against OpenAI's spec (Prism)", function()
  local mock, client
  setup_.prism_client(function(m, c) mock, client = m, c end)

  -- Prism's whole answer for the body the module builds for params, posted
  -- again outside the client: the client's error keeps only the start of it.
  local function violations(params)
    local call = chat.request(params, client.options)
    local _, answer = mock:post(call.path, json.encode(call.json))
    return answer
  end

  -- client:chat(params); a 422 fails the spec with Prism's violations.
  local function send(params)
    local reply, err = client:chat(params)
    if err and err.status == 422 then
      error("the request breaks OpenAI's spec: " .. violations(params), 2)
    end
    return reply, err
  end

  it("knows a broken request when it sees one", function()
    local params = { messages = { { role = "wizard", content = 42 } } }
    local reply, err = client:chat(params)
    assert.is_nil(reply)
    assert.equal(422, err.status)
    local answer = json.decode(violations(params))
    assert.equal(422, answer.status)
    assert.is_true(#answer.validation > 0)
  end)

  it("text in, text out, with the call's own unknown-to-us options", function()
    local reply = assert(send{ messages = { { role = "system", content = "Be brief." }, hello()[1] },
                               max_completion_tokens = 200, temperature = 0.7, timeout = 30 })
    assert.equal("string", reply.text)
    assert.equal("string", reply.model)
    assert.equal("stop", reply.finish_reason)
  end)

  it("audio in from an AudioBuffer, a WAV file and MP3 bytes", function()
    local stereo = gptaudio.audio.load(openai.RECORDING):to_channels(2)
    local mp3 = "ID3\3\0\0\0\0\0\0" .. string.rep("\255\251\144\0", 16)
    assert(send{ messages = { { role = "user", content = {
      { type = "text", text = "What is said in each?" },
      { type = "input_audio", audio = stereo },
      { type = "input_audio", audio = openai.RECORDING },
      { type = "input_audio", audio = { data = mp3, format = "mp3" } },
    } } } })
  end)

  it("audio out in each format", function()
    for _, format in ipairs{ "mp3", "flac", "opus", "aac" } do
      local reply = assert(send{ messages = hello(), audio = { voice = "alloy", format = format, rate = 16000 } })
      assert.equal(openai.EXAMPLE_BYTES, reply.audio_bytes)
      assert.equal(format, reply.audio_format)
    end
    local reply = assert(send{ messages = hello(), audio = { voice = { id = "voice_1234" }, format = "pcm16" } })
    assert.equal(#openai.EXAMPLE_BYTES / 2, #reply.audio)
    -- The example "string" is no WAV file: the request passed, the reply cannot decode.
    local _, err = send{ messages = hello(), audio = true }
    assert.equal("audio", err.type)
  end)

  it("tools, a tool round and parallel calls", function()
    local tools = { { type = "function", ["function"] = {
      name = "get_weather", description = "Weather in a city",
      parameters = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
    } } }
    local reply = assert(send{ messages = hello(), tools = tools, tool_choice = "auto", parallel_tool_calls = true })
    assert.equal("string", reply.tool_calls[1].arguments_json)
    local history = hello()
    history[#history + 1] = reply.message
    history[#history + 1] = { role = "tool", tool_call_id = reply.tool_calls[1].id, content = '{"temp_c": 21}' }
    assert(send{ messages = history, tools = tools,
                 tool_choice = { type = "function", ["function"] = { name = "get_weather" } } })
  end)

  it("multi-turn with an earlier audio reply referenced by its id", function()
    assert(send{ messages = {
      { role = "user", content = { { type = "input_audio", audio = gptaudio.audio.load(openai.RECORDING) } } },
      { role = "assistant", audio = { id = "audio_abc123" } },
      { role = "user", content = "Again, slower." },
    }, audio = { voice = "coral", format = "pcm16" } })
  end)

  it("streaming options: stream, include_usage, pcm16", function()
    for _, params in ipairs{
      { messages = hello(), stream = true, audio = { voice = "verse" },
        stream_options = { include_obfuscation = false } },
      { messages = hello(), stream = true },
    } do
      setup_.assert_accepted_stream(send(params))
    end
  end)
end)
