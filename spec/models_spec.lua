local SOURCE = "OpenAI's published prices as the team recorded them; not re-checked against the live pricing page"
local MODEL_PAGES = "OpenAI's model pages (developers.openai.com/api/docs/models/<id>)"
local models = require "gptaudio.models"
local usage = require "gptaudio.usage"

-- A float equal to the figure within rounding of a few additions.
local function assert_usd(expected, actual)
  assert.is_number(actual)
  assert.near(expected, actual, 1e-12)
end

local function raises(expected, params, stream_format)
  local ok, err = pcall(models.check_chat, params, stream_format)
  assert.is_false(ok)
  assert.equal(expected, err)
end

describe("models registry", function()
  it("describes gpt-audio-mini as the design states it", function()
    local m = models.get("gpt-audio-mini")
    assert.same({
      id = "gpt-audio-mini", kind = "chat-audio", endpoint = "/chat/completions",
      input = { "text", "audio" }, output = { "text", "audio" },
      context_window = 128000, max_output_tokens = 16384, max_audio_seconds = 1200,
      max_inline_bytes = 25 * 1024 * 1024, billing = "tokens",
      prices = { text_input = 0.60, text_output = 2.40, audio_input = 10.00, audio_output = 20.00,
                 source = SOURCE,
                 taken = "2026-11-25" },
      refuses = { structured_outputs = true, fine_tuning = true, batch = true, realtime = true },
    }, m)
  end)

  it("knows each audio model with its kind, endpoint and billing unit", function()
    local expected = {
      ["gpt-audio-mini"] = { "chat-audio", "/chat/completions", "tokens" },
      ["gpt-audio"] = { "chat-audio", "/chat/completions", "tokens" },
      ["gpt-audio-1.5"] = { "chat-audio", "/chat/completions", "tokens" },
      ["gpt-4o-transcribe-diarize"] = { "transcription", "/audio/transcriptions", "tokens" },
      ["gpt-4o-audio-preview"] = { "chat-audio", "/chat/completions", "tokens" },
      ["gpt-4o-mini-audio-preview"] = { "chat-audio", "/chat/completions", "tokens" },
      ["gpt-4o-transcribe"] = { "transcription", "/audio/transcriptions", "tokens" },
      ["gpt-4o-mini-transcribe"] = { "transcription", "/audio/transcriptions", "tokens" },
      ["whisper-1"] = { "transcription", "/audio/transcriptions", "minutes" },
      ["gpt-4o-mini-tts"] = { "speech", "/audio/speech", "tokens" },
      ["tts-1"] = { "speech", "/audio/speech", "characters" },
      ["tts-1-hd"] = { "speech", "/audio/speech", "characters" },
    }
    local seen = {}
    for id, m in pairs(models.known) do
      seen[id] = { m.kind, m.endpoint, m.billing }
      assert.equal(id, m.id)
      if m.prices.source == MODEL_PAGES then
        assert.equal("2026-12-07", m.prices.taken)
      else
        assert.equal(SOURCE, m.prices.source)
        assert.equal("2026-11-25", m.prices.taken)
      end
    end
    assert.same(expected, seen)
    assert.equal(0.006, models.get("whisper-1").prices.minute)
    assert.equal(15, models.get("tts-1").prices.characters_1m)
    assert.equal(30, models.get("tts-1-hd").prices.characters_1m)
  end)

  it("finds a dated snapshot under its model and nothing for unknown ids", function()
    assert.equal(models.get("gpt-audio-mini"), models.get("gpt-audio-mini-2025-12-15"))
    assert.equal(models.get("gpt-4o-audio-preview"), models.get("gpt-4o-audio-preview-2024-12-17"))
    assert.equal("gpt-audio-mini", models.base_id("gpt-audio-mini-2025-12-15"))
    assert.equal("gpt-audio-mini-latest", models.base_id("gpt-audio-mini-latest"))
    assert.is_nil(models.get("my-gateway-audio"))
    assert.is_nil(models.get("gpt-audio-mini-2025-12"))
    assert.is_nil(models.get(nil))
  end)
end)

