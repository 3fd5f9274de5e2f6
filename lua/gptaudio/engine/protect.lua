-- pcall for code that may wait: a protected function inside a task may
-- suspend it (a request, a sleep). Lua 5.2+ and LuaJIT yield across pcall
-- themselves, and there this is pcall. PUC Lua 5.1 cannot ("attempt to yield
-- across metamethod/C-call boundary"): there the function runs in a coroutine
-- of its own that the task adopts (scheduler.current() still finds the task),
-- and each of its yields is passed out to the task's resumer and back.
local scheduler = require "gptaudio.engine.scheduler"

if _VERSION ~= "Lua 5.1" or type(jit) == "table" then return pcall end

local pack = function(...) return { n = select("#", ...), ... } end
local unpack = unpack

return function(fn, ...)
  local outer = coroutine.running()
  if not outer then return pcall(fn, ...) end -- the main thread never waits
  local co = coroutine.create(fn)
  scheduler.adopt(co, outer)
  local outcome = pack(coroutine.resume(co, ...))
  while coroutine.status(co) ~= "dead" do
    outcome = pack(coroutine.resume(co, coroutine.yield(unpack(outcome, 2, outcome.n))))
  end
  return unpack(outcome, 1, outcome.n)
end
