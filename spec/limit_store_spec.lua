-- Shared limits: the limiter keeps rpm/tpm in a store (limiter/memory.lua
-- here, on the test's fake clock) and paces everybody who shares it as one.
-- The nginx shared dict and Redis stores run in spec/openresty_limits_spec.lua.
local scheduler = require "gptaudio.engine.scheduler"
local limiter = require "gptaudio.limiter"
local memory = require "gptaudio.limiter.memory"
local bucket = require "gptaudio.limiter.bucket"

local SLACK = 1e-6

-- Two limiters (two clients, or two workers) on one fake clock sharing one store.
local function pair(limits)
  local clock = { now = 0 }
  local now = function() return clock.now end
  local store = memory.new(now)
  local sched = scheduler.new{ clock = now }
  local admitted = {}
  local limiters = { limiter.new(sched, limits, store), limiter.new(sched, limits, store) }
  local function start(which, count)
    for _ = 1, count do
      scheduler.spawn(function()
        if limiters[which]:admit(1, function() return false end) then
          admitted[#admitted + 1] = { which = which, at = clock.now }
        end
      end)
    end
  end
  local function run()
    while true do
      local wait = sched:timeout()
      if not wait then break end
      clock.now = clock.now + wait
      sched:fire_due()
    end
  end
  return { start = start, run = run, admitted = admitted, limiters = limiters }
end

describe("limiter.bucket.reserve", function()
  it("lets a full bucket's burst through at once, then one per interval, in order of reservation", function()
    local level, stamp, waits = nil, nil, {}
    for i = 1, 4 do
      local wait
      level, wait = bucket.reserve(level, stamp, 0, 1, 2, 1)
      stamp = 0
      waits[i] = wait
    end
    assert.same({ 0, 0, 1, 2 }, waits)
  end)

  it("refills with time, never above the burst", function()
    local level = bucket.reserve(nil, nil, 0, 2, 4, 4)      -- empties the bucket
    local _, wait = bucket.reserve(level, 0, 100, 2, 4, 4)   -- long idle: full again, not more
    assert.equal(0, wait)
    local _, again = bucket.reserve(0, 100, 100, 2, 4, 4)
    assert.equal(2, again)
  end)
end)

describe("a limiter with a limit store", function()
  it("paces two limiters sharing a memory store as one: rpm 60 gives one request a second in all", function()
    local p = pair{ rpm = 60 }
    p.start(1, 3)
    p.start(2, 3)
    p.run()
    local times, by = {}, {}
    for i, a in ipairs(p.admitted) do
      times[i] = a.at
      by[a.which] = (by[a.which] or 0) + 1
    end
    assert.equal(6, #times)
    for i, t in ipairs(times) do
      assert.is_true(math.abs(t - (i - 1)) < SLACK, ("admission %d at %.6f s"):format(i, t))
    end
    assert.same({ 3, 3 }, by)
    assert.same({ 60 }, { (p.limiters[1]:limits()) })
  end)

  it("refuses anything that is not a store, naming the option", function()
    local sched = scheduler.new{ clock = function() return 0 end }
    assert.has_error(function() limiter.new(sched, { rpm = 1 }, {}) end,
                     "gptaudio.new: limit_store must be a limit store (an object with a reserve method)")
    assert.has_error(function() memory.new(1) end, "bad argument #1 to 'memory.new' (function expected, got number)")
  end)

  it("lets the request go when the store fails, and logs why", function()
    local logged = {}
    local failing = { reserve = function(_, _, _, _, _, done) done(nil, "unreachable") end }
    local sched = scheduler.new{ clock = function() return 0 end }
    local l = limiter.new(sched, { rpm = 1 }, failing,
                          function(level, message) logged[#logged + 1] = level .. " " .. message end)
    local went
    scheduler.spawn(function() went = l:admit(1, function() return false end) end)
    assert.is_true(went)
    assert.same({ "warn rate limit store: unreachable (the request goes unpaced)" }, logged)
  end)
end)
