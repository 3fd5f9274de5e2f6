-- Soak: many requests at a steady concurrency against the fake server, a tenth
-- of them failing in assorted ways (500s, cut streams, resets, timeouts).
-- Every request must end with exactly the outcome its kind calls for, and the
-- process's resident memory and open descriptors must stay flat from the first
-- tenth of the run to the last. Not part of `make test` (RELIABILITY.md).
--
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/soak.lua [requests]
--
-- Prints a line per tenth (requests done, rate, RSS, Lua heap, open fds), then
-- TAP lines ("ok - ..." / "not ok - ..."); exits non-zero when one fails.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local fake = require "spec.support.fake"
local util = require "spec.support.util"

local REQUESTS = tonumber(arg and arg[1]) or 10000
local CONCURRENCY = 32
-- How much RSS may grow from the first checkpoint to the last: allocator and
-- collector noise, far below what a leak of even 1 KB per request would add.
local RSS_SLACK = 0.05
local RSS_SLACK_MIN_KB = 2048
-- Descriptors may differ by the connections curl keeps in its cache at that moment.
local FD_SLACK = 4

local EVENTS = { "alpha", "beta", "gamma" }

-- What each kind of request is sent to, and the outcome it must end with.
local KINDS = {
  ok = { path = "/soak/ok", response = { json = { ok = true, n = 42 } } },
  stream = { path = "/soak/stream", stream = true, response = { events = EVENTS, no_length = true } },
  server_error = { path = "/soak/500",
                   response = { status = 500, json = { error = { message = "soak", type = "server_error" } } } },
  cut = { path = "/soak/cut", stream = true,
          response = { events = EVENTS, no_length = true, cut_after = #"data: alpha\n\ndata: be" } },
  reset = { path = "/soak/reset",
            response = { body = ("r"):rep(20000), split = 2000, cut_after = 6000, reset = true } },
  timeout = { path = "/soak/timeout", timeout = 0.3, response = { delay = 2, json = {} } },
}
local FAILING = { "server_error", "cut", "reset", "timeout" }

-- The kind of request i: one in ten fails, the failures taking turns.
local function kind_of(i)
  if i % 10 == 0 then return FAILING[(i / 10 - 1) % #FAILING + 1] end
  return i % 10 <= 4 and "ok" or "stream"
end

-- nil when the outcome is the one the kind calls for, else why not.
local function check(kind, res, err)
  if kind == "ok" then
    if not (res and res.status == 200 and res.json and res.json.ok == true and res.json.n == 42) then
      return "expected 200 {ok, n = 42}"
    end
  elseif kind == "stream" then
    if not (res and #res.events == 3 and res.events[1].data == "alpha" and res.events[3].data == "gamma") then
      return "expected the three events"
    end
  elseif kind == "server_error" then
    if not (err and err.type == "api" and err.status == 500 and err.message == "soak") then
      return "expected api 500"
    end
  elseif kind == "cut" then
    if not (err and err.type == "connection" and #err.partial == 1 and err.partial[1].data == "alpha") then
      return "expected a connection error after one event"
    end
  elseif kind == "reset" then
    if not (err and err.type == "connection") then return "expected a connection error" end
  elseif kind == "timeout" then
    if not (err and err.type == "timeout") then return "expected a timeout" end
  end
  return nil
end

-- statm counts pages; 4 kB where getconf cannot say how large one is.
local PAGE_KB = (tonumber(util.read_command("getconf PAGESIZE 2>/dev/null")) or 4096) / 1024

local function rss_kb()
  return tonumber(assert(util.read_file("/proc/self/statm")):match("^%d+%s+(%d+)")) * PAGE_KB
end

local uv = require "luv"
local function open_fds()
  local n = 0
  local dir = assert(uv.fs_scandir("/proc/self/fd"))
  while uv.fs_scandir_next(dir) do n = n + 1 end
  return n
end

local server = fake.start()
for _, kind in pairs(KINDS) do server:default("/v1" .. kind.path, kind.response) end
local client = gptaudio.new{ api_key = "sk-soak-0123456789", base_url = server.url, max_retries = 0,
                             max_concurrency = CONCURRENCY }

local outcomes, wrong, started, finished = {}, {}, 0, 0
local inflight = {}
local checkpoints = {}
local every = math.max(1, math.floor(REQUESTS / 10))
local clock = core.now()

local function checkpoint()
  collectgarbage()
  collectgarbage()
  local now = core.now()
  local point = { done = finished, seconds = now - clock, rss = rss_kb(), heap = collectgarbage("count"),
                  fds = open_fds() }
  checkpoints[#checkpoints + 1] = point
  print(("# %6d done  %7.1f s  %6.0f req/s  RSS %8.1f MB  Lua heap %7.1f MB  open fds %d"):format(
    point.done, point.seconds, point.done / point.seconds, point.rss / 1024, point.heap / 1024, point.fds))
end

while finished < REQUESTS do
  while started < REQUESTS and #inflight < CONCURRENCY do
    started = started + 1
    local name = kind_of(started)
    local kind = KINDS[name]
    local req = client:start("request", { path = kind.path, stream = kind.stream, timeout = kind.timeout })
    inflight[#inflight + 1] = { req = req, kind = name }
  end
  client:step(0.05)
  for i = #inflight, 1, -1 do
    local item = inflight[i]
    if item.req:status() == "done" or item.req:status() == "failed" or item.req:status() == "cancelled" then
      table.remove(inflight, i)
      local why = check(item.kind, item.req:result())
      local outcome = item.kind .. (why and " (wrong)" or "")
      outcomes[outcome] = (outcomes[outcome] or 0) + 1
      if why then wrong[#wrong + 1] = item.kind .. ": " .. why end
      finished = finished + 1
      if finished % every == 0 then checkpoint() end
    end
  end
end
client:close()
server:stop()

local expected, failures = {}, 0
for i = 1, REQUESTS do
  local name = kind_of(i)
  expected[name] = (expected[name] or 0) + 1
end
local function tap(ok, text)
  print((ok and "ok - " or "not ok - ") .. text)
  if not ok then failures = failures + 1 end
end

local counts = {}
for _, name in ipairs{ "ok", "stream", "server_error", "cut", "reset", "timeout" } do
  counts[#counts + 1] = ("%d %s"):format(outcomes[name] or 0, name)
end
local accounted = #wrong == 0
for name, n in pairs(expected) do accounted = accounted and outcomes[name] == n end
tap(accounted, ("soak: %d requests at concurrency %d accounted for: %s%s"):format(
  REQUESTS, CONCURRENCY, table.concat(counts, ", "), #wrong > 0 and ("; first wrong: " .. wrong[1]) or ""))

local first, last = checkpoints[1], checkpoints[#checkpoints]
local rss_bound = first.rss + math.max(RSS_SLACK_MIN_KB, first.rss * RSS_SLACK)
tap(last.rss <= rss_bound, ("soak: RSS flat: %.1f MB after %d, %.1f MB after %d (bound %.1f MB)"):format(
  first.rss / 1024, first.done, last.rss / 1024, last.done, rss_bound / 1024))
tap(last.heap <= first.heap * (1 + RSS_SLACK) + 256, ("soak: Lua heap flat: %.2f MB after %d, %.2f MB after %d"):format(
  first.heap / 1024, first.done, last.heap / 1024, last.done))
tap(last.fds <= first.fds + FD_SLACK, ("soak: open fds flat: %d after %d, %d after %d (bound %d)"):format(
  first.fds, first.done, last.fds, last.done, first.fds + FD_SLACK))
print(("# %d requests in %.1f s"):format(REQUESTS, core.now() - clock))
os.exit(failures == 0 and 0 or 1)
