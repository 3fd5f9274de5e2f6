-- Chat with gpt-audio-mini: a streamed text answer printed as it arrives, then
-- a spoken answer to a follow-up in the same conversation, saved as WAV.
--   lua5.4 examples/chat.lua ["your question"]
-- Runs against the real API when OPENAI_API_KEY is set, else against the local
-- stand-in (examples/common.lua says how to run it).
local common = require "examples.common"

local question = arg and arg[1] or "In one sentence: why is the sky blue?"
local client = common.client("chatting")
local cost = common.cost

local messages = {
  { role = "system", content = "You are brief and friendly." },
  { role = "user", content = question },
}
print("you: " .. question)
io.write("model: ")
local reply = assert(client:chat{ messages = messages, stream = true, on_event = function(ev)
  if ev.type == "text" then io.write(ev.delta) io.flush() end
end })
print()
print(("  (%s, %d tokens in, %d out, %s)"):format(reply.model, reply.usage.input_tokens, reply.usage.output_tokens,
                                                 cost(reply.cost)))

-- reply.message goes back into the history as the API sent it.
messages[#messages + 1] = reply.message
messages[#messages + 1] = { role = "user", content = "Now say that again, out loud." }
reply = assert(client:chat{ messages = messages, audio = { voice = "verse", format = "wav" } })
assert(reply.audio:save("out/chat_answer.wav"))
print(("model, aloud: %q, %.2f s -> out/chat_answer.wav (%d audio tokens out, %s)"):format(
  reply.transcript, reply.audio.duration, reply.usage.output_audio_tokens or 0, cost(reply.cost)))
