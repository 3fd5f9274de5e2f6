-- Drives the Neovim example plugin (examples/nvim) as a user would, inside a
-- real `nvim --headless`, for spec/nvim_spec.lua. Everything happens on the
-- editor's own loop: each step waits for the plugin to go idle by polling on
-- a 20 ms repeating vim.loop timer, which also proves the loop never stalls.
--
-- Environment: GPTAUDIO_NVIM_URL (the fake server), GPTAUDIO_NVIM_AUDIO (a WAV
-- to transcribe), GPTAUDIO_NVIM_DIR (where speech goes), GPTAUDIO_NVIM_OUT
-- (the JSON results written before quitting).
local plugin = require "gptaudio_nvim"

local TICK_MS = 20
local SAFETY_MS = 10000

local results = { notes = {}, ticks = 0, states = 0 }

vim.notify = function(message) table.insert(results.notes, message) end

local function finish()
  local f = assert(io.open(os.getenv("GPTAUDIO_NVIM_OUT"), "w"))
  f:write(vim.fn.json_encode(results))
  f:close()
  vim.cmd("qa!")
end

local safety = vim.loop.new_timer()
safety:start(SAFETY_MS, 0, vim.schedule_wrap(function()
  results.timed_out = true
  finish()
end))

local loaded, why = pcall(function()
  plugin.setup{
    path = "lua/?.lua;lua/?/init.lua",
    cpath = "build/jit/?.so",
    base_url = os.getenv("GPTAUDIO_NVIM_URL"),
    api_key = "sk-test",
    dir = os.getenv("GPTAUDIO_NVIM_DIR"),
    player = false,
  }
  vim.cmd("runtime plugin/gptaudio.lua")
end)
if not loaded then
  table.insert(results.notes, "driver: " .. tostring(why))
  return finish()
end

-- Runs each step in turn: a step starts a command, then on every tick `watch`
-- (when given) looks at the editor, and the next step starts once the plugin is idle.
local function run(steps)
  local ticker = vim.loop.new_timer()
  local index, step = 0, nil
  local function next_step()
    index = index + 1
    step = steps[index]
    if not step then
      ticker:stop()
      ticker:close()
      safety:stop()
      safety:close()
      return finish()
    end
    local ok, err = pcall(step.start)
    if not ok then table.insert(results.notes, "driver: " .. tostring(err)) end
  end
  ticker:start(TICK_MS, TICK_MS, vim.schedule_wrap(function()
    results.ticks = results.ticks + 1
    if step.watch then step.watch() end
    if plugin.busy() == 0 then
      if step.done then step.done() end
      next_step()
    end
  end))
  next_step()
end

local ask_buf, last_seen
local transcript_buf

run{
  { -- the answer streams into a scratch buffer while the loop keeps ticking
    start = function()
      vim.cmd("GptAudioAsk What does the fox say?")
      ask_buf = vim.api.nvim_get_current_buf()
      results.ticks_at_ask = results.ticks
    end,
    watch = function()
      local text = table.concat(vim.api.nvim_buf_get_lines(ask_buf, 0, -1, true), "\n")
      if text ~= last_seen then results.states, last_seen = results.states + 1, text end
    end,
    done = function()
      results.ask_ticks = results.ticks - results.ticks_at_ask
      results.ask_lines = vim.api.nvim_buf_get_lines(ask_buf, 0, -1, true)
    end,
  },
  { -- the transcript goes where the cursor was
    start = function()
      transcript_buf = vim.api.nvim_create_buf(true, true)
      vim.api.nvim_win_set_buf(0, transcript_buf)
      vim.api.nvim_buf_set_lines(transcript_buf, 0, -1, true, { "Heard: .", "end" })
      vim.api.nvim_win_set_cursor(0, { 1, 7 })
      vim.cmd("GptAudioTranscribe " .. vim.fn.fnameescape(os.getenv("GPTAUDIO_NVIM_AUDIO")))
    end,
    done = function()
      results.transcribe_lines = vim.api.nvim_buf_get_lines(transcript_buf, 0, -1, true)
    end,
  },
  { -- a charwise visual selection over two lines is read aloud
    start = function()
      vim.api.nvim_buf_set_lines(0, 0, -1, true, { "Please say this", "and this line", "but not this" })
      vim.cmd("normal! 1G8|v2G8|\27")
      vim.cmd("'<,'>GptAudioSpeak")
    end,
  },
}
