-- gptaudio in Neovim (0.7 or later): ask, hear, transcribe and dictate
-- without ever freezing the editor. The repository is the plugin: with it on
-- the runtime path (a plugin manager, or `set rtp+=`) and `make build` done,
-- plugin/gptaudio.lua defines the commands and <Plug> mappings, and setup{}
-- is optional. Every request runs as a gptaudio task on Neovim's own loop
-- (vim.loop) through the luv adapter, resumed through vim.schedule.
--
--   require("gptaudio.nvim").setup{       -- or require("gptaudio").setup{} (lazy.nvim's opts)
--     base_url = nil, api_key = nil,      -- else env OPENAI_BASE_URL, OPENAI_API_KEY
--     model = "gpt-audio-mini", transcribe_model = "gpt-4o-mini-transcribe",
--     speech_model = "gpt-4o-mini-tts", voice = "alloy",
--     dir = nil,                          -- where speech WAVs go (default: a temp dir)
--     player = nil,                       -- {"aplay", "-q"}, false for none; default: paplay, else aplay
--     recorder = nil,                     -- argv that records a WAV into the path appended to it;
--                                         -- default: parec, else arecord (24 kHz mono)
--     notify_cost = true,                 -- a vim.notify line with each call's cost
--     talk_system = nil,                  -- :GptAudioTalk's system prompt
--     talk_microphone = nil,              -- its microphone: a PulseAudio source or ALSA device
--     talk_speaker = nil,                 -- its speaker: a PulseAudio sink or ALSA device
--     talk_device = nil,                  -- both at once (an ALSA device that records and plays)
--     talk_echo_cancel = nil,             -- the answer taken out of what the microphone hears (false:
--                                         -- headphones); default: on when both devices are used
--     talk_input = nil, talk_output = nil, -- a WAV played as the microphone, a WAV kept instead
--                                         -- of playing (scripted runs)
--   }
--
-- :GptAudioAsk {question}   the answer streams into a scratch buffer; closing it cancels
-- :'<,'>GptAudioSpeak       the selection read aloud
-- :GptAudioTranscribe {file} the transcript inserted at the cursor
-- :GptAudioDictate          starts recording; again: stops, transcribes, inserts at the cursor
-- :GptAudioStop             cancels every request in flight and a recording
-- :GptAudioTalk             a spoken conversation in a scratch buffer (gptaudio.nvim.talk); again: stops it
local M = {}

local DEFAULTS = {
  model = "gpt-audio-mini",
  transcribe_model = "gpt-4o-mini-transcribe",
  speech_model = "gpt-4o-mini-tts",
  voice = "alloy",
  notify_cost = true,
}
local SETUP_OPTIONS = {
  base_url = true, api_key = true, model = true, transcribe_model = true, speech_model = true, voice = true,
  dir = true, player = true, recorder = true, notify_cost = true, cpath = true,
  talk_system = true, talk_device = true, talk_input = true, talk_output = true,
  talk_microphone = true, talk_speaker = true, talk_echo_cancel = true,
}

-- The checkout (or install) this file belongs to: <root>/lua/gptaudio/nvim/init.lua.
local ROOT = debug.getinfo(1, "S").source:gsub("^@", ""):gsub("/lua/gptaudio/nvim/init%.lua$", "")

local config = vim.deepcopy(DEFAULTS)
local client
local active = {}   -- Request -> what it is, for :GptAudioStop and busy()
local running = 0   -- commands whose task has not finished
local spoken = 0
local recording     -- { handle =, path =, buf =, row =, col = } while dictating

local function notify(message, level)
  vim.notify("gptaudio: " .. message, level or vim.log.levels.INFO)
end

--- Where the C module is looked for: the checkout's LuaJIT build (make build).
function M.module_cpath()
  return ROOT .. "/build/jit/?.so"
end

-- Puts the checkout's build on package.cpath once (plugin/gptaudio.lua and
-- setup call it), so `require "gptaudio"` finds gptaudio.core.
function M.add_cpath(cpath)
  cpath = cpath or M.module_cpath()
  if not package.cpath:find(cpath, 1, true) then package.cpath = cpath .. ";" .. package.cpath end
end

--- Loads the module, or nil and what to do about it.
function M.load()
  local ok, gptaudio = pcall(require, "gptaudio")
  if ok then return gptaudio end
  if tostring(gptaudio):find("gptaudio.core", 1, true) then
    return nil, ("the C module is not built: run `make build` in %s (looked in %s)"):format(ROOT, M.module_cpath())
  end
  return nil, tostring(gptaudio)
