-- The misuse sweep behind spec/misuse_spec.lua: every public function and
-- method called with every wrong type, nil, NaN, huge and negative values, and
-- on closed objects. A child process runs one group:
--
--   lua -e 'require("spec.support.misuse").run("audio")'
--
-- and prints "case <label>" before each call (so a crash names its case),
-- "bad <label>: <why>" for each outcome outside the contract, and at the end
-- "done <cases run> <cases skipped>". misuse.count(group) gives the parent the
-- number to expect.
--
-- The contract, per argument: a raise whose message names the argument (its
-- name, "bad argument #n" or "bad self"; never a Lua runtime error such as
-- "attempt to index"), or nil and a gptaudio.Error, or success when the
-- argument's kind accepts the value. On a closed object, every method raises
-- saying it is closed. Calls that reach the network go to a loopback port
-- where nothing listens: a "connection" error there means the call was
-- accepted and sent, and counts as a success.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local socket = require "socket"

local audio = gptaudio.audio
local twilio = require "gptaudio.phone.twilio"
local misuse = {}

---------------------------------------------------------------- values

local MAX_RATE, MAX_CHANNELS, MAX_FRAMES, MAX_INDEX = 768000, 64, 2 ^ 30, 2 ^ 53
-- The valid buffer every case starts from: 4 frames of 8 kHz mono.
local FRAMES, RATE = 4, 8000
local PCM = ("\1\0\2\0\3\0\4\0")
local MEGABYTE = ("x"):rep(2 ^ 20)
-- Where the sweep takes file locks: each is released and its file removed at once.
local LOCK_PATH = os.tmpname()
os.remove(LOCK_PATH)

local function fresh_buffer()
  return audio.from_samples({ 0.1, -0.2, 0.3, -0.4 }, RATE, 1)
end

-- Closes a userdata the way its owner would: close(), or <close> (__close);
-- false when the type has neither (the PcmStream on LuaJIT: __gc alone).
local function close(object)
  local f = object.close or getmetatable(object).__close
  if not f then return false end
  f(object)
  return true
end

local function closed_buffer()
  local b = fresh_buffer()
  close(b)
  return b
end

-- Every value the sweep tries, fresh for each case (methods may change them).
local function bad_values()
  local buffer = fresh_buffer()
  return {
    { "nil", nil }, { "false", false }, { "true", true },
    { "0", 0 }, { "-1", -1 }, { "0.5", 0.5 }, { "-0.5", -0.5 }, { "2^31", 2 ^ 31 }, { "2^53", 2 ^ 53 },
    { "2^64", 2 ^ 64 }, { "1e308", 1e308 }, { "-1e308", -1e308 }, { "inf", math.huge }, { "-inf", -math.huge },
    { "nan", 0 / 0 }, { "maxinteger", math.maxinteger or 2 ^ 63 }, { "mininteger", math.mininteger or -2 ^ 63 },
    { "empty string", "" }, { "string", "misuse" }, { "binary string", "\0\255\r\n" }, { "1 MB string", MEGABYTE },
    { "empty table", {} }, { "list", { 1, 2, 3 } }, { "record", { x = 1 } },
    { "function", function() end }, { "coroutine", coroutine.create(function() end) },
    { "file", io.stdout }, { "lightuserdata", (buffer:pointer()) }, { "AudioBuffer", buffer },
    { "closed AudioBuffer", closed_buffer() }, { "Resampler", audio.resampler{ from = RATE, to = RATE } },
    { "Error", core.error{ type = "api", message = "misuse" } },
  }
end

---------------------------------------------------------------- kinds

local function is_integer(v, lo, hi)
  return type(v) == "number" and v == v and v % 1 == 0 and v >= lo and v <= hi
end

local function is_udata(v, name)
  local mt = type(v) == "userdata" and getmetatable(v)
  return type(mt) == "table" and mt.__name == name and tostring(v):find("closed") == nil
end

local function is_buffer(v)
  return is_udata(v, "gptaudio.AudioBuffer")
end

-- A lightuserdata: a userdata without a metatable of its own.
local function is_light(v)
  return type(v) == "userdata" and getmetatable(v) == nil
end

