-- client:chat with stream = true against the fake server replaying the
-- streamed Chat Completions sequence (fake_server.py chat_chunks), cut
-- anywhere: events as they arrive, audio sample for sample, the final reply
-- equal to the whole call's, and the variants live traffic shows.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"

local audio = gptaudio.audio
local EXPIRES = 1764003600
local USAGE = { prompt_tokens = 40, completion_tokens = 300, total_tokens = 340,
                prompt_tokens_details = { audio_tokens = 0, cached_tokens = 0, text_tokens = 40 },
                completion_tokens_details = { audio_tokens = 280, reasoning_tokens = 0, text_tokens = 20 } }
-- 40 * 0.60 + 280 * 20 + 20 * 2.40 USD per 1M tokens
local COST = 0.005672

-- `n` samples of s16le that use the whole range and both signs.
local function pcm_bytes(n)
  local parts = {}
  for i = 1, n do
    local v = math.floor(26000 * math.sin(i * 0.013) + 6000 * math.sin(i * 0.71))
    if v < 0 then v = v + 65536 end
    parts[i] = string.char(v % 256, math.floor(v / 256))
  end
  return table.concat(parts)
end

-- 1200 whole samples (50 ms) and one stray byte at the end: a stream cut mid-sample.
local SAMPLES = pcm_bytes(1200)
local PCM = SAMPLES .. "\7"
local WORDS = { "Hello", " there,", " how", " can", " I", " help", "?" }
-- Piece sizes cycled over the bytes: odd ones leave a byte for the next delta.
local CUTS = { 1, 3, 4, 7, 2, 5, 300, 9, 1, 501 }

local assert_same_audio = setup_.assert_same_audio

local function chunk(delta, finish_reason, extra)
  local c = { id = "chatcmpl-s1", object = "chat.completion.chunk", created = 1764000000, model = openai.MODEL,
              choices = json.array{ { index = 0, delta = delta, finish_reason = finish_reason or json.null } } }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

local function usage_chunk()
  return { id = "chatcmpl-s1", object = "chat.completion.chunk", created = 1764000000, model = openai.MODEL,
           choices = json.array(), usage = USAGE, obfuscation = "Qx7" }
end

