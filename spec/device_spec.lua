-- audio.capture and audio.playback against a real sound server: a PulseAudio
-- daemon of the spec's own (spec/support/pulse.lua) whose null sink is the
-- speaker and its monitor the microphone, so no sound card is needed. The
-- programs are the real ones: parec and pacat, and arecord and aplay through
-- ALSA's pulse plugin, as on a user's machine. The library is used as the
-- README says: PULSE_SERVER in the environment, nothing else.
local gptaudio = require "gptaudio"
local locate = require "spec.support.locate"
local pulse = require "spec.support.pulse"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local audio = gptaudio.audio
local uv = require "luv"

local RATE = 24000
-- An idle null sink renders in 2 s blocks: the first chunk of a monitor that
-- has just been opened may take that long.
local FIRST_CHUNK_SECONDS = 4

-- The players and recorders this process has started and not yet reaped.
local function children()
  local names = {}
  local listing = util.read_command(("ps -o comm= --ppid %d"):format(uv.os_getpid()))
  for name in listing:gmatch("%S+") do
    if name == "parec" or name == "pacat" or name == "arecord" or name == "aplay" then names[#names + 1] = name end
  end
  return names
end

-- Steps the engine until done() or `limit` seconds; returns the longest step.
local function drive(engine, done, limit)
  local start, longest = engine.scheduler:now(), 0
  while not done() and engine.scheduler:now() - start < limit do
    local before = engine.scheduler:now()
    engine:step(0.005)
    longest = math.max(longest, engine.scheduler:now() - before)
  end
  return longest
end

describe("a real sound server (PulseAudio, null sink)", function()
  local dir, speech

  setup(function()
    dir = util.temp_dir()
    speech = voice_script.speech("The quick brown fox jumps over the lazy dog.", dir, "fox")
  end)
  teardown(function() util.remove_tree(dir) end)

  -- Plays `speech` on the speaker while the microphone records; the engine
  -- keeps a 10 ms timer ticking throughout. Returns what was measured.
  local function play_and_record(engine, mic, speaker)
    local run = { chunks = 0, ticks = 0, captured = audio.new{ rate = RATE } }
    local function tick()
      run.ticks = run.ticks + 1
      run.ticker = engine.scheduler:after(0.01, tick)
    end
    tick()
    local ended
    assert(mic:start(function(chunk, at)
      if run.chunks == 0 then run.first_at = at - chunk.duration end
      run.chunks, run.last_at = run.chunks + 1, at
      run.captured:append(chunk)
    end, function(err) ended = err or "ended" end))
    local opened = engine.scheduler:now()
    -- The microphone is live once its first chunk came.
    drive(engine, function() return run.chunks > 0 or ended end, FIRST_CHUNK_SECONDS)
    assert(run.chunks > 0, "no chunk from the microphone within " .. FIRST_CHUNK_SECONDS .. " s")
    run.live_after = engine.scheduler:now() - opened
    local done_at
    speaker:play(speech)
    speaker:finish(function() done_at = engine.scheduler:now() end)
    local started = engine.scheduler:now()
    run.longest = drive(engine, function() return done_at and engine.scheduler:now() > done_at + 0.6 end, 10)
    assert(done_at, "the speaker did not finish")
    run.elapsed = engine.scheduler:now() - started
    run.played_at = speaker.first_at
    run.ended = ended
    return run
  end

  -- What play_and_record measured, held to what a microphone hearing the speaker gives.
  local function assert_heard(run)
    assert.is_nil(run.ended)
    -- The captured audio spans the time it was recorded: nothing lost, nothing made up.
    local span = run.last_at - run.first_at
    assert.is_true(math.abs(run.captured.duration - span) < 0.2, ("%.3f s captured in %.3f s"):format(
      run.captured.duration, span))
    -- Chunks of about 20 ms, whatever the server's own block sizes.
    local per_chunk = run.captured.duration / run.chunks
    assert.is_true(per_chunk > 0.005 and per_chunk < 0.1, per_chunk)
    -- The sentence is in the recording, sample for sample (through two resamplings), where it was played.
    local at = assert(locate.whole(run.captured, speech))
    local delay = run.first_at + at - run.played_at
    assert.is_true(delay > -0.1 and delay < 0.6, ("heard %.3f s after it was played"):format(delay))
    -- The engine never waited on the devices: its 10 ms timer kept ticking.
    assert.is_true(run.longest < 0.1, run.longest)
    assert.is_true(run.ticks >= run.elapsed / 0.01 / 3, ("%d ticks in %.2f s"):format(run.ticks, run.elapsed))
  end

  it("pacat plays a sentence into the null sink while parec records its monitor", function()
    local server = pulse.start()
    local engine = gptaudio.engine.new()
    finally(function()
      engine:close()
      server:stop()
    end)
    server:use()
    local mic = assert(audio.capture{ rate = RATE, channels = 1, device = server.monitor, engine = engine })
    local speaker = audio.playback{ rate = RATE, engine = engine }
    assert.equal("gptaudio.Source(parec, 24000 Hz, 1 ch)", tostring(mic))
    local run = play_and_record(engine, mic, speaker)
    assert.same({ "pacat", "parec" }, (function()
      local c = children()
      table.sort(c)
      return c
    end)())
    -- parec names itself pacat to the server: a player and a recorder.
    assert.same({ "pacat", "pacat" }, server:clients())
    mic:stop()
    speaker:close()
    assert_heard(run)
    assert.is_nil(speaker.error)
    -- stop and close end both children: none is left, the server has no client.
    assert.same({}, children())
    assert.same({}, server:clients())
  end)

  it("the same through ALSA: aplay and arecord reach the server through the pulse plugin", function()
    local server = pulse.start()
    local engine = gptaudio.engine.new()
    finally(function()
      engine:close()
      server:stop()
    end)
    server:use()
    -- ALSA's "pulse" device records the server's default source: here, the speaker's monitor.
    server:pactl("set-default-source " .. server.monitor)
    local mic = assert(audio.capture{ rate = RATE, channels = 1, backend = "alsa", device = "pulse",
                                      engine = engine })
    local speaker = audio.playback{ rate = RATE, backend = "alsa", device = "pulse", engine = engine }
    assert.equal("gptaudio.Source(arecord, 24000 Hz, 1 ch)", tostring(mic))
    local run = play_and_record(engine, mic, speaker)
    local names = children()
    table.sort(names)
    assert.same({ "aplay", "arecord" }, names)
    mic:stop()
    speaker:close()
    assert_heard(run)
    assert.is_nil(speaker.error)
    assert.same({}, children())
    assert.same({}, server:clients())
  end)

  -- Starts the microphone and plays a moment of silence; returns the source's
  -- error and the speaker's, once both are known (or after 5 s).
  local function fail_both(engine, options)
    local mic = assert(audio.capture(options{ rate = RATE, engine = engine }))
    local speaker = audio.playback(options{ rate = RATE, engine = engine })
    local mic_error, ends = nil, 0
    assert(mic:start(function() end, function(err) mic_error, ends = err, ends + 1 end))
    speaker:play(audio.new{ rate = RATE, frames = math.floor(RATE / 5) })
    local start = engine.scheduler:now()
    drive(engine, function() return ends > 0 and speaker.error end, 5)
    assert.equal(1, ends)
    assert.is_false(mic:running())
    -- Known within a moment: nothing hangs on a server that is not there.
    assert.is_true(engine.scheduler:now() - start < 2, engine.scheduler:now() - start)
    speaker:close()
    return mic_error, speaker.error
  end

  it("no sound server: the recorder ends and the player fails, each with the program's own words", function()
    local nowhere = pulse.nowhere(dir)
    local engine = gptaudio.engine.new()
    finally(function()
      engine:close()
      nowhere:stop()
    end)
    nowhere:use()
    for _, backend in ipairs{ "pulse", "alsa" } do
      local mic_error, speaker_error = fail_both(engine, function(o) o.backend = backend return o end)
      assert.equal("io", mic_error.type)
      assert.equal("io", speaker_error.type)
      if backend == "pulse" then
        assert.matches("^parec ended %(status 1%): Connection failure: Connection refused", mic_error.message)
        assert.matches("^pacat ended %(status 1%): Connection failure: Connection refused", speaker_error.message)
      else
        -- ALSA finds no sound card and no server: the end of arecord's words, where it says so.
        assert.matches("^arecord ended %(status 1%): .*arecord: .*audio open error", mic_error.message)
        assert.matches("^aplay ended %(status 1%): .*aplay: .*audio open error", speaker_error.message)
      end
    end
    assert.same({}, children())
  end)

  it("an unknown device: the recorder and the player say which, and why", function()
    local server = pulse.start()
    local engine = gptaudio.engine.new()
    finally(function()
      engine:close()
      server:stop()
    end)
    server:use()
    local mic_error, speaker_error = fail_both(engine, function(o) o.device = "gptaudio_no_such_device" return o end)
    assert.equal("parec (device gptaudio_no_such_device) ended (status 1): Stream error: No such entity",
                 mic_error.message)
    assert.equal("pacat (device gptaudio_no_such_device) ended (status 1): Stream error: No such entity",
                 speaker_error.message)
    mic_error, speaker_error = fail_both(engine, function(o)
      o.backend, o.device = "alsa", "gptaudio_no_such_device"
      return o
    end)
    assert.matches("^arecord %(device gptaudio_no_such_device%) ended %(status 1%): .*Unknown PCM "
                   .. "gptaudio_no_such_device", mic_error.message)
    assert.matches("^aplay %(device gptaudio_no_such_device%) ended %(status 1%): .*Unknown PCM "
                   .. "gptaudio_no_such_device", speaker_error.message)
    assert.same({}, children())
    assert.same({}, server:clients())
  end)

  it("a missing recorder or player: nil, err naming the package that has it", function()
    local path = uv.os_getenv("PATH")
    local engine = gptaudio.engine.new()
    finally(function()
      uv.os_setenv("PATH", path)
      engine:close()
    end)
    -- A PATH holding none of them.
    uv.os_setenv("PATH", dir)
    for backend, program in pairs{ pulse = { "parec", "pulseaudio-utils" }, alsa = { "arecord", "alsa-utils" } } do
      local mic = assert(audio.capture{ backend = backend, engine = engine })
      local ok, err = mic:start(function() end)
      assert.is_nil(ok)
      assert.equal("io", err.type)
      assert.equal(("cannot start %s: No such file or directory (%s is in the package %s)"):format(program[1],
                   program[1], program[2]), err.message)
      assert.is_false(mic:running())
    end
    local speaker = audio.playback{ rate = RATE, backend = "pulse", engine = engine }
    speaker:play(audio.new{ rate = RATE, frames = 240 })
    assert.equal("cannot start pacat: No such file or directory (pacat is in the package pulseaudio-utils)",
                 speaker.error.message)
    speaker:close()
  end)

  -- Sets (a string) or unsets (false) environment variables of this process;
  -- returns the function that puts back what was there.
  local function set_env(vars)
    local saved = {}
    for name, value in pairs(vars) do
      saved[name] = uv.os_getenv(name) or false
      if value then uv.os_setenv(name, value) else uv.os_unsetenv(name) end
    end
    return function()
      for name, value in pairs(saved) do
        if value then uv.os_setenv(name, value) else uv.os_unsetenv(name) end
      end
    end
  end

  it("picks PulseAudio when a server is there to reach (PULSE_SERVER, the runtime socket), else ALSA", function()
    local server = pulse.start()
    local engine = gptaudio.engine.new()
    local restore = set_env{ PULSE_SERVER = false, PULSE_RUNTIME_PATH = false, XDG_RUNTIME_DIR = false }
    finally(function()
      restore()
      engine:close()
      server:stop()
    end)
    local function program()
      return tostring(audio.capture{ engine = engine }):match("^gptaudio.Source%((%w+)")
    end
    assert.equal("arecord", program())
    -- A desktop's session: the socket in the runtime folder.
    uv.os_setenv("XDG_RUNTIME_DIR", server.runtime)
    assert.equal("parec", program())
    local mic = assert(audio.capture{ engine = engine, device = server.monitor })
    local chunks = 0
    assert(mic:start(function() chunks = chunks + 1 end))
    drive(engine, function() return chunks > 0 end, FIRST_CHUNK_SECONDS)
    mic:stop()
    assert.is_true(chunks > 0)
    uv.os_setenv("PULSE_RUNTIME_PATH", server.runtime .. "/pulse")
    uv.os_setenv("XDG_RUNTIME_DIR", dir)
    assert.equal("parec", program())
    -- PipeWire without pipewire-pulse: no socket parec could reach.
    uv.os_unsetenv("PULSE_RUNTIME_PATH")
    util.write_file(dir .. "/pipewire-0", "")
    assert.equal("arecord", program())
    server:use()
    assert.equal("parec", program())
  end)
end)
