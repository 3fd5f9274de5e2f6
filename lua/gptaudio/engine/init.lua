-- gptaudio.engine: the one thing that waits. An Engine owns one transport
-- (core.transport(): one curl multi handle, one epoll fd, its connection
-- cache), the scheduler's timers, and the requests in flight of every client
-- made on it. Clients are configuration; they all drive the same engine, so
-- a task may await requests of several clients and connections to one host
-- are reused across clients.
--
--   local engine = require "gptaudio.engine"
--   local e = engine.new()            -- or engine.default(): one per Lua state, made on first use
--   local a = gptaudio.new{ engine = e, ... }
--   e:step(timeout) -> active, e:pollfd(), e:events(), e:timeout(), e:active(), e:close()
--
-- Invariants: step is never re-entered (not from a task, not from a
-- callback); tasks are resumed only from step or from the attached loop's
-- `schedule`, never nested inside one another for a hand-over; blocking (a
-- call outside any task) means stepping this engine until the awaited thing
-- ends, and raises only where nothing could drive it: an attached loop that
-- must not block, or nothing left in flight that could end it.
--
-- A host loop attaches once per engine with engine:attach_loop(loop), loop = {
--   schedule = fn(callback, task)  resume tasks later, from the loop (vim.schedule), or nil
--   route = fn(task) -> fn(callback) | nil   resume this task later elsewhere (the
--                                  OpenResty handler that waits on its request), or nil
--   wakeup = fn()                  the work changed outside step: re-arm the loop's wait
--   block = fn(waitable)           how a call outside a task waits; nil: such a call
--                                  raises "call this from gptaudio.spawn"
--   detach = fn()                  called by engine:close() }
-- and leaves with engine:detach_loop(loop). See gptaudio.loop.uv and gptaudio.loop.ngx.
local core = require "gptaudio.core"
local check = require "gptaudio.check"
local scheduler = require "gptaudio.engine.scheduler"
local protected = require "gptaudio.engine.protect" -- pcall that may wait inside, on every Lua

local engine = {}

local Engine = { __name = "gptaudio.Engine" }
Engine.__index = Engine
engine.Engine = Engine

local REENTRANT = "gptaudio: %s is not re-entrant: do not call it from a task or a callback"
local CALL_FROM_SPAWN = "gptaudio: call this from gptaudio.spawn: a call outside a task would block the event loop"
local CLOSED = "gptaudio: the engine is closed"
-- How long a blocking call lets one step wait at most; steps return at once on activity.
local BLOCKING_STEP = 1
-- (Clients of another engine are "another client" here: this engine does not drive them.)
local NEVER_ENDS = "gptaudio: this call waits on work its client does not drive (a request of another client,"
  .. " or a task that yields by itself): it could never end"

--- A new engine. opts.clock: the scheduler's clock (seconds as a float; default core.now).
function engine.new(opts)
  opts = check.value("engine.new", "opts", opts, "table", true) or {}
  check.known("engine.new", opts, { clock = true }, "option")
  check.value("engine.new", "clock", opts.clock, "function", true)
  local self = setmetatable({
    transport = assert(core.transport()),
    transfers = {}, -- Transfer -> Request
    live = {}, live_count = 0,
  }, Engine)
  self.scheduler = scheduler.new{ clock = opts.clock, on_timer = function() self:poke() end }
  return self
end

local default

--- The default engine of this Lua state, made on first use (again after it was closed).
function engine.default()
  if not default or default.closed then default = engine.new() end
  return default
end

--- Whether value is an Engine.
function engine.is_engine(value)
  return getmetatable(value) == Engine
end

function Engine:__tostring()
  return ("gptaudio.Engine(%s, %d active)"):format(self.closed and "closed" or "open", self.live_count)
end

function Engine:check_open()
  if self.closed then error(CLOSED, 0) end
end

--- Raises when a call outside any task cannot wait here (where names the caller).
function Engine:check_may_block(where)
  self:check_open()
  if self.loop and not self.loop.block then error(CALL_FROM_SPAWN, 0) end
  if self.stepping then error(REENTRANT:format(where or "step"), 0) end
end

--- Outside any task: waits until waitable:ended() (waitable.cancel, when
--- present, is how a host loop gives up on it), through the attached loop's
--- block, or by stepping here.
function Engine:block(waitable, where)
  self:check_may_block(where)
  if self.loop then return self.loop.block(waitable) end
  while not waitable:ended() do
    self:drive_step(BLOCKING_STEP, where)
    if not waitable:ended() and self.transport:active() == 0 and not self.scheduler:timeout() then
      error(NEVER_ENDS, 0) -- step would return at once for ever: a spin, not a wait
    end
  end
end