describe("models.matches", function()
  it("exact: the id itself or a dated snapshot of it", function()
    assert.is_true(models.matches("gpt-audio-mini", "gpt-audio-mini", "exact"))
    assert.is_true(models.matches("gpt-audio-mini", "gpt-audio-mini-2025-12-15", "exact"))
    assert.is_false(models.matches("gpt-audio-mini", "gpt-audio", "exact"))
    assert.is_false(models.matches("gpt-audio", "gpt-audio-mini", "exact"))
    assert.is_false(models.matches("gpt-audio", "gpt-audio-mini-2025-12-15", "exact"))
    assert.is_false(models.matches("gpt-audio-mini", "gpt-audio-mini-2025-12-15-extra", "exact"))
    assert.is_false(models.matches("gpt-audio-mini-2025-12-15", "gpt-audio-mini", "exact"))
    assert.is_false(models.matches("gpt-audio-mini", nil, "exact"))
  end)

  it("prefix: anything that starts with the id", function()
    assert.is_true(models.matches("gpt-audio", "gpt-audio-mini", "prefix"))
    assert.is_true(models.matches("gpt-audio-mini", "gpt-audio-mini-azure-eu", "prefix"))
    assert.is_false(models.matches("gpt-audio-mini", "gpt-audio", "prefix"))
    assert.is_false(models.matches("gpt-audio-mini", nil, "prefix"))
  end)

  it("false: anything, even no model", function()
    assert.is_true(models.matches("gpt-audio-mini", "llama", false))
    assert.is_true(models.matches("gpt-audio-mini", nil, false))
  end)
end)

describe("models.check_chat", function()
  local function audio_message()
    return { role = "user",
             content = { { type = "text", text = "hi" }, { type = "input_audio", audio = "a.wav" } } }
  end

  it("passes what gpt-audio-mini takes, unknown voices and fields included", function()
    models.check_chat({ model = "gpt-audio-mini", messages = { audio_message() }, max_completion_tokens = 16384,
                        audio = { voice = "a-voice-from-next-year" }, some_new_field = 1 }, "wav")
    models.check_chat({ model = "gpt-audio-mini-2025-12-15", stream = true, messages = { audio_message() } }, "pcm16")
  end)

  it("refuses image input, naming the message and part", function()
    raises("messages[2].content[1]: gpt-audio-mini does not take image input", {
      model = "gpt-audio-mini",
      messages = { audio_message(),
                   { role = "user", content = { { type = "image_url", image_url = { url = "x" } } } } },
    })
  end)

  it("refuses file input to a snapshot too", function()
    raises("messages[1].content[2]: gpt-audio-mini does not take file input", {
      model = "gpt-audio-mini-2025-12-15",
      messages = { { role = "user", content = { { type = "text", text = "read" }, { type = "file", file = {} } } } },
    })
  end)

  it("refuses more output tokens than the model gives", function()
    raises("max_completion_tokens: gpt-audio-mini takes at most 16384 output tokens, not 16385",
           { model = "gpt-audio-mini", messages = {}, max_completion_tokens = 16385 })
    raises("max_tokens: gpt-audio takes at most 16384 output tokens, not 20000",
           { model = "gpt-audio", messages = {}, max_tokens = 20000 })
  end)

  it("refuses a streamed format other than pcm16, for any model", function()
    raises('audio.format: "wav" cannot be streamed (stream = true takes pcm16 only)',
           { model = "gpt-audio-mini", stream = true, messages = {} }, "wav")
    raises('audio.format: "mp3" cannot be streamed (stream = true takes pcm16 only)',
           { model = "gateway-model", stream = true, messages = {} }, "mp3")
  end)

  it("refuses structured outputs and non-chat models", function()
    raises("response_format: gpt-audio-mini does not take structured outputs (json_schema)",
           { model = "gpt-audio-mini", messages = {}, response_format = { type = "json_schema", json_schema = {} } })
    raises("model: whisper-1 is a transcription model, not a chat model", { model = "whisper-1", messages = {} })
    raises("model: tts-1 is a speech model, not a chat model", { model = "tts-1", messages = {} })
  end)

  it("lets an unknown model through unchecked", function()
    models.check_chat({ model = "my-gateway-audio", max_completion_tokens = 1000000,
                        messages = { { role = "user", content = { { type = "image_url" } } } } })
  end)
end)

