-- The limit store of one nginx: buckets in a lua_shared_dict, so that every
-- worker draws on one rate (without it each worker has the whole rate).
--
--   lua_shared_dict gptaudio_limits 1m;     (nginx.conf, http block)
--   gptaudio.new{ rpm = 60, limit_store = require("gptaudio.limiter.shared_dict").new(ngx.shared.gptaudio_limits) }
--
-- A reservation reads and writes a bucket under a lock held in the dict
-- itself (add is atomic); the lock expires by itself if a worker dies holding
-- it. The clock is ngx.now(), which the workers share. Nothing here yields:
-- it runs inside gptaudio's tasks.
-- luacheck: read globals ngx
local bucket = require "gptaudio.limiter.bucket"

local shared_dict = {}

local LOCK_SECONDS = 0.01
local LOCK_TRIES = 10000

local Store = { __name = "gptaudio.limiter.SharedDict" }
Store.__index = Store

--- dict: an ngx.shared.DICT; prefix: for its keys (default "gptaudio:").
function shared_dict.new(dict, prefix)
  if type(dict) ~= "table" or type(dict.add) ~= "function" then
    error("bad argument #1 to 'shared_dict.new' (ngx.shared dict expected, got " .. type(dict) .. ")", 2)
  end
  return setmetatable({ dict = dict, prefix = prefix or "gptaudio:" }, Store)
end

-- Runs fn() holding the bucket's lock; nil, message when the lock stays taken.
local function locked(dict, key, fn)
  for _ = 1, LOCK_TRIES do
    if dict:add(key, true, LOCK_SECONDS) then
      local ok, a, b = pcall(fn)
      dict:delete(key)
      if not ok then return nil, a end
      return a, b
    end
  end
  return nil, "the limit store's lock stayed taken"
end

--- The store interface (see memory.lua).
function Store:reserve(name, rate, burst, amount, done)
  local key = self.prefix .. name
  local dict = self.dict
  local wait, err = locked(dict, key .. ":lock", function()
    ngx.update_time()
    local now = ngx.now()
    local level, seconds = bucket.reserve(dict:get(key .. ":level"), dict:get(key .. ":stamp"), now, rate, burst,
                                          amount)
    local ok, set_err = dict:set(key .. ":level", level)
    if ok then ok, set_err = dict:set(key .. ":stamp", now) end
    if not ok then error("the shared dict refused the bucket: " .. tostring(set_err), 0) end
    return seconds
  end)
  done(wait, err)
end

return shared_dict
