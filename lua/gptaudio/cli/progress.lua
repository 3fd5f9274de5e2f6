-- Progress on stderr, redrawn in place: a bar for one upload or download that
-- takes more than a moment, and a line for a batch (done/total, rate, ETA, cost).
-- Shown only when stderr is a terminal or --progress forces it; stdout is never
-- touched, so --json output stays one JSON object.
--
--   progress.wanted(forced) -> boolean
--   bar = progress.transfer(stream, now)    bar:event(ev) for each transport progress event; bar:finish()
--   line = progress.batch(stream, total, now)    line:update(counts); line:finish()
--   line = progress.audio(stream, now)    line:add(seconds, total) as pieces of a recording end; line:finish()
-- now is a clock in seconds (core.now).
local progress = {}

-- A transfer shorter than this never shows a bar: it would only flicker.
local MOMENT = 0.5
-- Redraws at most this often.
local REDRAW = 0.1
local WIDTH = 30

-- os.execute returns true on Lua 5.4 and 0 on LuaJIT for success.
local function stderr_is_terminal()
  local ok = os.execute("test -t 2")
  return ok == true or ok == 0
end

function progress.wanted(forced)
  return forced == true or stderr_is_terminal()
end

local function size(n)
  if n < 1e6 then return ("%.0f kB"):format(n / 1e3) end
  return ("%.1f MB"):format(n / 1e6)
end

local function redraw(self, text)
  self.stream:write("\r", text, "\27[K")
  self.stream:flush()
  self.shown = true
end

local Bar = {}
Bar.__index = Bar

function progress.transfer(stream, now)
  return setmetatable({ stream = stream, now = now, started = now(), drawn = 0, shown = false }, Bar)
end

-- The bar for one progress event: the upload while it is under way, then the download.
local function bar_text(ev)
  local label, done, total
  if ev.ul_total > 0 and ev.ul_now < ev.ul_total then
    label, done, total = "upload", ev.ul_now, ev.ul_total
  elseif ev.dl_now > 0 then
    label, done, total = "download", ev.dl_now, ev.dl_total
  else
    label, done, total = "waiting", ev.ul_now, ev.ul_total
  end
  if total <= 0 then return ("%-8s %s"):format(label, size(done)) end
  local filled = math.floor(WIDTH * done / total)
  return ("%-8s [%s%s] %3d%% %s / %s"):format(label, ("#"):rep(filled), ("."):rep(WIDTH - filled),
                                             math.floor(100 * done / total), size(done), size(total))
end

function Bar:event(ev)
  local t = self.now()
  if t - self.started < MOMENT or t - self.drawn < REDRAW then return end
  self.drawn = t
  redraw(self, bar_text(ev))
end

function Bar:finish()
  if self.shown then self.stream:write("\n") end
end

local Line = {}
Line.__index = Line

function progress.batch(stream, total, now)
  return setmetatable({ stream = stream, now = now, total = total, started = now(), drawn = 0, shown = false },
                      Line)
end

local function clock(seconds)
  seconds = math.floor(seconds + 0.5)
  return ("%d:%02d:%02d"):format(math.floor(seconds / 3600), math.floor(seconds % 3600 / 60), seconds % 60)
end

--- counts = { done = n, failed = n, cost = usd, audio_done = s, audio_total = s }: items
--- finished this run, and seconds of audio (shown when audio_total is over 0).
function Line:text(counts)
  local finished = counts.done + counts.failed
  local elapsed = math.max(self.now() - self.started, 1e-3)
  local rate = finished / elapsed
  local eta = rate > 0 and clock((self.total - finished) / rate) or "?"
  local text = ("%d/%d done, %d failed, %.1f/s, ETA %s, $%.4f"):format(finished, self.total, counts.failed, rate,
                                                                       eta, counts.cost)
  if (counts.audio_total or 0) > 0 then
    text = text .. (", audio %s / %s"):format(clock(counts.audio_done), clock(counts.audio_total))
  end
  return text
end

function Line:update(counts)
  local t = self.now()
  if t - self.drawn < REDRAW then return end
  self.drawn = t
  redraw(self, self:text(counts))
end

function Line:finish(counts)
  redraw(self, self:text(counts))
  self.stream:write("\n")
end

local Audio = {}
Audio.__index = Audio

--- A line for audio heard in pieces: the seconds done (of the total, when
--- known) and the speed against real time.
function progress.audio(stream, now)
  return setmetatable({ stream = stream, now = now, started = now(), drawn = 0, shown = false, done = 0 }, Audio)
end

function Audio:text()
  local elapsed = math.max(self.now() - self.started, 1e-3)
  local speed = ("%.1fx real time"):format(self.done / elapsed)
  if not self.total or self.total <= 0 then return ("audio %s, %s"):format(clock(self.done), speed) end
  local filled = math.floor(WIDTH * math.min(1, self.done / self.total))
  return ("audio [%s%s] %s / %s, %s"):format(("#"):rep(filled), ("."):rep(WIDTH - filled), clock(self.done),
                                             clock(self.total), speed)
end

--- Counts `seconds` more audio done; total (when given) is the whole recording's.
function Audio:add(seconds, total)
  self.done = self.done + seconds
  self.total = total or self.total
  local t = self.now()
  if t - self.drawn < REDRAW then return end
  self.drawn = t
  redraw(self, self:text())
end

function Audio:finish()
  if not self.shown then return end
  redraw(self, self:text())
  self.stream:write("\n")
end

return progress