-- Which values an argument of each kind accepts (a success with any other is a finding).
local KINDS = {
  any = function() return true end,
  -- C functions take numbers for strings, as Lua's own do.
  string = function(v) return type(v) == "string" or type(v) == "number" end,
  lua_string = function(v) return type(v) == "string" end,
  string_or_false = function(v) return type(v) == "string" or v == false end,
  nonempty_string = function(v) return type(v) == "string" and v ~= "" end,
  rate = function(v) return is_integer(v, 1, MAX_RATE) end,
  vad_rate = function(v) return is_integer(v, 8000, 192000) end,
  echo_rate = function(v) return is_integer(v, 8000, 48000) end,
  tail = function(v) return type(v) == "number" and v >= 0.01 and v <= 1 end,
  unit = function(v) return type(v) == "number" and v >= 0 and v <= 1 end,
  pause = function(v) return type(v) == "number" and v > 0 and v <= 30 end,
  channels = function(v) return is_integer(v, 1, MAX_CHANNELS) end,
  frames = function(v) return is_integer(v, 0, MAX_FRAMES) end,
  read_frames = function(v) return is_integer(v, 1, MAX_FRAMES) end,
  bitrate = function(v) return is_integer(v, 6000, 512000) end,
  index = function(v) return is_integer(v, -MAX_INDEX, MAX_INDEX) end,
  frame = function(v) return is_integer(v, 1, FRAMES) end,
  channel = function(v) return is_integer(v, 1, 1) end,
  bits = function(v) return v == 8 or v == 16 end,
  number = function(v) return type(v) == "number" and v == v end,
  finite = function(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end,
  db = function(v) return type(v) == "number" and v == v and v < math.huge end,
  positive_number = function(v) return type(v) == "number" and v > 0 end,
  nonnegative_number = function(v) return type(v) == "number" and v >= 0 end,
  positive_integer = function(v) return is_integer(v, 1, math.huge) end,
  nonnegative_integer = function(v) return is_integer(v, 0, math.huge) end,
  table = function(v) return type(v) == "table" end,
  ["function"] = function(v) return type(v) == "function" end,
  boolean = function(v) return type(v) == "boolean" end,
  truthy = function(v) return v ~= nil and v ~= false end,
  buffer = is_buffer,
  resampler = function(v) return is_udata(v, "gptaudio.Resampler") end,
  vad = function(v) return is_udata(v, "gptaudio.Vad") end,
  echo = function(v) return is_udata(v, "gptaudio.EchoCanceller") end,
  reader = function(v) return is_udata(v, "gptaudio.AudioReader") end,
  pcm_stream = function(v) return is_udata(v, "gptaudio.PcmStream") end,
  file_lock = function(v) return is_udata(v, "gptaudio.FileLock") end,
  level_meter = function(v) return is_udata(v, "gptaudio.LevelMeter") end,
  audio_input = function(v) return is_buffer(v) or type(v) == "string" end,
  text_or_parts = function(v) return is_buffer(v) or type(v) == "string" end,
  voice = function(v) return type(v) == "string" or type(v) == "table" end,
  pcm_input = function(v) return is_buffer(v) or type(v) == "string" or type(v) == "number" end,
  message_list = function(v) return type(v) == "table" end,
}

-- transcribe's and translate's chunk: a table of options, or true / false.
local function chunk_option(v)
  return type(v) == "table" or type(v) == "boolean"
end

-- The window of a level meter: 1 to 10 s of 768 kHz audio, in frames.
local function level_window(v)
  return is_integer(v, 1, 7680000)
end

local function one_of(...)
  local allowed = {}
  for _, v in ipairs{ ... } do allowed[v] = true end
  return function(v) return v ~= nil and allowed[v] == true end
end

local READ_FORMATS = one_of("mulaw", "alaw", "wav", "mp3", "m4a", "aac", "mp4", "ogg", "oga", "opus", "flac",
                            "webm", "aiff", "aif", "caf", "mka", "mpga", "mpeg")
local WRITE_FORMATS = one_of("wav", "pcm16", "f32", "mulaw", "alaw", "flac", "mp3", "opus", "aac")

---------------------------------------------------------------- targets

-- A loopback URL where nothing listens.
local function refused_url()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return ("http://127.0.0.1:%d/v1"):format(port)
end

local BASE_URL = refused_url()

local function new_client()
  return gptaudio.new{ api_key = "sk-misuse-0123456789", base_url = BASE_URL, max_retries = 0, timeout = 5 }
end

local function closed_client()
  local c = new_client()
  c:close()
  return c
end

local function tool_box()
  return gptaudio.tools.new{ { name = "noop", handler = function() return "ok" end } }
end

local MESSAGES = { { role = "user", content = "hi" } }

-- A param is { name, kind, optional = true, skip = fn(v) -> reason | nil }.
-- A target is { name, fn, params, valid = fn() -> valid args (fresh), fields =
-- { [arg index] = params of that table argument }, after = fn(results...) }.
local function arg(name, kind, opts)
  local p = { name = name, accepts = type(kind) == "function" and kind or assert(KINDS[kind], kind),
              table = kind == "table" }
  for k, v in pairs(opts or {}) do p[k] = v end
  return p
end

local function opt(name, kind, opts)
  opts = opts or {}
  opts.optional = true
  return arg(name, kind, opts)
end

-- The self of a method written in Lua: not swept (a wrong self there raises
-- a plain Lua error, and cannot reach C).
local LUA_SELF = { name = "self", unswept = true }

-- Temporary files the sweep writes, removed at the end.
local temporary = {}

local function temp_path()
  local path = os.tmpname()
  temporary[#temporary + 1] = path
  return path
end

-- A temporary WAV file of the fresh buffer, for audio.open.
local function wav_file()
  local path = temp_path()
  assert(fresh_buffer():save(path, "wav"))
  return path
end

-- valid() for a target: a fresh first argument from make(), then the rest as given.
local function fresh(make, ...)
  local rest = { n = select("#", ...), ... }
  return function() return make(), (table.unpack or unpack)(rest, 1, rest.n) end
end

-- Retrying a refused connection that many times (with backoff) is what was asked.
local function many_retries(v)
  return type(v) == "number" and v > 2 and "that many retries is what was asked"
end

local function method(object, name)
  local f = object[name]
  assert(type(f) == "function", name)
  return f
end

local groups = {}

local function released_lock()
  local lock = assert(core.lock_file(LOCK_PATH))
  lock:unlock()
  os.remove(LOCK_PATH)
  return lock
end

-- core.audio constructors, core.base64_*, core.pcm_stream.
function groups.audio()
  local stream = core.pcm_stream()
  local lock = released_lock()
  local meter = audio.level_meter(160)
  return {
    { name = "audio.new", fn = audio.new, params = { arg("options", "table") },
      valid = function() return { rate = RATE, channels = 1, frames = FRAMES } end,
      fields = { [1] = { arg("rate", "rate"), opt("channels", "channels"), opt("frames", "frames") } } },
    { name = "audio.from_samples", fn = audio.from_samples,
      params = { arg("t", "table"), arg("rate", "rate"), opt("channels", "channels") },
      valid = function() return { 0.5, -0.5 }, RATE, 1 end },
    { name = "audio.from_pcm16", fn = audio.from_pcm16,
      params = { arg("bytes", "string"), opt("rate", "rate"), opt("channels", "channels") },
      valid = function() return PCM, RATE, 1 end },
    { name = "audio.decode", fn = audio.decode, params = { arg("bytes", "string"), opt("format", READ_FORMATS) },
      valid = function() return fresh_buffer():encode("wav"), "wav" end },
    { name = "audio.decode (G.711)", fn = audio.decode,
      params = { arg("bytes", "string"), arg("format", one_of("mulaw", "alaw")), opt("rate", "rate"),
                 opt("channels", "channels") },
      valid = function() return "\255\127\0\128", "mulaw", 8000, 2 end },
    { name = "audio.open", fn = audio.open, params = { arg("path", "string"), opt("options", "table") },
      valid = function() return wav_file(), { rate = 16000, channels = 2 } end,
      fields = { [2] = { opt("rate", "rate"), opt("channels", "channels") } } },
    { name = "audio.formats", fn = audio.formats, params = {}, valid = function() end },
    { name = "AudioReader:read", fn = audio.open(wav_file()).read,
      params = { arg("self", "reader"), opt("frames", "read_frames") },
      valid = function() return audio.open(wav_file()), 2 end },
    { name = "audio.load", fn = audio.load, params = { arg("path", "string") },
      valid = function() return "/dev/null" end },
    { name = "audio.from_pointer", fn = audio.from_pointer,
      params = { arg("pointer", function() return false end, { skip = function(v)
                   return is_light(v) and "a real pointer is trusted by design (unsafe, out of scope)"
                 end }), arg("nbytes", "frames"), arg("rate", "rate"),
                 arg("bits", "bits"), opt("channels", "channels") },
      -- Only the pointer's own slot is swept with values other than a real
      -- lightuserdata; the other slots run with the pointer of a live buffer.
      valid = function()
        local b = fresh_buffer()
        local pointer, nbytes = b:pointer()
        return pointer, nbytes, RATE, 16, 1, b
      end,
      sweep = { [1] = true, [3] = true, [4] = true, [5] = true } },
    { name = "audio.resampler", fn = audio.resampler, params = { arg("options", "table") },
      valid = function() return { from = RATE, to = 16000, channels = 1, quality = "fastest" } end,
      fields = { [1] = { arg("from", "rate"), arg("to", "rate"), opt("channels", "channels"),
                         opt("quality", one_of("best", "medium", "fastest", "linear", "zoh")) } } },
    { name = "audio.vad", fn = audio.vad, params = { arg("options", "table") },
      valid = function() return { rate = 16000, sensitivity = 0.5, pause = 0.6, classifier = "webrtc" } end,
      fields = { [1] = { opt("rate", "vad_rate"), opt("sensitivity", "unit"), opt("pause", "pause"),
                         opt("classifier", one_of("webrtc", "speex")) } } },
    { name = "audio.echo_canceller", fn = audio.echo_canceller, params = { arg("options", "table") },
      valid = function() return { rate = 16000, tail = 0.25 } end,
      fields = { [1] = { opt("rate", "echo_rate"), opt("tail", "tail") } } },
    { name = "twilio.read", fn = twilio.read, params = { arg("text", "lua_string") },
      valid = function() return '{"event":"mark","mark":{"name":"1:20"}}' end },
    { name = "twilio.media", fn = twilio.media,
      params = { arg("stream_sid", "lua_string"), arg("mulaw", "lua_string") },
      valid = function() return "MZ1", ("\255"):rep(160) end },
    { name = "twilio.mark", fn = twilio.mark, params = { arg("stream_sid", "lua_string"), arg("name", "lua_string") },
      valid = function() return "MZ1", "1:20" end },
    { name = "twilio.clear", fn = twilio.clear, params = { arg("stream_sid", "lua_string") },
      valid = function() return "MZ1" end },
    { name = "core.base64_encode", fn = core.base64_encode, params = { arg("bytes", "string") },
      valid = function() return "abc" end },
    { name = "core.base64_decode", fn = core.base64_decode, params = { arg("text", "string") },
      valid = function() return "YWJj" end },
    { name = "core.pcm_stream", fn = core.pcm_stream, params = { opt("rate", "rate") },
      valid = function() return 24000 end },
    { name = "PcmStream:feed", fn = method(stream, "feed"),
      params = { arg("self", "pcm_stream"), arg("bytes", "string") },
      valid = fresh(core.pcm_stream, "\1\0\2") },
    { name = "PcmStream:feed_base64", fn = method(stream, "feed_base64"),
      params = { arg("self", "pcm_stream"), arg("text", "string") }, valid = fresh(core.pcm_stream, "AQACAA==") },
    { name = "PcmStream:partial", fn = method(stream, "partial"), params = { arg("self", "pcm_stream") },
      valid = fresh(core.pcm_stream) },
    { name = "core.file_kind", fn = core.file_kind, params = { arg("path", "string") },
      valid = function() return "/dev/null" end },
    { name = "core.lock_file", fn = core.lock_file,
      params = { arg("path", "string", { skip = function(v)
                   return (type(v) == "string" or type(v) == "number") and "a path makes a lock file there"
                 end }) },
      valid = function() return LOCK_PATH end },
    { name = "FileLock:unlock", fn = method(lock, "unlock"), params = { arg("self", "file_lock") },
      valid = released_lock },
    { name = "FileLock:held", fn = method(lock, "held"), params = { arg("self", "file_lock") },
      valid = released_lock },
    { name = "audio.level_meter", fn = audio.level_meter, params = { arg("window", level_window) },
      valid = function() return 160 end },
    { name = "LevelMeter:feed", fn = method(meter, "feed"),
      params = { arg("self", "level_meter"), arg("buffer", "buffer") },
      valid = function() return audio.level_meter(2), fresh_buffer() end },
    { name = "LevelMeter:flush", fn = method(meter, "flush"), params = { arg("self", "level_meter") },
      valid = function() return audio.level_meter(3) end },
  }
end

-- gptaudio.phone.handle outside OpenResty: the modules it takes from there are
-- stand-ins, and the WebSocket's constructor, the first thing handle does past
-- its own checks and its agent's, ends the call as a success.
local PAST_CHECKS = "phone.handle got past its checks"

local function phone_handle(...)
  if not package.loaded["gptaudio.phone"] then
    package.preload["ngx.semaphore"] = function() return {} end
    package.preload["resty.websocket.server"] = function()
      return { new = function() error(PAST_CHECKS, 0) end }
    end
  end
  local ok, err = pcall(require("gptaudio.phone").handle, ...)
  if ok or err == PAST_CHECKS then return true end
  error(err, 0)
end

-- What the hosts use: LÖVE's SoundData, the gateway's status, the limit stores,
-- the phone's handler.
function groups.hosts()
  local function not_this() return false end
  local function sounddata()
    local b = fresh_buffer()
    local pointer, size = b:pointer()
    return { keep = b, getPointer = function() return pointer end, getSize = function() return size end,
             getSampleRate = function() return RATE end, getBitDepth = function() return 16 end,
             getChannelCount = function() return 1 end }
  end
  local function dict()
    return { add = function() return true end, get = function() end, set = function() return true end,
             delete = function() end }
  end
  local is_err = function(v) return getmetatable(v) == core.Error end
  return {
    { name = "audio.from_sounddata", fn = audio.from_sounddata, params = { arg("sd", not_this) },
      valid = function() return sounddata() end },
    { name = "gateway.status", fn = require("gptaudio.gateway").status, params = { arg("err", is_err) },
      valid = function() return core.error{ type = "timeout", message = "late" } end },
    { name = "limiter.memory.new", fn = require("gptaudio.limiter.memory").new, params = { opt("clock", "function") },
      valid = function() return core.now end },
    { name = "limiter.shared_dict.new", fn = require("gptaudio.limiter.shared_dict").new,
      params = { arg("dict", not_this), opt("prefix", "lua_string") }, valid = function() return dict(), "x:" end,
      sweep = { [1] = true } },
    { name = "limiter.redis.new", fn = require("gptaudio.limiter.redis").new, params = { opt("opts", "table") },
      valid = function() return { host = "127.0.0.1", port = 6379 } end,
      fields = { [1] = { opt("host", "lua_string"), opt("port", "nonnegative_integer"),
                         opt("password", "lua_string"), opt("db", "nonnegative_integer"),
                         opt("prefix", "lua_string") } } },
    { name = "phone.handle", fn = phone_handle, params = { arg("options", "table") },
      valid = function() return { client = new_client(), system = "be brief", tools = tool_box() } end,
      fields = { [1] = { arg("client", not_this), opt("system", "lua_string"), opt("voice", "lua_string"),
                         opt("model", "lua_string"), opt("tools", not_this),
                         opt("vad", "table", { accepts_table = true }),
                         opt("ahead", "positive_number"), opt("on_event", "function"),
                         opt("max_payload", "positive_integer"), opt("transcribe", "string_or_false") } } },
  }
end

-- AudioBuffer and Resampler methods.
function groups.buffer()
  local b = fresh_buffer()
  local rs = audio.resampler{ from = RATE, to = 16000 }
  local function on_buffer(...) return fresh(fresh_buffer, ...) end
  local function resampler() return audio.resampler{ from = RATE, to = 16000 } end
  local function vad() return audio.vad{ rate = RATE } end
  local detector = vad()
  local function echo() return audio.echo_canceller{ rate = RATE } end
  local canceller = echo()
  local self = arg("self", "buffer")
  return {
    { name = "AudioBuffer:resample", fn = method(b, "resample"),
      params = { self, arg("rate", "rate"), opt("quality", one_of("best", "medium", "fastest", "linear", "zoh")) },
      valid = on_buffer(16000, "fastest") },
    { name = "AudioBuffer:to_channels", fn = method(b, "to_channels"), params = { self, arg("n", "channels") },
      valid = on_buffer(2) },
    { name = "AudioBuffer:slice", fn = method(b, "slice"), params = { self, arg("i", "index"), opt("j", "index") },
      valid = on_buffer(1, 2) },
    { name = "AudioBuffer:trim", fn = method(b, "trim"), params = { self, opt("threshold_dbfs", "number") },
      valid = on_buffer(-50) },
    { name = "AudioBuffer:append", fn = method(b, "append"), params = { self, arg("b", "buffer") },
      valid = function() return fresh_buffer(), fresh_buffer() end },
    { name = "AudioBuffer:mix", fn = method(b, "mix"),
      params = { self, arg("b", "buffer"), opt("factor", "finite") },
      valid = function() return fresh_buffer(), fresh_buffer(), 0.5 end },
    { name = "AudioBuffer:gain", fn = method(b, "gain"), params = { self, arg("db", "db") }, valid = on_buffer(-6) },
    { name = "AudioBuffer:peak", fn = method(b, "peak"), params = { self }, valid = on_buffer() },
    { name = "AudioBuffer:rms", fn = method(b, "rms"), params = { self }, valid = on_buffer() },
    { name = "AudioBuffer:sample", fn = method(b, "sample"),
      params = { self, arg("i", "frame"), opt("ch", "channel") }, valid = on_buffer(1, 1) },
    { name = "AudioBuffer:encode", fn = method(b, "encode"),
      params = { self, arg("format", WRITE_FORMATS), opt("options", "table") },
      valid = on_buffer("wav", { float = true }),
      fields = { [3] = { opt("float", "any"), opt("bitrate", "bitrate") } } },
    { name = "AudioBuffer:save", fn = method(b, "save"),
      params = { self, arg("path", "string"), opt("format", WRITE_FORMATS), opt("options", "table") },
      valid = function() return fresh_buffer(), temp_path(), "flac", {} end },
    { name = "AudioBuffer:pointer", fn = method(b, "pointer"), params = { self }, valid = on_buffer() },
    { name = "Resampler:process", fn = method(rs, "process"),
      params = { arg("self", "resampler"), arg("input", "pcm_input") },
      valid = function() return resampler(), fresh_buffer() end },
    { name = "Vad:process", fn = method(detector, "process"),
      params = { arg("self", "vad"), arg("input", "pcm_input") },
      valid = function() return vad(), fresh_buffer() end },
    { name = "Vad:segments", fn = method(detector, "segments"),
      params = { arg("self", "vad"), arg("input", "pcm_input") }, valid = function() return vad(), fresh_buffer() end },
    { name = "EchoCanceller:playback", fn = method(canceller, "playback"),
      params = { arg("self", "echo"), arg("input", "pcm_input") },
      valid = function() return echo(), fresh_buffer() end },
    { name = "EchoCanceller:capture", fn = method(canceller, "capture"),
      params = { arg("self", "echo"), arg("input", "pcm_input") },
      valid = function() return echo(), fresh_buffer() end },
    { name = "EchoCanceller:reset", fn = method(canceller, "reset"), params = { arg("self", "echo") },
      valid = fresh(echo) },
    { name = "Vad:finish", fn = method(detector, "finish"), params = { arg("self", "vad") }, valid = fresh(vad) },
    { name = "Vad:in_speech", fn = method(detector, "in_speech"), params = { arg("self", "vad") }, valid = fresh(vad) },
    { name = "Resampler:flush", fn = method(rs, "flush"), params = { arg("self", "resampler") },
      valid = fresh(resampler) },
    { name = "Resampler:reset", fn = method(rs, "reset"), params = { arg("self", "resampler") },
      valid = fresh(resampler) },
  }
end

-- gptaudio.new, the client's calls, tools, tasks and the luv adapter.
function groups.client()
  local Client = require("gptaudio.client").Client
  local uv_loop = require "gptaudio.loop.uv"
  -- luv loads in the child alone, when a case runs: loaded a second time in
  -- one process (busted unloads a spec file's modules), Debian's luv crashes.
  local function uv() return require "luv" end
  local function with_client(...) return fresh(new_client, ...) end
  local self = LUA_SELF
  local call_fields = { opt("timeout", "positive_number"),
                        opt("max_retries", "nonnegative_integer", { skip = many_retries }),
                        opt("headers", "table", { alias = "header name" }) }
  local function fields_with(list)
    for _, p in ipairs(call_fields) do list[#list + 1] = p end
    return list
  end
  local function wait_request(req)
    if type(req) == "table" and req.wait then req:wait() end
  end
  return {
    { name = "gptaudio.new", fn = gptaudio.new, params = { opt("options", "table") },
      valid = function() return { base_url = BASE_URL, api_key = "sk-misuse-0123456789" } end,
      fields = { [1] = {
        -- CR or LF in these is refused naming the header they become.
        opt("api_key", "string_or_false", { alias = "'Authorization'" }), opt("base_url", "lua_string"),
        opt("organization", "string_or_false", { alias = "'OpenAI-Organization'" }),
        opt("project", "string_or_false", { alias = "'OpenAI-Project'" }), opt("model", "lua_string"),
        opt("voice", "voice"), opt("model_check", one_of("exact", "prefix", false)), opt("prices", "table"),
        opt("headers", "table", { alias = "header name" }), opt("ca_file", "lua_string"), opt("proxy", "lua_string"),
        opt("log", "function"), opt("timeout", "positive_number"), opt("connect_timeout", "positive_number"),
        opt("low_speed_limit", "positive_number"), opt("low_speed_time", "positive_number"),
        opt("max_retries", "nonnegative_integer", { skip = many_retries }), opt("max_concurrency", "positive_integer"),
        opt("max_response_bytes", "positive_integer"), opt("rpm", "positive_number"),
        opt("tpm", "positive_number") } },
      after = function(c) if type(c) == "table" and c.close then c:close() end end },
    { name = "client:request", fn = Client.request, params = { self, arg("params", "table") },
      valid = with_client{ path = "/models" },
      fields = { [2] = fields_with{ arg("path", "lua_string"), opt("method", "string_or_false"),
                                    opt("body", "lua_string"), opt("json", "any"),
                                    opt("stream", one_of(true, false, "sse", "raw")),
                                    opt("on_event", "function") } } },
    { name = "client:chat", fn = Client.chat, params = { self, arg("params", "table", { alias = "parameters" }) },
      valid = with_client{ messages = MESSAGES },
      fields = { [2] = fields_with{ arg("messages", "message_list"), opt("model", "lua_string"),
                                    opt("audio", "any"), opt("stream", "any"), opt("on_event", "function") } } },
    { name = "client:transcribe", fn = Client.transcribe,
      params = { self, arg("audio", "audio_input"), opt("opts", "table") },
      valid = function() return new_client(), fresh_buffer(), { model = "whisper-1" } end,
      fields = { [3] = fields_with{ opt("model", "lua_string"), opt("language", "lua_string"),
                                    opt("prompt", "lua_string"), opt("response_format", "lua_string"),
                                    opt("temperature", "number"), opt("on_event", "function"),
                                    opt("chunk", chunk_option) } } },
    { name = "client:translate", fn = Client.translate,
      params = { self, arg("audio", "audio_input"), opt("opts", "table") },
      valid = function() return new_client(), fresh_buffer(), { to = "French" } end,
      fields = { [3] = fields_with{ opt("model", "lua_string"), opt("to", "lua_string"), opt("speak", "boolean"),
                                    opt("prompt", "lua_string"), opt("temperature", "number"),
                                    opt("on_event", "function"), opt("chunk", chunk_option) } } },
    { name = "client:speak", fn = Client.speak, params = { self, arg("text", "nonempty_string"), opt("opts", "table") },
      valid = function() return new_client(), "hello", { model = "tts-1" } end,
      fields = { [3] = fields_with{ opt("model", "lua_string"), opt("voice", "voice"),
                                    opt("format", "lua_string"), opt("speed", "number"),
                                    opt("on_event", "function") } } },
    { name = "client:start", fn = Client.start, params = { self, arg("kind", one_of("request", "chat")),
                                                           arg("params", "table") },
      valid = with_client("request", { path = "/models" }), after = wait_request },
    { name = "client:map", fn = Client.map,
      params = { self, arg("items", "table"), arg("fn", "function"), opt("opts", "table") },
      valid = with_client({ 1, 2 }, function(x) return x end, { concurrency = 2 }),
      fields = { [4] = { opt("concurrency", "positive_integer"), opt("rpm", "positive_number"),
                         opt("tpm", "positive_number"), opt("on_progress", "function"), opt("stop", "function") } } },
    { name = "client:run_tools", fn = Client.run_tools, params = { self, arg("params", "table") },
      valid = function()
        return new_client(), { messages = { { role = "user", content = "hi" } }, tools = tool_box() }
      end,
      fields = { [2] = { arg("messages", "table"), opt("tools", function() return false end),
                         opt("max_rounds", "positive_integer"), opt("parallel", "boolean"),
                         opt("on_tool_call", "function") } } },
    { name = "client:conversation", fn = Client.conversation, params = { self, opt("options", "table") },
      valid = with_client{ system = "be brief" },
      fields = { [2] = { opt("system", "lua_string"), opt("model", "lua_string"), opt("voice", "voice"),
                         opt("audio", one_of(true, false), { accepts_table = true }),
                         opt("max_history_tokens", "positive_integer"), opt("clock", "function"),
                         opt("tools", function() return false end) } } },
    { name = "conv:say", fn = function(conv, ...) return conv:say(...) end,
      params = { self, arg("said", "text_or_parts", { alias = "parts" }),
                 opt("options", "table") },
      valid = function() return new_client():conversation{}, "hello", {} end },
    { name = "client:step", fn = Client.step,
      -- A client with nothing to wait for: step returns at once, whatever the timeout.
      params = { self, opt("timeout", "nonnegative_number") },
      valid = with_client(0) },
    { name = "gptaudio.step", fn = gptaudio.step, params = { opt("timeout", "nonnegative_number") },
      valid = function() return 0 end },
    { name = "gptaudio.pollfd", fn = gptaudio.pollfd, params = {}, valid = function() end },
    { name = "gptaudio.timeout", fn = gptaudio.timeout, params = {}, valid = function() end },
    { name = "gptaudio.active", fn = gptaudio.active, params = {}, valid = function() end },
    { name = "engine.new", fn = gptaudio.engine.new, params = { opt("opts", "table") },
      valid = function() return { clock = os.clock } end, fields = { [1] = { opt("clock", "function") } },
      after = function(e) if gptaudio.engine.is_engine(e) then e:close() end end },
    { name = "engine:step", fn = gptaudio.engine.Engine.step,
      params = { self, opt("timeout", "nonnegative_number") },
      valid = fresh(gptaudio.engine.new, 0) },
    { name = "gptaudio.spawn", fn = gptaudio.spawn, params = { arg("fn", "function") },
      valid = function() return function() return 1 end end },
    { name = "tools.new", fn = gptaudio.tools.new, params = { arg("list", "table", { alias = "tool" }) },
      valid = function() return { { name = "noop", description = "nothing", handler = function() end } } end },
    { name = "loop.uv.attach", fn = uv_loop.attach,
      params = { opt("client", "table"), arg("uv", "table"), opt("opts", "table") },
      valid = function() return new_client(), uv(), { schedule = function(f) f() end } end,
      fields = { [3] = { opt("schedule", "function") } },
      after = function(handle)
        if type(handle) == "table" and handle.detach then
          handle:detach()
          uv().run("nowait")
        end
      end },
  }
end

-- Live voice: the child process under the devices, the sources and sinks,
-- the voice agent.
function groups.voice()
  local self = LUA_SELF
  local wav = temp_path()
  assert(fresh_buffer():save(wav))
  local function child() return assert(core.spawn({ "cat" }, { stdin = true })) end
  local function is_child(v) return is_udata(v, "gptaudio.Child") end
  local function is_engine(v) return gptaudio.engine.is_engine(v) end
  local function stop_child(c) if is_child(c) then c:stop(0) end end
  local sink_fields = { arg("rate", "rate"), opt("channels", "channels"), opt("ahead", function(v)
    return type(v) == "number" and v > 0 and v <= 10 end), opt("engine", is_engine) }
  local function sink() return audio.recording_sink{ rate = RATE } end
  local function agent()
    return gptaudio.voice.agent{ client = new_client(), sink = sink(), push_to_talk = true }
  end
  local max_read = function(v) return is_integer(v, 1, 65536) end
  return {
    { name = "core.spawn", fn = core.spawn, params = { arg("argv", "table"), opt("options", "table") },
      valid = function() return { "true" }, { stdin = false } end, after = stop_child,
      fields = { [2] = { opt("stdin", one_of(true, false, "inherit"), { skip = function(v)
        return v == "inherit" and "the terminal is read by the child" end }) } } },
    { name = "Child:read", fn = method(child(), "read"), params = { arg("self", is_child), opt("max", max_read) },
      valid = fresh(child, 16) },
    { name = "Child:read_error", fn = method(child(), "read_error"),
      params = { arg("self", is_child), opt("max", max_read) }, valid = fresh(child, 16) },
    { name = "Child:write", fn = method(child(), "write"), params = { arg("self", is_child), arg("bytes", "string") },
      valid = fresh(child, "abc") },
    { name = "Child:running", fn = method(child(), "running"), params = { arg("self", is_child) },
      valid = fresh(child) },
    { name = "Child:close_stdin", fn = method(child(), "close_stdin"), params = { arg("self", is_child) },
      valid = fresh(child) },
    { name = "Child:stop", fn = method(child(), "stop"),
      params = { arg("self", is_child),
                 opt("grace", function(v) return type(v) == "number" and v >= 0 and v <= 10 end) },
      valid = fresh(child, 0) },
    { name = "audio.capture", fn = audio.capture, params = { arg("options", "table") },
      valid = function() return { file = wav, rate = RATE, channels = 1, realtime = true, period = 0.02 } end,
      fields = { [1] = { opt("rate", function(v) return is_integer(v, 1, 768000) end), opt("channels", "channels"),
                         opt("file", "lua_string"), opt("realtime", "boolean"),
                         opt("period", function(v) return type(v) == "number" and v > 0 and v <= 1 end),
                         opt("engine", is_engine) } } },
    { name = "audio.capture (device)", fn = audio.capture, params = { arg("options", "table") },
      valid = function() return { device = "default", backend = "alsa" } end,
      fields = { [1] = { opt("device", "lua_string"), opt("backend", one_of("pulse", "alsa")),
                         opt("command", function() return false end) } } },
    { name = "Source:start", fn = function(src, ...) return src:start(...) end,
      params = { self, arg("on_chunk", "function"), opt("on_end", "function") },
      valid = function() return assert(audio.capture{ file = wav }), function() end, function() end end,
      after = function(src) if type(src) == "table" and src.stop then src:stop() end end },
    { name = "audio.recording_sink", fn = audio.recording_sink, params = { arg("options", "table") },
      valid = function() return { rate = RATE } end, fields = { [1] = sink_fields } },
    { name = "audio.sink", fn = audio.sink, params = { arg("options", "table") },
      valid = function() return { rate = RATE, play = function() end, stop = function() end } end,
      fields = { [1] = { arg("play", "function"), opt("stop", "function") } } },
    { name = "audio.playback", fn = audio.playback, params = { arg("options", "table") },
      valid = function() return { rate = RATE, command = { "true" } } end,
      fields = { [1] = { opt("device", "lua_string"), opt("backend", one_of("pulse", "alsa")),
                         opt("command", function() return false end) } } },
    { name = "Sink:play", fn = function(s, ...) return s:play(...) end, params = { self, arg("chunk", "buffer") },
      valid = function() return sink(), fresh_buffer() end },
    -- played(0, to) for to in 0..60 seconds, played(from, 0.01) for from within 60 s before
    { name = "Sink:played", fn = function(s, ...) return s:played(...) end,
      params = { self, arg("from", function(v) return type(v) == "number" and v <= 0.01 and v >= 0.01 - 60 end),
                 arg("to", function(v) return type(v) == "number" and v >= 0 and v <= 60 end) },
      valid = function() return sink(), 0, 0.01 end },
    { name = "Sink:finish", fn = function(s, ...) return s:finish(...) end,
      params = { self, opt("on_done", "function") },
      valid = function() return sink(), function() end end },
    { name = "voice.agent", fn = gptaudio.voice.agent, params = { arg("options", "table") },
      valid = function() return { client = new_client(), sink = sink(), system = "be brief" } end,
      fields = { [1] = { arg("client", function() return false end), arg("sink", function() return false end),
                         opt("source", function() return false end), opt("system", "lua_string"),
                         opt("voice", "lua_string"), opt("model", "lua_string"),
                         opt("tools", function() return false end),
                         opt("vad", "table", { accepts_table = true }), opt("on_event", "function"),
                         opt("max_rounds", "positive_integer"), opt("push_to_talk", "boolean"),
                         opt("preroll", function(v) return type(v) == "number" and v >= 0 and v <= 1 end),
                         opt("tail", function(v) return type(v) == "number" and v >= 0 and v <= 1 end),
                         opt("echo_cancel", one_of(true, false), { accepts_table = true }) } } },
    { name = "agent:hear", fn = function(a, ...) return a:hear(...) end,
      params = { self, arg("chunk", "buffer"), opt("at", "number") },
      valid = function() return agent(), fresh_buffer(), 0 end },
    { name = "agent:talk", fn = function(a, ...) return a:talk(...) end, params = { self, arg("on", "boolean") },
      valid = function() return agent(), false end },
  }
end

-- Each userdata type, closed, then every method of it; every client call on a
-- closed client; every request and task method after the end.
function groups.closed()
  local cases = {}
  -- queries: methods that answer on a closed object instead of raising
  local function closed_methods(label, make, queries)
    queries = queries or {}
    local object = make()
    if not close(make()) then return end
    local mt = getmetatable(object)
    local index = type(mt.__index) == "table" and mt.__index or mt
    local names = {}
    for name, f in pairs(index) do
      if type(f) == "function" and name:sub(1, 2) ~= "__" and name ~= "close" then names[#names + 1] = name end
    end
    table.sort(names)
    for _, name in ipairs(names) do
      cases[#cases + 1] = { label = label .. ":" .. name .. " when closed", closed = not queries[name],
                            run = function() local o = make(); close(o); return o[name](o) end }
    end
    cases[#cases + 1] = { label = label .. ":close twice", run = function()
      local o = make(); close(o); close(o); return true end }
    cases[#cases + 1] = { label = "tostring(closed " .. label .. ")", run = function()
      local o = make(); close(o); return tostring(o) end }
  end
  closed_methods("AudioBuffer", fresh_buffer)
  closed_methods("Resampler", function() return audio.resampler{ from = RATE, to = 16000 } end)
  closed_methods("PcmStream", function() return core.pcm_stream() end)
  closed_methods("Vad", function() return audio.vad{ rate = RATE } end)
  closed_methods("EchoCanceller", function() return audio.echo_canceller{ rate = RATE } end)
  closed_methods("AudioReader", function() return audio.open(wav_file()) end)
  -- The transport (core, not public) answers how much work it has when closed: none.
  closed_methods("Transport", function() return core.transport() end, { active = true, pollfd = true, timeout = true })
  for _, field in ipairs{ "rate", "channels", "frames", "duration" } do
    cases[#cases + 1] = { label = "AudioBuffer." .. field .. " when closed", closed = true,
                          run = function() return closed_buffer()[field] end }
  end
  cases[#cases + 1] = { label = "#AudioBuffer when closed", closed = true,
                        run = function() return #closed_buffer() end }
  local calls = {
    request = { { path = "/models" } }, chat = { { messages = MESSAGES } }, transcribe = { fresh_buffer() },
    speak = { "hello" }, start = { "request", { path = "/models" } }, map = { { 1 }, function(x) return x end },
    run_tools = { { messages = MESSAGES } }, conversation = { {} }, step = { 0 }, pollfd = {}, timeout = {},
  }
  local names = {}
  for name in pairs(calls) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    cases[#cases + 1] = { label = "client:" .. name .. " when closed", closed = true, run = function()
      local c = closed_client()
      return c[name](c, (table.unpack or unpack)(calls[name]))
    end }
  end
  cases[#cases + 1] = { label = "client:close twice", run = function() closed_client():close() return true end }
  cases[#cases + 1] = { label = "client:usage when closed", run = function() return closed_client():usage() end }
  -- A request cut short by close: it ended cancelled, and says so.
  cases[#cases + 1] = { label = "request methods after client:close", run = function()
    local c = new_client()
    local req = c:start("request", { path = "/models" })
    c:close()
    local _, err = req:wait()
    if req:status() ~= "cancelled" or err.type ~= "cancelled" or req:cancel() ~= false then
      error("a request cut by close should end cancelled (got " .. tostring(req:status()) .. ")", 0)
    end
    return true
  end }
  cases[#cases + 1] = { label = "task methods after the end", run = function()
    local task = gptaudio.spawn(function() error("boom", 0) end)
    local value, err = task:result()
    if task:status() ~= "failed" or value ~= nil or err == nil then
      error("a task that raised should be failed with its error (got " .. tostring(task:status()) .. ")", 0)
    end
    return true
  end }
  return cases
end

---------------------------------------------------------------- cases

local function pack(...) return { n = select("#", ...), ... } end
local unpack_ = table.unpack or unpack

-- pcall(fn, args...) as { ok = status, n = how many results, results... }.
local function attempt(fn, args)
  local outcome = pack(pcall(fn, unpack_(args, 1, args.n)))
  local results = { ok = outcome[1], n = outcome.n - 1 }
  for i = 2, outcome.n do results[i - 1] = outcome[i] end
  return results
end

local function is_error(v) return getmetatable(v) == core.Error end

-- A raise's message names the argument at `position` (1 = self for methods;
-- nil for a field of a table argument) called `name`.
local function names_argument(message, position, name)
  if not position then return message:find(name, 1, true) ~= nil end
  local n = tonumber(message:match("bad argument #(%d+)"))
  if n and (n == position or n == position - 1) then return true end
  if position == 1 and message:find("bad self", 1, true) then return true end
  if message:find("'" .. name .. "'", 1, true) then return true end
  return #name > 2 and message:find(name, 1, true) ~= nil
end

-- A raise for a table argument may name the field inside it that is wrong
-- ("unknown option 'x'", "'path' must be string", "messages: a list ...").
local function names_field(message, fields)
  if message:find("'[%w_%.%-]+'") then return true end
  for _, field in ipairs(fields or {}) do
    if message:find(field.name, 1, true) then return true end
  end
  return false
end

-- The arguments of one call: valid() with its plain tables copied, so that a
-- case changing a field leaves the next case's arguments alone.
local function arguments(target)
  local args = pack(target.valid())
  for i = 1, args.n do
    if type(args[i]) == "table" and getmetatable(args[i]) == nil then
      local copy = {}
      for k, v in pairs(args[i]) do copy[k] = v end
      args[i] = copy
    end
  end
  return args
end

-- Judges one call: nil when it kept the contract, else why not.
local function judge(param, position, value, outcome, fields)
  if not outcome.ok then
    local message = is_error(outcome[1]) and tostring(outcome[1].message) or tostring(outcome[1])
    if message:find("attempt to ", 1, true) or message:find("stack overflow", 1, true) then
      return "a Lua runtime error: " .. message:sub(1, 200)
    end
    if not (names_argument(message, position, param.name) or (param.alias and message:find(param.alias, 1, true))
            or (param.table and names_field(message, fields))) then
      return "the error does not name the argument: " .. message:sub(1, 200)
    end
    return nil
  end
  local first, second = outcome[1], outcome[2]
  local sent = first == nil and is_error(second) and second.type == "connection"
  if first == nil and is_error(second) and not sent then return nil end
  if first == nil and not sent and outcome.n > 0 then
    return "nil without a gptaudio.Error (got " .. type(second) .. ")"
  end
  local accepted = (value == nil and param.optional) or param.accepts(value)
    or (param.accepts_table and type(value) == "table")
  if not accepted then return (sent and "sent a request" or "succeeded") .. " with this value" end
  return nil
end

-- The cases of a group: { label, run = fn() -> outcome judged by check }.
local function build(group)
  local list = groups[group]()
  if group == "closed" then return list end
  local cases = {}
  for _, target in ipairs(list) do
    -- positional arguments
    for position, param in ipairs(target.params) do
      if not param.unswept and (not target.sweep or target.sweep[position]) then
        for index, pair in ipairs(bad_values()) do
          cases[#cases + 1] = { label = ("%s arg %d (%s) = %s"):format(target.name, position, param.name, pair[1]),
            skip = param.skip and param.skip(pair[2]),
            run = function()
              local args = arguments(target)
              args[position] = bad_values()[index][2]
              local outcome = attempt(target.fn, args)
              if target.after and outcome.ok then pcall(target.after, unpack_(outcome, 1, outcome.n)) end
              return judge(param, position, args[position], outcome, target.fields and target.fields[position])
            end }
        end
      end
    end
    -- fields of table arguments
    for position, fields in pairs(target.fields or {}) do
      for _, param in ipairs(fields) do
        for index, pair in ipairs(bad_values()) do
          cases[#cases + 1] = { label = ("%s arg %d field %s = %s"):format(target.name, position, param.name, pair[1]),
            skip = param.skip and param.skip(pair[2]),
            run = function()
              local args = arguments(target)
              args[position][param.name] = bad_values()[index][2]
              local outcome = attempt(target.fn, args)
              if target.after and outcome.ok then pcall(target.after, unpack_(outcome, 1, outcome.n)) end
              return judge(param, nil, args[position][param.name], outcome)
            end }
        end
      end
    end
  end
  return cases
end

-- A closed-object case keeps the contract when it raises saying so.
local function judge_closed(case, outcome)
  if not case.closed then
    return not outcome.ok and ("raised: " .. tostring(outcome[1])) or nil
  end
  if outcome.ok then return "did not raise on a closed object" end
  local message = tostring(is_error(outcome[1]) and outcome[1].message or outcome[1])
  if not message:find("closed", 1, true) then return "the error does not say closed: " .. message end
  return nil
end

--- How many cases a group has (what the child must report as run + skipped).
function misuse.count(group)
  return #build(group)
end

misuse.GROUPS = { "audio", "buffer", "client", "closed", "voice", "hosts" }

--- Runs a group, printing the protocol described at the top.
function misuse.run(group)
  local cases = build(group)
  local run, skipped = 0, 0
  for i, case in ipairs(cases) do
    -- Clients and transports hold descriptors until collected.
    if i % 50 == 0 then collectgarbage() end
    if case.skip then
      skipped = skipped + 1
      print("skip " .. case.label .. ": " .. case.skip)
    else
      io.write("case ", case.label, "\n")
      io.stdout:flush()
      local why
      if group == "closed" then
        why = judge_closed(case, attempt(case.run, { n = 0 }))
      else
        local ok, result = pcall(case.run)
        why = result
        if not ok then why = "the sweep itself failed: " .. tostring(result) end
      end
      if why then print("bad " .. case.label .. ": " .. why) end
      run = run + 1
    end
  end
  collectgarbage()
  collectgarbage()
  for _, path in ipairs(temporary) do os.remove(path) end
  print(("done %d %d"):format(run, skipped))
  io.stdout:flush()
end

return misuse
