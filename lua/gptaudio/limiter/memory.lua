-- The in-process limit store: buckets in a Lua table, on the core's
-- monotonic clock. One store may be given to several clients of a process
-- (limit_store = store) so that they share one rate.
--
--   local store = require("gptaudio.limiter.memory").new()
--   local a, b = gptaudio.new{ rpm = 60, limit_store = store }, gptaudio.new{ rpm = 60, limit_store = store }
local bucket = require "gptaudio.limiter.bucket"

local memory = {}

local Store = { __name = "gptaudio.limiter.Memory" }
Store.__index = Store

--- clock: seconds as a float (default: core.now).
function memory.new(clock)
  if clock ~= nil and type(clock) ~= "function" then
    error("bad argument #1 to 'memory.new' (function expected, got " .. type(clock) .. ")", 2)
  end
  return setmetatable({ clock = clock or require("gptaudio.core").now, buckets = {} }, Store)
end

--- The store interface: reserves amount on bucket `name` (rate per second,
--- burst at most) and calls done(seconds to wait) or done(nil, message).
function Store:reserve(name, rate, burst, amount, done)
  local b = self.buckets[name] or {}
  local now = self.clock()
  local level, wait = bucket.reserve(b.level, b.stamp, now, rate, burst, amount)
  self.buckets[name] = { level = level, stamp = now }
  done(wait)
end

return memory
