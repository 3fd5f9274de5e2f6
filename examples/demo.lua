-- The gptaudio demo (make demo): each part runs in turn.
--   1. the audio demo (examples/audio.lua): a recording trimmed, resampled, saved;
--   2. a voice round trip: a speech model says a question, the chat model hears
--      it and answers aloud, a transcription model writes the answer down;
--   3. a tool round: the chat model calls a tool and answers aloud from its result;
-- then a table of the tokens and cost of every call. WAV files land in out/.
-- Runs against the real API when OPENAI_API_KEY is set, else against the local
-- stand-in (spec/support/standin.lua), which make demo starts and stops.
dofile("examples/audio.lua")

local gptaudio = require "gptaudio"
local common = require "examples.common"

print()
local demo = { client = common.client("voice round trip"), calls = {} }

--- Adds a call's line to the table: what it was, and its result (anything
--- with model, usage and cost: a reply, a Transcript, a Speech).
function demo.record(what, result)
  demo.calls[#demo.calls + 1] = { what = what, model = result.model, usage = result.usage or {}, cost = result.cost }
end

-- The steps of the round trip, in order. Each takes `demo` (its client, record,
-- and what earlier steps left in it) and leaves there what later steps need.
-- A new part of the demo (a tool round, ...) is one more function appended to
-- this list.
local steps = {
  function(d)
    -- Streamed, so the speech model reports its usage (a whole answer carries none).
    local sp = assert(d.client:speak("Which planet is the largest in our solar system?",
                                     { model = "gpt-4o-mini-tts", voice = "coral", stream = true }))
    assert(sp.audio:save("out/demo_question.wav"))
    print(("speak       %.2f s of speech -> out/demo_question.wav"):format(sp.audio.duration))
    d.record("speak", sp)
    d.question = sp.audio
  end,
  function(d)
    local reply = assert(d.client:chat{
      messages = {
        { role = "system", content = "Answer the spoken question in one short sentence." },
        { role = "user", content = { { type = "input_audio", audio = d.question } } },
      },
      audio = { voice = "alloy", format = "wav" },
    })
    assert(reply.audio:save("out/demo_answer.wav"))
    print(("chat        heard the question, answered aloud (%.2f s) -> out/demo_answer.wav"):format(
      reply.audio.duration))
    print(('            its transcript: "%s"'):format(reply.transcript))
    d.record("chat", reply)
    d.answer = reply.audio
  end,
  function(d)
    local tr = assert(d.client:transcribe(d.answer, { model = "gpt-4o-mini-transcribe" }))
    print(('transcribe  the answer, written down: "%s"'):format(tr.text))
    d.record("transcribe", tr)
  end,
  -- The tool round (client:run_tools): the model calls a tool, its result goes
  -- back, and the model answers aloud from it.
  function(d)
    local weather = gptaudio.tools.new{ {
      name = "get_weather",
      description = "The weather now in a city.",
      parameters = { type = "object", properties = { city = { type = "string", examples = { "Oslo" } } },
                     required = { "city" }, additionalProperties = false },
      handler = function(args) return { city = args.city, celsius = 4, sky = "cloudy" } end,
    } }
    local reply = assert(d.client:run_tools{
      messages = {
        { role = "system", content = "Use the tool, then answer in one short sentence." },
        { role = "user", content = "What is the weather in Oslo right now?" },
      },
      tools = weather, audio = { voice = "alloy", format = "wav" },
    })
    for i, round in ipairs(reply.rounds) do
      for _, result in ipairs(round.tool_results) do
        print(("tools       round %d: %s -> %s"):format(i, result.name, result.content))
      end
      d.record("tools " .. i, round.reply)
    end
    assert(reply.audio:save("out/demo_tools_answer.wav"))
    print(('            answered aloud: "%s" -> out/demo_tools_answer.wav'):format(reply.transcript))
  end,
}

for _, step in ipairs(steps) do step(demo) end

-- The table: tokens split into text and audio where the API reports them.
local function tokens(total, text, audio)
  if not total then return "-" end
  return ("%d (%d+%d)"):format(total, text or 0, audio or 0)
end

print()
print(("%-11s %-28s %-16s %-16s %s"):format("call", "model", "in (text+audio)", "out (text+audio)", "cost USD"))
local total = 0
for _, c in ipairs(demo.calls) do
  local u = c.usage
  print(("%-11s %-28s %-16s %-16s %s"):format(c.what, c.model,
    tokens(u.input_tokens, u.input_text_tokens, u.input_audio_tokens),
    tokens(u.output_tokens, u.output_text_tokens, u.output_audio_tokens),
    c.cost and ("%.6f"):format(c.cost) or "unknown"))
  total = total + (c.cost or 0)
end
print(("%-11s %-28s %-16s %-16s %.6f"):format("total", "", "", "", total))
demo.client:close()
