-- The client-wide rate limiter: requests per minute and tokens per minute,
-- as token buckets refilled continuously, tightened by what the server says.
--
-- Every attempt of every request passes through it once it holds a
-- concurrency slot and before its transfer starts (so the server sees exactly
-- the limiter's pacing, and an attempt's timeout starts only when it leaves).
-- Waiters are admitted in FIFO order: a big request is not starved by small ones.
--
-- Buckets. rpm R refills R/60 requests per second, tpm T refills T/60 tokens
-- per second: 500 rpm admits one request every 120 ms, not 500 at the top of
-- each minute. Each bucket holds at most one second of its rate (at least one
-- request, and at least the request at hand for tokens): the burst allowed
-- after an idle spell. A request needing more tokens than a bucket holds
-- waits for a full bucket and leaves it in debt. Without rpm (or tpm) that
-- bucket does not limit; the server's word still does.
--
-- The server's word (observe, after every response that has headers):
--   x-ratelimit-remaining-requests / -tokens  the bucket holds at most that many
--   x-ratelimit-reset-requests / -tokens      when the remaining count is 0, nobody
--       starts before that long (durations "6m0s", "1s", "12ms", "1m30.5s", "2h")
--   a 429 (hold)  everybody waits for the delay the request itself waits
--       (retry-after, else the backoff), and both buckets restart empty: the
--       whole job slows down, not only the request that got it.
--
-- Tokens. Before sending, a request is charged limiter.estimate(op): text at
-- one token per 4 bytes (the JSON body less its audio), audio at 10 tokens
-- per second of input (gpt-audio-mini's order of magnitude; seconds from the
-- upload's size: WAV as the module sends it, 24 kHz 16-bit mono = 48,000
-- bytes/s; MP3 at 128 kbit/s), plus the output limit the request sets
-- (max_completion_tokens / max_tokens / max_output_tokens). After a response
-- reporting usage, the bucket is corrected by the difference.
--
-- Its waits are timers of the client's scheduler, so client:timeout() counts
-- them and an outer loop wakes for them; the scheduler's injectable clock
-- makes its specs run on a fake clock.
--
-- Shared limits. With a store (the client's limit_store: limiter/memory.lua
-- for clients of one process, limiter/shared_dict.lua for the workers of one
-- nginx, limiter/redis.lua for many machines), rpm and tpm are buckets in the
-- store rather than here: after the local admission (the server's word and
-- map's restrictions still apply here), a request reserves its share in each
-- store bucket in one atomic step (limiter/bucket.lua) and sleeps for the wait
-- the store gives it. Everybody sharing the store is so paced as one, each in
-- the order it reserved. A store that fails lets the request go.
local core = require "gptaudio.core"
local scheduler = require "gptaudio.engine.scheduler"

local limiter = {}

local Limiter = { __name = "gptaudio.Limiter" }
Limiter.__index = Limiter
limiter.Limiter = Limiter

local AUDIO_TOKENS_PER_SECOND = 10
local TEXT_BYTES_PER_TOKEN = 4
local WAV_BYTES_PER_SECOND = 24000 * 2
local MP3_BYTES_PER_SECOND = 128000 / 8
local BURST_SECONDS = 1
-- Float slack: a bucket refilled to 0.9999999999 of what it needs is full.
local EPSILON = 1e-9

limiter.AUDIO_TOKENS_PER_SECOND = AUDIO_TOKENS_PER_SECOND

local UNITS = { h = 3600, m = 60, s = 1, ms = 0.001, us = 1e-6, ["µs"] = 1e-6, ns = 1e-9 }

--- Seconds in a Go-style duration ("6m0s", "1s", "12ms", "1m30.5s"), or nil.
function limiter.duration(text)
  if type(text) ~= "string" or text == "" then return nil end
  local plain = tonumber(text)
  if plain then return plain end
  local total, position = 0, 1
  while position <= #text do
    local number, unit, after = text:match("^(%d*%.?%d+)(%a+)()", position)
    if not number then
      number, unit, after = text:match("^(%d*%.?%d+)(µs)()", position)
    end
    if not number or not UNITS[unit] then return nil end
    total = total + tonumber(number) * UNITS[unit]
    position = after
  end
  return total
end

local function audio_seconds(bytes, format)
  return bytes / (format == "mp3" and MP3_BYTES_PER_SECOND or WAV_BYTES_PER_SECOND)
end

-- The size of a regular file (0 for anything else: opening a FIFO would block,
-- and the transport refuses such a path anyway).
local function file_size(path)
  if core.file_kind(path) ~= "regular file" then return 0 end
  local f = io.open(path, "rb")
  if not f then return 0 end
  local size = f:seek("end") or 0
  f:close()
  return size
end

-- Tokens and audio bytes of a chat JSON body's input_audio parts.
local function json_audio(value)
  local seconds, b64 = 0, 0
  local messages = type(value) == "table" and value.messages
  if type(messages) ~= "table" then return 0, 0 end
  for _, message in ipairs(messages) do
    local content = type(message) == "table" and message.content
    if type(content) == "table" then
      for _, part in ipairs(content) do
        local audio = type(part) == "table" and part.input_audio
        if type(audio) == "table" and type(audio.data) == "string" then
          b64 = b64 + #audio.data
          seconds = seconds + audio_seconds(#audio.data * 3 / 4, audio.format)
        end
      end
    end
  end
  return seconds, b64
end

local function output_limit(value)
  if type(value) ~= "table" then return 0 end
  local limit = value.max_completion_tokens or value.max_tokens or value.max_output_tokens
  return type(limit) == "number" and limit or 0
end

--- The tokens a request is charged before it is sent (see the top).
--- op is what the kind built; body the encoded request body (or nil).
function limiter.estimate(op, body)
  local text_bytes, seconds = 0, 0
  if op.multipart then
    for _, part in ipairs(op.multipart) do
      local format = (part.filename or part.path or ""):match("%.(%w+)$")
      if part.filename or part.path then
        seconds = seconds + audio_seconds(part.data and #part.data or file_size(part.path), format)
      else
        text_bytes = text_bytes + #(part.data or "")
      end
    end
  elseif body then
    local audio_seconds_in_json, b64 = json_audio(op.json)
    seconds = audio_seconds_in_json
    text_bytes = #body - b64
  end
  local tokens = text_bytes / TEXT_BYTES_PER_TOKEN + seconds * AUDIO_TOKENS_PER_SECOND + output_limit(op.json)
  return math.ceil(tokens)
end

-- A bucket: rate per second (nil: unlimited), level now, refilled up to capacity.
local function bucket()
  return { level = 0 }
end

local function refill(b, now)
  if b.rate then
    b.level = math.min(b.capacity, b.level + (now - b.stamp) * b.rate)
  end
  b.stamp = now
end

-- Seconds until b can give `need` (at most its capacity), 0 when it can now.
local function wait_for(b, need)
  if not b.rate then return 0 end
  need = math.min(need, b.capacity)
  if b.level >= need - EPSILON then return 0 end
  return (need - b.level) / b.rate
end

--- A limiter on a Scheduler (its clock and timers); limits = {rpm =, tpm =}
--- (each optional: nil does not limit); store: where rpm and tpm are kept
--- when shared (nil: here); log(level, message) for a store's failures.
function limiter.new(sched, limits, store, log)
  if store ~= nil and (type(store) ~= "table" or type(store.reserve) ~= "function") then
    error("gptaudio.new: limit_store must be a limit store (an object with a reserve method)", 3)
  end
  local now = sched:now()
  local self = setmetatable({
    scheduler = sched,
    requests = bucket(), tokens = bucket(),
    restrictions = {}, -- list of {rpm =, tpm =}; the tightest of each applies
    hold_until = now,
    waiting = {}, first = 1, last = 0,
  }, Limiter)
  self.requests.stamp, self.tokens.stamp = now, now
  local base = { rpm = limits and limits.rpm, tpm = limits and limits.tpm }
  if store then
    self.store, self.shared, self.log, self.base = store, base, log, {}
  else
    self.base = base
  end
  self:apply()
  return self
end

local function tightest(self, name)
  local value = self.base[name]
  for _, r in ipairs(self.restrictions) do
    if r[name] and (not value or r[name] < value) then value = r[name] end
  end
  return value
end

local function configure(b, per_minute, now, least_capacity)
  refill(b, now)
  local was_limited = b.rate ~= nil
  if not per_minute then
    b.rate, b.capacity = nil, nil
    return
  end
  b.rate = per_minute / 60
  b.capacity = math.max(least_capacity, b.rate * BURST_SECONDS)
  -- A bucket that starts limiting starts full: the burst an idle job may take.
  b.level = was_limited and math.min(b.level, b.capacity) or b.capacity
end

-- Recomputes the rates from the base limits and the restrictions in force.
function Limiter:apply()
  local now = self.scheduler:now()
  configure(self.requests, tightest(self, "rpm"), now, 1)
  configure(self.tokens, tightest(self, "tpm"), now, 1)
  self:pump()
end

local function lower(a, b)
  if a and b then return math.min(a, b) end
  return a or b
end

--- The limits in force now: rpm, tpm (nil: not limited).
function Limiter:limits()
  local shared = self.shared or {}
  return lower(tightest(self, "rpm"), shared.rpm), lower(tightest(self, "tpm"), shared.tpm)
end

--- Tightens the limits ({rpm =, tpm =}) until the returned function is called.
function Limiter:restrict(limits)
  local entry = { rpm = limits.rpm, tpm = limits.tpm }
  self.restrictions[#self.restrictions + 1] = entry
  self:apply()
  return function()
    for i, r in ipairs(self.restrictions) do
      if r == entry then
        table.remove(self.restrictions, i)
        self:apply()
        return
      end
    end
  end
end

--- Seconds until a request of `tokens` could start, counting holds (0: now).
function Limiter:delay(tokens)
  local now = self.scheduler:now()
  refill(self.requests, now)
  refill(self.tokens, now)
  return math.max(self.hold_until - now, wait_for(self.requests, 1), wait_for(self.tokens, tokens))
end

local function take(self, tokens)
  if self.requests.rate then self.requests.level = self.requests.level - 1 end
  if self.tokens.rate then self.tokens.level = self.tokens.level - tokens end
end

-- Admits the waiters at the head that may start now; arms one timer for the
-- next one.
function Limiter:pump()
  if self.timer then
    self.timer:cancel()
    self.timer = nil
  end
  while self.first <= self.last do
    local waiter = self.waiting[self.first]
    if not waiter.gone then
      local delay = self:delay(waiter.tokens)
      if delay > 0 then
        self.timer = self.scheduler:after(delay, function()
          self.timer = nil
          self:pump()
        end)
        return
      end
      take(self, waiter.tokens)
      waiter.admitted = true
      self.scheduler:wake(waiter.task)
    end
    self.waiting[self.first] = nil
    self.first = self.first + 1
  end
end

--- Waits (from a task) until one request of `tokens` may start, and charges
--- it. gone() is asked after each wake: true gives up the place (a cancelled
--- request); admit then returns false.
function Limiter:admit(tokens, gone)
  local task = scheduler.current()
  if not task then error("gptaudio: only a task can wait for the rate limiter", 2) end
  local waiter = { task = task, tokens = tokens }
  self.last = self.last + 1
  self.waiting[self.last] = waiter
  self:pump()
  while not waiter.admitted do
    if gone() then
      waiter.gone = true
      self:pump()
      return false
    end
    scheduler.suspend()
  end
  if self.store then return self:reserve_shared(tokens, gone) end
  return true
end

-- The store's part of admit: one reservation per shared bucket (all sent at
-- once), then the longest of their waits.
function Limiter:reserve_shared(tokens, gone)
  local per_second = function(per_minute) return per_minute / 60 end
  local wanted = {}
  if self.shared.rpm then
    local rate = per_second(self.shared.rpm)
    wanted[#wanted + 1] = { "requests", rate, math.max(1, rate * BURST_SECONDS), 1 }
  end
  if self.shared.tpm and tokens > 0 then
    local rate = per_second(self.shared.tpm)
    wanted[#wanted + 1] = { "tokens", rate, math.max(tokens, rate * BURST_SECONDS), tokens }
  end
  local task, pending, longest = scheduler.current(), #wanted, 0
  for _, w in ipairs(wanted) do
    self.store:reserve(w[1], w[2], w[3], w[4], function(seconds, err)
      if seconds then
        longest = math.max(longest, seconds)
      elseif self.log then
        self.log("warn", "rate limit store: " .. tostring(err) .. " (the request goes unpaced)")
      end
      pending = pending - 1
      if pending == 0 then self.scheduler:wake(task) end
    end)
  end
  while pending > 0 do scheduler.suspend() end
  if longest <= 0 then return true end
  return self.scheduler:sleep(longest, gone)
end

--- Corrects the token bucket once the real use of a request is known.
function Limiter:settle(estimated, actual)
  if not self.tokens.rate or type(actual) ~= "number" then return end
  refill(self.tokens, self.scheduler:now())
  self.tokens.level = math.min(self.tokens.capacity, self.tokens.level + estimated - actual)
  self:pump()
end

--- Nobody starts for `seconds`; both buckets restart empty (a 429).
function Limiter:hold(seconds)
  local now = self.scheduler:now()
  self.hold_until = math.max(self.hold_until, now + seconds)
  for _, b in ipairs{ self.requests, self.tokens } do
    refill(b, now)
    -- Empty when the hold ends: it refills meanwhile from below zero.
    if b.rate then b.level = math.min(b.level, -b.rate * (self.hold_until - now)) end
  end
  self:pump()
end

local function tighten(self, b, remaining, reset)
  remaining = tonumber(remaining)
  if not remaining then return end
  local now = self.scheduler:now()
  refill(b, now)
  if b.rate then b.level = math.min(b.level, remaining) end
  local seconds = limiter.duration(reset)
  if remaining < 1 and seconds then self.hold_until = math.max(self.hold_until, now + seconds) end
end

--- Reads the x-ratelimit-* headers of a response (names lower-case).
function Limiter:observe(headers)
  if type(headers) ~= "table" then return end
  tighten(self, self.requests, headers["x-ratelimit-remaining-requests"], headers["x-ratelimit-reset-requests"])
  tighten(self, self.tokens, headers["x-ratelimit-remaining-tokens"], headers["x-ratelimit-reset-tokens"])
  self:pump()
end

function Limiter:__tostring()
  local rpm, tpm = self:limits()
  return ("gptaudio.Limiter(rpm %s, tpm %s)"):format(tostring(rpm or "unlimited"), tostring(tpm or "unlimited"))
end

return limiter
