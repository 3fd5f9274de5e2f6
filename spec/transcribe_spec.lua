-- client:transcribe against the fake server: the exact multipart forms and
-- chat requests it sends for each model's route, every response format, both
-- streaming forms, the refusals that raise before anything is sent, and the
-- stand-in's round trip from its own speech back to its words.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local setup_ = require "spec.support.setup"

local audio = gptaudio.audio
local ENDPOINT = "/v1/audio/transcriptions"
local CHAT = "/v1/chat/completions"
local RECORDING = "/usr/share/sounds/alsa/Front_Center.wav" -- 48 kHz mono s16

local read_file = setup_.read_file

local form_parts = require("spec.support.multipart").parts

-- The text parts of a form as {{name, value}, ...}, the file part left out.
local function fields(parts)
  local list = {}
  for _, p in ipairs(parts) do
    if p.name ~= "file" then list[#list + 1] = { p.name, p.data } end
  end
  return list
end

local function file_of(parts)
  for _, p in ipairs(parts) do
    if p.name == "file" then return p end
  end
end

local assert_same_audio = setup_.assert_same_audio

-- Half a second of a 440 Hz tone at 24 kHz, on the 16-bit grid.
local function tone()
  local t = {}
  for i = 1, 12000 do t[i] = math.floor(12000 * math.sin(i * 2 * math.pi * 440 / 24000)) / 32768 end
  return audio.from_samples(t, 24000, 1)
end

local TOKENS_USAGE = { type = "tokens", input_tokens = 14, input_token_details = { text_tokens = 10, audio_tokens = 4 },
                       output_tokens = 101, total_tokens = 115 }

describe("client:transcribe", function()
  local server, client

  setup_.fake_client(nil, function(s, c) server, client = s, c end)

  local function answer(path, response) server:script(path, { response }) end

  local function sent(path)
    local list = server:requests(path)
    return list[#list], #list
  end

  describe("with a transcription model: multipart to /audio/transcriptions", function()
    it("sends an AudioBuffer as the WAV it encodes to, with the model, and reads json", function()
      local buf = tone()
      answer(ENDPOINT, { json = { text = "A tone.", usage = TOKENS_USAGE },
                         headers = { ["x-request-id"] = "req_tone" } })
      local tr = assert(client:transcribe(buf, { model = "gpt-4o-mini-transcribe" }))
      local request = sent(ENDPOINT)
      assert.equal("POST", request.method)
      assert.equal("Bearer sk-test", request.headers.authorization)
      local parts = form_parts(request)
      assert.equal(2, #parts)
      assert.same({ name = "model", data = "gpt-4o-mini-transcribe" }, parts[1])
      assert.same({ name = "file", filename = "audio.wav", content_type = "audio/wav", data = buf:encode("wav") },
                  parts[2])
      assert.equal("A tone.", tr.text)
      assert.equal("A tone.", tostring(tr))
      assert.equal("gpt-4o-mini-transcribe", tr.model)
      assert.equal("req_tone", tr.request_id)
      assert.same({ input_tokens = 14, output_tokens = 101, total_tokens = 115, input_text_tokens = 10,
                    input_audio_tokens = 4, output_text_tokens = 101, output_audio_tokens = 0 }, tr.usage)
      assert.near((10 * 1.25 + 4 * 3.00 + 101 * 5.00) / 1e6, tr.cost, 1e-15)
      assert.equal("A tone.", tr.raw.text)
      assert.is_nil(tr.language)
      assert.is_nil(tr.words)
    end)

    it("sends a 48 kHz stereo buffer as 24 kHz mono WAV", function()
      local stereo = audio.load(RECORDING):to_channels(2)
      answer(ENDPOINT, { json = { text = "Front center." } })
      assert(client:transcribe(stereo, { model = "gpt-4o-transcribe" }))
      local expected = stereo:to_channels(1):resample(24000)
      local uploaded = assert(audio.decode(file_of(form_parts(sent(ENDPOINT))).data, "wav"))
      assert.same({ 24000, 1, #expected }, { uploaded.rate, uploaded.channels, #uploaded })
      assert_same_audio(assert(audio.decode(expected:encode("wav"), "wav")), uploaded)
    end)

    it("sends a path as the file it names and bytes with a made-up filename", function()
      answer(ENDPOINT, { json = { text = "one" } })
      answer(ENDPOINT, { json = { text = "two" } })
      assert.equal("one", client:transcribe(RECORDING, { model = "whisper-1" }).text)
      local file = file_of(form_parts(sent(ENDPOINT)))
      assert.same({ name = "file", filename = "Front_Center.wav", content_type = "audio/wav",
                    data = read_file(RECORDING) }, file)
      local mp3 = "ID3\3\0\0\0\0\0\0" .. string.rep("\255\251\144\0", 16)
      assert.equal("two", client:transcribe({ data = mp3, format = "mp3" }, { model = "whisper-1" }).text)
      assert.same({ name = "file", filename = "audio.mp3", content_type = "audio/mpeg", data = mp3 },
                  file_of(form_parts(sent(ENDPOINT))))
    end)

    it("returns nil, err (type audio) for a path it cannot read, sending nothing", function()
      local missing = os.tmpname()
      os.remove(missing)
      local tr, err = client:transcribe(missing, { model = "whisper-1" })
      assert.is_nil(tr)
      assert.equal("audio", err.type)
      assert.matches(missing, err.message, 1, true)
      assert.equal(0, #server:requests())
    end)

    it("sends every option as a form field, lists as name[] and tables as name[key]; call options stay home", function()
      answer(ENDPOINT, { json = { text = "x", language = "french", duration = 1.5 } })
      local events = 0
      assert(client:transcribe(tone(), {
        model = "whisper-1", language = "fr", prompt = "Noms: Élodie.", temperature = 0.2,
        response_format = "verbose_json", timestamp_granularities = { "word", "segment" }, include = { "logprobs" },
        chunking_strategy = { type = "server_vad", threshold = 0.5 }, a_future_flag = true,
        timeout = 30, max_retries = 1, headers = { ["X-Trace"] = "t-2" },
        on_event = function() events = events + 1 end,
      }))
      local request = sent(ENDPOINT)
      assert.same({
        { "model", "whisper-1" },
        { "a_future_flag", "true" },
        { "chunking_strategy[threshold]", "0.5" }, { "chunking_strategy[type]", "server_vad" },
        { "include[]", "logprobs" },
        { "language", "fr" },
        { "prompt", "Noms: Élodie." },
        { "response_format", "verbose_json" },
        { "temperature", "0.2" },
        { "timestamp_granularities[]", "word" }, { "timestamp_granularities[]", "segment" },
      }, fields(form_parts(request)))
      assert.equal("t-2", request.headers["x-trace"])
      assert.equal(0, events)
    end)

    it("reads verbose_json: language, duration, words, segments, and whisper-1's seconds as cost", function()
      local words = { { word = "Front", start = 0, ["end"] = 0.4 }, { word = "center", start = 0.4, ["end"] = 0.9 } }
      local segments = { { id = 0, seek = 0, start = 0, ["end"] = 0.9, text = " Front center" } }
      answer(ENDPOINT, { json = { task = "transcribe", language = "english", duration = 1.5, text = "Front center",
                                  words = words, segments = segments, usage = { type = "duration", seconds = 2 } } })
      local tr = assert(client:transcribe(RECORDING, { model = "whisper-1", response_format = "verbose_json",
                                                       timestamp_granularities = { "word" } }))
      assert.equal("Front center", tr.text)
      assert.equal("english", tr.language)
      assert.equal(1.5, tr.duration)
      assert.same(words, tr.words)
      assert.same(segments, tr.segments)
      assert.same({ seconds = 2 }, tr.usage)
      assert.near(2 / 60 * 0.006, tr.cost, 1e-15)
    end)

    for _, case in ipairs{
      { format = "text", body = "Hello there.\n" },
      { format = "srt", body = "1\n00:00:00,000 --> 00:00:00,500\nHello there.\n\n" },
      { format = "vtt", body = "WEBVTT\n\n00:00:00.000 --> 00:00:00.500\nHello there.\n\n" },
      { format = "text", body = "[1] starts like JSON\n" },
    } do
      it(("puts a %s body in text as it came (%d bytes)"):format(case.format, #case.body), function()
        answer(ENDPOINT, { body = case.body })
        local tr = assert(client:transcribe(tone(), { model = "whisper-1", response_format = case.format }))
        assert.equal(case.body, tr.text)
        assert.equal(case.body, tostring(tr))
        assert.equal(case.body, tr.raw)
        assert.same({ { "model", "whisper-1" }, { "response_format", case.format } },
                    fields(form_parts(sent(ENDPOINT))))
        -- No usage in a plain body: whisper-1 bills the buffer's half second as a whole second.
        assert.same({ seconds = 1 }, tr.usage)
        assert.near(1 / 60 * 0.006, tr.cost, 1e-15)
      end)
    end

    it("streams transcript events from transcript.text.delta, then usage and done", function()
      answer(ENDPOINT, { no_length = true, events = {
        { data = { type = "transcript.text.delta", delta = "Hello" } },
        { data = { type = "transcript.text.delta", delta = " there" } },
        { data = { type = "transcript.text.delta", delta = "." } },
        { data = { type = "transcript.text.done", text = "Hello there.", usage = TOKENS_USAGE } },
      } })
      local events = {}
      local tr = assert(client:transcribe(tone(), { model = "gpt-4o-mini-transcribe", stream = true, keep_raw = true,
                                                    on_event = function(ev) events[#events + 1] = ev end }))
      assert.same({ { "model", "gpt-4o-mini-transcribe" }, { "stream", "true" } }, fields(form_parts(sent(ENDPOINT))))
      assert.equal(5, #events)
      assert.same({ { type = "transcript", delta = "Hello" }, { type = "transcript", delta = " there" },
                    { type = "transcript", delta = "." } }, { events[1], events[2], events[3] })
      assert.equal("usage", events[4].type)
      assert.same(tr.usage, events[4].usage)
      assert.equal("done", events[5].type)
      assert.equal(tr, events[5].transcript)
      assert.equal("Hello there.", tr.text)
      assert.equal(115, tr.usage.total_tokens)
      assert.near((10 * 1.25 + 4 * 3.00 + 101 * 5.00) / 1e6, tr.cost, 1e-15)
      assert.equal(4, #tr.raw)
    end)

    it("joins the deltas when the stream ends without transcript.text.done", function()
      answer(ENDPOINT, { no_length = true, events = {
        { data = { type = "transcript.text.delta", delta = "Half" } },
        { data = { type = "transcript.text.delta", delta = " a sentence" } },
      } })
      local tr = assert(client:transcribe(tone(), { model = "gpt-4o-transcribe", stream = true }))
      assert.equal("Half a sentence", tr.text)
      assert.is_nil(tr.usage)
      assert.is_nil(tr.cost)
    end)

    it("fails a stream whose event is not JSON (protocol)", function()
      answer(ENDPOINT, { no_length = true, events = { "not json" } })
      local tr, err = client:transcribe(tone(), { model = "gpt-4o-transcribe", stream = true })
      assert.is_nil(tr)
      assert.equal("protocol", err.type)
    end)

    it("fails a 200 that is not an event stream (protocol), never an empty transcript", function()
      answer(ENDPOINT, { json = { text = "A whole transcription." } })
      local tr, err = client:transcribe(tone(), { model = "gpt-4o-transcribe", stream = true })
      assert.is_nil(tr)
      assert.same({ "protocol", "the response is not an event stream (content-type application/json)" },
                  { err.type, err.message })
    end)

    it("holds the answer to model_check when a response names a model", function()
      answer(ENDPOINT, { json = { text = "x", model = "gpt-4o-transcribe-2025-03-20" } })
      answer(ENDPOINT, { json = { text = "x", model = "whisper-1" } })
      assert.equal("gpt-4o-transcribe-2025-03-20",
                   client:transcribe(tone(), { model = "gpt-4o-transcribe" }).model)
      local tr, err = client:transcribe(tone(), { model = "gpt-4o-transcribe" })
      assert.is_nil(tr)
      assert.equal("model_mismatch", err.type)
      assert.equal("asked for gpt-4o-transcribe, the response names whisper-1", err.message)
    end)

    it("routes an id the registry does not know by its name", function()
      answer(ENDPOINT, { json = { text = "gateway" } })
      local tr = assert(client:transcribe(tone(), { model = "acme-transcribe-large" }))
      assert.equal("gateway", tr.text)
      assert.equal("acme-transcribe-large", form_parts(sent(ENDPOINT))[1].data)
      assert.is_nil(tr.cost)
    end)

    it("returns the API's error as nil, err", function()
      answer(ENDPOINT, { status = 400, headers = { ["x-request-id"] = "req_short" }, json = { error = {
        message = "Audio file is too short.", type = "invalid_request_error", param = "file",
        code = "audio_too_short" } } })
      local tr, err = client:transcribe(tone(), { model = "whisper-1" })
      assert.is_nil(tr)
      assert.same({ "api", 400, "Audio file is too short.", "file", "audio_too_short", "req_short" },
                  { err.type, err.status, err.message, err.param, err.code, err.request_id })
    end)
  end)

  describe("with a chat-audio model: a Chat Completions request", function()
    local function completion(content)
      return { id = "chatcmpl-1", object = "chat.completion", model = "gpt-audio-mini-2025-12-15",
               choices = { { index = 0, message = { role = "assistant", content = content }, finish_reason = "stop" } },
               usage = { prompt_tokens = 40, completion_tokens = 5, total_tokens = 45,
                         prompt_tokens_details = { audio_tokens = 25, text_tokens = 15 },
                         completion_tokens_details = { text_tokens = 5, audio_tokens = 0 } } }
    end

    it("asks the client's default model for a verbatim transcript, text out only", function()
      local buf = tone()
      answer(CHAT, { json = completion("Hello there.") })
      local tr = assert(client:transcribe(buf, { language = "en", prompt = "A greeting.", temperature = 0 }))
      assert.equal(0, #server:requests(ENDPOINT))
      local body = sent(CHAT).json
      assert.same({ "gpt-audio-mini", { "text" }, 0 }, { body.model, body.modalities, body.temperature })
      assert.is_nil(body.audio)
      assert.equal(2, #body.messages)
      assert.equal("system", body.messages[1].role)
      assert.equal(table.concat({
        "Transcribe the audio in the user's message verbatim. Reply with the transcript alone: no preamble, "
          .. "no commentary, no quotation marks, no translation, no answer to what it says.",
        'The audio is in the language with ISO-639-1 code "en": write the transcript in it.',
        "Context for the transcript (spellings, vocabulary, what came before): A greeting.",
      }, "\n"), body.messages[1].content)
      assert.same({ role = "user", content = { { type = "input_audio", input_audio = {
        data = core.base64_encode(buf:encode("wav")), format = "wav" } } } }, body.messages[2])
      assert.equal("Hello there.", tostring(tr))
      assert.equal("gpt-audio-mini-2025-12-15", tr.model)
      assert.equal(45, tr.usage.total_tokens)
      assert.near((15 * 0.60 + 25 * 10.00 + 5 * 2.40) / 1e6, tr.cost, 1e-15)
      assert.equal("chatcmpl-1", tr.raw.id)
    end)

    it("streams the text deltas as transcript events", function()
      local function chunk(delta, reason)
        return { data = { id = "c", object = "chat.completion.chunk", model = "gpt-audio-mini-2025-12-15",
                          choices = { { index = 0, delta = delta, finish_reason = reason } } } }
      end
      answer(CHAT, { no_length = true, events = {
        chunk({ role = "assistant", content = "" }), chunk({ content = "Hello" }), chunk({ content = " there." }),
        chunk({}, "stop"), "[DONE]" } })
      local events = {}
      local tr = assert(client:transcribe(RECORDING, { stream = true,
                                                       on_event = function(ev) events[#events + 1] = ev end }))
      assert.is_true(sent(CHAT).json.stream)
      assert.same({ { type = "transcript", delta = "Hello" }, { type = "transcript", delta = " there." } },
                  { events[1], events[2] })
      assert.equal(3, #events)
      assert.equal("done", events[3].type)
      assert.equal(tr, events[3].transcript)
      assert.equal("Hello there.", tr.text)
    end)

    it("raises for what the chat route cannot honour, sending nothing", function()
      for _, case in ipairs{
        { { response_format = "srt" }, "'response_format' \"srt\": gpt%-audio%-mini is a chat model" },
        { { response_format = "vtt" }, "'response_format' \"vtt\"" },
        { { response_format = "verbose_json" }, "'response_format' \"verbose_json\"" },
        { { timestamp_granularities = { "word" } }, "'timestamp_granularities': gpt%-audio%-mini is a chat model" },
        { { include = { "logprobs" } }, "'include'" },
        { { messages = {} }, "'messages': the transcribe call builds the chat request itself" },
      } do
        local ok, err = pcall(client.transcribe, client, tone(), case[1])
        assert.is_false(ok)
        assert.matches(case[2], err)
      end
      assert.equal(0, #server:requests())
    end)
  end)

  describe("raises at once, sending nothing", function()
    for _, case in ipairs{
      { "a number as audio", 42, nil, "client:transcribe: 'audio' must be an AudioBuffer, a file path or "
          .. "{data =, format =} (got number)" },
      { "bytes without data", { format = "wav" }, nil, "client:transcribe: 'audio.data' must be a string of audio "
          .. "bytes (got nil)" },
      { "a format that is no extension", { data = "x", format = "../x" }, nil,
        "client:transcribe: 'audio.format' must be a file extension such as \"wav\" (got \"../x\")" },
      { "opts of the wrong type", "x.wav", "whisper-1", "client:transcribe: 'opts' must be a table (got string)" },
      { "a speech model", "x.wav", { model = "tts-1" },
        "client:transcribe: 'model' tts-1 is a speech model: it cannot transcribe" },
      { "srt from gpt-4o-mini-transcribe", "x.wav", { model = "gpt-4o-mini-transcribe", response_format = "srt" },
        "client:transcribe: 'response_format' \"srt\": gpt-4o-mini-transcribe takes json" },
      { "a stream from whisper-1", "x.wav", { model = "whisper-1", stream = true },
        "client:transcribe: 'stream': whisper-1 does not stream transcripts" },
      { "timestamps without verbose_json", "x.wav", { model = "whisper-1", timestamp_granularities = { "word" } },
        "client:transcribe: 'timestamp_granularities' needs response_format = \"verbose_json\"" },
      { "a language that is no string", "x.wav", { model = "whisper-1", language = 5 },
        "client:transcribe: 'language' must be string (got number)" },
      { "a stream flag that is no boolean", "x.wav", { model = "whisper-1", stream = "yes" },
        "client:transcribe: 'stream' must be boolean (got string)" },
      { "a NaN temperature", "x.wav", { model = "whisper-1", temperature = 0 / 0 },
        "client:transcribe: 'temperature' must be finite number (got nan)" },
      { "an infinite temperature", "x.wav", { model = "whisper-1", temperature = -math.huge },
        "client:transcribe: 'temperature' must be finite number (got -inf)" },
      { "a form field that is NaN", "x.wav", { model = "whisper-1", extra = 0 / 0 },
        "client:transcribe: 'extra' must be finite number (got nan)" },
      { "a form field in a list that is infinite", "x.wav", { model = "whisper-1", extra = { 1, math.huge } },
        "client:transcribe: 'extra[]' must be finite number (got inf)" },
      { "a field that cannot go into a form", "x.wav", { model = "whisper-1", hook = print },
        "client:transcribe: 'hook' cannot go into a form (got function)" },
    } do
      it("for " .. case[1], function()
        local ok, err = pcall(client.transcribe, client, case[2], case[3])
        assert.is_false(ok)
        assert.equal(case[4], err)
        assert.equal(0, #server:requests())
      end)
    end
  end)

  it("starts as a request kind: client:start(\"transcribe\", audio, opts)", function()
    answer(ENDPOINT, { json = { text = "started", usage = TOKENS_USAGE } })
    local req = client:start("transcribe", tone(), { model = "gpt-4o-mini-transcribe" })
    assert.equal("running", req:status())
    local tr = assert(req:wait())
    assert.equal("done", req:status())
    assert.equal("started", tr.text)
    assert.equal(tr, (req:result()))
    assert.equal(1, client:usage()["gpt-4o-mini-transcribe"].calls)
  end)

  it("runs several at once inside tasks", function()
    for i = 1, 3 do answer(ENDPOINT, { json = { text = "t" .. i }, delay = 0.4 }) end
    local texts = {}
    local started = core.now()
    for i = 1, 3 do
      gptaudio.spawn(function() texts[i] = tostring(client:transcribe(tone(), { model = "whisper-1" })) end)
    end
    while client:step(1) > 0 do end
    table.sort(texts)
    assert.same({ "t1", "t2", "t3" }, texts)
    assert.is_true(core.now() - started < 1, "three 0.4 s answers took as long as in a row")
  end)

  describe("against the stand-in", function()
    before_each(function() server:control("standin", { on = true }) end)
    after_each(function() server:control("standin", { on = false }) end)

    it("returns the words it spoke for audio it made, through every route", function()
      local sentence = "The stand-in remembers this sentence."
      local spoken = assert(client:speak(sentence, { model = "gpt-4o-mini-tts" })).audio
      for _, model in ipairs{ "gpt-4o-mini-transcribe", "whisper-1", "gpt-audio-mini" } do
        assert.equal(sentence, client:transcribe(spoken, { model = model }).text)
      end
      local streamed = {}
      local tr = assert(client:transcribe(spoken, { model = "gpt-4o-transcribe", stream = true, on_event = function(ev)
        if ev.type == "transcript" then streamed[#streamed + 1] = ev.delta end
      end }))
      assert.equal(sentence, tr.text)
      assert.same({ "The", " stand-in", " remembers", " this", " sentence." }, streamed)
      assert.equal(sentence .. "\n", client:transcribe(spoken, { model = "whisper-1", response_format = "text" }).text)
    end)

    it("answers a fixed sentence for audio it did not make", function()
      local tr = assert(client:transcribe(RECORDING, { model = "whisper-1", response_format = "verbose_json",
                                                       timestamp_granularities = { "word", "segment" } }))
      assert.equal("This is the gptaudio stand-in server: it only knows the words it spoke itself.", tr.text)
      assert.equal("english", tr.language)
      assert.equal(14, #tr.words)
      assert.equal(1, #tr.segments)
      assert.equal("whisper-1", tr.model)
      assert.equal(json.integer(math.ceil(tr.duration)), tr.usage.seconds)
    end)

    it("refuses formats gpt-4o-transcribe does not make, as the API does", function()
      local tr, err = client:request{ method = "POST", path = "/audio/transcriptions", multipart = {
        { name = "model", data = "gpt-4o-transcribe" }, { name = "response_format", data = "srt" },
        { name = "file", data = tone():encode("wav"), filename = "a.wav" } } }
      assert.is_nil(tr)
      assert.same({ 400, "response_format" }, { err.status, err.param })
    end)
  end)
end)
