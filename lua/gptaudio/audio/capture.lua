-- gptaudio.audio.capture{...}: a source of audio chunks that the engine
-- drives, as a microphone delivers them: every `period` seconds (a timer of
-- the engine's scheduler) the source hands what it has to on_chunk, never
-- waiting for a device.
--
--   local mic = audio.capture{ rate = 24000, channels = 1 }          -- the default device
--   local mic = audio.capture{ file = "question.wav", realtime = true } -- a recording, as if live
--   mic:start(function(chunk, at) ... end, function(err) ... end)
--   mic:stop()
--
-- A device is recorded by a child process (gptaudio.audio.device: parec, or
-- arecord) whose stdout is read without waiting; `command` runs any program
-- that writes raw s16le at rate and channels instead. A file is loaded whole,
-- converted to rate and channels, and handed over in real time (realtime =
-- true, the default: chunk sizes follow the clock, so a late timer gives a
-- longer chunk, never a drift) or as fast as the engine steps (realtime =
-- false, one period's worth a step).
--
-- on_chunk(chunk, at): chunk is an AudioBuffer at the source's rate and
-- channels; at is the engine clock's time when its last frame was captured.
-- on_end(err) runs once when the source ends by itself: nil at the end of a
-- file or when the recorder exits with status 0, a gptaudio.Error (type "io")
-- saying why otherwise. stop() ends it without calling on_end.
local core = require "gptaudio.core"
local check = require "gptaudio.check"
local engine = require "gptaudio.engine"
local device = require "gptaudio.audio.device"
local errors = require "gptaudio.errors"

local audio = core.audio
local capture = {}

local WHERE = "audio.capture"
local OPTIONS = { rate = true, channels = true, device = true, backend = true, command = true, file = true,
                  realtime = true, period = true, engine = true }
-- A microphone's usual chunk: 20 ms.
local PERIOD = 0.02
local DEVICE_RATE = 24000

local Source = { __name = "gptaudio.Source" }
Source.__index = Source

local function check_options(opts)
  check.value(WHERE, "options", opts, "table")
  check.known(WHERE, opts, OPTIONS, "option")
  check.fields(WHERE, opts, { rate = "positive integer", channels = "positive integer", device = "string",
                              file = "string", realtime = "boolean", period = "positive number" })
  if opts.engine ~= nil and not engine.is_engine(opts.engine) then
    error(WHERE .. ": 'engine' must be a gptaudio engine", 0)
  end
  check.value(WHERE, "backend", opts.backend, { "pulse", "alsa" }, true)
  if opts.file and (opts.command or opts.device or opts.backend) then
    error(WHERE .. ": 'file' takes no 'command', 'device' or 'backend'", 0)
  end
  if opts.realtime ~= nil and not opts.file then error(WHERE .. ": 'realtime' is for a 'file' source", 0) end
  if opts.period and opts.period > 1 then error(WHERE .. ": 'period' must be at most 1 second", 0) end
  if opts.rate and opts.rate > 768000 then error(WHERE .. ": 'rate' must be at most 768000", 0) end
  if opts.channels and opts.channels > 64 then error(WHERE .. ": 'channels' must be at most 64", 0) end
  device.check_command(WHERE, opts.command)
end

--- A new source (see the top); a file that cannot be read gives nil, err.
function capture.capture(opts)
  check_options(opts)
  local self = setmetatable({
    period = opts.period or PERIOD, scheduler = (opts.engine or engine.default()).scheduler,
    channels = opts.channels or 1,
  }, Source)
  if opts.file then
    local buf, err = audio.load(opts.file)
    if not buf then return nil, err end
    if buf.channels ~= self.channels then buf = buf:to_channels(self.channels) end
    if opts.rate and opts.rate ~= buf.rate then buf = buf:resample(opts.rate) end
    self.recording, self.rate, self.realtime = buf, buf.rate, opts.realtime ~= false
  else
    self.rate = opts.rate or DEVICE_RATE
    self.argv = opts.command or device.command("capture", opts.backend or device.default_backend(), self.rate,
                                               self.channels, opts.device)
  end
  return self
end

function Source:__tostring()
  return ("gptaudio.Source(%s, %d Hz, %d ch%s)"):format(self.recording and "file" or self.argv[1], self.rate,
    self.channels, self.on_chunk and ", running" or "")
end

--- Whether the source is delivering chunks.
function Source:running()
  return self.on_chunk ~= nil
end

local function finish(self, err)
  local on_end = self.on_end
  self:stop()
  if on_end then on_end(err) end
end

-- A file: the frames the clock says are due (realtime), or one period's worth.
local function file_tick(self)
  local buf, now = self.recording, self.scheduler:now()
  local due = self.realtime and math.floor((now - self.started) * self.rate + 0.5)
    or self.sent + math.floor(self.period * self.rate)
  due = math.min(due, buf.frames)
  if due > self.sent then
    local chunk = buf:slice(self.sent + 1, due)
    self.sent = due
    self.on_chunk(chunk, now)
  end
  return self.sent >= buf.frames
end

-- How long a recorder whose output ended may take to exit before it is killed.
local EXIT_GRACE = 1

local function deliver_pcm(self, bytes)
  local frame = 2 * self.channels
  local whole = #bytes - #bytes % frame
  self.carry = bytes:sub(whole + 1)
  if whole > 0 then
    self.on_chunk(assert(audio.from_pcm16(bytes:sub(1, whole), self.rate, self.channels)), self.scheduler:now())
  end
end

-- A recorder: every whole frame its pipe holds now. Once its output has
-- ended, the source waits (without blocking) for it to exit, and ends with
-- its status: true, err when it is over.
local function device_tick(self)
  device.collect_errors(self.child, self.said)
  if self.output_ended then
    local running = self.child:running()
    if running and self.scheduler:now() - self.output_ended < EXIT_GRACE then return false end
    self.child:stop(0)
    local why = device.failure(self.child, self.argv, self.said)
    return true, why and errors.new{ type = "io", message = why }
  end
  local pieces = { self.carry }
  while true do
    local bytes, err = self.child:read()
    if bytes == nil and err then return true, err end
    if bytes == nil then
      self.output_ended = self.scheduler:now()
      break
    end
    if bytes == "" then break end
    pieces[#pieces + 1] = bytes
  end
  deliver_pcm(self, table.concat(pieces))
  return false
end

-- The next tick: a period later; at once for a file not in real time; soon
-- for a recorder that is exiting.
function Source:next_delay()
  if self.recording then return self.realtime and self.period or 0 end
  return self.output_ended and 0.005 or self.period
end

local function tick(self)
  self.timer = nil
  local ended, err
  if self.recording then
    ended = file_tick(self)
  else
    ended, err = device_tick(self)
  end
  -- on_chunk may have stopped the source.
  if not self.on_chunk then return end
  if ended then return finish(self, err) end
  self.timer = self.scheduler:after(self:next_delay(), function() tick(self) end)
end

--- Starts delivering: on_chunk(chunk, at) for each chunk, on_end(err) once
--- when the source ends by itself. Returns the source, or nil, err (type
--- "io") when the recorder cannot start. Starting a running source raises.
function Source:start(on_chunk, on_end)
  check.value("source:start", "on_chunk", on_chunk, "function")
  check.value("source:start", "on_end", on_end, "function", true)
  if self.on_chunk then error("source:start: the source is already running", 0) end
  if self.argv then
    local child, err = device.start(self.argv, false)
    if not child then return nil, err end
    self.child, self.carry, self.said, self.output_ended = child, "", {}, nil
  end
  self.on_chunk, self.on_end, self.sent, self.started = on_chunk, on_end, 0, self.scheduler:now()
  self.timer = self.scheduler:after(self:next_delay(), function() tick(self) end)
  return self
end

--- Stops delivering (a recorder is ended); on_end is not called. Stopping
--- again does nothing; start may follow (a file starts from its beginning).
function Source:stop()
  if self.timer then self.timer:cancel() end
  if self.child then self.child:stop() end
  self.timer, self.child, self.on_chunk, self.on_end = nil, nil, nil, nil
end

Source.close = Source.stop
Source.__close = Source.stop

return capture
