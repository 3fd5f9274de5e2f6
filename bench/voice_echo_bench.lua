-- The voice agent without headphones, in the simulated room of
-- spec/support/room.lua (the speaker heard 40 ms later, filtered, at half
-- the level, or `gain`):
--   1. ERLE of the agent's echo path (sink:played feeding audio.echo_canceller)
--      on a simulated clock: over a reply's first 0.5 s, its first second, and after.
--   2. False barge-ins: the agent in real time against the fake server, the
--      user asking QUESTIONS questions and waiting for each answer: answers
--      interrupted with nobody talking over them, and requests sent; then the
--      user talking over an answer: whether it barged in, and how late.
--      Without the canceller, with it but no guard, with both.
--   3. The work of agent:hear per 20 ms microphone chunk, with and without
--      the canceller (simulated clock, a reply sounding), as time per chunk.
--   LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/voice_echo_bench.lua [gain]
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local echo_path = require "gptaudio.voice.echo_path"
local fake = require "spec.support.fake"
local openai = require "spec.support.openai"
local room = require "spec.support.room"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local audio = gptaudio.audio
local GAIN = tonumber(arg[1]) or 0.5
local QUESTIONS, TTFB, PAUSE = 3, 0.3, 0.6
local ANSWER = "Tomorrow starts cloudy, then the sun comes out by noon and it stays warm and dry all evening."

local function db(x) return 20 * math.log(x, 10) end

local voice = voice_script.laid

-- A simulated clock; run(step_fn) advances it in 5 ms steps until step_fn returns true.
local function simulated()
  local clock = { now = 1000 }
  clock.engine = gptaudio.engine.new{ clock = function() return clock.now end }
  function clock.run(on_step)
    repeat
      clock.now = clock.now + 0.005
      clock.engine:step(0)
    until on_step(clock.now - 1000)
  end
  return clock
end

local function erle(reply)
  print("| tail | first 0.5 s | first second | after it |")
  print("|---|---|---|---|")
  for _, tail in ipairs{ 0.1, 0.25, 0.5 } do
    local clock = simulated()
    local r = room.new{ engine = clock.engine, user = audio.new{ rate = 24000 }, seconds = reply.duration + 1,
                        gain = GAIN }
    local path = echo_path.new{ rate = 24000, sink = r.sink, tail = tail }
    local clean = audio.new{ rate = 24000 }
    r:capture(clock.now)
    local played, next_chunk = false, 0.02
    clock.run(function(t)
      if not played and t >= 0.5 then
        r.sink:play(reply)
        played = true
      end
      if t >= next_chunk - 1e-9 then
        next_chunk = next_chunk + 0.02
        local chunk = r:capture(clock.now)
        if chunk then clean:append(path:process(chunk, clock.now)) end
      end
      return r.heard.frames >= r.frames
    end)
    local function over(from, to)
      local i, j = math.floor(from * 24000), math.floor(to * 24000)
      return ("%.1f dB"):format(db(r.echo:slice(i, j):rms() / clean:slice(i, j):rms()))
    end
    print(("| %.2f s | %s | %s | %s |"):format(tail, over(0.5, 1.0), over(0.5, 1.5), over(1.5, 0.5 + reply.duration)))
    clock.engine:close()
  end
end

