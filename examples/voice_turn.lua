-- One voice turn: a spoken question goes in, a spoken answer comes out and is
-- saved as WAV, with the words of both.
--   lua5.4 examples/voice_turn.lua [question.wav]
-- Without a file, a speech model asks the question. Runs against the real API
-- when OPENAI_API_KEY is set, else against the local stand-in
-- (examples/common.lua says how to run it).
local gptaudio = require "gptaudio"
local common = require "examples.common"

local client = common.client("talking")

local question = arg and arg[1] and assert(gptaudio.audio.load(arg[1]))
if not question then
  question = assert(client:speak("What is the tallest mountain on Earth?", { model = "gpt-4o-mini-tts" })).audio
  assert(question:save("out/voice_turn_question.wav"))
  print(("asked aloud: %.2f s -> out/voice_turn_question.wav"):format(question.duration))
end

local reply = assert(client:chat{
  messages = {
    { role = "system", content = "Answer the spoken question in one or two short sentences." },
    { role = "user", content = { { type = "input_audio", audio = question } } },
  },
  audio = { voice = "sage", format = "wav" },
})
assert(reply.audio:save("out/voice_turn_answer.wav"))
print(("answered aloud: %q, %.2f s -> out/voice_turn_answer.wav"):format(reply.transcript, reply.audio.duration))
print(("%s: %d audio tokens in, %d audio tokens out, %s"):format(reply.model, reply.usage.input_audio_tokens or 0,
                                                                reply.usage.output_audio_tokens or 0,
                                                                common.cost(reply.cost)))
