-- Every route takes every format, against the fake server: the chat route
-- receives WAV or MP3 of the recording's length (other formats converted),
-- the transcription endpoint the original bytes of the formats it takes (the
-- rest converted), and compressed replies come back as samples with their
-- bytes kept.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local media = require "spec.support.media"
local multipart = require "spec.support.multipart"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local audio = gptaudio.audio
local CHAT = "/v1/chat/completions"
local ENDPOINT = "/v1/audio/transcriptions"
local SPEECH = "/v1/audio/speech"
local DURATION_TOLERANCE = 0.030
-- The formats the transcription endpoint takes, by extension, and the name
-- each goes under (an opus file is the ogg the endpoint takes).
local ENDPOINT_TAKES = { m4a = "m4a", mp3 = "mp3", ogg = "ogg", flac = "flac", webm = "webm", mp4 = "mp4",
                         opus = "ogg" }

local dir = util.temp_dir()
local source = media.make(dir)
local function path_of(ext) return dir .. "/speech." .. ext end
teardown(function() util.remove_tree(dir) end)

local function completion(message)
  return { id = "chatcmpl-1", object = "chat.completion", model = "gpt-audio-mini-2025-12-15",
           choices = { { index = 0, message = message, finish_reason = "stop" } },
           usage = { prompt_tokens = 10, completion_tokens = 2, total_tokens = 12 } }
end

local function assert_duration(buf, what)
  assert.is_true(math.abs(buf.duration - source.duration) <= DURATION_TOLERANCE,
    ("%s: %.4f s sent, %.4f s in the source"):format(what, buf.duration, source.duration))
end

