-- Plays the user of :GptAudioTalk inside `nvim --headless` (spec/nvim_talk_spec.lua):
-- the plugin set up against the fake server with a recorded conversation as the
-- microphone and a file as the speaker; one :GptAudioTalk, then the wait
-- until the conversation ends by itself, with a 20 ms editor timer counting
-- ticks meanwhile (the editor never froze). GPTAUDIO_NVIM_SETUP (JSON) adds
-- setup options. Writes the talk buffer's lines, the tick count and what the
-- microphone, the speaker and the agent were given (given) to
-- GPTAUDIO_NVIM_OUT as JSON, then quits.
local out = assert(os.getenv("GPTAUDIO_NVIM_OUT"))
local result = { ticks = 0, given = {} }
local ok, err = pcall(function()
  local gptaudio = require "gptaudio"
  local audio, voice = gptaudio.audio, gptaudio.voice
  local capture, playback, agent = audio.capture, audio.playback, voice.agent
  function audio.capture(o)
    result.given.microphone = o.device or o.file
    return capture(o)
  end
  function audio.playback(o)
    result.given.speaker = o.device or "default"
    return playback(o)
  end
  function voice.agent(o)
    result.given.echo_cancel = o.echo_cancel or false
    return agent(o)
  end
  local nvim = require "gptaudio.nvim"
  local options = { base_url = os.getenv("GPTAUDIO_NVIM_URL"), api_key = "sk-test",
                    talk_input = os.getenv("GPTAUDIO_NVIM_INPUT"), talk_output = os.getenv("GPTAUDIO_NVIM_OUTPUT"),
                    talk_system = "Answer briefly." }
  for key, value in pairs(vim.fn.json_decode(os.getenv("GPTAUDIO_NVIM_SETUP") or "{}")) do options[key] = value end
  nvim.setup(options)
  local timer = vim.loop.new_timer()
  timer:start(20, 20, function() result.ticks = result.ticks + 1 end)
  vim.cmd("GptAudioTalk")
  result.buffer_name = vim.fn.bufname()
  local talk = require "gptaudio.nvim.talk"
  result.started = talk.running()
  result.ended = vim.wait(30000, function() return not talk.running() end, 20)
  -- the last drawing is scheduled after the end
  vim.wait(200, function() return false end, 20)
  timer:stop()
  result.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
end)
result.error = not ok and tostring(err) or nil
local f = assert(io.open(out, "w"))
f:write(vim.fn.json_encode(result))
f:close()
vim.cmd("qa!")
