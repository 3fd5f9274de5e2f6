-- Contract: every transcription and speech request shape the module builds
-- goes to Prism serving OpenAI's own spec (spec/contract/openapi-audio.yaml),
-- which answers 422 with the violations when a request breaks it. Prism's
-- answers are the spec's examples ("string" for every string), so the model
-- check is off.
--
-- Prism checks a form's plain fields (types, enums, required ones) but not the
-- bracketed list fields (timestamp_granularities[], include[]): the exact-form
-- checks of transcribe_spec.lua cover those. Its answers to /audio/speech carry
-- a header "Transfer-Encoding: string" (the spec's example for that header)
-- that no HTTP client can read, so speech bodies are posted here by hand, as
-- the speak kind builds them, and only Prism's verdict is read.
local gptaudio = require "gptaudio"
local json = require "gptaudio.json"
local speak = require "gptaudio.calls.speak"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"

local function tone()
  local t = {}
  for i = 1, 4800 do t[i] = math.sin(i * 0.1) * 0.5 end
  return gptaudio.audio.from_samples(t, 48000, 1)
end

describe("transcription and speech requests against OpenAI's spec (Prism)", function()
  local mock, client
  setup_.prism_client(function(m, c) mock, client = m, c end)

  -- client:transcribe; a 422 fails the spec with Prism's violations.
  local function transcribe(input, opts)
    local tr, err = client:transcribe(input, opts)
    if err and err.status == 422 then error("the request breaks OpenAI's spec: " .. tostring(err), 2) end
    return assert(tr, err)
  end

  -- Prism's status line and body for the speech request the speak kind builds.
  local function speech_verdict(text, opts)
    return mock:post("/audio/speech", json.encode(speak.build(client, text, opts).json))
  end

  local function speak_passes(text, opts)
    local status, body = speech_verdict(text, opts)
    if status ~= "HTTP/1.1 200 OK" then error("the request breaks OpenAI's spec: " .. body, 2) end
  end

  describe("/audio/transcriptions", function()
    it("knows a broken request when it sees one", function()
      local tr, err = client:transcribe(tone(), { model = "whisper-1", chunking_strategy = "sometimes" })
      assert.is_nil(tr)
      assert.equal(422, err.status)
    end)

    it("an AudioBuffer, a WAV path and MP3 bytes", function()
      local mp3 = "ID3\3\0\0\0\0\0\0" .. string.rep("\255\251\144\0", 16)
      assert.equal("string", transcribe(tone(), { model = "gpt-4o-mini-transcribe" }).text)
      assert.equal("string", transcribe(openai.RECORDING, { model = "gpt-4o-transcribe" }).text)
      assert.equal("string", transcribe({ data = mp3, format = "mp3" }, { model = "whisper-1" }).text)
    end)

    it("every option of a gpt-4o transcription", function()
      transcribe(tone(), { model = "gpt-4o-transcribe", language = "en", prompt = "Names: Ada.", temperature = 0.3,
                           response_format = "json", include = { "logprobs" }, chunking_strategy = "auto" })
      transcribe(tone(), { model = "gpt-4o-mini-transcribe", chunking_strategy = { type = "server_vad",
                                                                                  threshold = 0.5 } })
    end)

    it("every response format of whisper-1, with timestamps", function()
      for _, format in ipairs{ "json", "text", "srt", "vtt", "verbose_json" } do
        transcribe(openai.RECORDING, { model = "whisper-1", response_format = format, language = "en" })
      end
      transcribe(openai.RECORDING, { model = "whisper-1", response_format = "verbose_json",
                                     timestamp_granularities = { "word", "segment" } })
    end)

    it("the diarizing model's request: diarized_json, chunking_strategy, known speakers' clips as data URLs", function()
      transcribe(tone(), { model = "gpt-4o-transcribe-diarize", response_format = "diarized_json",
                           known_speaker_names = { "agent" }, known_speaker_references = { tone() } })
      transcribe(openai.RECORDING, { model = "gpt-4o-transcribe-diarize", chunk = true })
    end)

    it("the pieces of a long recording, on every transcription model", function()
      for _, model in ipairs{ "gpt-4o-mini-transcribe", "whisper-1" } do
        transcribe(openai.RECORDING, { model = model, prompt = "A meeting.", chunk = { target_seconds = 0.5 } })
      end
    end)

    it("a streamed transcription", function()
      -- Prism answers a stream with the JSON example; only the request matters here.
      setup_.assert_accepted_stream(client:transcribe(tone(), { model = "gpt-4o-mini-transcribe", stream = true }))
    end)

    it("the chat route's request for gpt-audio-mini", function()
      local tr = transcribe(tone(), { model = "gpt-audio-mini", language = "fr", prompt = "Bonjour.",
                                      temperature = 0 })
      assert.equal("string", tr.text)
      setup_.assert_accepted_stream(client:transcribe(openai.RECORDING, { stream = true }))
    end)
  end)

  describe("/audio/translations", function()
    -- client:translate; a 422 fails the spec with Prism's violations.
    local function translate(input, opts)
      local tr, err = client:translate(input, opts)
      if err and err.status == 422 then error("the request breaks OpenAI's spec: " .. tostring(err), 2) end
      return assert(tr, err)
    end

    it("knows a broken request when it sees one", function()
      local res, err = client:request{ path = "/audio/translations", multipart = {
        { name = "file", data = "RIFF", filename = "a.wav", content_type = "audio/wav" },
        { name = "model", data = "whisper-1" },
        { name = "response_format", data = "diarized_json" } } }
      assert.is_nil(res)
      assert.equal(422, err.status)
      res, err = client:request{ path = "/audio/translations", multipart = { { name = "model", data = "whisper-1" } } }
      assert.is_nil(res)
      assert.equal(422, err.status)
    end)

    it("an AudioBuffer, a WAV path and MP3 bytes, with every option of whisper-1", function()
      local mp3 = "ID3\3\0\0\0\0\0\0" .. string.rep("\255\251\144\0", 16)
      assert.equal("string", translate(tone(), { model = "whisper-1" }).text)
      assert.equal("string", translate(openai.RECORDING, { model = "whisper-1", prompt = "Names: Ada.",
                                                            temperature = 0.2 }).text)
      translate({ data = mp3, format = "mp3" }, { model = "whisper-1", response_format = "verbose_json" })
      for _, format in ipairs{ "json", "text", "srt", "vtt" } do
        translate(openai.RECORDING, { model = "whisper-1", response_format = format })
      end
    end)
  end)

  describe("/audio/speech", function()
    it("knows a broken request when it sees one", function()
      local status, rest = speech_verdict("Hi.", { model = "gpt-4o-mini-tts", a_future_field = 1 })
      assert.equal("HTTP/1.1 422 Unprocessable Entity", status)
      assert.matches("a_future_field", rest, 1, true)
    end)

    it("every format, voice and option of gpt-4o-mini-tts", function()
      for _, format in ipairs{ "pcm", "wav", "mp3", "opus", "aac", "flac" } do
        speak_passes("Hello there.", { model = "gpt-4o-mini-tts", format = format })
      end
      speak_passes("Hello.", { model = "gpt-4o-mini-tts", voice = { id = "voice_1234" },
                               instructions = "Speak slowly.", speed = 0.25 })
      speak_passes(string.rep("é", 4096), { model = "gpt-4o-mini-tts", voice = "marin", speed = 4 })
    end)

    it("streamed: SSE for gpt-4o-mini-tts, the plain body for tts-1 and tts-1-hd", function()
      speak_passes("Streamed.", { model = "gpt-4o-mini-tts", stream = true })
      speak_passes("Streamed.", { model = "tts-1", stream = true, voice = "fable" })
      speak_passes("Streamed.", { model = "tts-1-hd", stream = true, speed = 1.5 })
    end)

    it("the chat route's request for gpt-audio-mini", function()
      local sp = assert(client:speak("Hello there.", { instructions = "Warmly.", voice = "coral" }))
      assert.equal(#openai.EXAMPLE_BYTES / 2, #sp.audio)
      sp = assert(client:speak("Hello there.", { format = "mp3" }))
      assert.same({ openai.EXAMPLE_BYTES, "mp3" }, { sp.bytes, sp.format })
      setup_.assert_accepted_stream(client:speak("Hello there.", { stream = true }))
    end)
  end)
end)
