-- Speech to text, routed by the model you pick: the same audio through a
-- transcription model (streamed), whisper-1 with word timestamps, and the chat
-- model asked for a verbatim transcript.
--   lua5.4 examples/transcribe.lua [audio.wav|audio.mp3]
-- Without a file it first has a speech model say a sentence. Runs against the
-- real API when OPENAI_API_KEY is set, else against the local stand-in
-- (examples/common.lua says how to run it).
local common = require "examples.common"

local client = common.client("transcribing")
local cost = common.cost

-- A path goes up as the file it names; an AudioBuffer as 24 kHz mono WAV.
local input = arg and arg[1]
if not input then
  input = assert(client:speak("Transcription turns speech into text.", { model = "gpt-4o-mini-tts" })).audio
  print(("made %.2f s of speech to transcribe"):format(input.duration))
end

io.write("gpt-4o-mini-transcribe, streamed:")
local tr = assert(client:transcribe(input, {
  model = "gpt-4o-mini-transcribe", language = "en", stream = true,
  on_event = function(ev)
    if ev.type == "transcript" then io.write(" [", ev.delta, "]") end
  end,
}))
print()
print(("  %q, %d tokens, %s"):format(tr.text, tr.usage and tr.usage.total_tokens or 0, cost(tr.cost)))

tr = assert(client:transcribe(input, { model = "whisper-1", response_format = "verbose_json",
                                       timestamp_granularities = { "word" } }))
print(("whisper-1: %q (%s, %.2f s), %s"):format(tr.text, tostring(tr.language), tr.duration or 0, cost(tr.cost)))
for _, w in ipairs(tr.words or {}) do print(("  %6.2f-%6.2f  %s"):format(w.start, w["end"], w.word)) end

tr = assert(client:transcribe(input, { model = "whisper-1", response_format = "srt" }))
io.write("whisper-1 as srt:\n", tr.text)

tr = assert(client:transcribe(input, { prompt = "A sentence about transcription." }))
print(("%s (chat): %q, %s"):format(tr.model, tr.text, cost(tr.cost)))
