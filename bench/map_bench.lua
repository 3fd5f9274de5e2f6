-- client:map throughput against the ideal that the limits and the server's
-- latency allow, on the fake server over loopback; and map's own cost per
-- item against a plain loop calling the same function.
--   LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/map_bench.lua
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local fake = require "spec.support.fake"

local RUNS = 3

local server = fake.start()

-- The best of RUNS timings of a map of n requests, in seconds.
local function timed_map(n, latency, opts, client_options)
  local fastest = math.huge
  for _ = 1, RUNS do
    server:clear()
    server:default("/v1/job", { json = { done = true }, delay = latency })
    local options = { api_key = "sk-bench", base_url = server.url, max_retries = 0 }
    for k, v in pairs(client_options or {}) do options[k] = v end
    local client = gptaudio.new(options)
    local items = {}
    for i = 1, n do items[i] = i end
    local started = core.now()
    local results = client:map(items, function(i)
      return client:request{ method = "POST", path = "/job", json = { item = i } }
    end, opts)
    local took = core.now() - started
    client:close()
    for i = 1, n do assert(results[i].ok, "item " .. i .. " failed") end
    fastest = math.min(fastest, took)
  end
  return fastest
end

local rows = {}
local function row(name, ideal, took)
  rows[#rows + 1] = ("| %-58s | %7.3f | %7.3f | %5.3f |"):format(name, ideal, took, ideal / took)
end

-- Latency-bound: 200 requests of 50 ms, 16 at a time: 200 / 16 * 0.05 s.
row("200 requests, 50 ms latency, concurrency 16", 200 / 16 * 0.05, timed_map(200, 0.05, { concurrency = 16 }))
-- Rate-bound: 3000 rpm is 50/s after a burst of 50: (150 - 50) / 50 s plus the last one's 50 ms.
row("150 requests, 50 ms latency, concurrency 16, rpm 3000", (150 - 50) / 50 + 0.05,
    timed_map(150, 0.05, { concurrency = 16, rpm = 3000 }))
-- Concurrency-bound by the client's max_concurrency under a wider map.
row("200 requests, 50 ms latency, map 64, max_concurrency 8", 200 / 8 * 0.05,
    timed_map(200, 0.05, { concurrency = 64 }, { max_concurrency = 8 }))
-- The reference: the same 200 requests with no latency at all, which the
-- fake server (Python, one thread per connection) serves one at a time.
local floor = timed_map(200, 0, { concurrency = 16 })
server:stop()

-- map's own cost: 100,000 items that do no I/O, against a plain loop.
local N = 100000
local items = {}
for i = 1, N do items[i] = i end
local function double(x) return x * 2 end
local client = gptaudio.new{ api_key = "sk-bench", base_url = "http://127.0.0.1:9/v1" }
local loop_best, map_best = math.huge, math.huge
for _ = 1, RUNS do
  collectgarbage()
  local started = core.now()
  local out = {}
  for i = 1, N do
    local ok, v = pcall(double, items[i], i)
    out[i] = { ok = ok, value = v }
  end
  loop_best = math.min(loop_best, core.now() - started)
  collectgarbage()
  started = core.now()
  local results = client:map(items, double, { concurrency = 8 })
  map_best = math.min(map_best, core.now() - started)
  assert(#out == N and #results == N and results[N].value == out[N].value)
end
client:close()

print(("%s, %s"):format(_VERSION, jit and jit.version or "PUC"))
print("| run | ideal (s) | measured (s) | ideal / measured |")
print("|---|---:|---:|---:|")
for _, line in ipairs(rows) do print(line) end
print()
print(("reference: 200 requests without latency take %.3f s (%.2f ms each): the server's own service time")
  :format(floor, floor / 200 * 1000))
print(("map of %d items without I/O: %.1f ms, plain pcall loop %.1f ms: %.2f us per item over the loop (x%.2f)")
  :format(N, map_best * 1000, loop_best * 1000, (map_best - loop_best) / N * 1e6, map_best / loop_best))
