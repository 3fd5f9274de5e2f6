-- Drives a client from OpenResty (nginx with its Lua module), in the worker
-- that made the client.
--
--   local ngx_loop = require "gptaudio.loop.ngx"
--   local handle = ngx_loop.attach(client)         -- once, in the worker
--   local tr, err = client:transcribe(audio, opts)  -- in a handler: suspends this nginx request only
--   local events, req = ngx_loop.stream(client, "speak", text, opts)
--   for ev in events do ngx.print(...) ngx.flush(true) end   -- the events, in the handler's context
--   local sp, err = req:result()
--
-- The driver is one light thread (ngx.timer.at) per attached client, running
-- while the client has work: it steps the client with step(0), then sleeps
-- until client:timeout(), never longer than MAX_SLEEP. It polls because the
-- Lua API of nginx cannot wait on a file descriptor it does not own (the
-- client's epoll fd), so a transfer's progress is seen at most MAX_SLEEP late;
-- new work (a request added, a timer set) cuts the sleep short at once. The
-- driver ends when nothing is pending (the next request starts it again), when
-- the worker exits (ngx.worker.exiting()), on detach and on client:close().
--
-- A call outside a task (in a handler, or in a timer of your own) waits on an
-- ngx.semaphore that the driver posts when the request ends: it suspends that
-- nginx request, never the worker. When the worker exits or the handle is
-- detached, such a wait cancels its request (type "cancelled") rather than
-- hang: nothing would drive it any more.
--
-- Tasks (gptaudio.spawn) and on_event callbacks run inside the driver's timer,
-- not in any nginx request: ngx.print, ngx.flush and ngx.req are not theirs to
-- call. stream() carries a streamed call's events over to the handler: they
-- queue up, and the handler's iterator waits on a semaphore for each.
--
-- Make clients per worker, in init_worker_by_lua or lazily in a handler, never
-- in init_by_lua: the master would fork one transport (one curl multi handle,
-- one epoll fd) into every worker. attach raises in the init phase.
-- luacheck: read globals ngx
local check = require "gptaudio.check"
local semaphore = require "ngx.semaphore"

local ngx_loop = {}

-- The longest the driver sleeps while transfers run: the latency of polling.
local MAX_SLEEP = 0.05
-- The shortest: a sleep of 0 would not yield to nginx.
local MIN_SLEEP = 0.001
-- How often a waiting handler looks again on its own, in case nothing posts
-- its semaphore (the worker began exiting before the driver ran).
local RECHECK = 1

local attached = setmetatable({}, { __mode = "k" }) -- client -> Handle

local pack = table.pack or function(...) return { n = select("#", ...), ... } end

local Handle = { __name = "gptaudio.loop.ngx.Handle" }
Handle.__index = Handle

function Handle:__tostring()
  return "gptaudio.loop.ngx.Handle(" .. (self.detached and "detached" or "attached") .. ")"
end

-- Nothing drives the client from here any more.
function Handle:stopped()
  return self.detached or self.client.closed or ngx.worker.exiting()
end

-- Posts the semaphore of every wait whose request has ended; after a stop,
-- every wait's, so that each cancels its request.
function Handle:notify()
  local stopped = self:stopped()
  for req, sema in pairs(self.watchers) do
    if stopped or req:ended() then
      self.watchers[req] = nil
      sema:post(1)
    end
  end
end

-- Waits in the current nginx request (or timer) until req ends or sema is
-- posted; cancels req when nothing drives it any more.
function Handle:wait(req, sema)
  if self:stopped() then
    req:cancel()
    return
  end
  -- A driver that failed is started again by the next wait.
  if not self.running then self:wakeup() end
  self.watchers[req] = sema
  sema:wait(RECHECK)
  self.watchers[req] = nil
end

local function run(self)
  local client = self.client
  while not self:stopped() do
    client:step(0)
    self:notify()
    local wait = client:timeout()
    if wait == nil and client:active() == 0 then return end
    self.alarm:wait(math.max(MIN_SLEEP, math.min(wait or MAX_SLEEP, MAX_SLEEP)))
  end
end

local function drive(premature, self)
  if not premature then
    local ok, err = pcall(run, self)
    if not ok then ngx.log(ngx.ERR, "gptaudio: the ngx driver stopped: ", tostring(err)) end
  end
  self.running = false
  self:notify() -- after a stop, the waits cancel their requests now
end

-- The work changed outside step: start the driver, or end its sleep now.
function Handle:wakeup()
  self:notify()
  if self:stopped() then return end
  if self.running then
    if self.alarm:count() < 0 then self.alarm:post(1) end
    return
  end
  local ok, err = ngx.timer.at(0, drive, self)
  if ok then
    self.running = true
  else
    ngx.log(ngx.ERR, "gptaudio: cannot start the ngx driver: ", err)
  end
end

-- How a call outside a task waits: on a semaphore, in its own nginx request.
function Handle:block(req)
  local sema = semaphore.new()
  while not req:ended() do self:wait(req, sema) end
end

--- Stops driving the client. Calls still waiting in handlers are cancelled.
function Handle:detach()
  if self.detached then return end
  self.detached = true
  attached[self.client] = nil
  self.client:detach_loop(self.loop)
  self:notify()
  if self.alarm:count() < 0 then self.alarm:post(1) end
end

function ngx_loop.attach(client)
  check.value("loop.ngx.attach", "client", client, "table")
  if ngx.get_phase() == "init" then
    error("loop.ngx.attach: make the client in each worker (init_worker_by_lua or a handler), "
          .. "not in init_by_lua: the workers would share its transfers", 2)
  end
  local self = setmetatable({ client = client, watchers = {}, alarm = semaphore.new(), running = false }, Handle)
  self.loop = {
    wakeup = function() self:wakeup() end,
    block = function(req) self:block(req) end,
    detach = function() self:detach() end,
  }
  client:attach_loop(self.loop) -- raises when another loop is attached: nothing runs yet
  attached[client] = self
  if client:active() > 0 or client:timeout() then self:wakeup() end
  return self
end

-- A FIFO of events.
local function queue()
  return { first = 1, last = 0 }
end

local function push(q, ev)
  q.last = q.last + 1
  q[q.last] = ev
end

local function pop(q)
  if q.first > q.last then return nil end
  local ev = q[q.first]
  q[q.first] = nil
  q.first = q.first + 1
  return ev
end

--- Starts a streamed call (client:start(kind, ..., opts) with stream = true)
--- and returns an iterator of its events for the handler's own context, and
--- the Request (its result once the iterator has ended). opts, the call's
--- last argument, is required and takes no on_event: the iterator has them.
function ngx_loop.stream(client, kind, ...)
  local self = attached[client]
  if not self then error("loop.ngx.stream: the client is not attached (loop.ngx.attach)", 2) end
  local args = pack(...)
  local opts = check.value("loop.ngx.stream", "opts (the call's last argument)", args[args.n], "table")
  if opts.on_event ~= nil then error("loop.ngx.stream: 'on_event' must be nil: the iterator gives the events", 2) end
  local events, sema = queue(), semaphore.new()
  local copy = {}
  for name, value in pairs(opts) do copy[name] = value end
  copy.stream = true
  copy.on_event = function(ev)
    push(events, ev)
    sema:post(1)
  end
  args[args.n] = copy
  local req = client:start(kind, (table.unpack or unpack)(args, 1, args.n))
  return function()
    while true do
      local ev = pop(events)
      if ev or req:ended() then return ev end
      self:wait(req, sema)
    end
  end, req
end

return ngx_loop
