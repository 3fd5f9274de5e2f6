-- The voice agent's echo canceller in place (internal: the agent's option
-- echo_cancel), and the guard that tells the user from what the canceller
-- leaves of the reply.
--
--   local path = echo_path.new{ rate = 24000, sink = sink, tail = 0.25, guard = 3 }  -- guard: dB or false
--   local clean = path:process(chunk, at)  -- at: the clock time of the chunk's last frame
--   path:held()                            -- seconds taken in, not given out yet (< 10 ms)
--   path:user(speaking)                    -- a confirmed utterance starts (true) or ends (false)
--   path:doubtful(at)                      -- whether speech starting now may be the reply's echo
--   path:loud_enough()                     -- whether what is heard now is as loud as the user
--
-- Each microphone chunk, mono at the agent's rate, goes through
-- audio.echo_canceller with, as its reference, what the sink sounded over the
-- same stretch of the engine's clock (sink:played). The sink hands audio out
-- ahead of the clock and a host may queue more; asking by the clock gives the
-- canceller each played frame no later than its echo can reach the
-- microphone, so the echo's delay stays within the canceller's tail.
--
-- The microphone's place on the clock: its frames laid end to end from the
-- earliest start a chunk's `at` gives (at less its frames). A chunk handed
-- over late only looks later, so the earliest is the truest. The line moves
-- only by more than SLACK: every move shifts the echo against its reference
-- and the canceller must learn the room again (on a real sound server, a
-- move on each earlier chunk, a few frames each time, held the canceller to
-- 8-10 dB instead of 19; BENCHMARKS.md). A line up to SLACK late only adds to
-- the echo's delay, within the tail. So: earlier, to a chunk that starts
-- more than SLACK before its place; later, when every chunk of the last
-- SETTLE seconds started more than SLACK after it (the sound card's clock
-- runs faster than the engine's), by the least of them; at once to a chunk
-- more than LOST seconds after its place (the recorder dropped audio).
--
-- The guard: the canceller learns the room from the reply's own sound, so at
-- the start of the first reply (about its first second; BENCHMARKS.md) some
-- echo comes through, loud enough for the VAD. Speech that starts while the
-- sink sounds (or a tail after) before the canceller has heard LEARN tails'
-- worth (at least MIN_LEARN seconds) of played sound (counted again after
-- the user spoke over a reply: double talk may have led the filter astray;
-- on a real server the next reply's start then interrupted it) is doubtful: it is the
-- user's only once the cleaned audio over the last WINDOW seconds comes
-- within `guard` dB of the user's own level, the loudest WINDOW of their last
-- utterance. The user speaks before any reply, so that level is known; the
-- echo the canceller leaves while it learns stays under it unless the
-- speaker is about as loud at the microphone as the user.
local audio = require("gptaudio.core").audio

local echo_path = {}

local LOST = 0.1
local SLACK, SETTLE = 0.01, 1
local WINDOW = 0.1
local LEARN, MIN_LEARN = 8, 2

local EchoPath = {}
EchoPath.__index = EchoPath

function echo_path.new(opts)
  local self = setmetatable({
    rate = opts.rate, sink = opts.sink, tail = opts.tail or 0.25, guard = opts.guard, taken = 0, given = 0,
    canceller = audio.echo_canceller{ rate = opts.rate, tail = opts.tail },
    recent = {}, recent_energy = 0, recent_frames = 0, sounded_until = -math.huge, learned = 0,
  }, EchoPath)
  self.learning = math.max(MIN_LEARN, LEARN * self.tail)
  if opts.sink.rate ~= opts.rate then
    -- The sink's audio, one stream at the agent's rate; frames wait in `pending`
    -- until a chunk takes as many as it has.
    self.resampler = audio.resampler{ from = opts.sink.rate, to = opts.rate }
    self.pending = audio.new{ rate = opts.rate }
  end
  return self
end

-- What sounded over the frames [first, first + n) of the clock at the agent's rate.
function EchoPath:reference(first, n)
  local rate = self.rate
  local played = self.sink:played(first / rate, (first + n) / rate)
  if not self.resampler then return played end
  local pending = self.pending:append(self.resampler:process(played))
  if pending.frames < n then
    self.pending = audio.new{ rate = rate }
    return pending:append(audio.new{ rate = rate, frames = n - pending.frames })
  end
  self.pending = pending:slice(n + 1)
  return pending:slice(1, n)
end

-- The cleaned audio's rms over about the last WINDOW seconds.
function EchoPath:loudness()
  return self.recent_frames > 0 and math.sqrt(math.max(0, self.recent_energy) / self.recent_frames) or 0
end

function EchoPath:listen(clean)
  local recent = self.recent
  recent[#recent + 1] = { clean.frames * clean:rms() ^ 2, clean.frames }
  self.recent_energy, self.recent_frames = self.recent_energy + recent[#recent][1], self.recent_frames + clean.frames
  while self.recent_frames - recent[1][2] >= WINDOW * self.rate do
    local oldest = table.remove(recent, 1)
    self.recent_energy, self.recent_frames = self.recent_energy - oldest[1], self.recent_frames - oldest[2]
  end
  if self.speaking then self.peak = math.max(self.peak, self:loudness()) end
end

-- The clock frame where a chunk of n frames that looks to start at `start` is placed (see the top).
function EchoPath:place(start, n)
  local rate, place = self.rate, self.next_frame
  local late = place and start - place
  if not place or late < -SLACK * rate or late > LOST * rate then
    place, self.least_late, self.settling = start, math.huge, 0
  else
    self.least_late, self.settling = math.min(self.least_late, late), self.settling + n
    if self.settling >= SETTLE * rate then
      if self.least_late > SLACK * rate then place = place + self.least_late end
      self.least_late, self.settling = math.huge, 0
    end
  end
  self.next_frame = place + n
  return place
end

function EchoPath:process(chunk, at)
  local n = chunk.frames
  local place = self:place(math.floor(at * self.rate + 0.5) - n, n)
  local reference = self:reference(place, n)
  if reference:peak() > 0 then self.learned = self.learned + reference.duration end
  self.canceller:playback(reference)
  local clean = assert(self.canceller:capture(chunk))
  self.taken, self.given = self.taken + n, self.given + clean.frames
  if self.sink:playing() then self.sounded_until = at + self.tail end
  if clean.frames > 0 then self:listen(clean) end
  return clean
end

function EchoPath:held()
  return (self.taken - self.given) / self.rate
end

function EchoPath:user(speaking)
  if speaking then
    self.speaking, self.peak = true, 0
    -- Over a reply: the canceller adapted while both spoke and may have drifted from the room,
    -- so the guard watches the next reply's start again.
    if self.sink:playing() then self.learned = 0 end
  elseif self.speaking then
    self.speaking, self.level = false, self.peak
  end
end

function EchoPath:doubtful(at)
  return self.guard and self.level and at <= self.sounded_until and self.learned < self.learning or false
end

function EchoPath:loud_enough()
  return self:loudness() >= self.level * 10 ^ (-self.guard / 20)
end

return echo_path
