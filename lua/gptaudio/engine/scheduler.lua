-- Tasks and timers: how gptaudio waits without blocking its host.
--
-- A task is a coroutine that gptaudio resumes when what it waits for is ready.
-- scheduler.spawn(fn, ...) runs fn now, until its first wait, and returns a
-- Task:
--   task:status()  "running"  it is executing now (it, or a task it woke)
--                  "waiting"  suspended until a request, a timer or an event wakes it
--                  "done"     fn returned
--                  "failed"   fn raised
--   task:result()  done: the values fn returned; failed: nil, the error raised;
--                  otherwise nothing.
-- A task that fails is logged at level "error" through the log of the client
-- that last resumed it, or, when there is none, on stderr: an error is never lost.
--
-- Tasks may only wait through gptaudio (requests, scheduler sleeps): a task
-- that calls coroutine.yield itself is treated as waiting and resumed at the
-- next wake.
--
-- A Scheduler (one per engine) owns timers on an injectable clock and decides
-- how tasks are resumed: directly, or through a `schedule` function (an event
-- loop's "run this soon", such as vim.schedule). A hand-over (defer) is never
-- a nested resume: the task is resumed from fire_due, at the top of a step,
-- so a chain of hand-overs of any length uses no C stack.
local scheduler = {}

-- OpenResty replaces the coroutine functions with ones tied to the nginx
-- request running them, and keeps the originals as coroutine._create, ...
-- Tasks outlive requests and are resumed from the ngx driver's timer, so they
-- run on the originals (the same functions everywhere else).
local coroutines = {}
for _, name in ipairs{ "create", "resume", "yield", "status" } do
  coroutines[name] = rawget(coroutine, "_" .. name) or coroutine[name]
end

local pack = table.pack or function(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack

local tasks = setmetatable({}, { __mode = "k" }) -- coroutine -> Task
-- Coroutines run on behalf of a task (engine/protect.lua, on PUC Lua 5.1) -> its coroutine.
local adopted = setmetatable({}, { __mode = "k" })

--- Writes one line on stderr: where task failures go when no log was given.
function scheduler.default_log(level, message)
  io.stderr:write("gptaudio ", level, ": ", message, "\n")
end

local function report(log, level, message)
  local ok = pcall(log, level, message)
  if not ok then scheduler.default_log(level, message) end
end

local Task = { __name = "gptaudio.Task" }
Task.__index = Task
scheduler.Task = Task

function Task:status()
  return self.state
end

function Task:result()
  local r = self.outcome
  if self.state == "done" then return unpack(r, 2, r.n) end
  if self.state == "failed" then return nil, r[2] end
end

function Task:__tostring()
  return "gptaudio.Task (" .. self.state .. ")"
end

-- Runs the task until it waits again or ends.
local function resume(task)
  task.state = "running"
  local outcome = pack(coroutines.resume(task.co))
  if coroutines.status(task.co) ~= "dead" then
    task.state = "waiting"
    return
  end
  -- The entry's value refers to its key: LuaJIT (no ephemerons) would never
  -- collect either, so a finished task leaves the table now.
  tasks[task.co] = nil
  task.outcome = outcome
  if outcome[1] then
    task.state = "done"
  else
    task.state = "failed"
    report(task.log, "error", "task failed: " .. tostring(outcome[2]))
  end
end

--- The task running now, or nil in the main thread and in coroutines that are
--- not gptaudio tasks.
function scheduler.current()
  local co = coroutine.running()
  return co and (tasks[co] or tasks[adopted[co]])
end

--- Makes scheduler.current() in coroutine `co` the task of coroutine `outer`.
function scheduler.adopt(co, outer)
  adopted[co] = adopted[outer] or outer
end

--- Runs fn(...) as a task, now, until its first wait; returns the Task.
function scheduler.spawn(fn, ...)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
  end
  local args = pack(...)
  local parent = scheduler.current()
  local task = setmetatable({
    state = "waiting",
    log = parent and parent.log or scheduler.default_log,
    co = coroutines.create(function() return fn(unpack(args, 1, args.n)) end),
  }, Task)
  tasks[task.co] = task
  resume(task)
  return task
end

--- Suspends the running task until something wakes it. Waiters loop on their
--- own condition: a wake only means "look again".
function scheduler.suspend()
  if not scheduler.current() then
    error("gptaudio: only a task can wait (use gptaudio.spawn)", 2)
  end
  coroutines.yield()
end

local Scheduler = { __name = "gptaudio.Scheduler" }
Scheduler.__index = Scheduler

--- opts.clock: seconds as a float (default core.now, monotonic);
--- opts.schedule: fn(callback), resumes tasks later instead of now;
--- opts.log: where failures of the tasks it resumes are logged;
--- opts.on_timer: called after a timer is added or a task handed over (an
--- event loop re-arms its wait).
--- scheduler.route = fn(task) -> fn(callback) | nil: where an event loop resumes
--- some tasks instead (set by engine:attach_loop).
function scheduler.new(opts)
  opts = opts or {}
  return setmetatable({
    clock = opts.clock or require("gptaudio.core").now,
    schedule = opts.schedule,
    log = opts.log,
    on_timer = opts.on_timer,
    heap = {},
    sequence = 0,
    ready = { first = 1, last = 0 }, -- tasks handed over by defer, in order
  }, Scheduler)
end

function Scheduler:now()
  return self.clock()
end

-- The timers form a binary min-heap on (deadline, sequence): equal deadlines
-- fire in the order they were set.
local function earlier(a, b)
  if a.deadline ~= b.deadline then return a.deadline < b.deadline end
  return a.sequence < b.sequence
end

local function heap_push(heap, timer)
  local i = #heap + 1
  heap[i] = timer
  while i > 1 do
    local parent = (i - i % 2) / 2
    if not earlier(heap[i], heap[parent]) then break end
    heap[i], heap[parent] = heap[parent], heap[i]
    i = parent
  end
end

local function heap_pop(heap)
  local top, n = heap[1], #heap
  heap[1] = heap[n]
  heap[n] = nil
  n = n - 1
  local i = 1
  while true do
    local smallest, left, right = i, 2 * i, 2 * i + 1
    if left <= n and earlier(heap[left], heap[smallest]) then smallest = left end
    if right <= n and earlier(heap[right], heap[smallest]) then smallest = right end
    if smallest == i then break end
    heap[i], heap[smallest] = heap[smallest], heap[i]
    i = smallest
  end
  return top
end

-- The earliest timer still set, dropping cancelled ones on the way.
local function heap_top(heap)
  while heap[1] and heap[1].cancelled do heap_pop(heap) end
  return heap[1]
end

local Timer = { __name = "gptaudio.Timer" }
Timer.__index = Timer

--- A timer that will not fire any more.
function Timer:cancel()
  self.cancelled = true
end

--- Calls fn() once, delay seconds from now, from the step that finds it due.
function Scheduler:after(delay, fn)
  self.sequence = self.sequence + 1
  local timer = setmetatable({ deadline = self:now() + delay, sequence = self.sequence, fn = fn }, Timer)
  heap_push(self.heap, timer)
  if self.on_timer then self.on_timer() end
  return timer
end

--- Seconds until the earliest timer (0 when one is due or a task was handed
--- over), or nil when none is set.
function Scheduler:timeout()
  if self.ready.first <= self.ready.last then return 0 end
  local top = heap_top(self.heap)
  if not top then return nil end
  return math.max(0, top.deadline - self:now())
end

-- Resumes the tasks handed over by defer, those handed over meanwhile too,
-- each from here: one level deep whatever the length of the chain.
local function run_ready(self)
  local ready = self.ready
  while ready.first <= ready.last do
    local task = ready[ready.first]
    ready[ready.first] = nil
    ready.first = ready.first + 1
    if task.state == "waiting" then resume(task) end
  end
end

--- Resumes the tasks handed over (defer), then fires the timers that are due;
--- returns how many timers fired. A timer set while firing waits for the next
--- call, even with delay 0.
function Scheduler:fire_due()
  run_ready(self)
  local now, last, fired = self:now(), self.sequence, 0
  while true do
    local top = heap_top(self.heap)
    if not top or top.deadline > now or top.sequence > last then break end
    heap_pop(self.heap)
    top.fired = true
    fired = fired + 1
    top.fn()
  end
  return fired
end

-- How task's resumption runs later, or nil for "now": schedule (every task)
-- or route(task) (a host loop that resumes some tasks elsewhere).
local function later(self, task)
  return self.schedule or (self.route and self.route(task))
end

--- Resumes task if it is waiting: now, or through schedule when one is set.
--- log (default: the scheduler's) is where the task's failure will be logged.
function Scheduler:wake(task, log)
  if task.state ~= "waiting" then return end
  log = log or self.log
  if log then task.log = log end
  local run_later = later(self, task)
  if run_later then
    run_later(function()
      if task.state == "waiting" then resume(task) end
    end, task)
  else
    resume(task)
  end
end

--- Like wake, but never from inside the running task: the task is resumed by
--- the next fire_due (or through schedule). For hand-overs that may chain (a
--- freed slot given to a request that fails at once and frees it again).
function Scheduler:defer(task, log)
  if task.state ~= "waiting" then return end
  if later(self, task) then return self:wake(task, log) end
  log = log or self.log
  if log then task.log = log end
  local ready = self.ready
  ready.last = ready.last + 1
  ready[ready.last] = task
  if self.on_timer then self.on_timer() end
end

--- Suspends the running task for seconds, or until stop() is true after a
--- wake. Returns true when the whole time passed, false when stopped.
function Scheduler:sleep(seconds, stop)
  local task = scheduler.current()
  if not task then error("gptaudio: only a task can sleep (use gptaudio.spawn)", 2) end
  local timer = self:after(seconds, function() self:wake(task) end)
  while not timer.fired do
    if stop and stop() then
      timer:cancel()
      return false
    end
    coroutines.yield()
  end
  return true
end

return scheduler
