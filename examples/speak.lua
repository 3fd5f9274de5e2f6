-- Text to speech, routed by the model you pick: a speech model streams its
-- audio as it is made; the chat model reads the text aloud. Both are saved as
-- WAV files under out/.
--   lua5.4 examples/speak.lua ["text to say"]
-- Runs against the real API when OPENAI_API_KEY is set, else against the local
-- stand-in (examples/common.lua says how to run it).
local common = require "examples.common"

local text = arg and arg[1] or "The quick brown fox jumps over the lazy dog."
local client = common.client("speaking")
local cost = common.cost

-- A speech model, streamed: each audio event is an AudioBuffer chunk, playable at once.
local chunks = 0
local sp = assert(client:speak(text, {
  model = "gpt-4o-mini-tts", voice = "coral", instructions = "Speak like a calm radio presenter.", stream = true,
  on_event = function(ev)
    if ev.type == "audio" then chunks = chunks + 1 end
  end,
}))
assert(sp.audio:save("out/speak_tts.wav"))
print(("gpt-4o-mini-tts: %.2f s of audio in %d streamed chunks, %s -> out/speak_tts.wav"):format(
  sp.audio.duration, chunks, cost(sp.cost)))

-- The chat model reads it aloud: the reply carries its own transcript of what it said.
sp = assert(client:speak(text, { voice = "alloy", format = "wav" }))
assert(sp.audio:save("out/speak_chat.wav"))
print(("%s: %.2f s of audio saying %q, %s -> out/speak_chat.wav"):format(
  sp.model, sp.audio.duration, sp.transcript, cost(sp.cost)))
