-- What the specs know of OpenAI's API and the test machine, named once: the
-- endpoints as the fake server records them, the dated model the API answers
-- with, the recording the specs send, and Prism's example audio.
local core = require "gptaudio.core"

return {
  CHAT = "/v1/chat/completions",
  TRANSCRIPTIONS = "/v1/audio/transcriptions",
  SPEECH = "/v1/audio/speech",
  -- What the API names gpt-audio-mini in its answers.
  MODEL = "gpt-audio-mini-2025-12-15",
  -- alsa-utils' recording: 48 kHz mono s16.
  RECORDING = "/usr/share/sounds/alsa/Front_Center.wav",
  -- Prism answers with the spec's examples: "string" as audio data is valid
  -- base64 for these 4 bytes.
  EXAMPLE_BYTES = core.base64_decode("string"),
}
