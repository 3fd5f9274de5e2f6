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

-- The programs' recordings open on a sink's monitor now (pactl list short source-outputs; a
-- loopback's is the server's own).
local function recorders(server)
  local count = 0
  for line in server:pactl("list short source-outputs"):gmatch("[^\n]+") do
    if not line:match("module%-loopback") then count = count + 1 end
  end
  return count
end

describe("gptaudio talk on a real sound server", function()
  local fake, dir
  setup_.fake_server(function(s) fake = s end)
  setup(function() dir = util.temp_dir() end)
  teardown(function() util.remove_tree(dir) end)

  -- talk (with `arguments` after the word talk) as a user runs it: the spec says the question into
  -- the room and records the speaker; arrange(server) may change the server's defaults first.
  -- Unless `interrupted`, the answer plays to its end; interrupted: it stopped itself (its own
  -- voice heard as the user's), and the answer's transcript shows it.
  local function converse(arguments, arrange, interrupted)
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
    if interrupted then
      assert.matches("%[interrupted%]", stdout)
      assert.matches("turn 1 interrupted after %d+%.%d s", stderr)
      assert.is_true(#fake:requests(openai.CHAT) > 1, stderr)
      assert.same({}, server:clients())
      return
    end
    assert.equal(ANSWER .. "\n", stdout)
    assert.not_matches("interrupted", stderr)
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

  -- A laptop without headphones: the speaker leaks into the microphone, 6 dB down and 20 ms late
  -- (module-loopback from the speaker's monitor into the room, on top of pacat's and parec's own latency).
  local function leaking(server)
    local module = assert(server:pactl(("load-module module-loopback source=%s sink=%s latency_msec=20")
                                       :format(server.monitor, server.room)):match("^%d+"))
    local input = assert(server:pactl("list short sink-inputs"):match("(%d+)%s+%S+%s+%S+%s+module%-loopback"),
                         module)
    server:pactl(("set-sink-input-volume %s -6dB"):format(input))
  end

  it("the speaker leaking into the microphone: the echo canceller keeps the answer from interrupting itself",
     function()
    converse({}, leaking)
  end)

  it("the speaker leaking into the microphone, --no-echo-cancel: the answer interrupts itself", function()
    converse({ "--no-echo-cancel" }, leaking, true)
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
  it("the README's lines, literally: talk from the checkout against the local stand-in, with no key", function()
    local readme = assert(util.read_file("README.md"))
    local export = assert(readme:match("\n(export LUA_PATH=[^\n]*)\n"), "README: no export line")
    local line = assert(readme:match("\n(lua5%.4 spec/support/standin%.lua [^#\n]-)%s*#"), "README: no stand-in line")
    assert.matches("bin/gptaudio talk$", line)
    local server = pulse.start()
    local engine = gptaudio.engine.new()
    local group, err_file = nil, os.tmpname()
    finally(function()
      if group then os.execute(("kill -TERM -%d 2>/dev/null"):format(group)) end
      os.remove(err_file)
      engine:close()
      server:stop()
    end)
    server:use()
    local speaker = audio.new{ rate = RATE }
    local ear = assert(audio.capture{ rate = RATE, device = server.monitor, engine = engine })
    assert(ear:start(function(chunk) speaker:append(chunk) end))
    assert.is_true(drive(engine, function() return speaker.frames > 0 end, 5))
    -- A terminal's session of its own, so that Ctrl-C reaches the whole foreground group as a terminal sends it.
    local shell = ("%s; echo $$; exec %s"):format(export, line)
    local run = assert(io.popen(("%s -u OPENAI_API_KEY -u OPENAI_BASE_URL -u PULSE_SERVER XDG_RUNTIME_DIR=%s "
                                 .. "setsid sh -c %s 2>%s"):format(util.spawn_env(), util.shell_quote(server.runtime),
                                 util.shell_quote(shell), util.shell_quote(err_file))))
    group = assert(tonumber(run:read("*l")))
    assert.is_true(drive(engine, function() return recorders(server) == 2 end, 20), "talk's recorder never came")
    local voice = audio.playback{ rate = RATE, device = server.room, engine = engine }
    voice:play(voice_script.speech("What is the capital of France?", dir, "q"))
    -- The stand-in's spoken answer: once it has played, Ctrl-C.
    local spoken = 0
    assert.is_true(drive(engine, function()
      local last = speaker:slice(math.max(1, speaker.frames - math.floor(RATE / 50) + 1), speaker.frames)
      if last.frames > 0 and last:rms() > 0.01 then spoken = engine.scheduler:now() end
      return spoken > 0 and engine.scheduler:now() - spoken > 2
    end, 40), "no answer was heard")
    os.execute(("kill -INT -%d"):format(group))
    local deadline = socket.gettime() + 10
    local function running() return util.succeeded(("kill -0 -%d 2>/dev/null"):format(group)) end
    while running() and socket.gettime() < deadline do socket.sleep(0.05) end
    assert.is_false(running(), "Ctrl-C did not end talk and the stand-in")
    local stdout = run:read("*a")
    run:close()
    group = nil
    ear:stop()
    voice:close()
    local stderr = util.read_file(err_file)
    assert.matches("^running against the stand%-in at http://127%.0%.0%.1:%d+/v1 %(OPENAI_API_KEY is not set%)\n",
                   stdout)
    assert.matches("\nI heard you say: .* This answer comes from the gptaudio stand%-in server%.\n", stdout)
    assert.matches("turn 1, %d+ tokens in, %d+ out, cost %$%d+%.%d+, latency", stderr)
    assert.matches("1 turns, cost %$%d", stderr)
    -- Its answer sounded on the speaker for a while: the stand-in speaks each of its sentences.
    local loud = 0
    for i = 1, speaker.frames - 479, 480 do
      if speaker:slice(i, i + 479):rms() > 0.01 then loud = loud + 1 end
    end
    assert.is_true(loud * 0.02 > 2, ("%.2f s of sound"):format(loud * 0.02))
    assert.same({}, server:clients())
  end)
end)