describe("usage.normalize", function()
  it("reads chat usage with its details as integers", function()
    local u = usage.normalize({
      prompt_tokens = 1200.0, completion_tokens = 600.0, total_tokens = 1800.0,
      prompt_tokens_details = { audio_tokens = 1000.0, cached_tokens = 64.0, text_tokens = 200.0 },
      completion_tokens_details = { audio_tokens = 500.0, reasoning_tokens = 0.0, text_tokens = 100.0 },
    }, "gpt-audio-mini")
    assert.same({ input_tokens = 1200, output_tokens = 600, total_tokens = 1800, input_text_tokens = 200,
                  input_audio_tokens = 1000, cached_tokens = 64, output_text_tokens = 100, output_audio_tokens = 500,
                  reasoning_tokens = 0 }, u)
    if math.type then
      for field, value in pairs(u) do
        assert.equal("integer", math.type(value), field)
      end
    end
  end)

  it("derives the split the API left out: the rest is text where the model has text", function()
    assert.same({ input_tokens = 30, output_tokens = 12, total_tokens = 42, input_text_tokens = 20,
                  input_audio_tokens = 10, output_text_tokens = 12, output_audio_tokens = 0 },
                usage.normalize({ prompt_tokens = 30, completion_tokens = 12,
                                  prompt_tokens_details = { audio_tokens = 10 } }, "gpt-audio-mini"))
    -- gpt-4o-mini-tts gives audio only: its bare output tokens are audio.
    assert.same({ input_tokens = 9, output_tokens = 300, total_tokens = 309, input_text_tokens = 9,
                  input_audio_tokens = 0, output_text_tokens = 0, output_audio_tokens = 300 },
                usage.normalize({ input_tokens = 9, output_tokens = 300, total_tokens = 309 }, "gpt-4o-mini-tts"))
  end)

  it("reads transcription token and duration usage", function()
    assert.same({ input_tokens = 120, output_tokens = 20, total_tokens = 140, input_text_tokens = 5,
                  input_audio_tokens = 115, output_text_tokens = 20, output_audio_tokens = 0 },
                usage.normalize({ type = "tokens", input_tokens = 120, output_tokens = 20, total_tokens = 140,
                                  input_token_details = { text_tokens = 5, audio_tokens = 115 } },
                                "gpt-4o-mini-transcribe"))
    assert.same({ seconds = 90 }, usage.normalize({ type = "duration", seconds = 90.0 }, "whisper-1"))
  end)

  it("ignores JSON nulls and gives nil for no usage", function()
    local null = require("cjson").null
    assert.same({ input_tokens = 5, output_tokens = 7, total_tokens = 12, input_text_tokens = 5,
                  input_audio_tokens = 0, output_text_tokens = 7, output_audio_tokens = 0 },
                usage.normalize({ prompt_tokens = 5, completion_tokens = 7, total_tokens = null,
                                  prompt_tokens_details = null }, "some-gateway-model"))
    assert.is_nil(usage.normalize(nil, "gpt-audio-mini"))
    assert.is_nil(usage.normalize(null, "gpt-audio-mini"))
  end)
end)

describe("usage.cost", function()
  local chat_usage = usage.normalize({
    prompt_tokens = 1200, completion_tokens = 600, total_tokens = 1800,
    prompt_tokens_details = { audio_tokens = 1000, text_tokens = 200 },
    completion_tokens_details = { audio_tokens = 500, text_tokens = 100 },
  }, "gpt-audio-mini")

  it("prices gpt-audio-mini's text and audio tokens apart", function()
    -- 200 * 0.60 + 1000 * 10 + 100 * 2.40 + 500 * 20 = 20360 USD per 1M tokens.
    assert_usd(0.02036, usage.cost("gpt-audio-mini", chat_usage))
    assert_usd(0.02036, usage.cost("gpt-audio-mini-2025-12-15", chat_usage))
    -- gpt-audio: 200 * 2.50 + 1000 * 32 + 100 * 10 + 500 * 64 = 65500.
    assert_usd(0.0655, usage.cost("gpt-audio", chat_usage))
  end)

  it("prices a text-only call at the text rates", function()
    local u = usage.normalize({ prompt_tokens = 1000000, completion_tokens = 1000000 }, "gpt-audio-mini")
    assert_usd(3.00, usage.cost("gpt-audio-mini", u))
  end)

  it("prices minutes and characters", function()
    assert_usd(0.009, usage.cost("whisper-1", { seconds = 90 }))
    assert_usd(0.015, usage.cost("tts-1", { characters = 1000 }))
    assert_usd(0.03, usage.cost("tts-1-hd", { characters = 1000 }))
    assert.is_nil(usage.cost("tts-1", {}))
  end)

  it("takes the client's prices first, by id or by the id without its date", function()
    local own = { ["gpt-audio-mini"] = { text_input = 1, text_output = 1, audio_input = 1, audio_output = 1 },
                  ["my-gateway-audio"] = { text_input = 2, text_output = 2, audio_input = 2, audio_output = 2 } }
    assert_usd(0.0018, usage.cost("gpt-audio-mini-2025-12-15", chat_usage, own))
    assert_usd(0.0036, usage.cost("my-gateway-audio", chat_usage, own))
    assert_usd(0.0655, usage.cost("gpt-audio", chat_usage, own))
  end)

  it("is nil for an unknown model, no usage, or a count without a price", function()
    assert.is_nil(usage.cost("my-gateway-audio", chat_usage))
    assert.is_nil(usage.cost("gpt-audio-mini", nil))
    assert.is_nil(usage.cost("gpt-audio-mini", {}))
    assert.is_nil(usage.cost("x", chat_usage, { x = { text_input = 1, text_output = 1 } }))
  end)
end)

