-- The limit store of many machines on one API key: buckets in Redis, each
-- reservation one atomic script run inside Redis on Redis's own clock
-- (bucket.REDIS_SCRIPT), so every nginx, worker or process that uses the same
-- Redis and key prefix draws on one rate.
--
--   gptaudio.new{ rpm = 500, limit_store = require("gptaudio.limiter.redis").new{
--     host = "127.0.0.1", port = 6379, prefix = "gptaudio:acme:" } }
--
-- In OpenResty it talks through lua-resty-redis (Debian's lua-nginx-redis:
-- nginx.redis, or resty.redis), from a zero-delay ngx.timer (cosockets cannot
-- run inside gptaudio's tasks), keeping connections alive in nginx's pool:
-- the worker never waits. Elsewhere it uses redis-lua (Debian's lua-redis,
-- Lua 5.1-5.3), whose round trip blocks for as long as Redis takes to answer
-- (well under a millisecond on a local network). When Redis cannot be reached
-- the reservation fails and the limiter lets the request go (and says so in
-- the client's log): a limit store never stops the traffic.
-- luacheck: read globals ngx
local bucket = require "gptaudio.limiter.bucket"

local redis_store = {}

local TIMEOUT_MS = 1000
local POOL_SIZE = 16
local KEEPALIVE_MS = 60000

local Store = { __name = "gptaudio.limiter.Redis" }
Store.__index = Store

local function in_openresty()
  return type(rawget(_G, "ngx")) == "table" and type(ngx.timer) == "table"
end

local function resty_redis()
  local found, module = pcall(require, "resty.redis")
  if found then return module end
  return require "nginx.redis"
end

--- opts: host (default 127.0.0.1), port (6379), password, db, prefix ("gptaudio:").
function redis_store.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error("bad argument #1 to 'redis.new' (table expected, got " .. type(opts) .. ")", 2)
  end
  for _, name in ipairs{ "host", "password", "prefix" } do
    if opts[name] ~= nil and type(opts[name]) ~= "string" then
      error(("bad argument #1 to 'redis.new' (%s must be a string)"):format(name), 2)
    end
  end
  for _, name in ipairs{ "port", "db" } do
    local v = opts[name]
    if v ~= nil and (type(v) ~= "number" or v % 1 ~= 0 or v < 0 or v > 65535) then
      error(("bad argument #1 to 'redis.new' (%s must be an integer from 0 to 65535)"):format(name), 2)
    end
  end
  return setmetatable({ host = opts.host or "127.0.0.1", port = opts.port or 6379, password = opts.password,
                        db = opts.db, prefix = opts.prefix or "gptaudio:" }, Store)
end

-- EVALSHA of the script, loading it when Redis does not know it yet.
local function run_script(self, conn, key, rate, burst, amount)
  if not self.sha then
    local sha, err = conn:script("load", bucket.REDIS_SCRIPT)
    if not sha then return nil, err end
    self.sha = sha
  end
  local wait, err = conn:evalsha(self.sha, 1, key, rate, burst, amount)
  if not wait and tostring(err):find("NOSCRIPT", 1, true) then
    self.sha = nil
    return run_script(self, conn, key, rate, burst, amount)
  end
  return tonumber(wait), err
end

local function reserve_openresty(self, key, rate, burst, amount)
  local conn = resty_redis():new()
  conn:set_timeout(TIMEOUT_MS)
  local ok, err = conn:connect(self.host, self.port)
  if not ok then return nil, "redis: " .. tostring(err) end
  if self.password and conn:get_reused_times() == 0 then
    ok, err = conn:auth(self.password)
    if not ok then return nil, "redis: " .. tostring(err) end
  end
  if self.db then conn:select(self.db) end
  local wait
  wait, err = run_script(self, conn, key, rate, burst, amount)
  conn:set_keepalive(KEEPALIVE_MS, POOL_SIZE)
  if not wait then return nil, "redis: " .. tostring(err) end
  return wait
end

local function reserve_blocking(self, key, rate, burst, amount)
  if not self.conn then
    local ok, conn = pcall(function() return require("redis").connect(self.host, self.port) end)
    if not ok then return nil, "redis: " .. tostring(conn) end
    if self.password then conn:auth(self.password) end
    if self.db then conn:select(self.db) end
    self.conn = conn
  end
  local ok, wait = pcall(self.conn.eval, self.conn, bucket.REDIS_SCRIPT, 1, key, rate, burst, amount)
  if not ok then
    self.conn = nil
    return nil, "redis: " .. tostring(wait)
  end
  return tonumber(wait)
end

--- The store interface (see memory.lua).
function Store:reserve(name, rate, burst, amount, done)
  local key = self.prefix .. name
  if not in_openresty() then return done(reserve_blocking(self, key, rate, burst, amount)) end
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return done(nil, "redis: nginx is exiting") end
    done(reserve_openresty(self, key, rate, burst, amount))
  end)
  if not ok then done(nil, "redis: " .. tostring(err)) end
end

return redis_store
