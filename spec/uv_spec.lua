local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local uv = require "luv"
local uv_loop = require "gptaudio.loop.uv"
local fake = require "spec.support.fake"

describe("the luv adapter", function()
  local server, client, handle

  setup(function() server = fake.start() end)
  teardown(function() server:stop() end)
  before_each(function()
    server:clear()
    client = gptaudio.new{ api_key = "k", base_url = server.url }
    handle = uv_loop.attach(client, uv)
  end)
  after_each(function()
    handle:detach()
    client:close()
    uv.run() -- lets luv finish closing the handles
  end)

  -- A repeating 10 ms timer counting its ticks until stop().
  local function ticker()
    local t = { ticks = 0, timer = uv.new_timer() }
    t.timer:start(10, 10, function() t.ticks = t.ticks + 1 end)
    function t.stop()
      t.timer:stop()
      t.timer:close()
    end
    return t
  end

  it("keeps a repeating timer firing while a request runs", function()
    server:script("/v1/slow", { { delay = 0.3, json = { ok = true } } })
    local tick = ticker()
    local ticks_at_start
    local task = gptaudio.spawn(function()
      ticks_at_start = tick.ticks
      local res, err = client:request{ path = "/slow" }
      tick.stop()
      return res, err
    end)
    assert.equal("waiting", task:status())
    uv.run()
    assert.equal(0, ticks_at_start)
    assert.equal(200, task:result().status)
    assert.is_true(tick.ticks >= 10, tick.ticks .. " ticks")
  end)

  it("waits out a retry delay on the loop while timers keep firing", function()
    server:script("/v1/r", { { status = 429, headers = { ["retry-after-ms"] = "500" }, json = {} }, { json = {} } })
    local tick = ticker()
    local started = core.now()
    local task = gptaudio.spawn(function()
      local res = client:request{ path = "/r" }
      tick.stop()
      return res
    end)
    uv.run()
    local elapsed = core.now() - started
    assert.equal(200, task:result().status)
    assert.equal(2, #server:requests("/v1/r"))
    assert.is_true(elapsed >= 0.45, "waited " .. elapsed .. " s")
    assert.is_true(tick.ticks >= 20, tick.ticks .. " ticks")
  end)

  it("runs 20 slow requests at once and lets uv.run return when all are done", function()
    server:default("/v1/slow", { delay = 0.3, json = {} })
    local started = core.now()
    local tasks = {}
    for i = 1, 20 do tasks[i] = gptaudio.spawn(function() return client:request{ path = "/slow" } end) end
    uv.run()
    assert.is_true(core.now() - started < 2)
    for i = 1, 20 do assert.equal(200, tasks[i]:result().status) end
  end)

  it("raises for a call outside a task, and lets start and cancel through", function()
    assert.has_error(function() client:request{ path = "/models" } end,
                     "gptaudio: call this from gptaudio.spawn: a call outside a task would block the event loop")
    local req = client:start("request", { path = "/models" })
    assert.has_error(function() req:wait() end,
                     "gptaudio: call this from gptaudio.spawn: a call outside a task would block the event loop")
    uv.run()
    assert.equal(200, req:result().status)
    assert.equal(1, #server:requests("/v1/models"))
  end)

  it("resumes tasks through schedule", function()
    handle:detach()
    local scheduled = 0
    local function schedule(fn)
      scheduled = scheduled + 1
      local t = uv.new_timer()
      t:start(0, 0, function()
        t:close()
        fn()
      end)
    end
    handle = uv_loop.attach(client, uv, { schedule = schedule })
    server:script("/v1/s", { { events = { "1", "2" }, chunk_delay = 0.1 } })
    local events = {}
    local task = gptaudio.spawn(function()
      return client:request{ path = "/s", stream = true, on_event = function(ev) events[#events + 1] = ev.data end }
    end)
    uv.run()
    assert.equal(200, task:result().status)
    assert.same({ "1", "2" }, events)
    assert.is_true(scheduled >= 2)
  end)

  it("hands the loop back between steps while the client asks to be stepped at once", function()
    -- libuv before 1.45 reruns a 0 ms timer re-armed from its callback in the
    -- same pass: Neovim's scheduled callbacks starved until the wait changed.
    local driven = client.engine -- what the adapter steps
    local steps, step = 0, driven.step
    local function stop_stubbing()
      driven.step, driven.timeout, driven.active = nil, nil, nil
    end
    driven.timeout = function() return 0 end
    driven.active = function() return 1 end
    driven.step = function(self, wait)
      steps = steps + 1
      if steps == 1000 then stop_stubbing() end -- bounds the spin without the fix
      return step(self, wait)
    end
    handle.loop.wakeup()
    uv.run("once")
    local in_one_pass = steps
    stop_stubbing()
    handle.loop.wakeup()
    assert.is_true(in_one_pass >= 1 and in_one_pass <= 5, in_one_pass .. " steps in one pass of the loop")
  end)

  it("drives two clients attached once, through their engine", function()
    handle:detach() -- the deprecated form above; now the engine itself, once
    local engine_handle = uv_loop.attach(nil, uv)
    server:default("/v1/slow", { delay = 0.2, json = { ok = true } })
    local other = gptaudio.new{ api_key = "k2", base_url = server.url }
    local started = core.now()
    local first = gptaudio.spawn(function() return client:request{ path = "/slow" } end)
    local second = gptaudio.spawn(function() return other:request{ path = "/slow" } end)
    uv.run()
    local elapsed = core.now() - started
    assert.equal(200, first:result().status)
    assert.equal(200, second:result().status)
    assert.is_true(elapsed < 0.39, ("took %.3f s"):format(elapsed)) -- together, not one after the other
    assert.has_error(function() uv_loop.attach(nil, uv) end, "gptaudio: this engine already has an event loop attached")
    engine_handle:detach()
    other:close()
  end)

  it("blocks again once detached", function()
    handle:detach()
    assert.equal(200, assert(client:request{ path = "/models" }).status)
  end)

  it("detaches when the client closes", function()
    client:close()
    assert.is_true(handle.detached)
    assert.equal("gptaudio.loop.uv.Handle(detached)", tostring(handle))
  end)

  it("checks its arguments", function()
    assert.has_error(function() uv_loop.attach(client, uv, { shedule = print }) end,
                     "loop.uv.attach: unknown option 'shedule'")
    assert.has_error(function() uv_loop.attach(client, nil) end, "loop.uv.attach: 'uv' must be table (got nil)")
    assert.has_error(function() uv_loop.attach(client, uv) end,
                     "gptaudio: this client already has an event loop attached")
  end)

  it("refuses what is no gptaudio client and a uv without timers or polls, before attaching", function()
    local elsewhere = gptaudio.engine.new() -- the client's engine is attached already
    local other = gptaudio.new{ api_key = "k", base_url = server.url, engine = elsewhere }
    for _, bad in ipairs{ {}, { options = {} }, "client", setmetatable({}, { __index = client }) } do
      assert.has_error(function() uv_loop.attach(bad, uv) end,
                       ("loop.uv.attach: 'client' must be a gptaudio client (got %s)"):format(type(bad)))
    end
    assert.has_error(function() uv_loop.attach(other, {}) end,
                     "loop.uv.attach: 'uv.new_timer' must be function (got nil)")
    assert.has_error(function() uv_loop.attach(other, { new_timer = uv.new_timer, new_poll = true }) end,
                     "loop.uv.attach: 'uv.new_poll' must be function (got boolean)")
    -- a uv that cannot make a handle (luv returns nil and a message)
    assert.has_error(function()
      local no_timers = { new_timer = function() return nil, "EMFILE: too many open files" end, new_poll = uv.new_poll }
      uv_loop.attach(other, no_timers)
    end, "loop.uv.attach: cannot make the uv handles: EMFILE: too many open files")
    local failing_poll = { new_timer = uv.new_timer, new_poll = function() error("no polls here", 0) end }
    assert.has_error(function() uv_loop.attach(other, failing_poll) end,
                     "loop.uv.attach: cannot make the uv handles: no polls here")
    -- Nothing was attached: the client still blocks outside a task, and a real uv attaches.
    assert.is_nil(other.loop)
    assert.equal(200, assert(other:request{ path = "/models" }).status)
    local attached = uv_loop.attach(other, uv)
    attached:detach()
    other:close()
    elsewhere:close()
  end)
end)
