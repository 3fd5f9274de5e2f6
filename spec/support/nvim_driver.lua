-- Drives the Neovim plugin (the repository itself) as a user would, inside a
-- real `nvim --headless -u NONE`, for spec/nvim_spec.lua. It loads the plugin
-- the way lazy.nvim does: the checkout on the runtime path, plugin/gptaudio.lua
-- sourced, then require("gptaudio").setup(opts). Without lua-cjson (hidden
-- here), so gptaudio.json runs on vim.json. Everything happens on the editor's
-- own loop: each step waits for the plugin to go idle by polling on a 20 ms
-- repeating vim.loop timer, which also proves the loop never stalls.
--
-- Environment: GPTAUDIO_NVIM_URL (the fake server), GPTAUDIO_NVIM_AUDIO (a WAV
-- to transcribe), GPTAUDIO_NVIM_DIR (where speech goes), GPTAUDIO_NVIM_OUT
-- (the JSON results written before quitting).
local TICK_MS = 20
local SAFETY_MS = 15000

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

-- A Neovim without lua-cjson: the plugin must fall back to vim.json.
package.loaded.cjson = nil
package.preload.cjson = function() error("module 'cjson' not found (hidden by the driver)") end

local plugin
local loaded, why = pcall(function()
  vim.opt.rtp:prepend(vim.fn.getcwd())
  vim.cmd("runtime plugin/gptaudio.lua")
  require("gptaudio").setup{
    base_url = os.getenv("GPTAUDIO_NVIM_URL"),
    api_key = "sk-test",
    dir = os.getenv("GPTAUDIO_NVIM_DIR"),
    player = false,
    -- a "microphone" that records the test WAV, then waits to be stopped as arecord does
    recorder = { "sh", "-c", 'cp "$GPTAUDIO_NVIM_AUDIO" "$1" && exec sleep 30', "recorder" },
  }
  plugin = require "gptaudio.nvim"
  results.plug = {}
  for _, m in ipairs{ { "n", "ask" }, { "x", "speak" }, { "n", "speak-line" }, { "i", "dictate" }, { "n", "stop" } } do
    results.plug[#results.plug + 1] = vim.fn.maparg("<Plug>(gptaudio-" .. m[2] .. ")", m[1])
  end
  results.json_backend = require("gptaudio.json").null == vim.NIL and "vim.json" or "cjson"
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
    step.started = results.ticks
    local ok, err = pcall(step.start)
    if not ok then table.insert(results.notes, "driver: " .. tostring(err)) end
  end
  ticker:start(TICK_MS, TICK_MS, vim.schedule_wrap(function()
    results.ticks = results.ticks + 1
    if step.watch then step.watch() end
    if plugin.busy() == 0 and not plugin.recording() and (not step.hold or step.hold()) then
      if step.done then step.done() end
      next_step()
    end
  end))
  next_step()
end

local function buffer_text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, true), "\n")
end

local ask_buf, last_seen, transcript_buf, slow_buf

run{
  { -- the answer streams into a scratch buffer while the loop keeps ticking
    start = function()
      results.ask_started = results.ticks
      vim.cmd("GptAudioAsk What does the fox say?")
      ask_buf = vim.api.nvim_get_current_buf()
    end,
    watch = function()
      local text = buffer_text(ask_buf)
      if text ~= last_seen then results.states, last_seen = results.states + 1, text end
    end,
    done = function()
      results.ask_ticks = results.ticks - results.ask_started
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
  { -- closing the answer's buffer cancels the request at once
    start = function()
      vim.cmd("GptAudioAsk Tell me a long story.")
      slow_buf = vim.api.nvim_get_current_buf()
    end,
    watch = function()
      if vim.api.nvim_buf_is_valid(slow_buf) and buffer_text(slow_buf) ~= "" then
        results.close_ticks_before = results.ticks
        vim.cmd("bwipeout! " .. slow_buf)
      end
    end,
    done = function() results.close_ticks = results.ticks - results.close_ticks_before end,
  },
  { -- :GptAudioStop cancels what is in flight
    start = function()
      vim.cmd("GptAudioAsk Tell me another long story.")
      results.stop_started = results.ticks
      vim.defer_fn(function() vim.cmd("GptAudioStop") end, 200)
    end,
    hold = function() return results.ticks - results.stop_started > 12 end,
    done = function() results.stop_ticks = results.ticks - results.stop_started end,
  },
  { -- dictation: start recording, stop it, the transcript lands at the cursor
    start = function()
      vim.api.nvim_buf_set_lines(transcript_buf, 0, -1, true, { "Said: ." })
      vim.api.nvim_win_set_buf(0, transcript_buf)
      vim.api.nvim_win_set_cursor(0, { 1, 6 })
      vim.cmd("GptAudioDictate")
      results.recording = plugin.recording()
      vim.defer_fn(function() vim.cmd("GptAudioDictate") end, 300)
    end,
    done = function() results.dictate_lines = vim.api.nvim_buf_get_lines(transcript_buf, 0, -1, true) end,
  },
  { -- :checkhealth gptaudio, then :help gptaudio
    start = function()
      vim.cmd("checkhealth gptaudio")
      results.health = vim.api.nvim_buf_get_lines(0, 0, -1, true)
      local ok, err = pcall(vim.cmd, "help gptaudio")
      results.help = ok and vim.fn.expand("%:t") or tostring(err)
    end,
  },
}
