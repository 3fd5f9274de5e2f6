-- The README's Lua examples, run as a user runs them: each block in a script
-- of its own, in a folder holding the user's files, by the interpreter under
-- test against the stand-in (OPENAI_BASE_URL, OPENAI_API_KEY=sk-test, as the
-- README configures a server). A block gets only what its text leaves to the
-- user (a client, msgs, files, a `play` function), put before it. Every Lua
-- block of the README is either run here or named below with the spec that
-- runs its host, so a new example cannot go unchecked by accident.
local fake = require "spec.support.fake"
local util = require "spec.support.util"

local quote = util.shell_quote

local CLIENT = 'local gptaudio = require "gptaudio"\nlocal client = gptaudio.new{}\n'

-- Blocks that need a host of their own, by text they hold.
local HOSTED = {
  ['{ "you/gptaudio", build = "make build", opts = {} }'] = "lazy.nvim's plugin spec: spec/nvim_spec.lua",
  ["package.cpath = love.filesystem.getSourceBaseDirectory()"] = "LÖVE: spec/love_spec.lua",
  ["source = love.audio.newQueueableSource(24000, 16, 1, 8)"] = "LÖVE: spec/love_spec.lua",
  ["local mic = love.audio.getRecordingDevices()[1]"] = "LÖVE: spec/love_voice_spec.lua",
  ['local ngx_loop = require "gptaudio.loop.ngx"'] = "OpenResty: spec/openresty_spec.lua",
}

