-- `gptaudio talk` as the README shows it, hands-free, with a real sound
-- server as the microphone and the speaker: a PulseAudio daemon of the
-- spec's own (spec/support/pulse.lua). talk is run from the checkout with no
-- option, finding the server as on a desktop (XDG_RUNTIME_DIR/pulse/native);
-- its parec records the room's monitor (the default source) and its pacat
-- plays into the speaker (the default sink). The spec says the question into
-- the room through pacat and records the speaker through parec; the fake
-- server answers aloud.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local command = require "spec.support.command"
local locate = require "spec.support.locate"
local openai = require "spec.support.openai"
local pulse = require "spec.support.pulse"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local audio = gptaudio.audio
local socket = require "socket"

local RATE = 24000
local ANSWER = "Paris is the capital of France."

-- Steps the engine until done() or `limit` seconds; whether done() came.
local function drive(engine, done, limit)
  local deadline = engine.scheduler:now() + limit
  while not done() and engine.scheduler:now() < deadline do engine:step(0.01) end
  return done() and true or false
end

-- The recordings open on a sink's monitor now (pactl list short source-outputs).
local function recorders(server)
  local count = 0
  for _ in server:pactl("list short source-outputs"):gmatch("[^\n]+") do count = count + 1 end
  return count
end

describe("gptaudio talk on a real sound server", function()
  local fake, dir
  setup_.fake_server(function(s) fake = s end)
  setup(function() dir = util.temp_dir() end)
  teardown(function() util.remove_tree(dir) end)

  -- talk (with `arguments` after the word talk) as a user runs it: the spec says the question into
  -- the room and records the speaker; arrange(server) may change the server's defaults first.
  local function converse(arguments, arrange)
    local question = voice_script.speech("What is the capital of France?", dir, "q")
    local answer = voice_script.speech(ANSWER, dir, "a")
    fake:script(openai.CHAT, { voice_script.reply(answer, ANSWER, { delay = 0.1 }) })
    local server = pulse.start()
    local engine = gptaudio.engine.new()
    local talk
    finally(function()
      if talk then
        os.execute("kill " .. talk.pid .. " 2>/dev/null")
        talk.wait()
      end
      engine:close()
      server:stop()
    end)
    server:use()
    if arrange then arrange(server) end
    -- What the speaker plays and what the room hears, recorded from before talk starts (an idle
    -- null sink wakes up only up to 2 s after its monitor is opened: both are awake by then).
    local heard = { speaker = audio.new{ rate = RATE }, room = audio.new{ rate = RATE } }
    local ears = {
      speaker = assert(audio.capture{ rate = RATE, device = server.monitor, engine = engine }),
      room = assert(audio.capture{ rate = RATE, device = server.room .. ".monitor", engine = engine }),
    }
    for name, ear in pairs(ears) do
      assert(ear:start(function(chunk) heard[name]:append(chunk) end))
    end
    assert.is_true(drive(engine, function() return heard.speaker.frames > 0 and heard.room.frames > 0 end, 5))

    -- As on a desktop: no PULSE_SERVER, the server's socket in the user's runtime folder.
    talk = command.start(fake.url, { "talk", (table.unpack or unpack)(arguments) },
                         { env = "-u PULSE_SERVER XDG_RUNTIME_DIR=" .. server.runtime })
    assert.is_true(drive(engine, function() return recorders(server) == 3 end, 10), "talk's recorder never came")
    -- talk found the server by its socket: its recorder is parec (which the server knows as pacat,
    -- as it knows the spec's), not arecord through ALSA's pulse plugin.
    assert.same({ "pacat", "pacat", "pacat" }, server:clients())
    local voice = audio.playback{ rate = RATE, device = server.room, engine = engine }
    voice:play(question)
    local said
    voice:finish(function() said = true end)
    assert.is_true(drive(engine, function() return said end, 10))
    -- The answer: once asked for, it plays within a few seconds; then Ctrl-C, as a user ends talk.
    assert.is_true(drive(engine, function() return #fake:requests(openai.CHAT) > 0 end, 10), "no question asked")
    local answered = engine.scheduler:now()
    assert.is_true(drive(engine, function()
      return engine.scheduler:now() - answered > answer.duration + 1.5
    end, answer.duration + 2))
    os.execute("kill -INT " .. talk.pid)
    local status, stdout, stderr = talk.wait()
    talk = nil
    for _, ear in pairs(ears) do ear:stop() end
    voice:close()

    assert.equal(0, status, stderr)
    assert.equal(ANSWER .. "\n", stdout)
    assert.matches("turn 1, 50 tokens in, 100 out, cost %$%d+%.%d+, latency %d+ ms %(endpointing %d+, upload %d+, "
                   .. "server %d+, client %d+%)", stderr)
    assert.matches("1 turns, cost %$%d", stderr)
    -- What talk sent is the question the room heard, cut from the microphone's stream.
    local sent = fake:requests(openai.CHAT)
    assert.equal(1, #sent)
    local messages = sent[1].json.messages
    local utterance = assert(audio.decode(core.base64_decode(messages[#messages].content[1].input_audio.data), "wav"))
    assert(locate.whole(utterance, question))
    -- The answer went out through talk's pacat: the speaker played all of it, in order.
    assert(locate.whole(heard.speaker, answer))
    -- Nobody is left connected: talk's recorder and player ended with it, and so did the spec's.
    assert.same({}, server:clients())
  end

  it("hears a spoken question from the microphone, prints the transcript and cost, answers through the speaker",
     function()
    converse({})
  end)

  it("--microphone and --speaker pick the devices when the defaults are others", function()
    converse({ "--microphone", "gptaudio_room.monitor", "--speaker", "gptaudio_speaker" }, function(server)
      -- Defaults that would have talk hear nothing and speak into the room.
      server:pactl("set-default-source " .. server.monitor)
      server:pactl("set-default-sink " .. server.room)
    end)
  end)

  it("an unknown microphone ends talk at once with the recorder's words", function()
    local server = pulse.start()
    finally(function() server:stop() end)
    local started = socket.gettime()
    local status, stdout, stderr = command.run(fake.url, { "talk", "--microphone", "gptaudio_no_such_source" },
                                               { env = "-u PULSE_SERVER XDG_RUNTIME_DIR=" .. server.runtime })
    assert.is_true(socket.gettime() - started < 10, socket.gettime() - started)
    assert.equal(1, status)
    assert.equal("", stdout)
    assert.matches("parec %(device gptaudio_no_such_source%) ended %(status 1%): Stream error: No such entity",
                   stderr)
    assert.same({}, fake:requests(openai.CHAT))
    assert.same({}, server:clients())
  end)
end)
