-- The LÖVE example (examples/love), copied into a game folder with gptaudio
-- inside it as the README ships it (no LUA_PATH, no LUA_CPATH), run headless against the fake server, its
-- audio going to OpenAL Soft's wave writer instead of a sound card: the NPC's
-- streamed reply must come out of the game's queueable source sample for
-- sample and in order, while love.update kept running during the stream.
local cjson = require "cjson"
local core = require "gptaudio.core"
local love_game = require "spec.support.love_game"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local MODEL = "gpt-audio-mini"
local SAMPLES_PER_DELTA = 960 -- 40 ms at 24 kHz
local WORDS = { "Steel", " blades,", " iron", " pots,", " and", " horseshoes." }

local read_file, shell_quote, write_file = util.read_file, util.shell_quote, util.write_file

local function u16(s, at) return s:byte(at) + 256 * s:byte(at + 1) end
local function u32(s, at) return u16(s, at) + 65536 * u16(s, at + 2) end
local function s16(s, at)
  local v = u16(s, at)
  return v >= 32768 and v - 65536 or v
end

-- The streamed speech: `deltas` pieces of a tone that keeps clear of zero,
-- so that speech and the silence OpenAL writes around it stay apart.
local function samples(deltas)
  local list = {}
  for i = 1, deltas * SAMPLES_PER_DELTA do
    local v = math.floor(9000 * math.sin(i * 0.05 + 1) + 3000 * math.sin(i * 0.31 + 1) + 0.5)
    list[i] = (v >= 0 and v < 4) and 4 or (v < 0 and v > -4) and -4 or v
  end
  return list
end

