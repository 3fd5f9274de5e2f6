-- :GptAudioTalk in a real `nvim --headless`: a recorded question plays as the
-- microphone, the fake server answers aloud, the answer is kept in a WAV as
-- it was played; the scratch buffer shows the turn, its transcript and its
-- cost, and the editor's own timer kept firing all along.
-- spec/support/nvim_talk_driver.lua plays the user inside Neovim.
local cjson = require "cjson"
local gptaudio = require "gptaudio"
local fake = require "spec.support.fake"
local openai = require "spec.support.openai"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local shell_quote = util.shell_quote

describe(":GptAudioTalk in nvim --headless", function()
  local server, dir

  setup(function()
    server = fake.start()
    dir = util.temp_dir()
  end)
  teardown(function()
    server:stop()
    util.remove_tree(dir)
  end)

  it("holds a spoken turn in a scratch buffer while the editor keeps running", function()
    local question = voice_script.speech("What is the capital of France?", dir, "q")
    local answer = voice_script.speech("Paris.", dir, "a")
    local input = voice_script.recording({ { at = 0.3, audio = question } }, question.duration + 1.2, dir)
    server:script(openai.CHAT, { voice_script.reply(answer, "Paris.", { delay = 0.2 }) })
    local out, heard = dir .. "/result.json", dir .. "/heard.wav"
    local command = ("%s -u LUA_PATH -u LUA_CPATH GPTAUDIO_NVIM_URL=%s GPTAUDIO_NVIM_INPUT=%s GPTAUDIO_NVIM_OUTPUT=%s"
                     .. " GPTAUDIO_NVIM_OUT=%s timeout -s KILL 40 nvim --headless -u NONE -i NONE -n"
                     .. " --cmd 'set rtp+=.' --cmd 'runtime plugin/gptaudio.lua'"
                     .. " -c 'luafile spec/support/nvim_talk_driver.lua' < /dev/null > %s 2>&1")
                    :format(fake.spawn_env(), server.url, shell_quote(input), shell_quote(heard), shell_quote(out),
                            shell_quote(dir .. "/nvim.log"))
    os.execute(command)
    local written = util.read_file(out)
    assert(written, "nvim wrote no results: " .. tostring(util.read_file(dir .. "/nvim.log")))
    local result = cjson.decode(written)
    assert.is_nil(result.error)
    assert.is_true(result.started)
    assert.is_true(result.ended)
    assert.matches("gptaudio talk$", result.buffer_name)
    local text = table.concat(result.lines, "\n")
    assert.matches("You: %(%d+%.%d s of speech%)\nAssistant: Paris%.\n%(turn 1: %$%d+%.%d+, answered %d+ ms", text)
    assert.matches("%(conversation ended%)", text)
    -- about 2 s of conversation: the 20 ms timer fired all along
    assert.is_true(result.ticks > 50, result.ticks)
    local played = assert(gptaudio.audio.load(heard))
    assert.equal(answer.frames, played.frames)
    assert.equal(1, #server:requests(openai.CHAT))
  end)
end)
