-- client:chat, not streamed, against the fake server: the exact bodies the
-- module sends, audio in from every source, audio out in every format, tool
-- calls, multi-turn audio ids, the exact model, usage and cost.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local chat = require "gptaudio.calls.chat"
local setup_ = require "spec.support.setup"

local audio = gptaudio.audio
local PATH = "/v1/chat/completions"
local RECORDING = "/usr/share/sounds/alsa/Front_Center.wav" -- 48 kHz mono s16

local read_file = setup_.read_file

local function write_temp(bytes)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path
end

local assert_same_audio = setup_.assert_same_audio

-- A buffer of `frames` frames of a tone, distinct on each channel, on the
-- 16-bit grid so that it crosses WAV and pcm16 unchanged.
local function tone(rate, channels, frames)
  local t = {}
  for i = 1, frames do
    for ch = 1, channels do t[#t + 1] = math.floor(16384 * math.sin(i * 0.05 * ch)) / 32768 end
  end
  return audio.from_samples(t, rate, channels)
end

local function completion(message, fields)
  local body = {
    id = "chatcmpl-1", object = "chat.completion", created = 1764000000, model = "gpt-audio-mini-2025-12-15",
    choices = { { index = 0, message = message, finish_reason = "stop" } },
    usage = { prompt_tokens = 20, completion_tokens = 10, total_tokens = 30,
              prompt_tokens_details = { audio_tokens = 0, cached_tokens = 0, text_tokens = 20 },
              completion_tokens_details = { audio_tokens = 0, reasoning_tokens = 0, text_tokens = 10 } },
  }
  for k, v in pairs(fields or {}) do body[k] = v end
  return body
end

-- An assistant message with audio: `bytes` go up as the API's base64.
local function audio_message(id, transcript, bytes, content)
  return { role = "assistant", content = content or json.null,
           audio = { id = id, expires_at = 1764003600, transcript = transcript, data = core.base64_encode(bytes) } }
end

local function text_message(content)
  return { role = "assistant", content = content, refusal = json.null }
end

describe("client:chat", function()
  local server, client

  setup_.fake_client(nil, function(s, c) server, client = s, c end)

  local function answer(body, headers)
    server:script(PATH, { { json = body, headers = headers } })
  end

  local function sent()
    local list = server:requests(PATH)
    return list[#list]
  end

  describe("builds the request", function()
    it("passes messages, their unknown fields and the call's unknown fields through; call options stay home",
      function()
        answer(completion(text_message("hi")))
        local events = 0
        local reply = assert(client:chat{
          messages = { { role = "system", content = "be brief" },
                       { role = "user", content = "hello", name = "ann", x_future = { 1, 2 } } },
          temperature = 0.5, metadata = { run = "7" }, a_field_from_next_year = true, audio = false,
          timeout = 30, max_retries = 1, headers = { ["X-Trace"] = "t-1" },
          on_event = function() events = events + 1 end,
        })
        assert.equal("hi", reply.text)
        local request = sent()
        assert.same({
          model = "gpt-audio-mini",
          messages = { { role = "system", content = "be brief" },
                       { role = "user", content = "hello", name = "ann", x_future = { 1, 2 } } },
          temperature = 0.5, metadata = { run = "7" }, a_field_from_next_year = true,
        }, request.json)
        assert.equal("t-1", request.headers["x-trace"])
        assert.equal("Bearer sk-test", request.headers["authorization"])
        assert.equal(0, events)
      end)

    it("asks for audio with the client's defaults for audio = true", function()
      local coral = gptaudio.new{ base_url = server.url, api_key = "sk-test", voice = "coral", model = "gpt-audio" }
      answer(completion(text_message("hi"), { model = "gpt-audio" }))
      assert(coral:chat{ messages = { { role = "user", content = "hi" } }, audio = true })
      coral:close()
      assert.same({ model = "gpt-audio", messages = { { role = "user", content = "hi" } },
                    modalities = { "text", "audio" }, audio = { voice = "coral", format = "wav" } }, sent().json)
    end)

    it("sends only voice and format of audio = {voice, format, rate}; any voice goes", function()
      answer(completion(text_message("hi")))
      assert(client:chat{ messages = { { role = "user", content = "hi" } },
                          audio = { voice = "a-voice-from-next-year", format = "mp3", rate = 16000 } })
      assert.same({ voice = "a-voice-from-next-year", format = "mp3" }, sent().json.audio)
      assert.same({ "text", "audio" }, sent().json.modalities)
      answer(completion(text_message("hi")))
      assert(client:chat{ messages = { { role = "user", content = "hi" } }, audio = { voice = { id = "voice_123" } } })
      assert.same({ voice = { id = "voice_123" }, format = "wav" }, sent().json.audio)
    end)

    it("keeps the caller's modalities", function()
      answer(completion(text_message("hi")))
      assert(client:chat{ messages = { { role = "user", content = "hi" } }, modalities = { "audio", "text" } })
      assert.same({ "audio", "text" }, sent().json.modalities)
      assert.same({ voice = "alloy", format = "wav" }, sent().json.audio)
    end)

    it("sends an AudioBuffer at 48 kHz stereo as 24 kHz mono 16-bit WAV", function()
      answer(completion(text_message("heard")))
      local stereo = audio.load(RECORDING):to_channels(2)
      local before = stereo:slice(1, -1)
      local messages = { { role = "user", content = { { type = "text", text = "what is said?" },
                                                      { type = "input_audio", audio = stereo } } } }
      assert(client:chat{ messages = messages })
      local wav = stereo:to_channels(1):resample(24000):encode("wav")
      local parts = sent().json.messages[1].content
      assert.same({ { type = "text", text = "what is said?" },
                    { type = "input_audio", input_audio = { format = "wav", data = core.base64_encode(wav) } } }, parts)
      local up = audio.decode(wav, "wav")
      assert.equal(24000, up.rate)
      assert.equal(1, up.channels)
      -- The caller's table and buffer are left as they were.
      assert.equal(stereo, messages[1].content[2].audio)
      assert.is_nil(messages[1].content[2].input_audio)
      assert_same_audio(before, stereo)
    end)

    it("never upsamples: a 16 kHz buffer goes at 16 kHz", function()
      answer(completion(text_message("heard")))
      local low = tone(16000, 1, 1600)
      assert(client:chat{ messages = { { role = "user", content = { { type = "input_audio", audio = low } } } } })
      local part = sent().json.messages[1].content[1]
      local data = core.base64_encode(low:encode("wav"))
      assert.same({ type = "input_audio", input_audio = { format = "wav", data = data } }, part)
    end)

    it("sends a WAV or MP3 file path as its bytes, and {data =, format =} as given", function()
      local mp3 = "ID3\3\0\0\0\0\0\0" .. string.rep("\255\251\144\0", 64)
      local mp3_path = write_temp(mp3)
      answer(completion(text_message("heard")))
      assert(client:chat{ messages = { { role = "user", content = {
        { type = "input_audio", audio = RECORDING },
        { type = "input_audio", audio = mp3_path },
        { type = "input_audio", audio = { data = "raw mp3 bytes", format = "mp3" } },
        { type = "input_audio", input_audio = { data = "AAAA", format = "wav" } },
      } } } })
      os.remove(mp3_path)
      assert.same({
        { type = "input_audio", input_audio = { data = core.base64_encode(read_file(RECORDING)), format = "wav" } },
        { type = "input_audio", input_audio = { data = core.base64_encode(mp3), format = "mp3" } },
        { type = "input_audio", input_audio = { data = core.base64_encode("raw mp3 bytes"), format = "mp3" } },
        { type = "input_audio", input_audio = { data = "AAAA", format = "wav" } },
      }, sent().json.messages[1].content)
    end)

    it("fails with an audio error for a file that cannot be read or is no audio", function()
      local missing = os.tmpname()
      os.remove(missing)
      local reply, err = client:chat{ messages = { { role = "user", content = {
        { type = "input_audio", audio = missing } } } } }
      assert.is_nil(reply)
      assert.equal("audio", err.type)
      assert.matches("cannot read input audio", err.message, 1, true)
      local text = write_temp("just some text")
      reply, err = client:chat{ messages = { { role = "user", content = { { type = "input_audio", audio = text } } } } }
      os.remove(text)
      assert.is_nil(reply)
      assert.equal(text .. ": not a recognised audio file: Invalid data found when processing input", err.message)
      assert.equal(0, #server:requests(PATH))
    end)

    it("raises at once, naming the field, for what no call can take", function()
      local function raises(message, params)
        local ok, err = pcall(client.chat, client, params)
        assert.is_false(ok)
        assert.equal(message, err)
      end
      local user = function(part) return { { role = "user", content = { part } } } end
      raises("messages[1].content[1].audio: an AudioBuffer, a file path or {data =, format =} expected, got number",
             { messages = user{ type = "input_audio", audio = 42 } })
      raises('messages[1].content[1].audio.format: a format name such as "wav", "mp3" or "m4a" expected, got o.g',
             { messages = user{ type = "input_audio", audio = { data = "x", format = "o.g" } } })
      raises("messages[1].content[1].audio.data: a string of audio bytes expected, got nil",
             { messages = user{ type = "input_audio", audio = { format = "wav" } } })
      raises("audio.speed: unknown field (voice, format and rate are known)",
             { messages = user{ type = "text", text = "hi" }, audio = { speed = 2 } })
      raises("audio.rate: a positive whole number of Hz expected, got 0.5",
             { messages = user{ type = "text", text = "hi" }, audio = { rate = 0.5 } })
      raises("messages: a list of messages expected, got nil", {})
      raises("on_event: a function expected, got string", { messages = {}, on_event = "print" })
      raises("messages[1].content[1]: gpt-audio-mini does not take image input",
             { messages = user{ type = "image_url", image_url = { url = "https://example.com/a.png" } } })
      raises("max_completion_tokens: gpt-audio-mini takes at most 16384 output tokens, not 16385",
             { messages = user{ type = "text", text = "hi" }, max_completion_tokens = 16385 })
      raises('audio.format: "wav" cannot be streamed (stream = true takes pcm16 only)',
             { messages = user{ type = "text", text = "hi" }, audio = { format = "wav" }, stream = true })
      raises("client:chat: 'model' must be string (got nan)", { messages = {}, model = 0 / 0 })
      raises("client:chat: 'model' must be string (got function)", { messages = {}, model = print })
      for _, field in ipairs{ "temperature", "top_p", "frequency_penalty", "presence_penalty",
                              "max_completion_tokens", "max_tokens", "n", "seed", "top_logprobs" } do
        for bad, got in pairs{ [math.huge] = "inf", [-math.huge] = "-inf", ["1"] = "string" } do
          raises(("client:chat: '%s' must be finite number (got %s)"):format(field, got),
                 { messages = {}, [field] = bad })
        end
        raises(("client:chat: '%s' must be finite number (got nan)"):format(field), { messages = {}, [field] = 0 / 0 })
        -- JSON's null is sent as null: the API takes it for these optional fields
        local call = chat.request({ messages = {}, [field] = json.null }, client.options)
        assert.equal(json.null, call.json[field])
      end
      -- a bad value in a call routed through chat names that call
      assert.has_error(function() client:speak("Hi.", { model = "gpt-audio-mini", seed = 0 / 0 }) end,
                       "client:speak: 'seed' must be finite number (got nan)")
      assert.has_error(function() client:transcribe("x.wav", { model = "gpt-audio-mini", top_p = math.huge }) end,
                       "client:transcribe: 'top_p' must be finite number (got inf)")
      assert.equal(0, #server:requests(PATH))
    end)
  end)

  describe("decodes the reply", function()
    it("of text: text, finish_reason, model, request_id, usage, cost, raw, message", function()
      local body = completion(text_message("Hello there."), {
        usage = { prompt_tokens = 1200, completion_tokens = 600, total_tokens = 1800,
                  prompt_tokens_details = { audio_tokens = 1000, cached_tokens = 0, text_tokens = 200 },
                  completion_tokens_details = { audio_tokens = 500, reasoning_tokens = 0, text_tokens = 100 } },
      })
      answer(body, { ["x-request-id"] = "req_abc" })
      local reply = assert(client:chat{ messages = { { role = "user", content = "hi" } } })
      assert.equal("Hello there.", reply.text)
      assert.equal("stop", reply.finish_reason)
      assert.equal("gpt-audio-mini-2025-12-15", reply.model)
      assert.equal("req_abc", reply.request_id)
      assert.same({ input_tokens = 1200, output_tokens = 600, total_tokens = 1800, input_text_tokens = 200,
                    input_audio_tokens = 1000, cached_tokens = 0, output_text_tokens = 100, output_audio_tokens = 500,
                    reasoning_tokens = 0 }, reply.usage)
      -- 200 * 0.60 + 1000 * 10 + 100 * 2.40 + 500 * 20 USD per 1M tokens
      assert.near(0.02036, reply.cost, 1e-12)
      assert.equal("chatcmpl-1", reply.raw.id)
      assert.same({ role = "assistant", content = "Hello there." }, reply.message)
      assert.is_nil(reply.audio)
      assert.is_nil(reply.tool_calls)
      assert.is_nil(reply.transcript)
    end)

    it("of wav audio: an AudioBuffer, the transcript as text, the message reduced to the audio id", function()
      local spoken = tone(24000, 1, 2400)
      answer(completion(audio_message("audio_abc", "Hi!", spoken:encode("wav"))))
      local reply = assert(client:chat{ messages = { { role = "user", content = "hi" } }, audio = true })
      assert_same_audio(spoken, reply.audio)
      assert.equal("Hi!", reply.text)
      assert.equal("Hi!", reply.transcript)
      assert.equal("audio_abc", reply.audio_id)
      assert.equal(1764003600, reply.audio_expires_at)
      if math.type then assert.equal("integer", math.type(reply.audio_expires_at)) end
      assert.same({ role = "assistant", audio = { id = "audio_abc" } }, reply.message)
      assert.same(reply.message, json.decode(json.encode(reply.message)))
    end)

    it("resamples wav and pcm16 audio to audio.rate", function()
      local spoken = tone(24000, 1, 2400)
      answer(completion(audio_message("audio_1", "a", spoken:encode("wav"))))
      local reply = assert(client:chat{ messages = { { role = "user", content = "hi" } }, audio = { rate = 16000 } })
      assert_same_audio(spoken:resample(16000), reply.audio)
      answer(completion(audio_message("audio_2", "a", spoken:encode("pcm16"))))
      reply = assert(client:chat{ messages = { { role = "user", content = "hi" } },
                                  audio = { format = "pcm16", rate = 44100 } })
      assert_same_audio(spoken:resample(44100), reply.audio)
      answer(completion(audio_message("audio_3", "a", spoken:encode("pcm16"))))
      reply = assert(client:chat{ messages = { { role = "user", content = "hi" } }, audio = { format = "pcm16" } })
      assert_same_audio(spoken, reply.audio)
    end)

    it("keeps mp3, flac, opus and aac as bytes", function()
      for _, format in ipairs{ "mp3", "flac", "opus", "aac" } do
        local bytes = format .. " bytes \0\1\2\255"
        answer(completion(audio_message("audio_" .. format, "t", bytes, "text too")))
        local reply = assert(client:chat{ messages = { { role = "user", content = "hi" } },
                                          audio = { format = format } })
        assert.equal(format, sent().json.audio.format)
        assert.is_nil(reply.audio)
        assert.equal(bytes, reply.audio_bytes)
        assert.equal(format, reply.audio_format)
        assert.equal("text too", reply.text)
        assert.equal("t", reply.transcript)
        assert.same({ role = "assistant", content = "text too", audio = { id = "audio_" .. format } }, reply.message)
      end
    end)

    it("fails with the decoding error for audio that is not what was asked", function()
      answer(completion({ role = "assistant", content = json.null,
                          audio = { id = "audio_1", transcript = "a", data = "not base64!" } }))
      local reply, err = client:chat{ messages = { { role = "user", content = "hi" } }, audio = true }
      assert.is_nil(reply)
      assert.equal("protocol", err.type)
      assert.equal("chatcmpl-1", err.raw.id)
      answer(completion(audio_message("audio_1", "a", "RIFF, not really")))
      reply, err = client:chat{ messages = { { role = "user", content = "hi" } }, audio = true }
      assert.is_nil(reply)
      assert.equal("audio", err.type)
    end)

    it("of tool calls: decoded arguments, the API's own strings, and why one did not decode", function()
      local calls = {
        { id = "call_1", type = "function", ["function"] = { name = "get_weather", arguments = '{"city": "Oslo"}' } },
        { id = "call_2", type = "function", ["function"] = { name = "set_timer", arguments = '{"minutes": 5,' } },
      }
      local message = { role = "assistant", content = json.null, tool_calls = calls }
      answer(completion(message, { choices = { { index = 0, finish_reason = "tool_calls", message = message } } }))
      local tools = { { type = "function", ["function"] = { name = "get_weather", parameters = { type = "object" } } } }
      local reply = assert(client:chat{ messages = { { role = "user", content = "weather?" } }, tools = tools,
                                        tool_choice = "auto" })
      assert.same(tools, sent().json.tools)
      assert.equal("auto", sent().json.tool_choice)
      assert.equal("tool_calls", reply.finish_reason)
      assert.same({ id = "call_1", name = "get_weather", arguments = { city = "Oslo" },
                    arguments_json = '{"city": "Oslo"}' }, reply.tool_calls[1])
      assert.equal("call_2", reply.tool_calls[2].id)
      assert.equal('{"minutes": 5,', reply.tool_calls[2].arguments_json)
      assert.is_nil(reply.tool_calls[2].arguments)
      assert.matches("^arguments are not JSON", reply.tool_calls[2].error)
      assert.same({ role = "assistant", tool_calls = calls }, reply.message)
      assert.same(calls, json.decode(json.encode(reply.message)).tool_calls)
    end)

    it("carries an audio reply into the next turn by its id", function()
      answer(completion(audio_message("audio_turn1", "Hello!", tone(24000, 1, 240):encode("wav"))))
      local history = { { role = "user", content = { { type = "input_audio", audio = tone(24000, 1, 480) } } } }
      local first = assert(client:chat{ messages = history, audio = true })
      history[#history + 1] = first.message
      history[#history + 1] = { role = "user", content = "again, slower" }
      answer(completion(text_message("Sure.")))
      assert(client:chat{ messages = history, audio = true })
      local messages = sent().json.messages
      assert.equal(3, #messages)
      assert.same({ type = "input_audio",
                    input_audio = { format = "wav", data = core.base64_encode(tone(24000, 1, 480):encode("wav")) } },
                  messages[1].content[1])
      assert.same({ role = "assistant", audio = { id = "audio_turn1" } }, messages[2])
      assert.same({ role = "user", content = "again, slower" }, messages[3])
    end)
  end)

  describe("through client:start", function()
    it("runs several chats at once without blocking the caller", function()
      local socket = require "socket"
      for i = 1, 4 do
        server:script(PATH, { { json = completion(text_message("answer " .. i)), delay = 1 } })
      end
      local started = socket.gettime()
      local requests = {}
      for i = 1, 4 do
        requests[i] = client:start("chat", { messages = { { role = "user", content = "q" .. i } } })
      end
      -- start returns at once: the server has not answered anything yet.
      assert.is_true(socket.gettime() - started < 0.5)
      assert.equal("running", requests[1]:status())
      assert.is_nil(requests[1]:result())
      while client:step(0.05) > 0 do end
      -- The four 1 s answers overlapped: one after another they would take 4 s.
      assert.is_true(socket.gettime() - started < 3)
      local texts = {}
      for i, req in ipairs(requests) do
        assert.equal("done", req:status())
        texts[i] = assert(req:result()).text
      end
      table.sort(texts)
      assert.same({ "answer 1", "answer 2", "answer 3", "answer 4" }, texts)
      assert.equal(4, client:usage()["gpt-audio-mini"].calls)
    end)

    it("ends a request at once when its input audio cannot be read", function()
      local missing = os.tmpname()
      os.remove(missing)
      local req = client:start("chat", { messages = { { role = "user", content = {
        { type = "input_audio", audio = missing } } } } })
      assert.equal("failed", req:status())
      local reply, err = req:result()
      assert.is_nil(reply)
      assert.equal("audio", err.type)
    end)
  end)

  describe("the exact model", function()
    it("fails with model_mismatch for another model, keeping the reply", function()
      answer(completion(text_message("from elsewhere"), { model = "gpt-audio-2025-08-28" }),
             { ["x-request-id"] = "req_other" })
      local reply, err = client:chat{ messages = { { role = "user", content = "hi" } } }
      assert.is_nil(reply)
      assert.equal("model_mismatch", err.type)
      assert.equal("asked for gpt-audio-mini, the response names gpt-audio-2025-08-28", err.message)
      assert.equal("from elsewhere", err.reply.text)
      assert.equal("gpt-audio-2025-08-28", err.raw.model)
      assert.equal("req_other", err.request_id)
    end)

    it("fails for a response that names no model", function()
      answer(completion(text_message("anonymous"), { model = json.null }))
      local _, err = client:chat{ messages = { { role = "user", content = "hi" } } }
      assert.equal("model_mismatch", err.type)
      assert.equal("asked for gpt-audio-mini, the response names no model", err.message)
    end)

    it("takes a prefix match with model_check = \"prefix\", anything with false", function()
      local prefix = gptaudio.new{ base_url = server.url, api_key = "k", model_check = "prefix" }
      answer(completion(text_message("ok"), { model = "gpt-audio-mini-eu-deployment" }))
      assert.equal("ok", assert(prefix:chat{ messages = { { role = "user", content = "hi" } } }).text)
      answer(completion(text_message("no"), { model = "gpt-audio" }))
      local _, err = prefix:chat{ messages = { { role = "user", content = "hi" } } }
      assert.equal("model_mismatch", err.type)
      prefix:close()
      local open = gptaudio.new{ base_url = server.url, api_key = "k", model_check = false }
      answer(completion(text_message("ok"), { model = "llama-3" }))
      assert.equal("llama-3", assert(open:chat{ messages = { { role = "user", content = "hi" } } }).model)
      open:close()
    end)
  end)

  describe("usage and cost", function()
    it("leaves a gateway's own model unchecked and unpriced, unless the client prices it", function()
      local messages = { { role = "user", content = { { type = "image_url", image_url = { url = "x" } } } } }
      answer(completion(text_message("ok"), { model = "my-gateway-audio" }))
      local reply = assert(client:chat{ model = "my-gateway-audio", messages = messages,
                                        max_completion_tokens = 99999 })
      assert.is_nil(reply.cost)
      assert.equal(30, reply.usage.total_tokens)
      local priced = gptaudio.new{ base_url = server.url, api_key = "k",
                                   prices = { ["my-gateway-audio"] = { text_input = 1, text_output = 3 } } }
      answer(completion(text_message("ok"), { model = "my-gateway-audio" }))
      reply = assert(priced:chat{ model = "my-gateway-audio", messages = messages })
      -- 20 * 1 + 10 * 3 USD per 1M tokens
      assert.near(0.00005, reply.cost, 1e-15)
      priced:close()
    end)

    it("keeps running totals per model in client:usage()", function()
      answer(completion(text_message("one")))
      answer(completion(text_message("two")))
      answer(completion(text_message("three"), { model = "gateway-x" }))
      answer(completion(text_message("four"), { model = "gpt-audio" }))
      assert(client:chat{ messages = { { role = "user", content = "1" } } })
      assert(client:chat{ messages = { { role = "user", content = "2" } } })
      assert(client:chat{ model = "gateway-x", messages = { { role = "user", content = "3" } } })
      assert.is_nil(client:chat{ messages = { { role = "user", content = "4" } } })
      local totals = client:usage()
      local mini = totals["gpt-audio-mini"]
      -- Counted under the model asked for; the mismatched call was billed too, at the
      -- price of the model that answered.
      assert.equal(3, mini.calls)
      assert.equal(60, mini.input_tokens)
      assert.equal(30, mini.output_tokens)
      assert.equal(90, mini.total_tokens)
      assert.equal(0, mini.unpriced_calls)
      -- 2 * (20 * 0.60 + 10 * 2.40) + (20 * 2.50 + 10 * 10) USD per 1M tokens
      assert.near(0.000222, mini.cost, 1e-15)
      assert.same({ calls = 1, unpriced_calls = 1, input_tokens = 20, output_tokens = 10, total_tokens = 30,
                    input_text_tokens = 20, input_audio_tokens = 0, cached_tokens = 0, output_text_tokens = 10,
                    output_audio_tokens = 0, reasoning_tokens = 0, seconds = 0, characters = 0 }, totals["gateway-x"])
    end)
  end)
end)
