-- gptaudio talk, scripted: --input plays a recorded question as the
-- microphone, the fake server answers aloud, --output keeps what was heard;
-- stdout gets the transcript as it streams, stderr each turn's cost and latency.
local gptaudio = require "gptaudio"
local command = require "spec.support.command"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

describe("gptaudio talk", function()
  local server, dir
  setup_.fake_server(function(s) server = s end)
  setup(function() dir = util.temp_dir() end)
  teardown(function() util.remove_tree(dir) end)

  it("--input and --output: one spoken turn, its transcript on stdout, its cost and latency on stderr", function()
    local question = voice_script.speech("What is the capital of France?", dir, "q")
    local answer = voice_script.speech("Paris is the capital of France.", dir, "a")
    local input = voice_script.recording({ { at = 0.3, audio = question } }, question.duration + 1.0, dir)
    server:script(openai.CHAT, { voice_script.reply(answer, "Paris is the capital of France.", { delay = 0.1 }) })
    local output = dir .. "/heard.wav"
    local status, stdout, stderr = command.run(server.url, { "talk", "--input", input, "--output", output,
                                                             "--system", "Answer briefly.", "--pause", "0.5" })
    assert.equal(0, status, stderr)
    assert.equal("Paris is the capital of France.\n", stdout)
    assert.matches("turn 1, 50 tokens in, 100 out, cost %$%d+%.%d+, latency %d+ ms %(endpointing %d+, upload %d+, "
                   .. "server %d+, client %d+%)", stderr)
    assert.matches("1 turns, cost %$", stderr)
    local heard = assert(gptaudio.audio.load(output))
    assert.equal(answer.frames, heard.frames)
    local sent = server:requests(openai.CHAT)
    assert.equal(1, #sent)
    assert.same({ role = "system", content = "Answer briefly." }, sent[1].json.messages[1])
  end)

  it("--no-echo-cancel (headphones) is taken; --help says when the canceller is on", function()
    local question = voice_script.speech("What is the capital of France?", dir, "q")
    local answer = voice_script.speech("Paris.", dir, "a")
    local input = voice_script.recording({ { at = 0.3, audio = question } }, question.duration + 1.0, dir)
    server:script(openai.CHAT, { voice_script.reply(answer, "Paris.", { delay = 0.1 }) })
    local status, stdout, stderr = command.run(server.url, { "talk", "--input", input, "--output", dir .. "/heard.wav",
                                                             "--no-echo-cancel", "--pause", "0.5" })
    assert.equal(0, status, stderr)
    assert.equal("Paris.\n", stdout)
    assert.equal(1, #server:requests(openai.CHAT))
    local _, help = command.run(server.url, { "talk", "--help" })
    assert.matches("%-%-no%-echo%-cancel  with headphones", help)
  end)

  it("refuses a bad --pause and an unreadable --input as usage errors", function()
    local status, _, stderr = command.run(server.url, { "talk", "--pause", "soon" })
    assert.equal(2, status)
    assert.matches("%-%-pause must be a number", stderr)
    status, _, stderr = command.run(server.url, { "talk", "--input", dir .. "/none.wav" })
    assert.equal(2, status)
    assert.matches("cannot read", stderr)
  end)
end)
