-- The voice agent's latency per turn against the fake server with a fixed
-- time to first byte: TURNS questions (espeak-ng) played in real time by the
-- file source, each answered with streamed audio after SERVER_DELAY; each
-- turn's split (endpointing, upload, server, client) as the agent measured
-- it. client is the work of this process between the end of speech and the
-- first reply sample at the sink, beside the server time of the same run.
--   LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/jit/?.so;;" luajit bench/voice_latency_bench.lua
local gptaudio = require "gptaudio"
local fake = require "spec.support.fake"
local openai = require "spec.support.openai"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local TURNS, SERVER_DELAY, GAP = 6, 0.3, 3.5

local server = fake.start()
local dir = util.temp_dir()
local ok, err = pcall(function()
  local question = voice_script.speech("Could you tell me the weather for tomorrow?", dir, "q")
  local answer = voice_script.speech("Tomorrow is sunny.", dir, "a", "en-gb")
  local pieces, replies = {}, {}
  for i = 1, TURNS do
    pieces[i] = { at = 0.5 + (i - 1) * (question.duration + GAP), audio = question }
    replies[i] = voice_script.reply(answer, "Tomorrow is sunny.", { delay = SERVER_DELAY })
  end
  server:script(openai.CHAT, replies)
  local input = voice_script.recording(pieces, pieces[TURNS].at + question.duration + GAP, dir)
  local client = gptaudio.new{ base_url = server.url, api_key = "sk-bench", max_retries = 0 }
  local summary = assert(gptaudio.voice.agent{
    client = client, system = "You are a weather service.",
    source = assert(gptaudio.audio.capture{ file = input }), sink = gptaudio.audio.recording_sink{ rate = 24000 },
  }:run())
  local clients = {}
  print(("%-5s %8s %12s %8s %8s %8s"):format("turn", "total", "endpointing", "upload", "server", "client"))
  for _, turn in ipairs(summary.turns) do
    local l = turn.latency
    print(("%-5d %7.1fms %11.1fms %7.2fms %7.1fms %7.2fms"):format(turn.number, l.total * 1000,
      l.endpointing * 1000, l.upload * 1000, l.server * 1000, l.client * 1000))
    clients[#clients + 1] = l.client
  end
  table.sort(clients)
  local median, worst = clients[math.ceil(#clients / 2)], clients[#clients]
  print(("client work: median %.2f ms, worst %.2f ms (%s, %d turns); %.1f%% of the server's %.0f ms"):format(
    median * 1000, worst * 1000, jit and jit.version or _VERSION, #clients, 100 * median / SERVER_DELAY,
    SERVER_DELAY * 1000))
  client:close()
end)
util.remove_tree(dir)
server:stop()
if not ok then error(err, 0) end
