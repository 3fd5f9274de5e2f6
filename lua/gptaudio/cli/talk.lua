-- gptaudio talk: a spoken conversation in a terminal. The microphone (or
-- --input FILE played as if it were one) goes to gptaudio.voice.agent; the
-- answers play on the sound device (or are kept in --output FILE); the
-- transcript is printed as it streams, and each turn's cost and latency go to
-- stderr. Hands-free by default (the VAD finds each utterance); with
-- --push-to-talk, Enter starts talking and Enter again sends. With the
-- microphone and the speaker both in use, the voice agent's echo canceller is
-- on (the answer coming back from the speaker does not interrupt it);
-- --no-echo-cancel turns it off, for headphones.
local core = require "gptaudio.core"
local gptaudio = require "gptaudio"
local cli = require "gptaudio.cli"
local devices = require "gptaudio.voice.devices"

local talk = {}

talk.HELP = [[
Usage: gptaudio talk [--input FILE] [--output FILE] [--push-to-talk] [--system TEXT]
                     [--microphone NAME] [--speaker NAME] [--device NAME]
                     [--pause SECONDS] [--no-echo-cancel] [--model MODEL] [--voice VOICE]

A voice conversation with the model (default gpt-audio-mini): speak, and it answers aloud;
speak over an answer to interrupt it. Prints the transcript as it streams; each turn's
tokens, cost and latency go to stderr. Ctrl-C ends it.
--input FILE     play this recording in real time instead of the microphone (scripted runs)
--output FILE    keep the answers, as heard, in this WAV file instead of playing them
--push-to-talk   Enter starts talking, Enter again sends (instead of the pause after speech)
--microphone NAME  the source to record instead of the default one
                  (PulseAudio/PipeWire: pactl list short sources; ALSA: arecord -L)
--speaker NAME    the sink to play on instead of the default one (pactl list short sinks; aplay -L)
--device NAME     both at once: an ALSA device that records and plays, such as a headset's hw:1
--pause SECONDS  the silence that ends an utterance (default 0.6)
--no-echo-cancel  with headphones: the answer is not taken out of what the microphone hears
                  (by default it is, when both the microphone and the speaker are used)
]]

local OPTIONS = { input = { value = "FILE" }, output = { short = "o", value = "FILE" }, system = { value = "TEXT" },
                  ["push-to-talk"] = {}, device = { value = "NAME" }, microphone = { value = "NAME" },
                  speaker = { value = "NAME" }, pause = { value = "SECONDS" },
                  ["no-echo-cancel"] = {} }

local function turn_line(ev)
  local l, u = ev.latency, ev.usage or {}
  local parts = { ("turn %d"):format(ev.turn) }
  if u.input_tokens then parts[#parts + 1] = ("%d tokens in, %d out"):format(u.input_tokens, u.output_tokens or 0) end
  parts[#parts + 1] = ev.cost and ("cost $%.6f"):format(ev.cost) or "cost unknown"
  if l then
    parts[#parts + 1] = ("latency %.0f ms (endpointing %.0f, upload %.0f, server %.0f, client %.0f)"):format(
      l.total * 1000, l.endpointing * 1000, l.upload * 1000, l.server * 1000, l.client * 1000)
  end
  return table.concat(parts, ", ") .. "\n"
end

local function printer(ev)
  if ev.type == "transcript" then
    io.stdout:write(ev.delta)
    io.stdout:flush()
  elseif ev.type == "turn_done" then
    io.stdout:write("\n")
    io.stderr:write(turn_line(ev))
  elseif ev.type == "interrupted" then
    io.stdout:write(" [interrupted]\n")
    io.stderr:write(("turn %d interrupted after %.1f s\n"):format(ev.turn, ev.heard))
  elseif ev.type == "user_speech_start" then
    io.stderr:write("(listening to you)\n")
  elseif ev.type == "error" then
    io.stderr:write(cli.error_line(ev.error))
  end
end

-- Enter toggles talking: a child reads the terminal for us, so the engine never waits on it.
local function keyboard(engine, agent)
  local reader = assert(core.spawn({ "cat" }, { stdin = "inherit" }))
  local talking = false
  local function poll()
    local text = reader:read()
    if text == nil then return end
    for _ in text:gmatch("\n") do
      talking = not talking
      io.stderr:write(talking and "(talking: Enter to send)\n" or "(sent)\n")
      agent:talk(talking)
    end
    engine.scheduler:after(0.02, poll)
  end
  io.stderr:write("(Enter to talk)\n")
  poll()
  return reader
end

function talk.run(argv, first)
  local opts, operands = cli.parse(argv, first, OPTIONS)
  if opts.help then
    io.stdout:write(talk.HELP)
    return cli.EXIT.ok
  end
  if #operands > 0 then cli.usage_error("talk takes no arguments") end
  local pause = opts.pause and tonumber(opts.pause)
  if opts.pause and not (pause and pause > 0 and pause <= 30) then
    cli.usage_error("--pause must be a number of seconds (0 to 30)")
  end
  local client = cli.client(opts)
  local echo_cancel -- nil: on when both devices are used
  if opts["no-echo-cancel"] then echo_cancel = false end
  local choice = devices.choose{ input = opts.input, output = opts.output, microphone = opts.microphone,
                                 speaker = opts.speaker, device = opts.device, echo_cancel = echo_cancel }
  local source, err
  if opts.input then
    source, err = gptaudio.audio.capture{ file = opts.input, realtime = true, engine = client.engine }
    if not source then cli.usage_error(("cannot read %s: %s"):format(opts.input, err.message)) end
  else
    source = gptaudio.audio.capture{ device = choice.microphone, engine = client.engine }
  end
  local sink
  if opts.output then
    sink = gptaudio.audio.recording_sink{ rate = 24000, engine = client.engine }
  else
    sink = gptaudio.audio.playback{ rate = 24000, device = choice.speaker, engine = client.engine }
  end
  local agent = gptaudio.voice.agent{ client = client, source = source, sink = sink, system = opts.system,
                                      vad = { pause = pause }, push_to_talk = opts["push-to-talk"] or nil,
                                      echo_cancel = choice.echo_cancel,
                                      on_event = printer }
  local reader
  if opts["push-to-talk"] then reader = keyboard(client.engine, agent) end
  core.catch_interrupt()
  -- A speaker that fails (no sound server, an unknown device) ends the agent
  -- itself, with the speaker's error in the summary.
  local function watch()
    if core.interrupted(true) then return agent:stop() end
    client.engine.scheduler:after(0.1, watch)
  end
  watch()
  local summary, run_err = agent:run()
  if reader then reader:stop() end
  if not summary then return cli.fail(opts, run_err) end
  if opts.output then
    local _, heard = sink.recorded()
    local saved, save_err = heard:save(opts.output)
    if not saved then return cli.fail(opts, { type = "io", message = tostring(save_err) }) end
  end
  io.stderr:write(("%d turns, cost %s\n"):format(#summary.turns,
    summary.cost and ("$%.6f"):format(summary.cost) or "unknown"))
  if summary.error then return cli.fail(opts, summary.error) end
  return cli.EXIT.ok
end

return talk
