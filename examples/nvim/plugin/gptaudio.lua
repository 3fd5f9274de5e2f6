-- Defines :GptAudioAsk, :GptAudioSpeak and :GptAudioTranscribe; nothing else
-- runs until one is used (see lua/gptaudio_nvim/init.lua for setup{}).
if vim.g.loaded_gptaudio then return end
vim.g.loaded_gptaudio = true
require("gptaudio_nvim").create_commands()
