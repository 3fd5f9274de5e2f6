-- Drives an engine (every client on it) from a libuv loop: luv, or Neovim's
-- vim.loop / vim.uv. Attach once per engine and host loop:
--
--   local handle = require("gptaudio.loop.uv").attach(nil, uv, { schedule = vim.schedule })
--   -- nil: the default engine; or an engine from gptaudio.engine.new()
--   handle:detach()
--
-- attach(client, ...) attaches the client's engine (deprecated: kept for one
-- release); closing that client then detaches it.
--
-- One poll handle watches engine:pollfd() (readable when the transport has
-- work) and one timer is re-armed from engine:timeout() after every step, so
-- transfers, retry waits and timeouts all move while the loop runs. The poll
-- handle is active only while requests are, so an idle engine does not keep
-- uv.run() from returning. Where there is no epoll (no pollfd), the timer
-- steps every POLL_WITHOUT_FD seconds while requests are active.
--
-- With `schedule` (vim.schedule), task resumptions go through it: in Neovim
-- the callbacks of a request then run where the editor's API may be used.
-- While attached, a call outside a task raises ("call this from
-- gptaudio.spawn") rather than freezing the loop.
--
-- detach() closes the uv handles; libuv finishes a close on the loop's next
-- turn, so a program that ends right after detaching should run the loop once
-- more (uv.run()): Debian's luv crashes at exit on handles left half-closed.
local check = require "gptaudio.check"
local engine = require "gptaudio.engine"
local Client = require("gptaudio.client").Client

local uv_loop = {}

local POLL_WITHOUT_FD = 0.01
-- libuv before 1.45 runs a 0 ms timer re-armed from its own callback again in
-- the same pass, forever while the wait stays 0: the host's own work (Neovim's
-- vim.schedule queue, where the waiting task's resumption sits) never runs.
local MIN_WAIT_MS = 1

local Handle = { __name = "gptaudio.loop.uv.Handle" }
Handle.__index = Handle

function Handle:detach()
  if self.detached then return end
  self.detached = true
  self.engine:detach_loop(self.loop)
  self.timer:stop()
  self.timer:close()
  if self.poll then
    self.poll:stop()
    self.poll:close()
  end
end

function Handle:__tostring()
  return "gptaudio.loop.uv.Handle(" .. (self.detached and "detached" or "attached") .. ")"
end

-- The engine that target names: nil is the default engine; a client (the
-- form before engines; deprecated) is its engine, attached through it so that
-- closing the client detaches.
local function engine_of(target)
  if target == nil then return engine.default() end
  if engine.is_engine(target) then return target end
  if getmetatable(target) == Client then return target.engine, target end
  error(("loop.uv.attach: 'client' must be a gptaudio client (got %s)"):format(type(target)), 0)
end

--- Attaches the engine (nil: the default engine; a client: its engine,
--- deprecated) to a libuv loop, once for all the clients on it.
function uv_loop.attach(target, uv, opts)
  -- Checked before anything is attached: a wrong engine or uv fails here, not
  -- half way through with the engine tied to a loop that does not exist.
  local driven, through = engine_of(target)
  check.value("loop.uv.attach", "uv", uv, "table")
  local fd = driven:pollfd() -- nil without epoll: then no poll handle is needed
  check.value("loop.uv.attach", "uv.new_timer", uv.new_timer, "function")
  if fd then check.value("loop.uv.attach", "uv.new_poll", uv.new_poll, "function") end
  opts = check.value("loop.uv.attach", "opts", opts, "table", true) or {}
  check.known("loop.uv.attach", opts, { schedule = true }, "option")
  check.value("loop.uv.attach", "schedule", opts.schedule, "function", true)

  local self = setmetatable({ engine = driven, polling = false }, Handle)

  local drive

  -- Sets the timer to the engine's next deadline; polls only while requests are active.
  local function rearm()
    if self.detached or driven.closed then return end
    local active = driven:active() > 0
    local wait = driven:timeout()
    if not self.poll and active then wait = math.min(wait or POLL_WITHOUT_FD, POLL_WITHOUT_FD) end
    self.timer:stop()
    if wait then self.timer:start(math.max(MIN_WAIT_MS, math.ceil(wait * 1000)), 0, drive) end
    if self.poll and active ~= self.polling then
      self.polling = active
      if active then self.poll:start("r", drive) else self.poll:stop() end
    end
  end

  drive = function()
    if self.detached or driven.closed then return end
    driven:step(0)
    rearm()
  end

  self.loop = { schedule = opts.schedule, wakeup = rearm, detach = function() self:detach() end }
  -- raises when another loop is attached: no uv handle exists yet
  if through then through:attach_loop(self.loop) else driven:attach_loop(self.loop) end
  -- luv returns nil and a message when it cannot make a handle
  local made, why = pcall(function()
    local failure
    self.timer, failure = uv.new_timer()
    if self.timer and fd then self.poll, failure = uv.new_poll(fd) end
    if not self.timer or (fd and not self.poll) then error(failure, 0) end
  end)
  if not made then
    driven:detach_loop(self.loop)
    if self.timer then self.timer:close() end
    error("loop.uv.attach: cannot make the uv handles: " .. tostring(why), 0)
  end
  rearm()
  return self
end

return uv_loop
