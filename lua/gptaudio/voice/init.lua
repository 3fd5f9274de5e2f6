-- gptaudio.voice: live spoken conversations (see gptaudio.voice.agent).
local agent = require "gptaudio.voice.agent"

return {
  agent = agent.new,
}
