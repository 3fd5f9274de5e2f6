-- Sinks: where a spoken reply goes, paced at real time by the engine's timers
-- so that the agent knows how much the listener has heard and a barge-in can
-- stop the sound within one chunk.
--
--   audio.playback{ rate, channels, device, backend, command }  a sound device (pacat or aplay)
--   audio.sink{ rate, channels, play = fn(chunk), stop = fn() }  the host's own output
--                                                                (LÖVE's QueueableSource)
--   audio.recording_sink{ rate, channels }                       what was played, with times
--
-- Every sink (common options: ahead, engine):
--   sink:play(chunk)    queues an AudioBuffer at the sink's rate (channels are converted)
--   sink:finish(fn)     the reply is complete: fn() once all of it has been heard
--   sink:stop()         now: drops what is queued, silences the output; returns the
--                       seconds of the reply heard
--   sink:heard()        seconds of the current reply heard by now
--   sink:playing()      whether anything is queued or still sounding
--   sink:begin()        a new reply starts (counts from 0; sink.first_at = nil)
--   sink.first_at       engine-clock time when the reply's first frame went out
--   sink:close()
--
-- Pacing: the queue goes out in `period` pieces (20 ms) no further than
-- `ahead` seconds (default 0.06) beyond what the listener hears by the clock.
-- out_until is when everything handed out will have sounded, so what was
-- heard is what went out less what is still ahead of the clock. A piece
-- handed out while the output was idle starts sounding at once.
local core = require "gptaudio.core"
local check = require "gptaudio.check"
local engine = require "gptaudio.engine"
local device = require "gptaudio.audio.device"

local audio = core.audio
local sink = {}

local PERIOD = 0.02
local AHEAD = 0.06

local Sink = { __name = "gptaudio.Sink" }
Sink.__index = Sink

local COMMON = { rate = true, channels = true, ahead = true, engine = true }

local function check_common(where, opts, own)
  check.value(where, "options", opts, "table")
  for key in pairs(opts) do
    if not COMMON[key] and not own[key] then error(("%s: unknown option '%s'"):format(where, tostring(key)), 0) end
  end
  check.value(where, "rate", opts.rate, "positive integer")
  check.fields(where, opts, { channels = "positive integer", ahead = "positive number" })
  if opts.engine ~= nil and not engine.is_engine(opts.engine) then
    error(where .. ": 'engine' must be a gptaudio engine", 0)
  end
  if opts.rate > 768000 then error(where .. ": 'rate' must be at most 768000", 0) end
  if opts.channels and opts.channels > 64 then error(where .. ": 'channels' must be at most 64", 0) end
  if opts.ahead and opts.ahead > 10 then error(where .. ": 'ahead' must be at most 10 seconds", 0) end
end

-- output = { deliver = fn(piece, at), halt = fn(now), close = fn() }
local function new(opts, output)
  local self = setmetatable({
    rate = opts.rate, channels = opts.channels or 1, ahead = opts.ahead or AHEAD, output = output,
    scheduler = (opts.engine or engine.default()).scheduler,
    queue = {}, first = 1, last = 0, out_until = 0, sent = 0,
  }, Sink)
  return self
end

function Sink:__tostring()
  return ("gptaudio.Sink(%d Hz, %d ch, %.2f s heard%s)"):format(self.rate, self.channels, self:heard(),
    self:playing() and ", playing" or "")
end

-- Seconds of the reply sounded by `now`.
local function heard_at(self, now)
  return math.max(0, self.sent - math.max(0, self.out_until - now))
end

function Sink:heard()
  return heard_at(self, self.scheduler:now())
end

function Sink:playing()
  return self.last >= self.first or self.out_until > self.scheduler:now()
end

local pump

local function arm(self, delay)
  if self.timer then return end
  self.timer = self.scheduler:after(delay, function()
    self.timer = nil
    pump(self)
  end)
end

-- Hands out pieces while the output is less than `ahead` in front of the clock.
function pump(self)
  local now = self.scheduler:now()
  local piece_frames = math.max(1, math.floor(PERIOD * self.rate + 0.5))
  while self.last >= self.first and self.out_until - now < self.ahead do
    local head = self.queue[self.first]
    local piece = head
    if head.frames > piece_frames then
      piece = head:slice(1, piece_frames)
      self.queue[self.first] = head:slice(piece_frames + 1)
    else
      self.queue[self.first] = nil
      self.first = self.first + 1
    end
    local at = math.max(now, self.out_until)
    if not self.first_at then self.first_at = now end
    self.out_until = at + piece.duration
    self.sent = self.sent + piece.duration
    self.output.deliver(piece, at)
  end
  if self.last >= self.first then
    arm(self, math.max(0.001, self.out_until - now - self.ahead + PERIOD / 2))
  elseif self.on_done then
    if self.out_until > now then
      arm(self, self.out_until - now)
    else
      local on_done = self.on_done
      self.on_done = nil
      on_done()
    end
  end
end

function Sink:play(chunk)
  local mt = type(chunk) == "userdata" and getmetatable(chunk)
  if not (type(mt) == "table" and mt.__name == "gptaudio.AudioBuffer") then
    error("sink:play: 'chunk' must be an AudioBuffer (got " .. type(chunk) .. ")", 0)
  end
  if chunk.rate ~= self.rate then
    error(("sink:play: the chunk is at %d Hz, the sink at %d Hz"):format(chunk.rate, self.rate), 0)
  end
  if self.closed then error("sink:play: the sink is closed", 0) end
  if chunk.channels ~= self.channels then chunk = chunk:to_channels(self.channels) end
  if chunk.frames == 0 then return self end
  self.last = self.last + 1
  self.queue[self.last] = chunk
  -- At once when nothing waits: the first sample of a reply goes out as it arrives.
  if not self.timer then pump(self) end
  return self
end

function Sink:finish(on_done)
  check.value("sink:finish", "on_done", on_done, "function", true)
  self.on_done = on_done or function() end
  if not self.timer then pump(self) end
  return self
end

function Sink:stop()
  -- One reading of the clock: what is kept and what is reported heard agree.
  local now = self.scheduler:now()
  local heard = heard_at(self, now)
  local cut = self.out_until > now
  self.queue, self.first, self.last, self.on_done = {}, 1, 0, nil
  if self.timer then self.timer:cancel() end
  self.timer = nil
  self.sent, self.out_until = heard, now
  if cut then self.output.halt(now) end
  return heard
end

function Sink:begin()
  self:stop()
  self.sent, self.first_at = 0, nil
  return self
end

function Sink:close()
  if self.closed then return end
  self:stop()
  self.closed = true
  if self.output.close then self.output.close() end
end

Sink.__close = Sink.close

--- The host's own output: play(chunk) for each piece as it is due,
--- stop() (optional) to silence what the host holds.
function sink.callback(opts)
  local where = "audio.sink"
  check_common(where, opts, { play = true, stop = true })
  check.value(where, "play", opts.play, "function")
  check.value(where, "stop", opts.stop, "function", true)
  local play, stop = opts.play, opts.stop
  return new(opts, { deliver = function(piece) play(piece) end, halt = function() if stop then stop() end end })
end

--- Keeps what was played: sink:recorded() gives { {time =, audio =}, ... } (the
--- engine-clock time each piece began to sound) and all of it as one buffer.
--- A stop cuts the pieces at what had sounded.
function sink.recording(opts)
  check_common("audio.recording_sink", opts, {})
  local pieces = {}
  local self = new(opts, {
    deliver = function(piece, at) pieces[#pieces + 1] = { time = at, audio = piece } end,
    halt = function(now)
      while pieces[#pieces] and pieces[#pieces].time >= now do pieces[#pieces] = nil end
      local last = pieces[#pieces]
      if last and last.time + last.audio.duration > now then
        last.audio = last.audio:slice(1, math.floor((now - last.time) * last.audio.rate))
      end
    end,
  })
  function self.recorded()
    local whole = audio.new{ rate = self.rate, channels = self.channels }
    for _, p in ipairs(pieces) do whole:append(p.audio) end
    return pieces, whole
  end
  return self
end

--- A sound device through a child player (gptaudio.audio.device); stop ends
--- the player, dropping what it buffered, and the next piece starts a new one.
function sink.playback(opts)
  local where = "audio.playback"
  check_common(where, opts, { device = true, backend = true, command = true })
  check.value(where, "device", opts.device, "string", true)
  check.value(where, "backend", opts.backend, { "pulse", "alsa" }, true)
  device.check_command(where, opts.command)
  local argv = opts.command or device.command("playback", opts.backend or device.default_backend(), opts.rate,
                                              opts.channels or 1, opts.device)
  local child, pending = nil, ""
  local self
  local output = {}
  local function flush()
    if pending == "" or not child then return end
    local sent, err = child:write(pending)
    if not sent then
      self.error = device.ended(child, argv) or err
      child, pending = nil, ""
      return
    end
    pending = pending:sub(sent + 1)
  end
  function output.deliver(piece)
    if not child then
      local err
      child, err = device.start(argv, true)
      if not child then
        self.error = err
        return
      end
    end
    pending = pending .. piece:encode("pcm16")
    flush()
  end
  function output.halt()
    if child then child:stop(0) end
    child, pending = nil, ""
  end
  output.close = output.halt
  self = new(opts, output)
  return self
end

return sink
