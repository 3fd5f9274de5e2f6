-- gptaudio's Neovim plugin: the commands and <Plug> mappings. Nothing talks
-- to the API until a command is used; setup{} is optional (lua/gptaudio/nvim).
if vim.g.loaded_gptaudio then return end
vim.g.loaded_gptaudio = true

local nvim = require "gptaudio.nvim"
-- The checkout's LuaJIT build (make build) on package.cpath, before anyone
-- requires gptaudio (lazy.nvim calls require("gptaudio").setup after this file).
nvim.add_cpath()

-- :help gptaudio in a checkout whose doc/tags was never generated.
local doc = vim.fn.fnamemodify(debug.getinfo(1, "S").source:gsub("^@", ""), ":p:h:h") .. "/doc"
if vim.fn.filereadable(doc .. "/tags") == 0 and vim.fn.filewritable(doc) == 2 then
  pcall(vim.cmd, "silent helptags " .. vim.fn.fnameescape(doc))
end

local command = vim.api.nvim_create_user_command
command("GptAudioAsk", function(cmd) nvim.ask(cmd.args) end,
        { nargs = "+", desc = "gptaudio: stream the answer into a scratch buffer" })
command("GptAudioSpeak", function(cmd) nvim.speak(nvim.selection(cmd.line1, cmd.line2)) end,
        { range = true, desc = "gptaudio: read the selection aloud" })
command("GptAudioTranscribe", function(cmd) nvim.transcribe(vim.fn.expand(cmd.args)) end,
        { nargs = 1, complete = "file", desc = "gptaudio: insert a file's transcript at the cursor" })
command("GptAudioDictate", function() nvim.dictate() end,
        { desc = "gptaudio: start recording; again: stop and insert the transcript" })
command("GptAudioStop", function() nvim.stop() end,
        { desc = "gptaudio: cancel every request in flight and a recording" })
command("GptAudioTalk", function() nvim.talk() end,
        { desc = "gptaudio: a spoken conversation in a scratch buffer; again: stop it" })

local map = vim.keymap.set
map("n", "<Plug>(gptaudio-ask)", ":GptAudioAsk ", { desc = "gptaudio: ask" })
map("x", "<Plug>(gptaudio-speak)", ":GptAudioSpeak<CR>", { silent = true, desc = "gptaudio: speak the selection" })
map("n", "<Plug>(gptaudio-speak-line)", "<Cmd>.GptAudioSpeak<CR>", { desc = "gptaudio: speak this line" })
map({ "n", "i" }, "<Plug>(gptaudio-dictate)", "<Cmd>GptAudioDictate<CR>", { desc = "gptaudio: dictate" })
map("n", "<Plug>(gptaudio-stop)", "<Cmd>GptAudioStop<CR>", { desc = "gptaudio: stop" })
