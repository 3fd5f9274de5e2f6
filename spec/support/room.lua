-- A simulated room for the voice agent without headphones. The speaker is the
-- host's own output of an audio.sink: it sounds each piece it is given back
-- to back from when the piece arrives (as LÖVE's queue does), and a stop
-- silences it. The microphone is a source: each `period` it hears the user's
-- voice (a recording laid on its clock) plus the speaker through the room,
-- a 40 ms delay, a little low-pass and two reflections, at about half the
-- level (ROOM below). It keeps what it heard, and the echo alone, to measure.
--
--   local r = room.new{ engine =, user = buf (mono, at `rate`), seconds =, rate = 24000,
--                       sink_rate = 24000, delay = 0.04, gain = 0.5, drift = 0 }
--                             drift: how much faster the room's sound card counts its frames
--                             (microphone and speaker alike) than the engine's clock, e.g. -3e-4
--   r.sink                    an audio.sink for the agent (at sink_rate)
--   r.source                  a source: start(on_chunk, on_end), stop(); ends after `seconds`
--   r:capture(now) -> chunk   the frames due by `now` (the source does this every period;
--                             a simulated clock may call it itself), nil when none
--   r.heard, r.echo           what the microphone heard so far, and the echo alone in it
local audio = require("gptaudio").audio

local room = {}

-- The speaker-to-microphone path beyond the delay: (seconds after it, share of `gain`).
local ROOM = { { 0, 0.25 }, { 1 / 24000, 0.5 }, { 2 / 24000, 0.25 }, { 0.007, -0.35 }, { 0.019, 0.2 } }
local PERIOD = 0.02

local Room = {}
Room.__index = Room

-- Frames [i, j) of buf (from 0), silence outside it.
local function span(buf, i, j)
  local out = audio.new{ rate = buf.rate }
  if i < 0 then
    out:append(audio.new{ rate = buf.rate, frames = math.min(j, 0) - i })
    i = 0
  end
  if j > i and i < buf.frames then out:append(buf:slice(i + 1, math.min(j, buf.frames))) end
  if out.frames < j - i then out:append(audio.new{ rate = buf.rate, frames = j - i - out.frames }) end
  return out
end

function room.new(opts)
  local rate = opts.rate or 24000
  local self = setmetatable({
    rate = rate, user = opts.user, frames = math.floor(opts.seconds * rate), scheduler = opts.engine.scheduler,
    speaker = audio.new{ rate = rate }, heard = audio.new{ rate = rate }, echo = audio.new{ rate = rate },
    taps = {}, drift = opts.drift or 0,
  }, Room)
  for i, tap in ipairs(ROOM) do
    self.taps[i] = { frames = math.floor(((opts.delay or 0.04) + tap[1]) * rate + 0.5),
                     gain = (opts.gain or 0.5) * tap[2] }
  end
  local sink_rate = opts.sink_rate or rate
  local resampler = sink_rate ~= rate and audio.resampler{ from = sink_rate, to = rate }
  self.sink = audio.sink{ rate = sink_rate, engine = opts.engine,
    play = function(piece) self:sound(resampler and resampler:process(piece) or piece) end,
    stop = function() self:silence() end }
  self.source = {
    start = function(_, on_chunk, on_end)
      self.started = self.scheduler:now()
      local function tick()
        local chunk = self:capture(self.scheduler:now())
        if chunk then on_chunk(chunk, self.scheduler:now()) end
        if self.heard.frames >= self.frames then
          self.timer = nil
          return on_end()
        end
        self.timer = self.scheduler:after(PERIOD, tick)
      end
      self.timer = self.scheduler:after(PERIOD, tick)
      return true
    end,
    stop = function() if self.timer then self.timer:cancel() end end,
  }
  return self
end

-- The microphone's frame at a clock time.
function Room:frame(now)
  return math.floor((now - self.started) * self.rate * (1 + self.drift) + 0.5)
end

function Room:sound(piece)
  local now = self:frame(self.scheduler:now())
  local gap = now - self.speaker.frames
  if gap > 0 then self.speaker:append(audio.new{ rate = self.rate, frames = gap }) end
  self.speaker:append(piece)
end

function Room:silence()
  local now = self:frame(self.scheduler:now())
  if self.speaker.frames > now then self.speaker = self.speaker:slice(1, now) end
end

function Room:capture(now)
  self.started = self.started or now
  local first, last = self.heard.frames, math.min(self.frames, self:frame(now))
  if last <= first then return nil end
  local echo = audio.new{ rate = self.rate, frames = last - first }
  for _, tap in ipairs(self.taps) do echo:mix(span(self.speaker, first - tap.frames, last - tap.frames), tap.gain) end
  local chunk = span(self.user, first, last):mix(echo)
  self.heard:append(chunk)
  self.echo:append(echo)
  return chunk
end

return room
