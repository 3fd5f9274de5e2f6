-- :GptAudioTalk in a real `nvim --headless` with the agent's test
-- conversation (spec/support/voice_script.lua): the recording plays as the
-- microphone, its second question starting while the first answer plays (a
-- barge-in, found by the VAD as in the plain-Lua spec); what was played is
-- kept in a WAV. The scratch buffer must show both turns, the first answer
-- cut at what was heard, the second's cost and latency split; the requests
-- and the history must be those of the plain-Lua conversation, and the
-- editor's own timer must have kept firing all along.
-- spec/support/nvim_talk_driver.lua plays the user inside Neovim.
local cjson = require "cjson"
local gptaudio = require "gptaudio"
local fake = require "spec.support.fake"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local audio = gptaudio.audio
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

  it("holds the conversation in a scratch buffer, speaking over an answer cuts it, the editor keeps running", function()
    local c = voice_script.conversation(dir)
    server:script(openai.CHAT, c.replies)
    local out, heard_path = dir .. "/result.json", dir .. "/heard.wav"
    local command = ("%s -u LUA_PATH -u LUA_CPATH GPTAUDIO_NVIM_URL=%s GPTAUDIO_NVIM_INPUT=%s GPTAUDIO_NVIM_OUTPUT=%s"
                     .. " GPTAUDIO_NVIM_OUT=%s timeout -s KILL 40 nvim --headless -u NONE -i NONE -n"
                     .. " --cmd 'set rtp+=.' --cmd 'runtime plugin/gptaudio.lua'"
                     .. " -c 'luafile spec/support/nvim_talk_driver.lua' < /dev/null > %s 2>&1")
                    :format(fake.spawn_env(), server.url, shell_quote(c.input), shell_quote(heard_path),
                            shell_quote(out), shell_quote(dir .. "/nvim.log"))
    os.execute(command)
    local written = util.read_file(out)
    assert(written, "nvim wrote no results: " .. tostring(util.read_file(dir .. "/nvim.log")))
    local result = cjson.decode(written)
    assert.is_nil(result.error)
    assert.is_true(result.started)
    assert.is_true(result.ended)
    assert.matches("gptaudio talk$", result.buffer_name)
    -- some 9 s of conversation: the 20 ms timer fired all along
    assert.is_true(result.ticks > 200, result.ticks)

    local lines = result.lines
    assert.equal(8, #lines, table.concat(lines, "\n"))
    assert.matches("^%(listening", lines[1])
    assert.matches("^You: %(%d+%.%d s of speech%)$", lines[2])
    local cut, heard = lines[3]:match("^Assistant: (.-) %[interrupted after (%d+%.%d%d) s%]$")
    assert(cut, lines[3])
    heard = tonumber(heard)
    assert.matches("^You: %(%d+%.%d s of speech%)$", lines[4])
    assert.equal("Assistant: " .. c.answers[2], lines[5])
    local total, pause, upload, server_ms, here = lines[6]:match("^%(turn 2: %$%d+%.%d+, answered (%d+) ms after"
      .. " you stopped: (%d+) pause, (%d+) upload, (%d+) server, (%d+) here%)$")
    assert(total, lines[6])
    assert.same({ "(conversation ended)", "" }, { lines[7], lines[8] })

    -- The barge-in: the first request cancelled (the server saw it go), the
    -- history holding the first answer cut at a word's end at what was heard.
    local sent = server:requests(openai.CHAT)
    assert.equal(2, #sent)
    assert.is_number(sent[1].closed_after)
    assert.is_nil(sent[2].closed_after)
    assert.same({ role = "assistant", content = cut }, sent[2].json.messages[3])
    assert.is_true(#cut > 0 and #cut < #c.answers[1], cut)
    assert.equal(c.answers[1]:sub(1, #cut), cut)
    assert.is_truthy(c.answers[1]:sub(#cut + 1):match("^%s"))
    assert.is_true(heard > 0.5 and heard < c.a1.duration - 2, heard)

    -- The answered turn's latency, split (whole milliseconds, so the parts may be 2 ms off).
    total, pause, upload, server_ms, here = tonumber(total), tonumber(pause), tonumber(upload), tonumber(server_ms),
                                            tonumber(here)
    assert.is_true(pause >= 600 and pause < 700, pause)
    assert.is_true(server_ms >= c.ttfb * 1000 and server_ms < c.ttfb * 1000 + 200, server_ms)
    assert.is_true(upload < 100 and here < 100, upload .. " " .. here)
    assert.is_true(math.abs(total - (pause + upload + server_ms + here)) <= 2, lines[6])

    -- What was played: the first answer up to what was heard, then the second whole.
    local played = assert(audio.load(heard_path))
    local a1 = audio.from_pcm16(c.a1:encode("pcm16"), 24000)
    local a2 = audio.from_pcm16(c.a2:encode("pcm16"), 24000)
    local first = played.frames - a2.frames
    assert.is_true(math.abs(first / 24000 - heard) < 0.006, first / 24000 .. " " .. heard)
    setup_.assert_same_audio(a1:slice(1, first), played:slice(1, first))
    setup_.assert_same_audio(a2, played:slice(first + 1))
  end)

  -- With devices (a sound server that is not there: the microphone fails at once and the conversation
  -- ends), what the setup options give the microphone, the speaker and the agent.
  local function given(setup_options)
    local out = dir .. "/given.json"
    os.remove(out)
    os.execute(("%s -u LUA_PATH -u LUA_CPATH PULSE_SERVER=unix:%s/no-server GPTAUDIO_NVIM_URL=%s"
                .. " GPTAUDIO_NVIM_SETUP=%s GPTAUDIO_NVIM_OUT=%s timeout -s KILL 40 nvim --headless -u NONE -i NONE -n"
                .. " --cmd 'set rtp+=.' --cmd 'runtime plugin/gptaudio.lua'"
                .. " -c 'luafile spec/support/nvim_talk_driver.lua' < /dev/null > %s 2>&1")
               :format(fake.spawn_env(), shell_quote(dir), server.url, shell_quote(cjson.encode(setup_options)),
                       shell_quote(out), shell_quote(dir .. "/nvim.log")))
    local written = util.read_file(out)
    assert(written, "nvim wrote no results: " .. tostring(util.read_file(dir .. "/nvim.log")))
    local result = cjson.decode(written)
    assert.is_nil(result.error)
    assert.is_true(result.ended)
    return result.given
  end

  it("talk_microphone and talk_speaker pick each device; the echo canceller is on with both", function()
    assert.same({ microphone = "gptaudio_mic", speaker = "gptaudio_spk", echo_cancel = true },
                given{ talk_microphone = "gptaudio_mic", talk_speaker = "gptaudio_spk" })
  end)

  it("talk_device is both; talk_echo_cancel = false turns the canceller off", function()
    assert.same({ microphone = "hw:9", speaker = "hw:9", echo_cancel = false },
                given{ talk_device = "hw:9", talk_echo_cancel = false })
  end)

  it("no canceller when a recording stands for the microphone", function()
    local quiet = dir .. "/quiet.wav"
    assert(audio.new{ rate = 24000, frames = 2400 }:save(quiet))
    assert.same({ microphone = quiet, speaker = "default", echo_cancel = false }, given{ talk_input = quiet })
  end)
end)
