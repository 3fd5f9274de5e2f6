-- The manual is doc/API.md: every public function and method must be named
-- there (as luv's docs-coverage check does). Public means: a function field
-- of a module table or of an object's methods table whose name does not
-- start with "_". Each object is looked up under the prefix the manual uses
-- for it (client:, req:, buf:, ...). The modules checked are the ones README
-- or doc/API.md presents to users; the others say in their header comment
-- that they are internal. Methods an object's own code calls (an agent's turn
-- steps) are listed as such below, not documented.
local gptaudio = require "gptaudio"
local util = require "spec.support.util"

local manual = assert(util.read_file("doc/API.md"), "doc/API.md is missing")

-- Whether the manual names prefix .. name, not as part of a longer name.
local function documented(prefix, name)
  local text = prefix .. name
  local from = 1
  while true do
    local first, last = manual:find(text, from, true)
    if not first then return false end
    local after = manual:sub(last + 1, last + 1)
    if not after:find("[%w_]") then return true end
    from = last + 1
  end
end

local function methods_of(value)
  local mt = getmetatable(value)
  if type(mt) ~= "table" then return {} end
  return type(mt.__index) == "table" and mt.__index or mt
end

-- The functions of a table, by name, public ones only.
local function functions(t)
  local names = {}
  for name, value in pairs(t) do
    if type(name) == "string" and type(value) == "function" and name:sub(1, 1) ~= "_" then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  return names
end

