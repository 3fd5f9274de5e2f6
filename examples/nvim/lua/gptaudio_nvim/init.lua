-- gptaudio in Neovim (0.7 or later): ask, hear, transcribe, without ever
-- freezing the editor. Every request runs as a gptaudio task on Neovim's own
-- event loop (vim.loop) through the luv adapter; with schedule = vim.schedule
-- the task resumes where the editor's API may be called.
--
--   local root = vim.fn.expand("~/src/gptaudio")   -- a checkout, after `make build`
--   require("gptaudio_nvim").setup{
--     path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua",   -- prepended to package.path
--     cpath = root .. "/build/jit/?.so",                           -- Neovim runs LuaJIT
--     base_url = nil, api_key = nil,          -- else env OPENAI_BASE_URL, OPENAI_API_KEY
--     transcribe_model = "gpt-4o-mini-transcribe", speech_model = "gpt-4o-mini-tts", voice = "alloy",
--     dir = nil,                              -- where speech WAVs go (default: a temp dir)
--     player = nil,                           -- {"aplay"}, false for none; default: paplay, else aplay
--   }
--
--   :GptAudioAsk {question}         the answer streams into a scratch buffer
--   :'<,'>GptAudioSpeak             the visual selection read aloud
--   :GptAudioTranscribe {file}      the transcript inserted at the cursor
local M = {}

local DEFAULTS = {
  transcribe_model = "gpt-4o-mini-transcribe",
  speech_model = "gpt-4o-mini-tts",
  voice = "alloy",
}
local SETUP_OPTIONS = {
  path = true, cpath = true, base_url = true, api_key = true, transcribe_model = true, speech_model = true,
  voice = true, dir = true, player = true,
}

local config = vim.deepcopy(DEFAULTS)
local client
local running = 0
local spoken = 0

local function notify(message, level)
  vim.notify("gptaudio: " .. message, level or vim.log.levels.INFO)
end

function M.setup(opts)
  opts = opts or {}
  for key in pairs(opts) do
    if not SETUP_OPTIONS[key] then error("gptaudio_nvim.setup: unknown option '" .. tostring(key) .. "'", 2) end
  end
  if opts.path then package.path = opts.path .. ";" .. package.path end
  if opts.cpath then package.cpath = opts.cpath .. ";" .. package.cpath end
  config = vim.tbl_extend("force", vim.deepcopy(DEFAULTS), opts)
  if client then
    client:close()
    client = nil
  end
end

-- The default engine, attached to the editor's loop once (every client of
-- the editor runs on it); one client for the editor, made on first use.
local attached
local function get_client()
  if not client then
    local gptaudio = require "gptaudio"
    if not attached then attached = require("gptaudio.loop.uv").attach(nil, vim.loop, { schedule = vim.schedule }) end
    client = gptaudio.new{ base_url = config.base_url, api_key = config.api_key, voice = config.voice }
  end
  return client
end

-- Runs fn as a task; a failure (nil, err) or a raise becomes a notification.
local function run(what, fn)
  local c = get_client()
  running = running + 1
  require("gptaudio").spawn(function()
    local ok, err = pcall(fn, c)
    running = running - 1
    if not ok then notify(what .. ": " .. tostring(err), vim.log.levels.ERROR) end
  end)
end

-- Requests still in flight: a caller that must wait (a test, an exit hook) polls this.
function M.busy()
  return running
end

-- Appends streamed text to the last line of buf, opening new lines at "\n".
local function append_text(buf, text)
  local last = vim.api.nvim_buf_line_count(buf) - 1
  local tail = vim.api.nvim_buf_get_lines(buf, last, last + 1, true)[1]
  local lines = vim.split(tail .. text, "\n", { plain = true })
  vim.api.nvim_buf_set_lines(buf, last, last + 1, true, lines)
end

function M.ask(question)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_option(buf, "bufhidden", "wipe")
  vim.cmd("botright split")
  vim.api.nvim_win_set_buf(0, buf)
  run("ask", function(c)
    local reply, err = c:chat{
      messages = { { role = "user", content = question } },
      stream = true,
      on_event = function(ev)
        if ev.type == "text" and vim.api.nvim_buf_is_valid(buf) then append_text(buf, ev.delta) end
      end,
    }
    if not reply then error(err, 0) end
  end)
  return buf
end

-- The default player: the first of paplay and aplay that is installed.
local function default_player()
  for _, name in ipairs{ "paplay", "aplay" } do
    if vim.fn.executable(name) == 1 then return { name } end
  end
  return false
end

local function play(path)
  local player = config.player
  if player == nil then player = default_player() end
  if not player then return end
  local args = vim.list_slice(player, 2)
  args[#args + 1] = path
  local handle
  handle = vim.loop.spawn(player[1], { args = args }, function() handle:close() end)
  if not handle then notify("cannot start " .. player[1], vim.log.levels.WARN) end
end

-- Speaks text; the WAV lands in config.dir (or a temp dir) and is played.
function M.speak(text)
  run("speak", function(c)
    local speech, err = c:speak(text, { model = config.speech_model, format = "wav" })
    if not speech then error(err, 0) end
    local dir = config.dir or vim.fn.fnamemodify(vim.fn.tempname(), ":h")
    spoken = spoken + 1
    local path = ("%s/gptaudio-%d-%d.wav"):format(dir, vim.fn.getpid(), spoken)
    assert(speech.audio:save(path))
    play(path)
    notify(("spoke %.2f s: %s"):format(speech.audio.duration, path))
  end)
end

-- The text between the '< and '> marks: whole lines in linewise visual mode.
local function selection(line1, line2)
  local buf = 0
  local from, to = vim.api.nvim_buf_get_mark(buf, "<"), vim.api.nvim_buf_get_mark(buf, ">")
  if vim.fn.visualmode() ~= "v" or from[1] ~= line1 or to[1] ~= line2 then
    return table.concat(vim.api.nvim_buf_get_lines(buf, line1 - 1, line2, true), "\n")
  end
  local last = vim.api.nvim_buf_get_lines(buf, to[1] - 1, to[1], true)[1]
  local end_col = math.min(to[2] + 1, #last) -- '> marks the last character, inclusive
  return table.concat(vim.api.nvim_buf_get_text(buf, from[1] - 1, from[2], to[1] - 1, end_col, {}), "\n")
end

-- Transcribes file and inserts the text where the cursor was when asked.
function M.transcribe(file)
  local buf = vim.api.nvim_get_current_buf()
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  run("transcribe", function(c)
    local transcript, err = c:transcribe(file, { model = config.transcribe_model })
    if not transcript then error(err, 0) end
    if not vim.api.nvim_buf_is_valid(buf) then return end
    vim.api.nvim_buf_set_text(buf, row - 1, col, row - 1, col, vim.split(transcript.text, "\n", { plain = true }))
  end)
end

function M.create_commands()
  vim.api.nvim_create_user_command("GptAudioAsk", function(cmd) M.ask(cmd.args) end,
                                   { nargs = "+", desc = "gptaudio: stream the answer into a scratch buffer" })
  vim.api.nvim_create_user_command("GptAudioSpeak", function(cmd) M.speak(selection(cmd.line1, cmd.line2)) end,
                                   { range = true, desc = "gptaudio: read the selection aloud" })
  vim.api.nvim_create_user_command("GptAudioTranscribe", function(cmd) M.transcribe(vim.fn.expand(cmd.args)) end,
                                   { nargs = 1, complete = "file", desc = "gptaudio: insert a file's transcript" })
end

return M
