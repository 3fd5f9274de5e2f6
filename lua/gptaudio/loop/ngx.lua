-- Drives an engine (every client on it) from OpenResty (nginx with its Lua
-- module), in the worker that made it. Attach once per engine and worker:
--
--   local ngx_loop = require "gptaudio.loop.ngx"
--   ngx_loop.attach()                                -- the default engine, once, in the worker
--   local tr, err = client:transcribe(audio, opts)   -- in a handler: suspends this nginx request only
--   client:chat{ ..., stream = true, on_event = function(ev) ngx.print(ev.text or "") ngx.flush() end }
--   local events, req = ngx_loop.stream(client, "speak", text, opts)
--   for ev in events do ngx.print(...) ngx.flush(true) end   -- the iterator form
--   local sp, err = req:result()
--
-- attach(engine) attaches another engine; attach(client) attaches the
-- client's engine (deprecated: kept for one release; closing that client
-- detaches it).
--
-- The driver is one light thread (ngx.timer.at) per attached engine, running
-- while the engine has work: it steps the engine with step(0), then waits.
-- nginx's Lua API cannot wait on a file descriptor it does not own (the
-- engine's epoll fd), so a helper thread in C (core.wakeup, src/wakeup.c)
-- waits on it and writes a byte to a unix socket that the driver's cosocket
-- reads: a transfer's progress reaches the driver at once, and nothing runs
-- while nothing happens. Without the helper (no epoll, or it could not
-- start: logged) the driver polls every POLL while transfers run. New work
-- (a request added, a timer set) cuts the wait short at once. The driver ends
-- when nothing is pending (the next request starts it again), when the worker
-- exits (ngx.worker.exiting()), on detach and on engine:close().
--
-- A call outside a task (in a handler, or in a timer of your own) waits on an
-- ngx.semaphore that the driver posts: it suspends that nginx request, never
-- the worker. Its request's task is resumed there, in the handler's own
-- context, not in the driver's timer: the driver queues each resumption and
-- posts the semaphore, and the handler runs it. So its on_event runs in the
-- handler and may call ngx.print and ngx.flush() (ngx.flush(true) would yield
-- the request's task to nginx: use stream() for that). When the worker exits
-- or the handle is detached, such a wait cancels its request (type
-- "cancelled") rather than hang: nothing would drive it any more.
--
-- Tasks (gptaudio.spawn), and requests started inside them, run inside the
-- driver's timer, not in any nginx request: ngx.print, ngx.flush and ngx.req
-- are not theirs to call. stream() carries a streamed call's events over to
-- the handler: they queue up, and the handler's iterator waits on a semaphore
-- for each.
--
-- Make engines and clients per worker, in init_worker_by_lua or lazily in a
-- handler, never in init_by_lua: the master would fork one transport (one curl
-- multi handle, one epoll fd) into every worker. attach raises in the init phase.
-- luacheck: read globals ngx
local check = require "gptaudio.check"
local core = require "gptaudio.core"
local engine = require "gptaudio.engine"
local semaphore = require "ngx.semaphore"

local ngx_loop = {}

-- The longest the driver sleeps while transfers run when it has to poll (no
-- wake-up helper): the latency of polling.
local POLL = 0.001
-- How often a waiting handler looks again on its own, in case nothing posts
-- its semaphore (the worker began exiting before the driver ran).
local RECHECK = 1

local attached = setmetatable({}, { __mode = "k" }) -- engine -> Handle

local pack = table.pack or function(...) return { n = select("#", ...), ... } end

-- A FIFO of events or resumptions.
local function queue()
  return { first = 1, last = 0 }
end

local function push(q, item)
  q.last = q.last + 1
  q[q.last] = item
end

local function pop(q)
  if q.first > q.last then return nil end
  local item = q[q.first]
  q[q.first] = nil
  q.first = q.first + 1
  return item
end

local Handle = { __name = "gptaudio.loop.ngx.Handle" }
Handle.__index = Handle

-- The driver's own steps, kept off the handle's methods.
local stopped, notify, wait, wakeup, route, block

function Handle:__tostring()
  return "gptaudio.loop.ngx.Handle(" .. (self.detached and "detached" or "attached") .. ")"
end

-- Nothing drives the engine from here any more.
function stopped(self)
  return self.detached or self.engine.closed or ngx.worker.exiting()
end

-- Posts the semaphore of every wait whose request has ended; after a stop,
-- every wait's, so that each cancels its request.
function notify(self)
  local all = stopped(self)
  for req, sema in pairs(self.watchers) do
    if all or req:ended() then
      self.watchers[req] = nil
      sema:post(1)
    end
  end
end

-- Waits in the current nginx request (or timer) until req ends or sema is
-- posted; cancels req when nothing drives it any more.
function wait(self, req, sema)
  if stopped(self) then
    if req.cancel then req:cancel() end
    return
  end
  -- A driver that failed is started again by the next wait.
  if not self.running then wakeup(self) end
  self.watchers[req] = sema
  sema:wait(RECHECK)
  self.watchers[req] = nil
end

-- A cosocket on the wake-up helper (core.wakeup: a thread that waits on the
-- engine's epoll fd and writes a byte when it turns readable), or nil where
-- there can be none (no epoll, the helper failed): then the driver polls.
local function watch(self)
  if self.polling then return nil end
  if not self.helper then
    local fd = self.engine:pollfd()
    local helper, err = nil, "no epoll fd"
    if fd then helper, err = core.wakeup(fd) end
    if not helper then
      self.polling = true
      ngx.log(ngx.WARN, "gptaudio: no wake-up helper, the driver polls: ", tostring(err))
      return nil
    end
    self.helper = helper
  end
  local sock = ngx.socket.tcp()
  local ok, err = sock:connect("unix:" .. self.helper:path())
  if not ok then
    self.polling = true
    ngx.log(ngx.WARN, "gptaudio: cannot reach the wake-up helper, the driver polls: ", tostring(err))
    return nil
  end
  return sock
end

-- Waits on the helper until the engine's fd is readable, a poke, or seconds
-- pass; false when the helper is lost.
local function wait_for_fd(sock, seconds)
  sock:settimeout(math.max(1, math.ceil(seconds * 1000)))
  local sent = sock:send("a")
  if not sent then return false end
  local _, err = sock:receive(1)
  return err == nil or err == "timeout"
end

local function run(self)
  local driven = self.engine
  local sock = watch(self)
  while not stopped(self) do
    driven:step(0)
    notify(self)
    local sleep = driven:timeout()
    if sleep == nil and driven:active() == 0 then break end
    local transfers = driven.transport:active() > 0
    if sleep == 0 then
      ngx.sleep(0)
    elseif transfers and sock then
      if not wait_for_fd(sock, math.min(sleep or RECHECK, RECHECK)) then
        sock:close()
        sock = nil
        self.polling = true
      end
    else
      if transfers then sleep = math.min(sleep or POLL, POLL) end
      if sleep == nil then break end -- requests wait on something outside the engine (a handler)
      self.alarm:wait(sleep)
    end
  end
  if sock then sock:close() end
end

local function drive(premature, self)
  if not premature then
    local ok, err = pcall(run, self)
    if not ok then ngx.log(ngx.ERR, "gptaudio: the ngx driver stopped: ", tostring(err)) end
  end
  self.running = false
  notify(self) -- after a stop, the waits cancel their requests now
end

-- The work changed outside step: start the driver, or end its sleep now.
function wakeup(self)
  notify(self)
  if stopped(self) then return end
  if self.running then
    if self.alarm:count() < 0 then self.alarm:post(1) end
    if self.helper then self.helper:poke() end
    return
  end
  local ok, err = ngx.timer.at(0, drive, self)
  if ok then
    self.running = true
  else
    ngx.log(ngx.ERR, "gptaudio: cannot start the ngx driver: ", err)
  end
end

-- Where a task's resumption runs: in the handler blocked on its request
-- (queued there, the handler's semaphore posted), else here and now.
function route(self, task)
  local home = self.homes[task]
  if not home then return nil end
  return function(resumption)
    push(home.resumptions, resumption)
    home.sema:post(1)
  end
end

-- How a call outside a task waits: on a semaphore, in its own nginx request,
-- running its request's resumptions there.
function block(self, waitable)
  local home = { resumptions = queue(), sema = semaphore.new() }
  local task = waitable.task
  if task then self.homes[task] = home end
  local ok, err = pcall(function()
    while not waitable:ended() do
      local resumption = pop(home.resumptions)
      if resumption then resumption() else wait(self, waitable, home.sema) end
    end
  end)
  if task then self.homes[task] = nil end
  if not ok then error(err, 0) end
end

--- Stops driving the engine. Calls still waiting in handlers are cancelled.
function Handle:detach()
  if self.detached then return end
  self.detached = true
  attached[self.engine] = nil
  self.engine:detach_loop(self.loop)
  notify(self)
  if self.alarm:count() < 0 then self.alarm:post(1) end
  if self.helper then
    self.helper:close() -- a driver waiting on it wakes with the connection closed
    self.helper = nil
  end
end

-- The engine that target names: nil is the default engine; a client (the
-- form before engines; deprecated) is its engine, attached through it so that
-- closing the client detaches.
local function engine_of(target)
  if target == nil then return engine.default() end
  if engine.is_engine(target) then return target end
  check.value("loop.ngx.attach", "client", target, "table")
  if not engine.is_engine(target.engine) then
    error("loop.ngx.attach: 'client' must be a gptaudio client or engine", 0)
  end
  return target.engine, target
end

--- Attaches the engine (nil: the default engine; a client: its engine,
--- deprecated) to this worker's event loop, once for all the clients on it.
function ngx_loop.attach(target)
  if ngx.get_phase() == "init" then
    error("loop.ngx.attach: make the client in each worker (init_worker_by_lua or a handler), "
          .. "not in init_by_lua: the workers would share its transfers", 2)
  end
  local driven, through = engine_of(target)
  local self = setmetatable({ engine = driven, watchers = {}, homes = setmetatable({}, { __mode = "k" }),
                              alarm = semaphore.new(), running = false }, Handle)
  self.loop = {
    wakeup = function() wakeup(self) end,
    block = function(waitable) block(self, waitable) end,
    route = function(task) return route(self, task) end,
    detach = function() self:detach() end,
  }
  -- raises when another loop is attached: nothing runs yet
  if through then through:attach_loop(self.loop) else driven:attach_loop(self.loop) end
  attached[driven] = self
  if driven:active() > 0 or driven:timeout() then wakeup(self) end
  return self
end

--- Starts a streamed call (client:start(kind, ..., opts) with stream = true)
--- and returns an iterator of its events for the handler's own context, and
--- the Request (its result once the iterator has ended). opts, the call's
--- last argument, is required and takes no on_event: the iterator has them.
function ngx_loop.stream(client, kind, ...)
  check.value("loop.ngx.stream", "client", client, "table")
  local self = attached[client.engine]
  if not self then error("loop.ngx.stream: the client's engine is not attached (loop.ngx.attach)", 2) end
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
      wait(self, req, sema)
    end
  end, req
end

return ngx_loop
