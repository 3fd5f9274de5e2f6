-- CPU of gptaudio.phone per concurrent call: CALLS simulated callers
-- (spec/support/twilio_caller.lua) talk to examples/phone in one nginx worker
-- for SECONDS each (a question, the fake server's streamed answer, again),
-- and the worker's CPU time (/proc/<pid>/stat) is divided by the conversation
-- time. The resampler's share (the reply's 24 kHz -> 8 kHz) and the VAD's (the
-- caller's audio) are measured apart, in this process, on the same amounts.
--   LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/jit/?.so;;" luajit bench/phone_bench.lua
local socket = require "socket"
local audio = require("gptaudio").audio
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"
local twilio_caller = require "spec.support.twilio_caller"
local util = require "spec.support.util"

local CALLS, SECONDS, REPLY_SECONDS = 8, 30, 2
local TICK, SILENCE = twilio_caller.TICK, twilio_caller.SILENCE

local function worker_cpu(pid)
  local stat = assert(util.read_file("/proc/" .. pid .. "/stat"))
  -- the fields after the command's closing parenthesis: utime is the 12th, stime the 13th
  local fields = {}
  for field in stat:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = field end
  return (tonumber(fields[12]) + tonumber(fields[13])) / tonumber(util.read_command("getconf CLK_TCK"))
end

local server = fake.start()
local site = nginx.start("examples/phone/nginx.conf", { OPENAI_API_KEY = "sk-bench", OPENAI_BASE_URL = server.url })
local ok, err = pcall(function()
  socket.sleep(0.3)
  local pid = assert(site:error_log():match("start worker process (%d+)"), "no worker pid")
  local question = twilio_caller.spoken_frames("Where is my order one two three four?", "en-us")
  local replies = {}
  for i = 1, CALLS * math.ceil(SECONDS / 4) do
    replies[i] = twilio_caller.audio_reply(440, REPLY_SECONDS, "Your order has shipped and arrives on Thursday.", 0.3)
  end
  server:script("/v1/chat/completions", replies)
  -- each utterance is transcribed too, for the history
  server:default("/v1/audio/transcriptions", { json = { text = "Where is my order one two three four?" } })
  -- each caller asks, waits for the whole answer to play, asks again
  local function asking(self, now)
    self.t0 = self.t0 or now
    if not self.asked_at then self.asked_at, self.heard_before = now + 0.5, 0 end
    local i = math.floor((now - self.asked_at) / TICK + 0.5)
    if i >= 1 and i <= #question then return question[i] end
    if #self.media - self.heard_before >= REPLY_SECONDS / TICK - 2 and self.playback_end < now - 0.5 then
      self.asked_at, self.heard_before = now + 0.3, #self.media
    end
    return SILENCE
  end
  local callers = {}
  for k = 1, CALLS do callers[k] = twilio_caller.new(site.port, 100 + k, asking) end
  local cpu_before, started = worker_cpu(pid), socket.gettime()
  twilio_caller.run(callers, function() return false end, SECONDS)
  local cpu = worker_cpu(pid) - cpu_before
  local elapsed = socket.gettime() - started
  local frames = 0
  for _, c in ipairs(callers) do
    c:stop()
    frames = frames + #c.media
  end
  for _, c in ipairs(callers) do twilio_caller.closed_by_server(c, 5) end
  local turns = #server:requests("/v1/chat/completions")
  -- the resampler and the VAD on the same amounts of audio, in this process
  local reply = audio.new{ rate = 24000, frames = math.floor(frames * TICK * 24000) }
  local rs, t0 = audio.resampler{ from = 24000, to = 8000 }, os.clock()
  for first = 1, reply.frames, 2400 do rs:process(reply:slice(first, first + 2399)) end
  local resample_cpu = os.clock() - t0
  local heard = audio.new{ rate = 8000, frames = math.floor(CALLS * elapsed * 8000) }
  local vad = audio.vad{ rate = 8000 }
  t0 = os.clock()
  for first = 1, heard.frames, 160 do vad:process(heard:slice(first, first + 159)) end
  local vad_cpu = os.clock() - t0
  local conversation = CALLS * elapsed
  print(("%d calls at once for %.0f s in one worker: %d turns, %.0f s of reply audio sent"):format(
    CALLS, elapsed, turns, frames * TICK))
  print("| share of one core per concurrent call | value |")
  print("|---|---|")
  print(("| the worker, all of it | %.2f %% |"):format(100 * cpu / conversation))
  print(("| of which the resampler (24 -> 8 kHz, measured apart) | %.2f %% |"):format(
    100 * resample_cpu / conversation))
  print(("| of which the VAD at 8 kHz (measured apart) | %.2f %% |"):format(100 * vad_cpu / conversation))
  print(("| the worker less the resampler | %.2f %% |"):format(100 * (cpu - resample_cpu) / conversation))
end)
site:stop()
server:stop()
if not ok then error(err, 0) end