local function pcm16(list, from, to)
  local bytes = {}
  for i = from, to do
    local v = list[i] % 65536
    bytes[#bytes + 1] = string.char(v % 256, math.floor(v / 256))
  end
  return table.concat(bytes)
end

local function chunk(delta, finish_reason)
  return cjson.encode{ id = "chatcmpl-l1", object = "chat.completion.chunk", created = 1764000000, model = MODEL,
                       choices = { { index = 0, delta = delta, finish_reason = finish_reason or cjson.null } } }
end

local function streamed_reply(list, chunk_delay)
  local events = { chunk{ role = "assistant", audio = { id = "audio_l1", transcript = "" } } }
  for d = 1, #list / SAMPLES_PER_DELTA do
    if WORDS[d] then events[#events + 1] = chunk{ audio = { transcript = WORDS[d] } } end
    local from = (d - 1) * SAMPLES_PER_DELTA + 1
    local piece = pcm16(list, from, from + SAMPLES_PER_DELTA - 1)
    events[#events + 1] = chunk{ audio = { data = core.base64_encode(piece) } }
  end
  events[#events + 1] = chunk({}, "stop")
  events[#events + 1] = "[DONE]"
  return { events = events, chunk_delay = chunk_delay, no_length = true }
end

-- The format fields and the samples of a 16-bit PCM WAV file.
local function read_wav(bytes)
  assert(bytes:sub(1, 4) == "RIFF" and bytes:sub(9, 12) == "WAVE", "not a WAV file")
  local wav, at = {}, 13
  while at + 8 <= #bytes do
    local id, size = bytes:sub(at, at + 3), u32(bytes, at + 4)
    if id == "fmt " then
      wav.channels, wav.rate, wav.bits = u16(bytes, at + 10), u32(bytes, at + 12), u16(bytes, at + 22)
    elseif id == "data" then
      wav.samples = {}
      for i = at + 8, math.min(at + 7 + size, #bytes) - 1, 2 do wav.samples[#wav.samples + 1] = s16(bytes, i) end
    end
    at = at + 8 + size + size % 2
  end
  return wav
end

-- Runs the game until it quits: its stats, the WAV that OpenAL wrote, and what it printed.
local function play_game(server)
  local run = love_game.play("examples/love", server, {}, 10)
  return run.stats, read_wav(assert(run.wav, "OpenAL wrote no WAV: " .. tostring(run.log))), run.log
end

-- Fails naming the first sample where `got` (from `from` on) is not `expected`, within 1 LSB.
local function assert_run(expected, got, from)
  assert.is_true(#got - from + 1 >= #expected, "the WAV ends before the reply does")
  for i = 1, #expected do
    if math.abs(got[from + i - 1] - expected[i]) > 1 then
      error(("sample %d: expected %d, got %d"):format(i, expected[i], got[from + i - 1]), 2)
    end
  end
end

describe("the LÖVE example played headless through OpenAL's wave writer", function()
  local server
  setup_.fake_server(function(s) server = s end)

  it("plays a reply that streams faster than it plays, sample for sample, and quits by itself", function()
    local deltas = 15 -- 0.6 s of speech arriving in about 0.2 s
    local expected = samples(deltas)
    server:script("/v1/chat/completions", { streamed_reply(expected, 0.01) })
    local stats, wav, output = play_game(server)

    assert.equal("false", stats.timed_out, output)
    assert.equal("Steel blades, iron pots, and horseshoes.", stats.subtitle)
    assert.equal(deltas, tonumber(stats.chunks))
    assert.equal(deltas * SAMPLES_PER_DELTA * 2, tonumber(stats.queued_bytes))
    local request = server:requests("/v1/chat/completions")[1]
    assert.same({ voice = "onyx", format = "pcm16" }, request.json.audio)
    assert.is_true(request.json.stream)
    -- a frame loop that waited on the network would count a handful
    assert.is_true(tonumber(stats.updates_in_flight) >= 20, stats.updates_in_flight .. " updates in flight")
    -- the source's 8 buffers filled up and the game held the chunk for a later frame
    assert.is_true(tonumber(stats.backpressure) >= 1, stats.backpressure .. " refused queues")

    assert.same({ 1, 24000, 16 }, { wav.channels, wav.rate, wav.bits })
    local first = 1
    while wav.samples[first] == 0 do first = first + 1 end
    assert_run(expected, wav.samples, first)
    for i = first + #expected, #wav.samples do
      if wav.samples[i] ~= 0 then
        error(("sample %d after the reply is %d, not silence"):format(i - first + 1, wav.samples[i]))
      end
    end
  end)

  it("plays a reply slower than real time in order, each chunk once, across underruns", function()
    local deltas = 10 -- 40 ms of speech every 100 ms: the source runs dry and starts again
    local expected = samples(deltas)
    server:script("/v1/chat/completions", { streamed_reply(expected, 0.1) })
    local stats, wav, output = play_game(server)

    assert.equal("false", stats.timed_out, output)
    assert.is_true(tonumber(stats.plays) >= 2, stats.plays .. " plays")
    local speech = {}
    for _, v in ipairs(wav.samples) do
      if v ~= 0 then speech[#speech + 1] = v end
    end
    assert.equal(#expected, #speech)
    assert_run(expected, speech, 1)
  end)
end)

-- audio.from_sounddata on a real SoundData, inside LÖVE (the microphone
-- recipe's last step: what RecordingDevice:getData() returns is one).
describe("audio.from_sounddata in LÖVE", function()
  it("copies a SoundData's samples, rate and channels", function()
    local game = util.temp_dir()
    local out = game .. "/result.txt"
    finally(function() util.remove_tree(game) end)
    write_file(game .. "/conf.lua", "function love.conf(t) t.window = false; t.modules.audio = false end\n")
    write_file(game .. "/main.lua", ([[
function love.load()
  local audio = require("gptaudio").audio
  local sd = love.sound.newSoundData(3, 22050, 16, 2)
  local values = { 0.5, -0.5, 0.25, -0.25, 1, -1 }
  for i = 0, 5 do sd:setSample(i, values[i + 1]) end
  local buf = audio.from_sounddata(sd)
  local f = io.open(%q, "w")
  f:write(buf.rate, " ", buf.channels, " ", buf.frames)
  for i = 1, 3 do for c = 1, 2 do f:write(" ", buf:sample(i, c)) end end
  f:close()
  love.event.quit()
end
]]):format(out))
    love_game.bundle(game)
    os.execute(("%s -u LUA_PATH -u LUA_CPATH timeout -s KILL 20 love %s < /dev/null > /dev/null 2>&1")
               :format(util.spawn_env(), shell_quote(game)))
    local got = {}
    for word in (read_file(out) or ""):gmatch("%S+") do got[#got + 1] = tonumber(word) end
    assert.same({ 22050, 2, 3 }, { got[1], got[2], got[3] })
    local expected = { 0.5, -0.5, 0.25, -0.25, 32767 / 32768, -1 }
    for i = 1, 6 do
      assert.is_true(math.abs(got[3 + i] - expected[i]) < 1e-4, ("sample %d: %s"):format(i, tostring(got[3 + i])))
    end
  end)
end)
