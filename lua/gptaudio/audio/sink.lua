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
--   sink:played(from, to)  what sounded between two engine-clock times, mono (silence
--                       where nothing did): an echo canceller's reference
--   sink:close()
--
-- Pacing: the queue goes out in `period` pieces (20 ms) no further than
-- `ahead` seconds (default 0.06) beyond what the listener hears by the clock.
-- out_until is when everything handed out will have sounded, so what was
-- heard is what went out less what is still ahead of the clock. A piece
-- handed out while the output was idle starts sounding at once.
--
-- What went out is kept as `history`: each piece with its engine-clock start
-- (time) and its first frame on the grid of the clock at the sink's rate
-- (frame: the clock's seconds times the rate; a piece that follows another
-- without a gap continues its frames exactly). A stop cuts it at what had
-- sounded. The last HISTORY seconds are kept, everything by a recording sink.
local core = require "gptaudio.core"
local check = require "gptaudio.check"
local engine = require "gptaudio.engine"
local device = require "gptaudio.audio.device"

local audio = core.audio
local sink = {}

local PERIOD = 0.02
local AHEAD = 0.06
-- Longer than a microphone chunk can be late to ask for its reference.
local HISTORY = 2
-- The longest span played() gives (a microphone chunk after a long stall).
local MAX_SPAN = 60

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

-- output = { deliver = fn(piece, at), halt = fn(now), close = fn() };
-- keep_all: the history is never shortened.
local function new(opts, output, keep_all)
  local self = setmetatable({
    rate = opts.rate, channels = opts.channels or 1, ahead = opts.ahead or AHEAD, output = output,
    scheduler = (opts.engine or engine.default()).scheduler,
    queue = {}, first = 1, last = 0, out_until = 0, sent = 0,
    history = {}, history_first = 1, history_last = 0, keep_all = keep_all,
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

local function frame_at(self, time)
  return math.floor(time * self.rate + 0.5)
end

local function remember(self, piece, at, now)
  local history, last = self.history, self.history_last
  local previous = history[last]
  local frame = previous and at == previous.time + previous.audio.duration and previous.frame + previous.audio.frames
    or frame_at(self, at)
  last = last + 1
  history[last], self.history_last = { time = at, frame = frame, audio = piece }, last
  if self.keep_all then return end
  local first = self.history_first
  while history[first].time + history[first].audio.duration < now - HISTORY do
    history[first] = nil
    first = first + 1
  end
  self.history_first = first
end

-- Drops from the history what had not sounded by now.
local function cut_history(self, now)
  local history = self.history
  while self.history_last >= self.history_first and history[self.history_last].time >= now do
    history[self.history_last] = nil
    self.history_last = self.history_last - 1
  end
  local last = history[self.history_last]
  if last and last.time + last.audio.duration > now then
    last.audio = last.audio:slice(1, math.floor((now - last.time) * self.rate + 0.5))
  end
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
    remember(self, piece, at, now)
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
  if cut then
    cut_history(self, now)
    self.output.halt(now)
  end
  return heard
end

--- The audio that sounded from engine-clock time `from` to `to`: mono at the
--- sink's rate, silence where nothing did, as many frames as the clock's grid
--- holds between them (asking for spans end to end gives every frame once).
--- Only the last HISTORY seconds are kept; a span is at most MAX_SPAN seconds.
function Sink:played(from, to)
  check.value("sink:played", "from", from, "number")
  check.value("sink:played", "to", to, "number")
  -- (NaN compares false: refused too)
  local span = to - from
  if not (span >= 0 and span <= MAX_SPAN) then
    error(("sink:played: 'to' must be 0 to %d seconds after 'from'"):format(MAX_SPAN), 0)
  end
  local first, last = frame_at(self, from), frame_at(self, to)
  local out = audio.new{ rate = self.rate }
  local history, at = self.history, first
  for i = self.history_first, self.history_last do
    local piece = history[i]
    if piece.frame >= last then break end
    local piece_end = piece.frame + piece.audio.frames
    if piece_end > at then
      if piece.frame > at then out:append(audio.new{ rate = self.rate, frames = piece.frame - at }) end
      local from_frame = math.max(at, piece.frame)
      at = math.min(last, piece_end)
      local part = piece.audio:slice(from_frame - piece.frame + 1, at - piece.frame)
      out:append(self.channels == 1 and part or part:to_channels(1))
    end
  end
  if last > at then out:append(audio.new{ rate = self.rate, frames = last - at }) end
  return out
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
  local self = new(opts, { deliver = function() end, halt = function() end }, true)
  function self.recorded()
    local pieces, whole = {}, audio.new{ rate = self.rate, channels = self.channels }
    for i, p in ipairs(self.history) do
      pieces[i] = { time = p.time, audio = p.audio }
      whole:append(p.audio)
    end
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