local function converse(server, user, seconds, replies, echo_cancel)
  server:clear()
  server:script(openai.CHAT, replies)
  local client = gptaudio.new{ base_url = server.url, api_key = "sk-bench", max_retries = 0 }
  local r = room.new{ engine = client.engine, user = user, seconds = seconds, gain = GAIN }
  local events = {}
  local summary = assert(gptaudio.voice.agent{ client = client, source = r.source, sink = r.sink,
    vad = { pause = PAUSE }, echo_cancel = echo_cancel,
    on_event = function(ev) events[#events + 1] = ev end }:run())
  local sent = #server:requests(openai.CHAT)
  client:close()
  return summary, events, sent, r
end

local MODES = { { "no canceller", false }, { "canceller, no guard", { guard = false } },
                { "canceller and guard", true } }

local function barge_ins(server, questions, reply, answer)
  -- QUESTIONS questions, each once the answer before it has ended.
  local step = questions[1].duration + PAUSE + TTFB + 0.2 + reply.duration + 1
  local pieces, replies = {}, {}
  for i = 1, QUESTIONS do pieces[i] = { at = 0.3 + (i - 1) * step, audio = questions[i] } end
  for i = 1, 4 * QUESTIONS do replies[i] = voice_script.reply(reply, ANSWER, { delay = TTFB }) end
  local seconds = 0.3 + QUESTIONS * step
  -- Then one question spoken 1.5 s into an answer still arriving.
  local over_at = 0.3 + questions[1].duration + PAUSE + TTFB + 0.2 + 1.5
  local over_seconds = over_at + answer.duration + 3
  print(("| %s | answers interrupted, nobody talking over them (user asked %d) | requests sent |"
         .. " user over an answer: barged in, how late |"):format("mode", QUESTIONS))
  print("|---|---|---|---|")
  for _, mode in ipairs(MODES) do
    local summary, _, sent = converse(server, voice(pieces, seconds), seconds, replies, mode[2])
    local false_ones = 0
    for _, turn in ipairs(summary.turns) do
      if turn.interrupted then false_ones = false_ones + 1 end
    end
    local over = voice({ { at = 0.3, audio = questions[1] }, { at = over_at, audio = answer } }, over_seconds)
    local s2, _, _, r = converse(server, over, over_seconds,
      { voice_script.reply(reply, ANSWER, { delay = TTFB, chunk_delay = 0.08 }),
        voice_script.reply(answer, "Fine.", { delay = TTFB }) }, mode[2])
    local late = "no"
    local turn = s2.turns[1]
    if turn and turn.interrupted then
      local stopped = turn.first_sample - r.started + turn.heard
      late = stopped >= over_at and ("yes, %.0f ms after they began"):format((stopped - over_at) * 1000)
        or ("its own echo had stopped it %.1f s before"):format(over_at - stopped)
    end
    print(("| %s | %d | %d | %s |"):format(mode[1], false_ones, sent, late))
  end
end

local function cost(reply)
  local rows = {}
  for _, on in ipairs{ false, true } do
    local clock = simulated()
    local client = gptaudio.new{ api_key = false, base_url = "http://127.0.0.1:9", engine = clock.engine }
    local r = room.new{ engine = clock.engine, user = audio.new{ rate = 24000 }, seconds = reply.duration + 0.5,
                        gain = on and GAIN or 0 }
    local agent = gptaudio.voice.agent{ client = client, sink = r.sink, echo_cancel = on }
    local chunks, spent, next_chunk = {}, 0, 0.02
    r:capture(clock.now)
    r.sink:play(reply)
    clock.run(function(t)
      if t >= next_chunk - 1e-9 then
        next_chunk = next_chunk + 0.02
        local chunk = r:capture(clock.now)
        if chunk then
          local started = core.now()
          agent:hear(chunk, clock.now)
          spent = spent + core.now() - started
          chunks[#chunks + 1] = chunk
        end
      end
      return r.heard.frames >= r.frames
    end)
    rows[#rows + 1] = spent / #chunks
    client:close()
  end
  print(("agent:hear per 20 ms chunk (%s): %.3f ms without the canceller, %.3f ms with it (%.1fx);"
         .. " %.2f%% of the chunk's duration with it"):format(jit and jit.version or _VERSION, rows[1] * 1000,
         rows[2] * 1000, rows[2] / rows[1], 100 * rows[2] / 0.02))
end

local server = fake.start()
local dir = util.temp_dir()
local ok, err = pcall(function()
  local reply = voice_script.speech(ANSWER, dir, "a", "en-gb")
  local questions = { voice_script.speech("What will the weather be tomorrow?", dir, "q1"),
                      voice_script.speech("And the day after tomorrow?", dir, "q2"),
                      voice_script.speech("What about the weekend?", dir, "q3") }
  local answer = voice_script.speech("Stop. Tell me a joke instead.", dir, "q4")
  print(("room: the speaker 40 ms later at gain %.2f, %s"):format(GAIN, jit and jit.version or _VERSION))
  erle(reply)
  barge_ins(server, questions, reply, answer)
  cost(reply)
end)
util.remove_tree(dir)
server:stop()
if not ok then error(err, 0) end
