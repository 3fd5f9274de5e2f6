-- One reservation on a shared token bucket, the arithmetic every limit store
-- runs (in a Lua table, in an nginx shared dict, inside Redis as a script):
-- the bucket refills at `rate` per second up to `burst`; a reservation of
-- `amount` always succeeds and may leave the bucket in debt, and says how
-- long its taker waits: until the bucket, refilled, would have held
-- min(amount, burst) before it. Takers are so served in the order they
-- reserved, each at its own time, whichever process or machine they are in.
local bucket = {}

--- level, stamp: the stored state (nil: a new bucket, full); now: the store's clock.
--- Returns the new level and the seconds the taker waits.
function bucket.reserve(level, stamp, now, rate, burst, amount)
  if level == nil then level, stamp = burst, now end
  level = math.min(burst, level + math.max(0, now - stamp) * rate)
  local need = math.min(amount, burst)
  local wait = level >= need and 0 or (need - level) / rate
  return level - amount, wait
end

--- The same function as Redis script source (Redis runs Lua 5.1): KEYS[1] the
--- bucket's hash, ARGV rate, burst, amount; returns the wait as a string
--- (Redis would truncate a number to an integer).
bucket.REDIS_SCRIPT = [[
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, amount = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'level', 'stamp')
local level, stamp = tonumber(state[1]), tonumber(state[2])
if level == nil then level, stamp = burst, now end
level = math.min(burst, level + math.max(0, now - stamp) * rate)
local need = math.min(amount, burst)
local wait = 0
if level < need then wait = (need - level) / rate end
redis.call('HSET', KEYS[1], 'level', tostring(level - amount), 'stamp', tostring(now))
-- an idle bucket is full again after (burst - level) / rate: it may go then
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - level + amount) / rate * 1000) + 1000)
return tostring(wait)
]]

return bucket
