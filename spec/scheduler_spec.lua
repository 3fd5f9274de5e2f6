local scheduler = require "gptaudio.engine.scheduler"
local core = require "gptaudio.core"

-- A clock that only moves when told to.
local function fake_clock(start)
  local now = start or 100
  return function() return now end, function(dt) now = now + dt end
end

describe("scheduler tasks", function()
  it("runs fn now, until its first wait, and resumes it on wake", function()
    local s = scheduler.new()
    local steps = {}
    local task = scheduler.spawn(function(a, b)
      steps[#steps + 1] = "start " .. a .. b
      scheduler.suspend()
      steps[#steps + 1] = "end"
      return a, nil, b
    end, "x", "y")
    assert.same({ "start xy" }, steps)
    assert.equal("waiting", task:status())
    assert.equal(0, select("#", task:result()))
    s:wake(task)
    assert.same({ "start xy", "end" }, steps)
    assert.equal("done", task:status())
    assert.equal(3, select("#", task:result()))
    local a, b, c = task:result()
    assert.equal("x", a)
    assert.is_nil(b)
    assert.equal("y", c)
  end)

  it("says running from inside the task, and current() is that task", function()
    local seen
    local task = scheduler.spawn(function()
      seen = scheduler.current()
      return scheduler.current():status()
    end)
    assert.equal(task, seen)
    assert.equal("running", (task:result()))
  end)

  it("has no current task in the main thread or in a foreign coroutine", function()
    assert.is_nil(scheduler.current())
    local inside = "unset"
    coroutine.wrap(function() inside = scheduler.current() end)()
    assert.is_nil(inside)
  end)

  it("keeps a failure as the result and logs it on stderr when nobody else logs", function()
    local lines = {}
    local saved = scheduler.default_log
    scheduler.default_log = function(level, message) lines[#lines + 1] = level .. " " .. message end
    local task = scheduler.spawn(function() error("boom", 0) end)
    scheduler.default_log = saved
    assert.equal("failed", task:status())
    local value, err = task:result()
    assert.is_nil(value)
    assert.equal("boom", err)
    assert.same({ "error task failed: boom" }, lines)
  end)

  it("logs a failure through the log of the scheduler that resumed the task", function()
    local lines = {}
    local s = scheduler.new{ log = function(level, message) lines[#lines + 1] = level .. " " .. message end }
    local task = scheduler.spawn(function()
      scheduler.suspend()
      error({ code = 7 })
    end)
    s:wake(task)
    assert.equal("failed", task:status())
    assert.equal(7, select(2, task:result()).code)
    assert.equal(1, #lines)
    assert.matches("^error task failed: table", lines[1])
  end)

  it("gives a task spawned inside a task its parent's log", function()
    local lines = {}
    local s = scheduler.new{ log = function(_, message) lines[#lines + 1] = message end }
    local child
    local parent = scheduler.spawn(function()
      scheduler.suspend()
      child = scheduler.spawn(function() error("child broke", 0) end)
    end)
    s:wake(parent)
    assert.equal("failed", child:status())
    assert.same({ "task failed: child broke" }, lines)
  end)

  it("ignores a wake for a task that is not waiting", function()
    local s = scheduler.new()
    local runs = 0
    local task = scheduler.spawn(function() runs = runs + 1 end)
    s:wake(task)
    assert.equal(1, runs)
    assert.equal("done", task:status())
  end)

  it("resumes through schedule when one is given", function()
    local queue = {}
    local s = scheduler.new{ schedule = function(fn) queue[#queue + 1] = fn end }
    local task = scheduler.spawn(function() scheduler.suspend() return "woken" end)
    s:wake(task)
    s:wake(task)
    assert.equal("waiting", task:status())
    assert.equal(2, #queue)
    queue[1]()
    assert.equal("woken", (task:result()))
    queue[2]() -- the second wake finds the task done: nothing happens
    assert.equal("done", task:status())
  end)

  it("raises naming the argument when spawn gets no function", function()
    assert.has_error(function() scheduler.spawn("nope") end,
                     "bad argument #1 to 'spawn' (function expected, got string)")
  end)

  it("refuses to suspend or sleep outside a task", function()
    assert.has_error(function() scheduler.suspend() end, "gptaudio: only a task can wait (use gptaudio.spawn)")
    assert.has_error(function() scheduler.new():sleep(1) end, "gptaudio: only a task can sleep (use gptaudio.spawn)")
  end)

  it("has a readable tostring", function()
    assert.equal("gptaudio.Task (done)", tostring(scheduler.spawn(function() end)))
  end)
end)

describe("scheduler timers", function()
  it("uses the monotonic clock by default", function()
    local s = scheduler.new()
    local before = core.now()
    local now = s:now()
    assert.is_true(now >= before and now - before < 1)
  end)

  it("reports the earliest deadline and fires due timers in deadline then set order", function()
    local clock, advance = fake_clock()
    local s = scheduler.new{ clock = clock }
    local fired = {}
    assert.is_nil(s:timeout())
    s:after(1, function() fired[#fired + 1] = "c" end)
    s:after(0.5, function() fired[#fired + 1] = "a" end)
    s:after(0.5, function() fired[#fired + 1] = "b" end)
    assert.equal(0.5, s:timeout())
    assert.equal(0, s:fire_due())
    advance(0.5)
    assert.equal(0, s:timeout())
    assert.equal(2, s:fire_due())
    assert.same({ "a", "b" }, fired)
    assert.equal(0.5, s:timeout())
    advance(2)
    assert.equal(1, s:fire_due())
    assert.same({ "a", "b", "c" }, fired)
    assert.is_nil(s:timeout())
  end)

  it("forgets a cancelled timer", function()
    local clock, advance = fake_clock()
    local s = scheduler.new{ clock = clock }
    local timer = s:after(1, function() error("must not fire") end)
    s:after(3, function() end)
    timer:cancel()
    assert.equal(3, s:timeout())
    advance(5)
    assert.equal(1, s:fire_due())
    assert.is_nil(s:timeout())
  end)

  it("keeps a timer set while firing for the next call, even with delay 0", function()
    local clock = fake_clock()
    local s = scheduler.new{ clock = clock }
    local count = 0
    local function again()
      count = count + 1
      s:after(0, again)
    end
    s:after(0, again)
    assert.equal(1, s:fire_due())
    assert.equal(1, s:fire_due())
    assert.equal(2, count)
    assert.equal(0, s:timeout())
  end)

  it("tells on_timer about every timer set", function()
    local told = 0
    local s = scheduler.new{ clock = fake_clock(), on_timer = function() told = told + 1 end }
    s:after(1, function() end)
    s:after(2, function() end)
    assert.equal(2, told)
  end)

  it("sleeps a task on a timer", function()
    local clock, advance = fake_clock()
    local s = scheduler.new{ clock = clock }
    local task = scheduler.spawn(function() return s:sleep(2) end)
    assert.equal("waiting", task:status())
    assert.equal(2, s:timeout())
    advance(1.5)
    s:fire_due()
    assert.equal("waiting", task:status())
    advance(0.5)
    assert.equal(1, s:fire_due())
    assert.equal("done", task:status())
    assert.is_true(task:result())
  end)

  it("ends a sleep early when stop() holds at a wake, and drops its timer", function()
    local clock = fake_clock()
    local s = scheduler.new{ clock = clock }
    local stopped = false
    local task = scheduler.spawn(function() return s:sleep(10, function() return stopped end) end)
    s:wake(task)
    assert.equal("waiting", task:status())
    stopped = true
    s:wake(task)
    assert.equal("done", task:status())
    assert.is_false(task:result())
    assert.is_nil(s:timeout())
  end)
end)
