-- The LÖVE voice NPC (examples/love_voice), copied into a game folder with
-- gptaudio inside it, run headless: a recorded question plays as the
-- microphone with the talk key held, the fake server answers aloud, and the
-- answer comes out of the game's queueable source into OpenAL Soft's wave
-- writer, sample for sample, while love.update kept running.
local gptaudio = require "gptaudio"
local fake = require "spec.support.fake"
local openai = require "spec.support.openai"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local shell_quote = util.shell_quote

describe("the LÖVE voice NPC, headless", function()
  local server, dir
  setup(function()
    server = fake.start()
    dir = util.temp_dir()
  end)
  teardown(function()
    server:stop()
    util.remove_tree(dir)
  end)

  it("hears the held-key question, answers aloud through the queueable source, and quits", function()
    local question = voice_script.speech("Do you have a room for the night?", dir, "q")
    local answer = voice_script.speech("Yes, the room upstairs is free.", dir, "a", "en+f3")
    local input = voice_script.recording({ { at = 0.2, audio = question } }, question.duration + 0.4, dir)
    server:script(openai.CHAT, { voice_script.reply(answer, "Yes, the room upstairs is free.", { delay = 0.2 }) })
    local wav, conf, stats_path, game = dir .. "/out.wav", dir .. "/alsoft.conf", dir .. "/stats", dir .. "/game"
    util.write_file(conf, table.concat({
      "drivers = wave", "frequency = 24000", "channels = mono", "sample-type = int16", "resampler = point",
      "output-limiter = false", "dither = false", "[wave]", "file = " .. wav, "",
    }, "\n"))
    assert(util.succeeded(("mkdir -p %s/gptaudio && cp examples/love_voice/*.lua %s/"
                           .. " && cp -r lua/gptaudio/. %s/gptaudio/"
                           .. " && cp build/jit/gptaudio/core.so %s/gptaudio/core.so")
                          :format(shell_quote(game), shell_quote(game), shell_quote(game), shell_quote(game))))
    local command = ("%s -u LUA_PATH -u LUA_CPATH ALSOFT_CONF=%s OPENAI_BASE_URL=%s OPENAI_API_KEY=sk-test"
                     .. " GPTAUDIO_LOVE_HEADLESS=1 GPTAUDIO_LOVE_TIMEOUT=15 GPTAUDIO_LOVE_INPUT=%s"
                     .. " GPTAUDIO_LOVE_STATS=%s timeout -s KILL 30 love %s < /dev/null > %s 2>&1")
                    :format(fake.spawn_env(), shell_quote(conf), server.url, shell_quote(input),
                            shell_quote(stats_path), shell_quote(game), shell_quote(dir .. "/love.log"))
    os.execute(command)
    local stats = {}
    for name, value in (util.read_file(stats_path) or ""):gmatch("(%S+) ([^\n]*)\n") do stats[name] = value end
    local log = util.read_file(dir .. "/love.log")
    assert.equal("false", stats.timed_out, log)
    assert.equal("Yes, the room upstairs is free.", stats.subtitle)
    assert.is_true(math.abs(tonumber(stats.heard) - answer.duration) < 1e-3, stats.heard)
    assert.is_true(tonumber(stats.latency_ms) > 0)
    -- the question went up whole: the key was held while it played
    local sent = server:requests(openai.CHAT)
    assert.equal(1, #sent)
    local heard_question = assert(gptaudio.audio.decode(
      require("gptaudio.core").base64_decode(sent[1].json.messages[2].content[1].input_audio.data), "wav"))
    assert.is_true(heard_question.duration >= question.duration, heard_question.duration)
    -- a frame loop that waited on the network or the sink would count a handful
    assert.is_true(tonumber(stats.updates) >= 50, stats.updates)
    -- OpenAL played the answer, sample for sample after its leading silence
    local played = assert(gptaudio.audio.load(wav))
    local first = 1
    while first <= played.frames and played:sample(first) == 0 do first = first + 1 end
    local expected = gptaudio.audio.from_pcm16(answer:encode("pcm16"), 24000)
    assert.is_true(played.frames - first + 1 >= expected.frames, "the WAV ends before the answer does")
    local lead = 1
    while expected:sample(lead) == 0 do lead = lead + 1 end
    for i = lead, expected.frames do
      local got = played:sample(first + i - lead)
      if math.abs(got - expected:sample(i)) > 1 / 32768 then
        error(("sample %d: expected %.6f, got %.6f"):format(i, expected:sample(i), got))
      end
    end
  end)
end)
