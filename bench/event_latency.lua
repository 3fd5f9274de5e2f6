-- How late a streamed event reaches the code that handles it, from the
-- moment the server wrote it (bench/sse_clock_server.py stamps each event
-- with CLOCK_MONOTONIC, the clock of core.now(); one machine, one clock), on
-- the three ways of driving an engine, in one run:
--   1. a plain step loop (gptaudio.step(1) until done): the reference;
--   2. luv (loop.uv.attach, uv.run());
--   3. OpenResty (loop.ngx.attach in a worker, the call made in a handler,
--      on_event in that handler);
-- p50 and p99 of each, and the nginx worker's CPU while idle (5 s after the
-- stream) and while streaming.
--   LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/jit/?.so;;" luajit bench/event_latency.lua
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local util = require "spec.support.util"
local nginx = require "spec.support.nginx"
local http = require "socket.http"
local socket = require "socket"

local EVENTS, INTERVAL = 300, 0.01
local IDLE_SECONDS = 5
local TICKS = tonumber(util.read_command("getconf CLK_TCK")) or 100

local port, server = util.start_server({ "python3", "bench/sse_clock_server.py" }, 10)
assert(port, "the clock server did not start")
local base = "http://127.0.0.1:" .. port
local CLOCK = ("/clock?n=%d&interval=%g"):format(EVENTS, INTERVAL)

local function percentile(list, p)
  local sorted = {}
  for i, v in ipairs(list) do sorted[i] = v end
  table.sort(sorted)
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

-- The latencies (seconds) of one streamed request run from a task.
local function streamed(client, latencies)
  return function()
    local res, err = client:request{ path = CLOCK, stream = true,
      on_event = function(ev) latencies[#latencies + 1] = core.now() - tonumber(ev.data) end }
    assert(res, err)
  end
end

local results = {}

-- 1. plain step loop
do
  local client = gptaudio.new{ api_key = false, base_url = base }
  local latencies = {}
  gptaudio.spawn(streamed(client, latencies))
  while gptaudio.step(1) > 0 do end
  client:close()
  results[#results + 1] = { "plain step loop (gptaudio.step(1))", latencies }
end

-- 2. luv
do
  local uv = require "luv"
  local handle = require("gptaudio.loop.uv").attach(nil, uv)
  local client = gptaudio.new{ api_key = false, base_url = base }
  local latencies = {}
  gptaudio.spawn(streamed(client, latencies))
  uv.run()
  client:close()
  handle:detach()
  uv.run()
  results[#results + 1] = { "luv (loop.uv.attach, uv.run)", latencies }
end

-- 3. OpenResty
local SITE = [[
@MODULES@
worker_processes 1;
pid nginx.pid;
env CLOCK_URL;
events { worker_connections 64; }
http {
  access_log off;
  lua_package_path "@REPO@/lua/?.lua;@REPO@/lua/?/init.lua;;";
  lua_package_cpath "@REPO@/build/jit/?.so;;";
  init_worker_by_lua_block {
    CLIENT = require("gptaudio").new{ api_key = false, base_url = os.getenv("CLOCK_URL") }
    require("gptaudio.loop.ngx").attach()
  }
  server {
    listen 127.0.0.1:@PORT@;
    location = /pid { content_by_lua_block { ngx.print(ngx.worker.pid()) } }
    location = /latency {
      content_by_lua_block {
        local now = require("gptaudio.core").now
        local res, err = CLIENT:request{ path = ngx.unescape_uri(ngx.var.arg_path), stream = true,
          on_event = function(ev) ngx.print(now() - tonumber(ev.data), "\n") end }
        if not res then ngx.print("error ", tostring(err)) end
      }
    }
  }
}
]]

local function cpu_ticks(pid)
  local stat = assert(util.read_file("/proc/" .. pid .. "/stat"))
  local fields = {}
  for field in stat:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = field end
  return tonumber(fields[12]) + tonumber(fields[13]) -- utime, stime (fields 14 and 15 of the line)
end

local ngx_cpu = {}
do
  local template = os.tmpname()
  util.write_file(template, SITE)
  local site = nginx.start(template, { CLOCK_URL = base })
  os.remove(template)
  local pid = assert(tonumber((http.request(site.url .. "/pid"))))
  local escaped = CLOCK:gsub("[?&=]", function(c) return ("%%%02X"):format(c:byte()) end)
  local before, started = cpu_ticks(pid), core.now()
  local body = assert(http.request(site.url .. "/latency?path=" .. escaped))
  ngx_cpu.streaming = (cpu_ticks(pid) - before) / TICKS / (core.now() - started)
  local latencies = {}
  for line in body:gmatch("[^\n]+") do
    latencies[#latencies + 1] = assert(tonumber(line), line)
  end
  socket.sleep(0.5)
  before = cpu_ticks(pid)
  socket.sleep(IDLE_SECONDS)
  ngx_cpu.idle = (cpu_ticks(pid) - before) / TICKS / IDLE_SECONDS
  site:stop()
  results[#results + 1] = { "OpenResty (loop.ngx.attach, on_event in the handler)", latencies }
end
server:close()

print(("%d events %g s apart, %s"):format(EVENTS, INTERVAL, jit and jit.version or _VERSION))
print(("%-55s %9s %9s %9s %8s"):format("driver", "p50 ms", "p99 ms", "p50 / ref", "events"))
local reference = percentile(results[1][2], 0.5)
for _, r in ipairs(results) do
  local p50, p99 = percentile(r[2], 0.5), percentile(r[2], 0.99)
  print(("%-55s %9.3f %9.3f %9.2f %8d"):format(r[1], p50 * 1000, p99 * 1000, p50 / reference, #r[2]))
end
print(("nginx worker CPU: %.2f %% idle (%d s after the stream), %.2f %% while streaming"):format(
  ngx_cpu.idle * 100, IDLE_SECONDS, ngx_cpu.streaming * 100))
