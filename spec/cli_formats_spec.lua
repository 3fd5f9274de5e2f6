-- The command and audio formats: - reads the recording from stdin and writes
-- the answer to stdout, a directory given to transcribe is a usage error, and
-- -o's extension says the format speak and chat write (-o reply.mp3 really is
-- MP3, -o x.ogg Opus in Ogg).
local gptaudio = require "gptaudio"
local command = require "spec.support.command"
local core = require "gptaudio.core"
local media = require "spec.support.media"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local audio = gptaudio.audio
local CHAT = "/v1/chat/completions"

local dir = util.temp_dir()
local source = media.make(dir)
teardown(function() util.remove_tree(dir) end)

local function completion(message)
  return { id = "chatcmpl-1", object = "chat.completion", model = "gpt-audio-mini-2025-12-15",
           choices = { { index = 0, message = message, finish_reason = "stop" } },
           usage = { prompt_tokens = 10, completion_tokens = 2, total_tokens = 12 } }
end

describe("the command's audio formats", function()
  local server
  setup_.fake_server(function(s) server = s end)

  it("transcribe - reads the recording from stdin; a directory is a usage error", function()
    server:script(CHAT, { { json = completion{ role = "assistant", content = "From stdin." } } })
    local status, out = command.run(server.url, { "transcribe", "-" }, { stdin = dir .. "/speech.m4a" })
    assert.equal(0, status)
    assert.equal("From stdin.\n", out)
    local part = server:requests(CHAT)[1].json.messages[2].content[1].input_audio
    assert.equal("mp3", part.format)
    assert.is_true(math.abs(assert(audio.decode(core.base64_decode(part.data))).duration - source.duration) <= 0.03)
    local err
    status, out, err = command.run(server.url, { "transcribe", dir })
    assert.equal(2, status)
    assert.equal("", out)
    assert.matches("transcribe: " .. dir .. " is a directory", err, 1, true)
    assert.equal(1, #server:requests(CHAT))
  end)

  it("speak writes the format the extension names: .ogg is Opus in Ogg, .m4a AAC, - WAV on stdout", function()
    local opus = assert(source:encode("opus"))
    server:script(openai.SPEECH, { { body = opus } })
    local ogg = dir .. "/said.ogg"
    assert.equal(0, (command.run(server.url, { "speak", "Hi.", "-o", ogg, "--model", "gpt-4o-mini-tts" })))
    assert.equal("opus", server:requests(openai.SPEECH)[1].json.response_format)
    assert.is_true(util.read_file(ogg) == opus)
    assert.same({ "ogg", "opus" }, { media.probe(ogg) })

    local pcm = source:resample(24000):encode("pcm16")
    server:script(openai.SPEECH, { { body = pcm }, { body = pcm } })
    local m4a = dir .. "/said.m4a"
    assert.equal(0, (command.run(server.url, { "speak", "Hi.", "-o", m4a, "--model", "gpt-4o-mini-tts" })))
    assert.equal("pcm", server:requests(openai.SPEECH)[2].json.response_format)
    assert.same({ "mov,mp4,m4a,3gp,3g2,mj2", "aac" }, { media.probe(m4a) })
    local status, out = command.run(server.url, { "speak", "Hi.", "-o", "-", "--model", "gpt-4o-mini-tts" })
    assert.equal(0, status)
    assert.equal(pcm, assert(audio.decode(out)):encode("pcm16"))
    status = command.run(server.url, { "speak", "Hi.", "-o", dir .. "/said.xyz" })
    assert.equal(2, status)
  end)

  it("chat -o reply.mp3 asks for MP3 and writes it; --audio - sends stdin's recording", function()
    local mp3 = assert(source:encode("mp3"))
    server:script(CHAT, { { json = completion{ role = "assistant", audio = {
      id = "audio_1", data = core.base64_encode(mp3), transcript = "Hello.", expires_at = 1 } } } })
    local reply = dir .. "/reply.mp3"
    local status, out = command.run(server.url, { "chat", "What is said?", "--audio", "-", "-o", reply },
                                    { stdin = dir .. "/speech.flac" })
    assert.equal(0, status)
    assert.equal("Hello.\n", out)
    local body = server:requests(CHAT)[1].json
    assert.same({ format = "mp3", voice = "alloy" }, body.audio)
    assert.equal("mp3", body.messages[1].content[2].input_audio.format)
    assert.is_true(util.read_file(reply) == mp3)
    assert.same({ "mp3", "mp3" }, { media.probe(reply) })
  end)
end)