local pack = table.pack or function(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack

--- Runs fn(...) to its end and returns what it returns: directly inside a
--- task; outside one, as a task while the engine is driven until it ends
--- (cancel(), when given, is how a host loop that gives up stops it). What fn
--- raises is raised here. This is the one place where "block outside a task" lives.
function Engine:run(fn, cancel, ...)
  if scheduler.current() then return fn(...) end
  self:check_may_block()
  local outcome
  local args = pack(...)
  scheduler.spawn(function() outcome = pack(protected(fn, unpack(args, 1, args.n))) end)
  self:block({ ended = function() return outcome ~= nil end, cancel = cancel })
  if not outcome[1] then error(outcome[2], 0) end
  return unpack(outcome, 2, outcome.n)
end

--- A request in flight (queued, running or waiting for a retry) counts in active().
function Engine:track(req)
  if self.live[req] then return end
  self.live[req] = true
  self.live_count = self.live_count + 1
end

function Engine:forget(req)
  if self.live[req] then
    self.live[req] = nil
    self.live_count = self.live_count - 1
    self:poke()
  end
end

--- Adds req's transfer (spec as core transport:add takes it); nil, err when
--- the transport refuses it.
function Engine:add(req, spec)
  local transfer, err = self.transport:add(spec)
  if not transfer then return nil, err end
  self.transfers[transfer] = req
  self:poke()
  return transfer
end

--- Takes a transfer out of the transport (cancelled when still running).
function Engine:remove(transfer, running)
  self.transfers[transfer] = nil
  if running then transfer:cancel() end
end

--- How many requests are in flight: what step returns.
function Engine:active()
  return self.live_count
end

--- Tells the attached loop that the work changed outside step.
function Engine:poke()
  if self.loop and self.loop.wakeup and not self.stepping then self.loop.wakeup() end
end

-- Hands each event to its request and wakes each request's task once.
local function dispatch(self, events)
  local woken, order = {}, {}
  for _, ev in ipairs(events) do
    local req = self.transfers[ev.transfer]
    if req then
      req.inbox[#req.inbox + 1] = ev
      if not woken[req] then
        woken[req] = true
        order[#order + 1] = req
      end
    end
  end
  for _, req in ipairs(order) do req:wake() end
end

local function drive(self, wait)
  self.scheduler:fire_due()
  local timer = self.scheduler:timeout()
  if timer then
    wait = math.min(wait, timer)
  elseif self.transport:active() == 0 then
    -- No transfer and no timer: nothing could end the wait but its own end.
    wait = 0
  end
  if self.closed then return end
  dispatch(self, self.transport:step(wait))
  if self.closed then return end
  self.scheduler:fire_due()
end

--- step with the caller's name in its messages (client:step, gptaudio.step).
function Engine:drive_step(timeout, where)
  where = where or "engine:step"
  self:check_open()
  check.value(where, "timeout", timeout, "non-negative number", true)
  if self.stepping or scheduler.current() then error(REENTRANT:format(where), 0) end
  self.stepping = true
  local ok, err = pcall(drive, self, timeout or 0)
  self.stepping = false
  if not ok then error(err, 0) end
  return self.live_count
end

--- Drives transfers, resumes tasks, fires due timers; waits up to timeout
--- seconds (default 0) for something to happen, never past the next timer,
--- and not at all when nothing is in flight. Returns how many requests are
--- still active. Not re-entrant.
function Engine:step(timeout)
  return self:drive_step(timeout, "engine:step")
end

--- The fd to wait on (readable when the transport has work), or nil where
--- the platform has no epoll.
function Engine:pollfd()
  self:check_open()
  return self.transport:pollfd()
end

--- cqueues style: wait for the pollfd to become readable.
function Engine.events(_)
  return "r"
end

--- Seconds until step has something to do (0: now): the earliest of the
--- transport's deadline and the scheduler's timers; nil when nothing is pending.
function Engine:timeout()
  self:check_open()
  local transfers, timers = self.transport:timeout(), self.scheduler:timeout()
  if transfers and timers then return math.min(transfers, timers) end
  return transfers or timers
end

--- Attaches a host loop (see the top); one per engine.
function Engine:attach_loop(loop)
  self:check_open()
  check.value("engine:attach_loop", "loop", loop, "table")
  if self.loop then error("gptaudio: this engine already has an event loop attached", 0) end
  self.loop = loop
  self.scheduler.schedule, self.scheduler.route = loop.schedule, loop.route
end

--- Detaches loop when it is the one attached.
function Engine:detach_loop(loop)
  if self.loop ~= loop then return end
  self.loop = nil
  self.scheduler.schedule, self.scheduler.route = nil, nil
end

--- Cancels every request of every client on it, frees the transport, detaches
--- the loop. Later calls raise; closing again does nothing.
function Engine:close()
  if self.closed then return end
  local live = {}
  for req in pairs(self.live) do live[#live + 1] = req end
  for _, req in ipairs(live) do req:cancel() end
  self.closed = true
  self.transport:close()
  local loop = self.loop
  self.loop = nil
  if loop and loop.detach then loop.detach() end
end

Engine.__close = Engine.close

return engine