-- The deltas of the streamed audio sequence, in order: the id, then transcript
-- pieces and data pieces in turn (each piece of bytes its own base64 string),
-- the expires_at-only ending (no finish_reason), the usage chunk.
local function audio_sequence()
  local chunks = { chunk{ role = "assistant", audio = { id = "audio_s1", transcript = "" } } }
  local at, cut, word = 1, 1, 1
  while at <= #PCM do
    if WORDS[word] then
      chunks[#chunks + 1] = chunk{ audio = { transcript = WORDS[word] } }
      word = word + 1
    end
    local piece = PCM:sub(at, at + CUTS[cut] - 1)
    chunks[#chunks + 1] = chunk({ audio = { data = core.base64_encode(piece) } }, nil, { obfuscation = "ab" })
    at, cut = at + #piece, cut % #CUTS + 1
  end
  chunks[#chunks + 1] = chunk{ audio = { expires_at = EXPIRES } }
  chunks[#chunks + 1] = usage_chunk()
  return chunks
end

-- The events on_event should see for `chunks`, as {type, delta | frames}.
local function expected_events(chunks)
  local list, carry = {}, 0
  for _, c in ipairs(chunks) do
    local delta = c.choices and c.choices[1] and c.choices[1].delta or {}
    if delta.content then list[#list + 1] = { "text", delta.content } end
    local a = delta.audio or {}
    if a.transcript and a.transcript ~= "" then list[#list + 1] = { "transcript", a.transcript } end
    if a.data then
      local bytes = carry + #core.base64_decode(a.data)
      carry = bytes % 2
      if bytes >= 2 then list[#list + 1] = { "audio", math.floor(bytes / 2) } end
    end
    if c.usage then list[#list + 1] = { "usage" } end
  end
  list[#list + 1] = { "done" }
  return list
end

local function sse(chunks)
  local events = {}
  for i, c in ipairs(chunks) do events[i] = json.encode(c) end
  events[#events + 1] = "[DONE]"
  return events
end

describe("client:chat streamed", function()
  local server, client

  setup_.fake_client(nil, function(s, c) server, client = s, c end)

  -- Streams `chunks` (cut into `split`-byte writes when given) and returns
  -- the reply, the error, and the events seen ({type, delta | frames} and the
  -- audio chunks joined).
  local function stream(chunks, params, split)
    server:script(openai.CHAT, { { events = sse(chunks), split = split, headers = { ["x-request-id"] = "req_s" } } })
    local seen, joined = {}, nil
    params.messages = params.messages or { { role = "user", content = "hi" } }
    params.stream = true
    params.on_event = function(ev)
      if ev.type == "audio" then
        seen[#seen + 1] = { "audio", #ev.audio }
        if joined then joined:append(ev.audio) else joined = ev.audio:slice(1, -1) end
      elseif ev.type == "text" or ev.type == "transcript" then
        seen[#seen + 1] = { ev.type, ev.delta }
      elseif ev.type == "tool_call" then
        seen[#seen + 1] = { "tool_call", ev.tool_call }
      elseif ev.type == "usage" then
        seen[#seen + 1] = { "usage" }
        assert.equal(340, ev.usage.total_tokens)
      else
        assert.equal("done", ev.type)
        seen[#seen + 1] = { "done" }
        assert.is_table(ev.reply)
      end
    end
    local reply, err = client:chat(params)
    return reply, err, seen, joined
  end

  it("asks for pcm16, usage, and keeps the caller's stream_options", function()
    local reply = assert(stream(audio_sequence(), { audio = { voice = "verse" },
                                                    stream_options = { include_obfuscation = false } }))
    assert.equal("audio_s1", reply.audio_id)
    assert.same({ model = "gpt-audio-mini", messages = { { role = "user", content = "hi" } }, stream = true,
                  stream_options = { include_usage = true, include_obfuscation = false },
                  modalities = { "text", "audio" }, audio = { voice = "verse", format = "pcm16" } },
                server:requests(openai.CHAT)[1].json)
  end)

  for _, split in ipairs{ 1, 7, 64, 1000, false } do
    it(("hands over every piece and the same audio with the bytes cut %s"):format(
         split and ("every " .. split .. " bytes") or "per event"), function()
      local chunks = audio_sequence()
      local reply, err, seen, joined = stream(chunks, { audio = true }, split or nil)
      assert.is_nil(err)
      assert.same(expected_events(chunks), seen)
      local sent = audio.from_pcm16(SAMPLES, 24000, 1)
      assert_same_audio(sent, joined)
      assert_same_audio(sent, reply.audio)
      assert.equal(table.concat(WORDS), reply.transcript)
      assert.equal(table.concat(WORDS), reply.text)
      assert.equal("stop", reply.finish_reason)
      assert.equal(openai.MODEL, reply.model)
      assert.equal("req_s", reply.request_id)
      assert.equal(EXPIRES, reply.audio_expires_at)
      assert.equal(280, reply.usage.output_audio_tokens)
      assert.near(COST, reply.cost, 1e-12)
      assert.same({ role = "assistant", audio = { id = "audio_s1" } }, reply.message)
    end)
  end

  it("gives the reply the whole call gives", function()
    local streamed = assert(stream(audio_sequence(), { audio = { rate = 16000 } }))
    server:script(openai.CHAT, { { json = {
      id = "chatcmpl-s1", object = "chat.completion", created = 1764000000, model = openai.MODEL, usage = USAGE,
      choices = { { index = 0, finish_reason = "stop", message = {
        role = "assistant", content = json.null, refusal = json.null,
        audio = { id = "audio_s1", expires_at = EXPIRES, transcript = table.concat(WORDS),
                  data = core.base64_encode(SAMPLES) } } } },
    }, headers = { ["x-request-id"] = "req_s" } } })
    local whole = assert(client:chat{ messages = { { role = "user", content = "hi" } },
                                      audio = { format = "pcm16", rate = 16000 } })
    assert_same_audio(audio.from_pcm16(SAMPLES, 24000, 1):resample(16000), whole.audio)
    assert_same_audio(whole.audio, streamed.audio)
    for _, field in ipairs{ "text", "transcript", "audio_id", "audio_expires_at", "finish_reason", "model",
                            "request_id", "cost", "audio_bytes", "audio_format", "tool_calls" } do
      assert.equal(whole[field], streamed[field], field)
    end
    assert.same(whole.usage, streamed.usage)
    assert.same(whole.message, streamed.message)
  end)

  it("resamples through one stream: the chunks join to the one-shot result", function()
    local _, _, seen, joined = stream(audio_sequence(), { audio = { rate = 44100 } }, 13)
    local frames = 0
    for _, ev in ipairs(seen) do
      if ev[1] == "audio" then frames = frames + ev[2] end
    end
    local expected = audio.from_pcm16(SAMPLES, 24000, 1):resample(44100)
    assert.equal(#expected, frames)
    assert_same_audio(expected, joined)
  end)

  it("takes transcript and data in one delta, text deltas, and finish_reason alone", function()
    local first, second = PCM:sub(1, 101), PCM:sub(102, 400)
    local chunks = {
      chunk{ role = "assistant", content = "" },
      chunk{ content = "Sure" },
      chunk{ audio = { id = "audio_t", transcript = "Sure", data = core.base64_encode(first) } },
      chunk{ audio = { transcript = " thing", data = core.base64_encode(second) } },
      chunk{ content = ", here." },
      chunk({}, "stop"),
      usage_chunk(),
    }
    local reply, err, seen = stream(chunks, { audio = true }, 5)
    assert.is_nil(err)
    assert.same({ { "text", "Sure" }, { "transcript", "Sure" }, { "audio", 50 }, { "transcript", " thing" },
                  { "audio", 150 }, { "text", ", here." }, { "usage" }, { "done" } }, seen)
    assert.equal("Sure, here.", reply.text)
    assert.equal("Sure thing", reply.transcript)
    assert.equal("stop", reply.finish_reason)
    assert_same_audio(audio.from_pcm16(PCM:sub(1, 400), 24000, 1), reply.audio)
    assert.same({ role = "assistant", content = "Sure, here.", audio = { id = "audio_t" } }, reply.message)
  end)

  it("hands over each tool call when its arguments are complete", function()
    local function call_delta(index, fields) return chunk{ tool_calls = { (function()
      fields.index = index
      return fields
    end)() } } end
    local chunks = {
      chunk{ role = "assistant", content = json.null },
      call_delta(0, { id = "call_a", type = "function", ["function"] = { name = "get_weather", arguments = "" } }),
      call_delta(0, { ["function"] = { arguments = '{"ci' } }),
      call_delta(0, { ["function"] = { arguments = 'ty": "Oslo"}' } }),
      call_delta(1, { id = "call_b", type = "function", ["function"] = { name = "get_time", arguments = "{}" } }),
      chunk({}, "tool_calls"),
      usage_chunk(),
    }
    local reply, err, seen = stream(chunks, {}, 3)
    assert.is_nil(err)
    local weather = { id = "call_a", name = "get_weather", arguments = { city = "Oslo" },
                      arguments_json = '{"city": "Oslo"}' }
    local time = { id = "call_b", name = "get_time", arguments = {}, arguments_json = "{}" }
    assert.same({ { "tool_call", weather }, { "tool_call", time }, { "usage" }, { "done" } }, seen)
    assert.same({ weather, time }, reply.tool_calls)
    assert.equal("tool_calls", reply.finish_reason)
    assert.same({ role = "assistant", tool_calls = {
      { id = "call_a", type = "function", ["function"] = { name = "get_weather", arguments = '{"city": "Oslo"}' } },
      { id = "call_b", type = "function", ["function"] = { name = "get_time", arguments = "{}" } },
    } }, reply.message)
    assert.is_nil(reply.audio)
  end)

  it("fails at an error event mid-stream, keeping what arrived in err.partial", function()
    local chunks = audio_sequence()
    local cut = {}
    for i = 1, 7 do cut[i] = chunks[i] end
    cut[#cut + 1] = { error = { message = "The server had an error", type = "server_error", code = "overloaded" } }
    local reply, err, seen = stream(cut, { audio = true }, 11)
    assert.is_nil(reply)
    assert.equal("api", err.type)
    assert.equal("The server had an error", err.message)
    assert.equal("overloaded", err.code)
    local before = expected_events(cut)
    table.remove(before) -- no done event
    assert.same(before, seen)
    assert.equal("Hello there, how", err.partial.transcript)
    assert.equal("audio_s1", err.partial.audio_id)
    -- Deltas of 1, 3 and 4 bytes: 4 whole samples.
    assert_same_audio(audio.from_pcm16(PCM:sub(1, 8), 24000, 1), err.partial.audio)
  end)

  it("fails with model_mismatch on the first chunk from another model, handing nothing over", function()
    local chunks = audio_sequence()
    for _, c in ipairs(chunks) do c.model = "gpt-audio-2025-08-28" end
    local reply, err, seen = stream(chunks, { audio = true })
    assert.is_nil(reply)
    assert.equal("model_mismatch", err.type)
    assert.equal("asked for gpt-audio-mini, the response names gpt-audio-2025-08-28", err.message)
    assert.same({}, seen)
    assert.equal("gpt-audio-2025-08-28", err.partial.model)
    assert.equal("gpt-audio-2025-08-28", err.raw[1].model)
  end)

  it("stops the transfer at the first chunk from another model instead of reading the rest", function()
    local chunks = audio_sequence()
    for _, c in ipairs(chunks) do c.model = "gpt-audio-2025-08-28" end
    -- The rest of the stream would take over a second per event.
    server:script(openai.CHAT, { { events = sse(chunks), chunk_delay = 1, no_length = true } })
    local started = core.now()
    local reply, err = client:chat{ messages = { { role = "user", content = "hi" } }, stream = true, audio = true }
    assert.is_nil(reply)
    assert.equal("model_mismatch", err.type)
    assert.is_true(core.now() - started < 0.9 * #chunks - 1)
    assert.equal(0, client:active())
  end)

  it("fails a stream that ends before [DONE] with no finish_reason, keeping what arrived", function()
    local events = sse{ chunk{ role = "assistant", content = "Hel" }, chunk{ content = "lo" } }
    events[#events] = nil -- no [DONE]: a close-delimited body that simply stops
    server:script(openai.CHAT, { { events = events, http10 = true } })
    local reply, err = client:chat{ messages = { { role = "user", content = "hi" } }, stream = true }
    assert.is_nil(reply)
    assert.equal("protocol", err.type)
    assert.equal("the stream ended before [DONE]", err.message)
    assert.equal("Hello", err.partial.text)
  end)

  it("accepts a stream that gave its finish_reason but no [DONE]", function()
    local events = sse{ chunk{ role = "assistant", content = "Hi" }, chunk({}, "stop") }
    events[#events] = nil
    server:script(openai.CHAT, { { events = events, http10 = true } })
    local reply = assert(client:chat{ messages = { { role = "user", content = "hi" } }, stream = true })
    assert.equal("Hi", reply.text)
    assert.equal("stop", reply.finish_reason)
  end)

  it("fails a 200 that is not an event stream with a protocol error", function()
    server:script(openai.CHAT, { { status = 200, body = "<html>maintenance</html>",
                                   headers = { ["content-type"] = "text/html" } } })
    local reply, err = client:chat{ messages = { { role = "user", content = "hi" } }, stream = true }
    assert.is_nil(reply)
    assert.equal("protocol", err.type)
    assert.equal("the response is not an event stream (content-type text/html)", err.message)
  end)

  it("fails with a protocol error for an audio delta that is not base64", function()
    local chunks = { chunk{ role = "assistant", audio = { id = "audio_x", transcript = "" } },
                     chunk{ audio = { data = "%%%" } }, usage_chunk() }
    local reply, err = stream(chunks, { audio = true })
    assert.is_nil(reply)
    assert.equal("protocol", err.type)
    assert.equal("audio_x", err.partial.audio_id)
  end)
end)

describe("core.pcm_stream (streamed pcm16 deltas to AudioBuffer chunks)", function()
  it("decodes each delta on its own and carries an odd byte to the next", function()
    local s = core.pcm_stream()
    assert.equal("PcmStream(24000 Hz, whole samples)", tostring(s))
    local a = s:feed_base64(core.base64_encode("\1\2\3"))
    assert.equal(1, #a)
    assert.equal(24000, a.rate)
    assert.equal(0x0201 / 32768, a:sample(1, 1))
    assert.is_true(s:partial())
    assert.equal("PcmStream(24000 Hz, a byte waiting)", tostring(s))
    local b = s:feed("\255")
    assert.equal(1, #b)
    assert.equal((0xFF03 - 65536) / 32768, b:sample(1, 1))
    assert.is_false(s:partial())
    assert.equal(0, #s:feed_base64(""))
  end)

  it("refuses a delta that is not base64 and stays as it was", function()
    local s = core.pcm_stream(16000)
    assert.equal(0, #s:feed("\1"))
    local none, err = s:feed_base64("%%%")
    assert.is_nil(none)
    assert.equal("protocol", err.type)
    assert.equal("an audio delta is not base64 (3 characters)", err.message)
    local c = s:feed("\0")
    assert.equal(16000, c.rate)
    assert.equal(1 / 32768, c:sample(1, 1))
  end)

  it("checks its arguments and refuses use after close", function()
    assert.has_error(function() core.pcm_stream(0) end)
    assert.has_error(function() core.pcm_stream("fast") end)
    local s = core.pcm_stream()
    assert.has_error(function() s:feed({}) end)
    assert.has_error(function() s.feed_base64(audio.new{ rate = 8000 }, "AAAA") end)
    -- Lua 5.4 only: LuaJIT has no to-be-closed variables.
    local close = getmetatable(s).__close
    if close then
      close(s)
      assert.equal("PcmStream(closed)", tostring(s))
      local ok, why = pcall(s.feed, s, "\0\0")
      assert.is_false(ok)
      assert.matches("PcmStream is closed", why, 1, true)
    end
  end)
end)
