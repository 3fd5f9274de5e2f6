-- The reply's way to the caller: the model's 24 kHz audio resampled to 8 kHz,
-- encoded as mu-law and cut into 20 ms media frames, sent paced at real time
-- (never more than `ahead` seconds beyond what the caller has heard, so that
-- a barge-in can still cut it), with a mark every `mark_every` frames and at
-- the end of each reply. The marks coming back say how much of the reply the
-- caller has heard. Host-free: `send(text)` and `now()` come from the caller.
local audio = require("gptaudio.core").audio
local twilio = require "gptaudio.phone.twilio"

local FRAME_BYTES = 160 -- 20 ms of 8 kHz mu-law
local FRAME_SECONDS = 0.02

local Playout = {}
Playout.__index = Playout

local playout = {}

--- opts: send (fn(text) -> ok, err), now (fn() -> seconds), stream_sid,
--- ahead (seconds, default 1), mark_every (frames, default 5).
function playout.new(opts)
  return setmetatable({
    send = opts.send, now = opts.now, stream_sid = opts.stream_sid, ahead = opts.ahead or 1,
    mark_every = opts.mark_every or 5, frames = {}, first = 1, last = 0, pending = "", turn = 0,
    sent = 0, start = nil, heard = 0, received = 0, frames_sent = 0, resampler = nil,
  }, Playout)
end

--- A new reply begins: what is left of the last one is dropped.
function Playout:begin(turn)
  self.turn, self.frames, self.first, self.last, self.pending = turn, {}, 1, 0, ""
  self.received, self.heard, self.sent_in_turn, self.finished, self.end_marked = 0, 0, 0, false, false
  self.resampler = audio.resampler{ from = 24000, to = twilio.RATE }
end

local function cut_frames(self, mulaw)
  local bytes = self.pending .. mulaw
  local whole = #bytes - #bytes % FRAME_BYTES
  for i = 1, whole, FRAME_BYTES do
    self.last = self.last + 1
    self.frames[self.last] = bytes:sub(i, i + FRAME_BYTES - 1)
  end
  self.pending = bytes:sub(whole + 1)
end

--- Adds a chunk of the reply (an AudioBuffer at 24 kHz, or already at 8 kHz).
function Playout:add(chunk)
  local narrow = chunk.rate == twilio.RATE and chunk or assert(self.resampler:process(chunk))
  self.received = self.received + narrow.duration
  cut_frames(self, narrow:encode("mulaw"))
end

--- The reply is complete: the resampler's tail and a last partial frame go out too.
function Playout:finish()
  if self.finished then return end
  self.finished = true
  local tail = assert(self.resampler:flush())
  self.received = self.received + tail.duration
  cut_frames(self, tail:encode("mulaw"))
  if #self.pending > 0 then
    self.last = self.last + 1
    self.frames[self.last] = self.pending .. ("\255"):rep(FRAME_BYTES - #self.pending)
    self.pending = ""
  end
end

function Playout:queued()
  return self.last - self.first + 1
end

-- Seconds sent beyond what the caller has played, by the clock.
function Playout:buffered()
  if not self.start then return 0 end
  return math.max(0, self.sent - (self.now() - self.start))
end

--- Whether the caller is hearing (or about to hear) a reply.
function Playout:playing()
  return self:queued() > 0 or self:buffered() > 0
end

local function mark_name(self)
  return ("%d:%d"):format(self.turn, math.floor(self.sent_in_turn * 1000 + 0.5))
end

--- Sends what may go now; returns how long to wait before the next frame may
--- go (nil when nothing is queued), or nil, err when the socket failed.
function Playout:pump()
  while self:queued() > 0 do
    local now = self.now()
    -- Idle or starved: the caller's playback starts again with the next frame.
    if not self.start or now - self.start > self.sent then self.start, self.sent = now, 0 end
    local ahead = self.sent - (now - self.start)
    if ahead >= self.ahead then return ahead - self.ahead + FRAME_SECONDS / 2 end
    local frame = self.frames[self.first]
    self.frames[self.first] = nil
    self.first = self.first + 1
    local ok, err = self.send(twilio.media(self.stream_sid, frame))
    if not ok then return nil, err end
    self.sent, self.sent_in_turn, self.frames_sent = self.sent + FRAME_SECONDS, self.sent_in_turn + FRAME_SECONDS,
      self.frames_sent + 1
    if self.frames_sent % self.mark_every == 0 then
      ok, err = self.send(twilio.mark(self.stream_sid, mark_name(self)))
      if not ok then return nil, err end
    end
  end
  -- The reply's end gets its own mark, once all of it has gone.
  if self.finished and not self.end_marked and self.sent_in_turn > 0 then
    self.end_marked = true
    local ok, err = self.send(twilio.mark(self.stream_sid, mark_name(self)))
    if not ok then return nil, err end
  end
  return nil
end

--- A mark came back: the caller has heard the reply up to it.
function Playout:marked(name)
  local turn, ms = tostring(name):match("^(%d+):(%d+)$")
  if tonumber(turn) == self.turn then self.heard = math.max(self.heard, tonumber(ms) / 1000) end
end

--- Barge-in: tells Twilio to drop what it holds, drops what is queued, and
--- returns the seconds of this reply the caller heard and the seconds received.
function Playout:clear()
  local ok, err = self.send(twilio.clear(self.stream_sid))
  self.frames, self.first, self.last, self.pending, self.start, self.sent = {}, 1, 0, "", nil, 0
  self.finished = true
  if not ok then return nil, err end
  return self.heard, self.received
end

return playout