-- Functions defined in a file as `function <owner><sep><name>(`, for the
-- modules that need their host to load (loop.ngx needs nginx).
local function defined_in(path, owner, sep)
  local names = {}
  local pattern = "\nfunction " .. owner:gsub("%p", "%%%0") .. "%" .. sep .. "([%a][%w_]*)%("
  for name in ("\n" .. assert(util.read_file(path))):gmatch(pattern) do names[#names + 1] = name end
  return names
end

-- The names but the ones in `internal`.
local function except(names, internal)
  local skip, kept = {}, {}
  for _, name in ipairs(internal) do skip[name] = true end
  for _, name in ipairs(names) do
    if not skip[name] then kept[#kept + 1] = name end
  end
  return kept
end

local function subjects()
  local audio = gptaudio.audio
  local buf = audio.new{ rate = 8000, frames = 1 }
  local wav = os.tmpname()
  assert(buf:save(wav, "wav"))
  local reader = assert(audio.open(wav))
  local agent = require "gptaudio.voice.agent"
  local sink = require "gptaudio.audio.sink"
  local callback_sink = sink.callback{ rate = 8000, play = function() end }
  local nvim, health = "lua/gptaudio/nvim/init.lua", "lua/gptaudio/health.lua"
  local engine = require "gptaudio.engine"
  local client = gptaudio.new{ api_key = false, base_url = "http://127.0.0.1:9", engine = engine.new() }
  local list = {
    { "gptaudio", gptaudio, { "gptaudio." } },
    { "gptaudio.engine", engine, { "engine." } },
    { "Engine", engine.Engine, { "e:" } },
    { "Client", require("gptaudio.client").Client, { "client:" } },
    { "Request", require("gptaudio.request").Request, { "req:" } },
    { "Task", require("gptaudio.engine.scheduler").Task, { "task:" } },
    { "audio", audio, { "audio." } },
    { "AudioBuffer", methods_of(buf), { "buf:" } },
    { "Resampler", methods_of(audio.resampler{ from = 8000, to = 16000 }), { "rs:" } },
    { "json", gptaudio.json, { "json." } },
    { "tools", gptaudio.tools, { "tools.", "gptaudio.tools." } },
    { "models", gptaudio.models, { "models.", "gptaudio.models." } },
    { "Conversation", require("gptaudio.conversation").Conversation, { "conv:" } },
    { "Toolbox", methods_of(gptaudio.tools.new{ { name = "noop", handler = function() end } }), { "box:" } },
    { "VAD", methods_of(audio.vad{ rate = 16000 }), { "vad:" } },
    { "EchoCanceller", methods_of(audio.echo_canceller{ rate = 16000 }), { "ec:" } },
    { "LevelMeter", methods_of(audio.level_meter(160)), { "m:" } },
    { "AudioReader", methods_of(reader), { "r:" } },
    { "gptaudio.ffmpeg", require "gptaudio.ffmpeg", { "ffmpeg." } },
    { "Transcript", require("gptaudio.transcript").Transcript, { "tr:" } },
    { "Source", defined_in("lua/gptaudio/audio/capture.lua", "Source", ":"), { "src:" }, true, { "next_delay" } },
    { "Sink", methods_of(callback_sink), { "sink:" } },
    { "gptaudio.voice", gptaudio.voice, { "gptaudio.voice." } },
    -- begin_turn ... vad_event: the steps of a turn, called by the agent's own source, VAD and requests
    { "Agent", agent.Agent, { "agent:" }, false, { "now", "emit", "check_done", "reply_event", "progress", "run_tools",
      "reply_done", "begin_turn", "barge_in", "vad_event" } },
    { "gptaudio.phone", defined_in("lua/gptaudio/phone/init.lua", "phone", "."),
      { 'require("gptaudio.phone").', "phone." }, true },
    { "gptaudio.phone.twilio", require "gptaudio.phone.twilio", { "twilio." } },
    { "gptaudio.phone.playout", require "gptaudio.phone.playout", { "playout." } },
    { "Playout", defined_in("lua/gptaudio/phone/playout.lua", "Playout", ":"), { "po:" }, true },
    { "gptaudio.gateway", require "gptaudio.gateway", { "gateway." } },
    { "limiter.memory", require "gptaudio.limiter.memory", { "memory." } },
    { "limiter.shared_dict", require "gptaudio.limiter.shared_dict", { "shared_dict." } },
    { "limiter.redis", require "gptaudio.limiter.redis", { "redis." } },
    { "limiter.bucket", require "gptaudio.limiter.bucket", { 'require("gptaudio.limiter.bucket").', "bucket." } },
    { "limit store", defined_in("lua/gptaudio/limiter/memory.lua", "Store", ":"), { "store:" }, true },
    { "gptaudio.nvim", defined_in(nvim, "M", "."), { 'require("gptaudio.nvim").', "nvim." }, true },
    { "gptaudio.health", defined_in(health, "M", "."), { 'require("gptaudio.health").', "health." }, true },
    { "loop.uv", require "gptaudio.loop.uv", { "loop.uv.", "uv_loop.", "" } },
    { "loop.uv Handle", defined_in("lua/gptaudio/loop/uv.lua", "Handle", ":"), { "handle:" }, true },
    { "loop.ngx", defined_in("lua/gptaudio/loop/ngx.lua", "ngx_loop", "."), { "loop.ngx.", "ngx_loop.", "" }, true },
    { "loop.ngx Handle", defined_in("lua/gptaudio/loop/ngx.lua", "Handle", ":"), { "handle:" }, true },
  }
  return list, function()
    client:close(); client.engine:close(); callback_sink:close(); buf:close(); reader:close(); os.remove(wav)
  end
end

describe("doc/API.md", function()
  it("names every public function and method", function()
    local list, done = subjects()
    local missing, checked = {}, 0
    for _, subject in ipairs(list) do
      local label, t, prefixes, names_given, internal = subject[1], subject[2], subject[3], subject[4], subject[5]
      for _, name in ipairs(except(names_given and t or functions(t), internal or {})) do
        checked = checked + 1
        local found = false
        for _, prefix in ipairs(prefixes) do
          -- "" (a bare name) only counts as a call: name(
          if prefix == "" then
            found = found or manual:find("`" .. name .. "(", 1, true) ~= nil
          else
            found = found or documented(prefix, name)
          end
        end
        if not found then missing[#missing + 1] = label .. " " .. name end
      end
    end
    done()
    assert.same({}, missing)
    assert.is_true(checked > 100, checked .. " names checked")
  end)
end)
