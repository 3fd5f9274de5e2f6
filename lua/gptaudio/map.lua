-- Bulk jobs: client:map(items, fn, opts) runs fn(item, i) for every item as
-- a task, at most opts.concurrency at a time, and returns one result per item
-- in input order, so that one failure never hides the rest:
--   results[i] = { ok = true, value = v }     fn returned v (not nil)
--              | { ok = false, error = err }  fn returned nil, err (nil alone:
--                                              "client:map: fn returned nil"); or raised
--                                              (a gptaudio.Error as it is, anything
--                                              else as its message); or never started
--                                              (stop: a gptaudio.Error of type "cancelled")
-- opts (all optional; an unknown one raises):
--   concurrency = 8     items in flight at once (the client's max_concurrency
--                       still caps its requests)
--   rpm, tpm            requests / tokens per minute: the client's limiter
--                       (limiter.lua) is tightened to them while the map runs; every
--                       request of the client, inside the map or not, obeys it
--   on_progress(done, total, result, i)   after each item ends (write its result
--                       out there). A raise stops the map: no new item starts, those
--                       in flight end, then map raises that error.
--   stop()              asked before each item starts; true stops the map as
--                       cleanly: those in flight end, the rest are "cancelled"
--                       (no on_progress for them). An interrupt flag fits here.
-- Items are the sequence items[1..#items]. Like every call, map yields inside
-- a task and blocks outside one (driving the client's engine, so fn may call
-- other clients of that engine), or raises when an event loop that must not
-- block is attached.
local scheduler = require "gptaudio.engine.scheduler"
local pcall = require "gptaudio.engine.protect" -- may wait inside, on every Lua
local check = require "gptaudio.check"
local core = require "gptaudio.core"
local errors = require "gptaudio.errors"

local map = {}

local WHERE = "client:map"
local OPTIONS = {
  concurrency = "positive integer", rpm = "positive number", tpm = "positive number",
  on_progress = "function", stop = "function",
}
local RETURNED_NIL = WHERE .. ": fn returned nil"
local DEFAULT_CONCURRENCY = 8

local function outcome(ok, value, err)
  if not ok then
    return { ok = false, error = getmetatable(value) == core.Error and value or tostring(value) }
  end
  if value == nil then return { ok = false, error = err == nil and RETURNED_NIL or err } end
  return { ok = true, value = value }
end

-- Stops the job: no item starts any more; err (when given) is raised at the end.
local function halt(job, err)
  if job.stopped then return end
  job.stopped, job.failure = true, err
end

-- Whether the job may start another item (asks stop()).
local function may_start(job)
  if job.stopped or job.next > job.total then return false end
  if not job.stop then return true end
  local ok, stop = pcall(job.stop)
  if not ok then halt(job, stop) elseif stop then halt(job) end
  return not job.stopped
end

-- One of the job's tasks: takes the next item until none is left.
local function worker(job)
  while may_start(job) do
    local i = job.next
    job.next = i + 1
    local result = outcome(pcall(job.fn, job.items[i], i))
    job.results[i] = result
    job.done = job.done + 1
    if job.on_progress then
      local ok, err = pcall(job.on_progress, job.done, job.total, result, i)
      if not ok then halt(job, err) end
    end
  end
  job.workers = job.workers - 1
  if job.workers == 0 then
    job.finished = true
    if job.waiter then job.client.engine.scheduler:wake(job.waiter) end
  end
end

-- Runs the job to its end from a task.
local function run(job)
  job.workers = math.min(job.concurrency, job.total)
  if job.workers == 0 then job.finished = true end
  for _ = 1, job.workers do scheduler.spawn(worker, job) end
  job.waiter = scheduler.current()
  while not job.finished do scheduler.suspend() end
  for i = 1, job.total do
    if not job.results[i] then
      job.results[i] = { ok = false, error = errors.new{ type = "cancelled", message = "the map was stopped" } }
    end
  end
end

--- client:map(items, fn, opts) -> results (see the top).
function map.run(client, items, fn, opts)
  check.value(WHERE, "items", items, "table")
  check.value(WHERE, "fn", fn, "function")
  opts = check.value(WHERE, "opts", opts, "table", true) or {}
  check.known(WHERE, opts, OPTIONS, "option")
  for name, expected in pairs(OPTIONS) do check.value(WHERE, name, opts[name], expected, true) end
  client:check_open()
  local job = {
    client = client, items = items, fn = fn, on_progress = opts.on_progress, stop = opts.stop,
    concurrency = opts.concurrency or DEFAULT_CONCURRENCY,
    total = #items, next = 1, done = 0, results = {},
  }
  local release = (opts.rpm or opts.tpm) and client.limiter:restrict{ rpm = opts.rpm, tpm = opts.tpm }
  local ok, err = pcall(client.run, client, run, function() halt(job) end, job)
  if release then release() end
  if not ok then error(err, 0) end
  if job.failure then error(job.failure, 0) end
  return job.results
end

return map