describe("every format on every route", function()
  local server, client
  setup_.fake_client({}, function(s, c) server, client = s, c end)

  local function last(path)
    local list = server:requests(path)
    return list[#list]
  end

  -- The input_audio part the chat route sent last: its format and decoded bytes.
  local function sent_chat_audio()
    local part = last(CHAT).json.messages[#last(CHAT).json.messages].content[1].input_audio
    return part.format, assert(core.base64_decode(part.data))
  end

  for _, f in ipairs(media.FORMATS) do
    it(f.ext .. ": the chat route gets WAV or MP3 of the same length, the endpoint " ..
       (ENDPOINT_TAKES[f.ext] and "the original bytes" or "a conversion"), function()
      server:script(CHAT, { { json = completion{ role = "assistant", content = "heard" } } })
      assert.equal("heard", assert(client:transcribe(path_of(f.ext))).text)
      local format, bytes = sent_chat_audio()
      assert.equal("mp3", format)
      local heard = assert(audio.decode(bytes))
      assert_duration(heard, "chat " .. f.ext)
      -- an MP3 goes as it is, the others as 24 kHz mono MP3
      assert.same({ f.ext == "mp3" and source.rate or 24000, 1 }, { heard.rate, heard.channels })
      assert.is_true(media.snr(source, heard) >= (f.snr and f.snr - 3 or 15), "the chat route hears the speech")

      server:script(ENDPOINT, { { json = { text = "heard" } } })
      assert(client:transcribe(path_of(f.ext), { model = "gpt-4o-mini-transcribe" }))
      local file = multipart.file(last(ENDPOINT))
      if ENDPOINT_TAKES[f.ext] then
        assert.equal("speech." .. ENDPOINT_TAKES[f.ext], file.filename)
        assert.is_true(file.data == util.read_file(path_of(f.ext)), "the original bytes")
      else
        assert.equal("speech.mp3", file.filename)
        assert.equal("audio/mpeg", file.content_type)
        assert_duration(assert(audio.decode(file.data)), "endpoint " .. f.ext)
      end
    end)
  end

  it("WAV and MP3 go to the chat route as they are; bytes of another format are converted", function()
    for _, ext in ipairs{ "wav", "mp3" } do
      server:script(CHAT, { { json = completion{ role = "assistant", content = "ok" } } })
      local part = { type = "input_audio", audio = path_of(ext) }
      assert(client:chat{ messages = { { role = "user", content = { part } } } })
      local format, bytes = sent_chat_audio()
      assert.equal(ext, format)
      assert.is_true(bytes == util.read_file(path_of(ext)))
    end
    server:script(CHAT, { { json = completion{ role = "assistant", content = "ok" } } })
    assert(client:chat{ messages = { { role = "user", content = {
      { type = "input_audio", audio = { data = util.read_file(path_of("m4a")), format = "m4a" } } } } } })
    local format, bytes = sent_chat_audio()
    assert.equal("mp3", format)
    assert_duration(assert(audio.decode(bytes)), "m4a bytes")
  end)

  it("an opus file goes to the endpoint as the ogg it is; bytes it does not take are converted", function()
    server:script(ENDPOINT, { { json = { text = "a" } }, { json = { text = "b" } } })
    assert(client:transcribe(path_of("opus"), { model = "whisper-1" }))
    local file = multipart.file(last(ENDPOINT))
    assert.same({ "speech.ogg", "audio/ogg" }, { file.filename, file.content_type })
    assert.is_true(file.data == util.read_file(path_of("opus")))
    assert(client:transcribe({ data = util.read_file(path_of("caf")), format = "caf" }, { model = "whisper-1" }))
    file = multipart.file(last(ENDPOINT))
    assert.same({ "audio.mp3", "audio/mpeg" }, { file.filename, file.content_type })
    assert_duration(assert(audio.decode(file.data)), "caf bytes")
  end)

  it("speak's compressed answers decode into Speech.audio, their bytes kept", function()
    for _, format in ipairs{ "mp3", "opus", "aac", "flac" } do
      local bytes = assert(source:encode(format))
      server:script(SPEECH, { { body = bytes, headers = { ["content-type"] = "audio/" .. format } } })
      local sp = assert(client:speak("hello", { model = "gpt-4o-mini-tts", format = format }))
      assert.is_true(sp.bytes == bytes, format .. " bytes kept")
      assert_duration(sp.audio, "speak " .. format)
      assert.is_nil(sp.audio_error)
    end
  end)

  it("chat's compressed answers decode into Reply.audio; bytes that do not decode are kept and say why", function()
    local opus = assert(source:encode("opus"))
    local message = { role = "assistant", content = nil,
                      audio = { id = "audio_1", data = core.base64_encode(opus), transcript = "hi", expires_at = 1 } }
    server:script(CHAT, { { json = completion(message) } })
    local reply = assert(client:chat{ messages = { { role = "user", content = "hi" } },
                                      audio = { format = "opus", rate = 24000 } })
    assert.is_true(reply.audio_bytes == opus)
    assert.equal("opus", reply.audio_format)
    assert.equal(24000, reply.audio.rate)
    assert_duration(reply.audio, "chat opus")
    message.audio.data = core.base64_encode("not audio at all")
    server:script(CHAT, { { json = completion(message) } })
    reply = assert(client:chat{ messages = { { role = "user", content = "hi" } }, audio = { format = "mp3" } })
    assert.equal("not audio at all", reply.audio_bytes)
    assert.is_nil(reply.audio)
    assert.equal("audio", reply.audio_error.type)
  end)

  describe("limits before upload", function()
    local models = require "gptaudio.models"
    local saved = {}
    -- Registry limits this test lowers, put back after it.
    local function limit(id, field, value)
      saved[#saved + 1] = { id, field, models.known[id][field] }
      models.known[id][field] = value
    end
    after_each(function()
      for i = #saved, 1, -1 do models.known[saved[i][1]][saved[i][2]] = saved[i][3] end
      saved = {}
    end)

    it("over the upload limit, the endpoint gets speech-bitrate MP3 when it fits, else nothing and an error", function()
      local wav = path_of("wav")
      limit("gpt-4o-mini-transcribe", "max_upload_bytes", 100 * 1024)
      server:script(ENDPOINT, { { json = { text = "fits" } } })
      assert(client:transcribe(wav, { model = "gpt-4o-mini-transcribe", chunk = false }))
      local file = multipart.file(last(ENDPOINT))
      assert.same({ "speech.mp3", "audio/mpeg" }, { file.filename, file.content_type })
      assert.is_true(#file.data <= 100 * 1024)
      assert_duration(assert(audio.decode(file.data)), "shrunk")

      limit("gpt-4o-mini-transcribe", "max_upload_bytes", 4 * 1024)
      local before = #server:requests()
      local tr, err = client:transcribe(wav, { model = "gpt-4o-mini-transcribe", chunk = false })
      assert.is_nil(tr)
      assert.equal("audio", err.type)
      local kb = math.ceil(#util.read_file(wav) / 1024)
      assert.matches(wav .. " is " .. kb .. " kB; one request to gpt-4o-mini-transcribe carries at most 4 kB, "
                     .. "and even as 32 kb/s MP3 it is", err.message, 1, true)
      assert.equal(before, #server:requests())
    end)

    it("audio longer than the model hears in one request is refused before anything is sent", function()
      limit("gpt-4o-mini-transcribe", "max_audio_seconds", 2)
      limit("gpt-audio-mini", "max_audio_seconds", 2)
      local tr, err = client:transcribe(path_of("m4a"), { model = "gpt-4o-mini-transcribe", chunk = false })
      assert.is_nil(tr)
      assert.matches(path_of("m4a") .. " is 4 s long; gpt-4o-mini-transcribe hears at most 2 s in one request",
                     err.message, 1, true)
      tr, err = client:transcribe(source, { chunk = false })
      assert.is_nil(tr)
      assert.matches("the input audio is 4 s long; gpt-audio-mini hears at most 2 s", err.message, 1, true)
      assert.equal(0, #server:requests())
    end)

    it("on the chat route, audio over the inline limit goes as speech-bitrate MP3", function()
      limit("gpt-audio-mini", "max_inline_bytes", 100 * 1024)
      server:script(CHAT, { { json = completion{ role = "assistant", content = "ok" } } })
      assert(client:chat{ messages = { { role = "user", content = { { type = "input_audio", audio = source } } } } })
      local format, bytes = sent_chat_audio()
      assert.equal("mp3", format)
      assert.is_true(#bytes <= 100 * 1024)
      assert_duration(assert(audio.decode(bytes)), "chat shrunk")
    end)
  end)
end)