describe("usage.totals", function()
  it("sums calls, tokens and cost per model", function()
    local totals = usage.totals()
    local u = { input_tokens = 10, output_tokens = 4, total_tokens = 14, input_text_tokens = 10,
                input_audio_tokens = 0, output_text_tokens = 1, output_audio_tokens = 3 }
    totals:add("gpt-audio-mini", u, 0.25)
    totals:add("gpt-audio-mini", u, 0.5)
    totals:add("gateway", u, nil)
    totals:add("gateway", nil, nil)
    local snap = totals:snapshot()
    assert.same({ calls = 2, unpriced_calls = 0, cost = 0.75, input_tokens = 20, output_tokens = 8,
                  total_tokens = 28, input_text_tokens = 20, input_audio_tokens = 0, cached_tokens = 0,
                  output_text_tokens = 2, output_audio_tokens = 6, reasoning_tokens = 0, seconds = 0,
                  characters = 0 }, snap["gpt-audio-mini"])
    assert.equal(2, snap.gateway.calls)
    assert.equal(2, snap.gateway.unpriced_calls)
    assert.is_nil(snap.gateway.cost)
    assert.equal(14, snap.gateway.total_tokens)
    snap["gpt-audio-mini"].calls = 99
    assert.equal(2, totals:snapshot()["gpt-audio-mini"].calls)
  end)
end)

describe("cached input tokens", function()
  local PRICES = { ["my-audio"] = { text_input = 2, cached_text_input = 0.5, audio_input = 40, cached_audio_input = 4,
                                    text_output = 8, audio_output = 80 } }

  it("are billed at the cached prices given, text first when the API gives no split", function()
    local u = usage.normalize({ prompt_tokens = 1000, completion_tokens = 10,
                                prompt_tokens_details = { cached_tokens = 700, text_tokens = 600, audio_tokens = 400 },
                                completion_tokens_details = { text_tokens = 10 } }, "my-audio")
    assert.equal(700, u.cached_tokens)
    assert.is_nil(u.cached_text_tokens)
    -- 600 text tokens cached (all), the other 100 cached are audio
    local expected = (0 * 2 + 600 * 0.5 + 300 * 40 + 100 * 4 + 10 * 8) / 1e6
    assert_usd(expected, usage.cost("my-audio", u, PRICES))
  end)

  it("follow the API's split of the cached tokens when it gives one", function()
    local split = { text_tokens = 200, audio_tokens = 300 }
    local u = usage.normalize({ input_tokens = 1000, output_tokens = 0,
                                input_token_details = { text_tokens = 600, audio_tokens = 400, cached_tokens = 500,
                                                        cached_tokens_details = split } }, "my-audio")
    assert.same({ 200, 300 }, { u.cached_text_tokens, u.cached_audio_tokens })
    assert_usd((400 * 2 + 200 * 0.5 + 100 * 40 + 300 * 4) / 1e6, usage.cost("my-audio", u, PRICES))
  end)

  it("cost as other input where no cached price is published (the registry's audio models)", function()
    local all_cached = { cached_tokens = 1000, text_tokens = 1000, audio_tokens = 0 }
    local u = usage.normalize({ prompt_tokens = 1000, completion_tokens = 0, prompt_tokens_details = all_cached },
                              "gpt-audio-mini")
    assert_usd(1000 * 0.60 / 1e6, usage.cost("gpt-audio-mini", u))
    for id, m in pairs(models.known) do
      assert.is_nil(m.prices.cached_text_input, id)
      assert.is_nil(m.prices.cached_audio_input, id)
    end
  end)

  it("are summed over the pieces of a long recording with their split", function()
    local total = usage.sum{ { input_tokens = 5, cached_tokens = 2, cached_text_tokens = 2 }, nil,
                             { input_tokens = 7, cached_tokens = 1, cached_audio_tokens = 1 } }
    assert.same({ input_tokens = 12, cached_tokens = 3, cached_text_tokens = 2, cached_audio_tokens = 1 }, total)
    assert.is_nil(usage.sum{})
  end)
end)

describe("model limits", function()
  it("come from the registry, and from the route for ids it does not know", function()
    local both = { max_audio_seconds = 1500, max_upload_bytes = 25 * 1024 * 1024 }
    assert.same(both, models.limits("gpt-4o-transcribe"))
    assert.same({ max_upload_bytes = 25 * 1024 * 1024 }, models.limits("whisper-1"))
    local chat = { max_audio_seconds = 1200, max_inline_bytes = 25 * 1024 * 1024 }
    assert.same(chat, models.limits("gpt-audio-1.5-2026-02-01"))
    assert.same(both, models.limits("my-transcribe"))
    assert.same(chat, models.limits("my-gateway-audio"))
    assert.is_true(models.diarizes("gpt-4o-transcribe-diarize"))
    assert.is_true(models.diarizes("acme-diarize-2"))
    assert.is_false(models.diarizes("gpt-4o-transcribe"))
    assert.equal("transcription", models.kind_of("whisper-large"))
    assert.equal("chat-audio", models.kind_of("my-gateway-audio"))
  end)
end)