end

function M.setup(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("gptaudio.setup: opts must be a table, got " .. type(opts), 2) end
  for key in pairs(opts) do
    if not SETUP_OPTIONS[key] then error("gptaudio.setup: unknown option '" .. tostring(key) .. "'", 2) end
  end
  M.add_cpath(opts.cpath)
  config = vim.tbl_extend("force", vim.deepcopy(DEFAULTS), opts)
  if client then
    client:close()
    client = nil
  end
end

--- The settings in force (a copy).
function M.config()
  return vim.deepcopy(config)
end

-- The default engine, attached to the editor's loop once (every client of
-- the editor runs on it); one client for the editor, made on first use; nil,
-- why when the module cannot load.
local attached
local function get_client()
  if client then return client end
  local gptaudio, why = M.load()
  if not gptaudio then return nil, why end
  if not attached then attached = require("gptaudio.loop.uv").attach(nil, vim.loop, { schedule = vim.schedule }) end
  client = gptaudio.new{ base_url = config.base_url, api_key = config.api_key, voice = config.voice,
                         model = config.model }
  return client
end

local function cost_line(what, result)
  local u = result.usage or {}
  local parts = {}
  if u.input_tokens then parts[#parts + 1] = ("%d tokens in"):format(u.input_tokens) end
  if u.output_tokens then parts[#parts + 1] = ("%d out"):format(u.output_tokens) end
  parts[#parts + 1] = result.cost and ("$%.6f"):format(result.cost) or "cost unknown"
  return ("%s: %s"):format(what, table.concat(parts, ", "))
end

-- Starts client:start(kind, ...) and, in a task, waits for it: on.done(value)
-- on success; a failure becomes an error notification (a cancel, a warning);
-- on.after() runs at the end either way. Returns the Request, or nil when it
-- could not start (already notified; on.after has run).
local function start(what, on, kind, ...)
  local after = on.after or function() end
  local c, why = get_client()
  if not c then
    notify(why, vim.log.levels.ERROR)
    after()
    return nil
  end
  local ok, req = pcall(c.start, c, kind, ...)
  if not ok then
    notify(what .. ": " .. tostring(req), vim.log.levels.ERROR)
    after()
    return nil
  end
  active[req] = what
  running = running + 1
  require("gptaudio").spawn(function()
    local value, err = req:wait()
    active[req] = nil
    if value then
      local handled, failure = pcall(on.done, value)
      if not handled then notify(what .. ": " .. tostring(failure), vim.log.levels.ERROR) end
      if config.notify_cost then notify(cost_line(what, value)) end
    elseif err.type == "cancelled" then
      notify(what .. ": cancelled", vim.log.levels.WARN)
    else
      notify(what .. ": " .. tostring(err), vim.log.levels.ERROR)
    end
    after()
    running = running - 1
  end)
  return req
end

--- :GptAudioTalk: starts a spoken conversation in a scratch buffer, or stops the one running.
function M.talk()
  local c, why = get_client()
  if not c then return notify(why, vim.log.levels.ERROR) end
  require("gptaudio.nvim.talk").toggle(c, { system = config.talk_system, voice = config.voice,
                                            microphone = config.talk_microphone, speaker = config.talk_speaker,
                                            device = config.talk_device, echo_cancel = config.talk_echo_cancel,
                                            input = config.talk_input, output = config.talk_output })
end

--- Commands still running (a caller that must wait, such as a test, polls this).
function M.busy()
  return running
end

--- Cancels every request in flight and stops a recording without sending it.
function M.stop()
  local cancelled = 0
  for req in pairs(active) do
    if req:cancel() then cancelled = cancelled + 1 end
  end
  if recording then
    recording.discard = true
    recording.handle:kill("sigint")
  end
  return cancelled
end

-- Appends streamed text to the last line of buf, opening new lines at "\n".
local function append_text(buf, text)
  local last = vim.api.nvim_buf_line_count(buf) - 1
  local tail = vim.api.nvim_buf_get_lines(buf, last, last + 1, true)[1]
  local lines = vim.split(tail .. text, "\n", { plain = true })
  vim.api.nvim_buf_set_lines(buf, last, last + 1, true, lines)
end

--- Streams the answer to question into a new scratch buffer; wiping the buffer cancels the request.
function M.ask(question)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_option(buf, "bufhidden", "wipe")
  vim.cmd("botright split")
  vim.api.nvim_win_set_buf(0, buf)
  local req = start("ask", { done = function() end }, "chat", {
    messages = { { role = "user", content = question } },
    stream = true,
    on_event = function(ev)
      if ev.type == "text" and vim.api.nvim_buf_is_valid(buf) then append_text(buf, ev.delta) end
    end,
  })
  if req then
    vim.api.nvim_create_autocmd({ "BufWipeout", "BufDelete", "BufUnload" }, {
      buffer = buf, once = true, callback = function() req:cancel() end,
    })
  end
  return buf, req
end

local function first_executable(names)
  for _, argv in ipairs(names) do
    if vim.fn.executable(argv[1]) == 1 then return argv end
  end
  return false
end

--- The player in force: config.player, else paplay or aplay; false when none.
function M.player()
  if config.player ~= nil then return config.player end
  return first_executable{ { "paplay" }, { "aplay", "-q" } }
end

--- The recorder in force: config.recorder, else parec or arecord; false when none.
function M.recorder()
  if config.recorder ~= nil then return config.recorder end
  return first_executable{
    { "parec", "--rate=24000", "--channels=1", "--format=s16le", "--file-format=wav" },
    { "arecord", "-q", "-f", "S16_LE", "-r", "24000", "-c", "1", "-t", "wav" },
  }
end

local function run_process(argv, path, on_exit)
  local args = vim.list_slice(argv, 2)
  args[#args + 1] = path
  local handle
  handle = vim.loop.spawn(argv[1], { args = args }, function(code, signal)
    handle:close()
    if on_exit then vim.schedule(function() on_exit(code, signal) end) end
  end)
  return handle
end

local function play(path)
  local player = M.player()
  if not player then return end
  if not run_process(player, path) then notify("cannot start " .. player[1], vim.log.levels.WARN) end
end

--- Speaks text; the WAV lands in config.dir (or a temp dir) and is played.
function M.speak(text)
  return start("speak", { done = function(speech)
    local dir = config.dir or vim.fn.fnamemodify(vim.fn.tempname(), ":h")
    spoken = spoken + 1
    local path = ("%s/gptaudio-%d-%d.wav"):format(dir, vim.fn.getpid(), spoken)
    assert(speech.audio:save(path))
    play(path)
    notify(("spoke %.2f s: %s"):format(speech.audio.duration, path))
  end }, "speak", text, { model = config.speech_model, format = "wav" })
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

-- Transcribes file and inserts the text in buf at row, col (where the cursor was).
local function transcribe_into(file, buf, row, col, what, after)
  return start(what, { after = after, done = function(transcript)
    if not vim.api.nvim_buf_is_valid(buf) then return end
    vim.api.nvim_buf_set_text(buf, row - 1, col, row - 1, col, vim.split(transcript.text, "\n", { plain = true }))
  end }, "transcribe", file, { model = config.transcribe_model })
end

--- Transcribes file and inserts the text where the cursor is now.
function M.transcribe(file)
  if vim.fn.filereadable(file) ~= 1 then
    notify("transcribe: no such file: " .. file, vim.log.levels.ERROR)
    return nil
  end
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  return transcribe_into(file, vim.api.nvim_get_current_buf(), row, col, "transcribe")
end

--- Starts recording from the microphone; called again, stops and inserts the
--- transcript where the cursor was when recording started. True while recording.
function M.dictate()
  if recording then
    recording.handle:kill("sigint")
    return false
  end
  local recorder = M.recorder()
  if not recorder then
    notify("dictate: no recorder (install pulseaudio-utils or alsa-utils, or set recorder)", vim.log.levels.ERROR)
    return false
  end
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local this = { path = vim.fn.tempname() .. ".wav", buf = vim.api.nvim_get_current_buf(), row = row, col = col }
  this.handle = run_process(recorder, this.path, function()
    recording = nil
    if this.discard or vim.fn.getfsize(this.path) <= 44 then
      os.remove(this.path)
      if not this.discard then notify("dictate: nothing was recorded", vim.log.levels.WARN) end
      return
    end
    transcribe_into(this.path, this.buf, this.row, this.col, "dictate", function() os.remove(this.path) end)
  end)
  if not this.handle then
    notify("dictate: cannot start " .. recorder[1], vim.log.levels.ERROR)
    return false
  end
  recording = this
  notify("dictate: recording; :GptAudioDictate again to stop")
  return true
end

--- Whether a dictation is recording.
function M.recording()
  return recording ~= nil
end

M.selection = selection

return M
