-- The chat call's own work on 60 s of audio, against a floor measured in the
-- same run: one plain C base64 pass plus one lua-cjson encode or decode of the
-- same bytes. No network: building is chat.request plus the JSON body the
-- client sends; decoding starts from the response body.
--   make bench, or: LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/chat_bench.lua
local cjson = require "cjson"
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local chat = require "gptaudio.calls.chat"

local SECONDS = 60
local RATE = 24000
-- A streamed delta of 100 ms of pcm16, near what live traffic sends.
local DELTA_BYTES = math.floor(RATE / 10) * 2
local RUNS = 5
local CONFIG = { model = "gpt-audio-mini", voice = "alloy", model_check = "exact", prices = {} }

-- The best of RUNS timings of fn, in seconds.
local function best(fn)
  local fastest = math.huge
  for _ = 1, RUNS do
    collectgarbage()
    local started = core.now()
    fn()
    fastest = math.min(fastest, core.now() - started)
  end
  return fastest
end

local function speech_like(rate, channels, seconds)
  local t, n = {}, 0
  for i = 1, rate * seconds do
    local s = 0.3 * math.sin(i * 0.031) * math.sin(i * 0.0007) + 0.05 * math.sin(i * 0.9)
    for _ = 1, channels do
      n = n + 1
      t[n] = s
    end
  end
  return core.audio.from_samples(t, rate, channels)
end

local rows = {}
local function row(name, took, floor)
  rows[#rows + 1] = ("| %-60s | %8.1f | %8.1f | %5.2f |"):format(name, took * 1000, floor * 1000, took / floor)
end

-- Building: chat.request (downmix, resample, WAV, base64 in C) plus the body as JSON.
local function build(buf)
  local call = chat.request({ messages = { { role = "user", content = {
    { type = "text", text = "What is said?" }, { type = "input_audio", audio = buf } } } } }, CONFIG)
  return json.encode(call.json)
end

local mono = speech_like(RATE, 1, SECONDS)
local stereo48 = speech_like(48000, 2, SECONDS)
local wav24 = mono:encode("wav")
local function build_floor()
  cjson.encode{ data = core.base64_encode(wav24) }
end
local floor_build = best(build_floor)
row("build: 60 s AudioBuffer 24 kHz mono", best(function() build(mono) end), floor_build)
row("build: 60 s AudioBuffer 48 kHz stereo (downmix, resample)", best(function() build(stereo48) end), floor_build)
row("  of which downmix and resample to 24 kHz alone",
    best(function() stereo48:to_channels(1):resample(RATE) end), floor_build)

-- The body's JSON alone, with numbers cjson's 14 digits would change (a 64-bit
-- seed, a long float): gptaudio.json writes them exactly. Floor: cjson.encode
-- of the same table, which writes them wrong.
do
  local body = chat.request({ messages = { { role = "user", content = {
    { type = "text", text = "What is said?" }, { type = "input_audio", audio = mono } } } },
    seed = 2 ^ 53 - 1, temperature = 0.123456789012345678 }, CONFIG).json
  row("encode: the 60 s body as JSON, exact seed and temperature", best(function() json.encode(body) end),
      best(function() cjson.encode(body) end))
end

-- Decoding a whole reply: the body decoded as the client does, then chat.decode.
local function whole_body(format, bytes)
  return cjson.encode{
    id = "chatcmpl-b", object = "chat.completion", model = "gpt-audio-mini-2025-12-15",
    choices = { { index = 0, finish_reason = "stop", message = { role = "assistant", content = cjson.null,
      audio = { id = "audio_b", transcript = "words", expires_at = 1764003600, data = core.base64_encode(bytes) } } } },
    usage = { prompt_tokens = 10, completion_tokens = 750, total_tokens = 760 },
  }, format
end

for _, case in ipairs{ { "wav", wav24 }, { "pcm16", mono:encode("pcm16") } } do
  local body = whole_body(case[1], case[2])
  local call = chat.request({ messages = { { role = "user", content = "hi" } }, audio = { format = case[1] } }, CONFIG)
  local took = best(function()
    assert(chat.decode(call, { status = 200, headers = {}, json = json.decode(body) }, CONFIG))
  end)
  local floor = best(function()
    core.base64_decode(cjson.decode(body).choices[1].message.audio.data)
  end)
  row(("decode: 60 s reply, whole, %s"):format(case[1]), took, floor)
end

-- Decoding a streamed reply: every event's JSON, the accumulator, the final reply.
local pcm = mono:encode("pcm16")
local events = {}
for at = 1, #pcm, DELTA_BYTES do
  events[#events + 1] = cjson.encode{ id = "chatcmpl-b", object = "chat.completion.chunk",
    model = "gpt-audio-mini-2025-12-15",
    choices = { { index = 0, delta = { audio = { data = core.base64_encode(pcm:sub(at, at + DELTA_BYTES - 1)) } } } } }
end
for _, rate in ipairs{ false, 16000 } do
  local call = chat.request({ messages = { { role = "user", content = "hi" } }, stream = true,
                              audio = { rate = rate or nil } }, CONFIG)
  local took = best(function()
    local stream = chat.stream(call, CONFIG, function() end)
    for _, data in ipairs(events) do assert(stream:event{ data = data, json = json.decode(data) }) end
    assert(stream:finish{ status = 200, headers = {}, ended = true })
  end)
  local floor = best(function()
    for _, data in ipairs(events) do core.base64_decode(cjson.decode(data).choices[1].delta.audio.data) end
  end)
  row(("decode: 60 s reply, streamed in %d deltas%s"):format(#events, rate and (", to " .. rate .. " Hz") or ""),
      took, floor)
end
row("  of which one streaming Resampler, 24 kHz to 16 kHz, alone", best(function()
  local resampler = core.audio.resampler{ from = RATE, to = 16000 }
  for at = 1, #pcm, DELTA_BYTES do resampler:process(pcm:sub(at, at + DELTA_BYTES - 1)) end
  resampler:flush()
end), best(function()
  for _, data in ipairs(events) do core.base64_decode(cjson.decode(data).choices[1].delta.audio.data) end
end))

print(("Chat on %s, 60 s of audio, best of %d runs"):format(jit and jit.version or _VERSION, RUNS))
print(("| %-60s | %8s | %8s | %5s |"):format("case", "took ms", "floor ms", "ratio"))
print(("|%s|----------|----------|-------|"):format(("-"):rep(62)))
for _, r in ipairs(rows) do print(r) end