-- Blocks run here, by text they hold: what the user fills in (`before`),
-- what the script adds to show its result (`after`), exact replacements of the
-- block's devices (`replace`), and what the run must show (`check(stdout, dir)`).
local RUN = {
  {
    name = "quick start",
    line = "local client = gptaudio.new{}           -- OPENAI_API_KEY, OPENAI_BASE_URL from the environment",
    after = 'print("heard: " .. heard.text) print("transcribed: " .. tr.text)\n',
    check = function(out, dir)
      assert.matches("^I heard you say: Say hello in French%.[^\n]*\t%d+\t[%d.e-]+\n", out)
      assert.matches("\nheard: I heard you say: What is said here%?", out)
      assert.matches("\ntranscribed: %S", out)
      assert.truthy(util.exists(dir .. "/hello.wav"))
      assert.truthy(util.exists(dir .. "/welcome.wav"))
    end,
  },
  {
    name = "long recordings",
    line = 'local tr, err = client:transcribe("meeting.wav", { chunk = { on_progress = function(done, total)',
    before = CLIENT,
    check = function(out, dir)
      assert.matches("^%s+[%d.]+ %S", out)
      assert.matches("^1\n00:00:0[%d,]+ %-%-> 00:00:", util.read_file(dir .. "/meeting.srt"))
    end,
  },
  {
    name = "streaming in a task",
    line = "  client:chat{ messages = msgs, stream = true, audio = { voice = \"alloy\", rate = 48000 },",
    before = CLIENT .. 'local msgs = { { role = "user", content = "Tell me a story." } }\n'
      .. "local chunks, rates = 0, {}\n"
      .. "local function play(chunk) chunks = chunks + 1 rates[chunk.rate] = true end\n"
      .. "local function render_frame() end\n",
    after = 'print() for rate in pairs(rates) do print(("%d chunks at %d Hz"):format(chunks, rate)) end\n',
    check = function(out)
      assert.matches("^I heard you say: Tell me a story%.", out)
      local chunks = out:match("\n(%d+) chunks at 48000 Hz\n$")   -- and at no other rate
      assert.truthy(tonumber(chunks) > 1, out)
    end,
  },
  {
    name = "tools and conversations",
    line = "local box = gptaudio.tools.new{",
    before = CLIENT .. 'local orders = { ["42"] = "shipped" }\n',
    after = 'print(reply.text)\n',
    check = function(out, dir)
      assert.matches("^The tool answered: ", out)
      assert.truthy(util.exists(dir .. "/answer.wav"))
    end,
  },
  {
    name = "live voice, a recording as the microphone and a recording sink as the speaker",
    line = "local agent = gptaudio.voice.agent{",
    before = CLIENT .. 'local box = gptaudio.tools.new{ { name = "lookup_order", parameters = { type = "object" },\n'
      .. '  handler = function() return "shipped" end } }\n',
    replace = {
      ["gptaudio.audio.capture{ rate = 24000 }"] = 'gptaudio.audio.capture{ file = "question.wav", realtime = false }',
      ["gptaudio.audio.playback{ rate = 24000 }"] = "gptaudio.audio.recording_sink{ rate = 24000 }",
    },
    after = 'local turn = summary.turns[1]\n'
      .. 'print() print("turns " .. #summary.turns .. " " .. turn.status .. " heard " .. turn.heard)\n',
    check = function(out)
      assert.matches("^The tool answered: shipped\n", out)   -- the stand-in calls the tool it is given
      local heard = tonumber(out:match("\nturns 1 done heard ([%d.]+)\n$"))
      assert.truthy(heard and heard > 1, out)
    end,
  },
  {
    name = "audio buffers and the resampler",
    line = 'local buf = assert(audio.load("/usr/share/sounds/alsa/Front_Center.wav"))',
    before = 'local gptaudio = require "gptaudio"\n'
      .. "local chunk = gptaudio.audio.new{ rate = 24000, channels = 1, frames = 480 }\n",
    after = "print(out.rate, out.frames, clean.rate)\n",
    check = function(out, dir)
      -- The block's own comment: 48000 1 68545 1.428...
      assert.matches("^48000\t1\t68545\t1%.428", out)
      assert.matches("\n48000\t%d+\t24000\n$", out)
      assert.truthy(util.exists(dir .. "/front_24k.wav"))
    end,
  },
  {
    name = "every format through gptaudio.ffmpeg",
    line = 'local memo = assert(audio.load("memo.m4a"))        -- a phone\'s voice memo',
    ffmpeg = true,
    before = 'local audio = require("gptaudio").audio\nlocal frames = 0\n'
      .. "local function handle(chunk) frames = frames + chunk.frames end\n",
    after = 'print("read " .. frames)\n',
    check = function(out, dir)
      local duration, frames = out:match("^([%d.]+)\nread (%d+)\n$")
      assert.truthy(duration, out)
      assert.near(tonumber(duration), tonumber(frames) / 24000, 0.05)
      assert.truthy(util.exists(dir .. "/memo.mp3"))
    end,
  },
  {
    name = "plain Lua: many calls at once",
    line = "for _, path in ipairs(files) do",
    before = CLIENT .. 'local files = { "question.wav", "meeting.wav" }\n',
    check = function(out)
      local seen = {}
      for path in out:gmatch("([%w.]+)\t%S[^\n]*\n") do seen[#seen + 1] = path end
      table.sort(seen)
      assert.same({ "meeting.wav", "question.wav" }, seen)
    end,
  },
  {
    name = "bulk jobs",
    line = "local results = client:map(paths, function(path) return client:transcribe(path) end,",
    before = CLIENT .. 'local paths = { "question.wav", "missing.wav" }\n',
    check = function(out)
      assert.matches("^question%.wav\t%S", out)
      assert.matches("\nmissing%.wav\tfailed: gptaudio audio error: [^\n]*missing%.wav", out)
    end,
  },
}

-- The README's Lua blocks, in order.
local function lua_blocks()
  local readme = assert(util.read_file("README.md"))
  local blocks = {}
  for block in readme:gmatch("\n```lua\n(.-\n)```") do blocks[#blocks + 1] = block end
  return blocks
end

-- The one block holding text.
local function block_with(blocks, line)
  local found
  for _, block in ipairs(blocks) do
    if block:find(line, 1, true) then
      assert(not found, "two README blocks hold: " .. line)
      found = block
    end
  end
  return assert(found, "no README block holds: " .. line)
end

describe("the README's Lua examples", function()
  local blocks = lua_blocks()
  local server, dir
  local has_ffmpeg = require("gptaudio").audio.formats().ffmpeg

  setup(function()
    server = fake.start()
    server:standin(true)
    dir = util.temp_dir()
    -- The user's recordings: a spoken sentence as each WAV, the phone formats made from it.
    local speech = assert(require("gptaudio").audio.load("/usr/share/sounds/alsa/Front_Center.wav"))
    for _, name in ipairs{ "question.wav", "meeting.wav", "caller.wav" } do
      assert(speech:save(dir .. "/" .. name))
    end
    if has_ffmpeg then
      assert(speech:save(dir .. "/memo.m4a"))
      assert(speech:save(dir .. "/meeting.opus"))
    end
  end)

  teardown(function()
    if server then server:stop() end
    if dir then util.remove_tree(dir) end
  end)

  -- Runs source in dir as a script; returns its exit status and what it printed.
  local function run(source, name)
    local script = dir .. "/" .. name:gsub("%W+", "_") .. ".lua"
    util.write_file(script, source)
    local command = ("cd %s && %s LUA_PATH=%s LUA_CPATH=%s OPENAI_BASE_URL=%s OPENAI_API_KEY=sk-test "
      .. "timeout 60 %s %s 2>%s.err; echo \"exit:$?\"")
      :format(quote(dir), util.spawn_env(), quote(util.absolute_paths(package.path)),
              quote(util.absolute_paths(package.cpath)),
              quote(server.url), util.LUA, quote(script), quote(script))
    local out = util.read_command(command)
    return tonumber(out:match("exit:(%d+)%s*$")), (out:gsub("exit:%d+%s*$", "")), util.read_file(script .. ".err")
  end

  it("are each run below or run by the spec of their host", function()
    local claimed = {}
    for _, case in ipairs(RUN) do claimed[block_with(blocks, case.line)] = case.name end
    for line in pairs(HOSTED) do claimed[block_with(blocks, line)] = HOSTED[line] end
    local unclaimed = {}
    for _, block in ipairs(blocks) do
      if not claimed[block] then unclaimed[#unclaimed + 1] = block:match("^[^\n]*") end
    end
    assert.same({}, unclaimed)
    assert.equal(#RUN + 5, #blocks)
  end)

  for _, case in ipairs(RUN) do
    it("runs as written: " .. case.name, function()
      if case.ffmpeg and not has_ffmpeg then
        pending("gptaudio.ffmpeg is not built")
        return
      end
      local block = block_with(blocks, case.line)
      for from, to in pairs(case.replace or {}) do
        local at = assert(block:find(from, 1, true), "the block no longer holds " .. from)
        block = block:sub(1, at - 1) .. to .. block:sub(at + #from)
      end
      local status, out, err = run((case.before or "") .. block .. (case.after or ""), case.name)
      assert.equal(0, status, err)
      case.check(out, dir)
    end)
  end
end)
