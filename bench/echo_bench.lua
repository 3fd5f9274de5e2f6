-- The speexdsp echo canceller on the echo set (spec/support/echo_set.lua), per
-- rate and filter tail: echo return loss enhancement over the echo-only part,
-- the level the user's voice keeps alone, and the work as a share of the
-- audio's own duration (the reference measured in the same run).
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/echo_bench.lua
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local echo_set = require "spec.support.echo_set"

print("| rate | tail | ERLE | user's voice alone | time / audio |")
print("|---|---|---|---|---|")
for _, rate in ipairs{ 8000, 16000, 24000 } do
  local set = echo_set.make(rate)
  for _, tail in ipairs{ 0.1, 0.25, 0.5 } do
    local started = core.now()
    local out = echo_set.cancel(set, gptaudio.audio.echo_canceller{ rate = rate, tail = tail })
    local elapsed = core.now() - started
    local m = echo_set.measure(set, out)
    print(("| %d Hz | %.2f s | %.1f dB | %+.1f dB | %.4f |"):format(rate, tail, m.erle, m.near_kept,
      elapsed / set.mic.duration))
  end
end
