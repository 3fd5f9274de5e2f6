-- The transport's own costs on the fake server over loopback, each against a
-- reference measured in the same run:
--   1. client:step(0) idle and with 16 transfers in flight, per call, against
--      a loop calling an empty Lua function;
--   2. 1,000 small sequential chat-shaped POSTs over keep-alive (client:request,
--      and client:chat which also decodes), against LuaSocket's socket.http plus
--      lua-cjson (what lua-openai does underneath), and against a bare LuaSocket
--      loop writing the same request by hand on one connection (the Python
--      server's own service time, nearly), and against a plain C libcurl multi
--      loop doing the same requests (bench/transport_floor.c: the C floor of
--      the transport's per-request CPU);
--   3. 64 requests of 250 ms at max_concurrency = 16 against the ideal 1 s.
--   LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/transport_bench.lua
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local fake = require "spec.support.fake"
local util = require "spec.support.util"
local cjson = require "cjson"
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"

local CHAT_PATH = "/chat/completions" -- under base_url
local CHAT = "/v1" .. CHAT_PATH
local SEQUENTIAL = 1000
local ROUNDS = 3
local STEP_CALLS = 200000
local IN_FLIGHT = 16
local HELD_DELAY = 30 -- seconds: the in-flight transfers outlive the step loop
local BURST, BURST_DELAY, BURST_CONCURRENCY = 64, 0.25, 16

local COMPLETION = {
  id = "chatcmpl-1", object = "chat.completion", created = 1764000000, model = "gpt-audio-mini-2025-12-15",
  choices = { { index = 0, message = { role = "assistant", content = "Hi.", refusal = cjson.null },
                finish_reason = "stop" } },
  usage = { prompt_tokens = 9, completion_tokens = 2, total_tokens = 11 },
}
local MESSAGES = { { role = "user", content = "Say hi." } }
local CHAT_BODY = { model = "gpt-audio-mini", messages = MESSAGES }

local server = fake.start()
server:default(CHAT, { json = COMPLETION })

local function new_client(options)
  local o = { api_key = "sk-bench", base_url = server.url, max_retries = 0 }
  for k, v in pairs(options or {}) do o[k] = v end
  return gptaudio.new(o)
end

-- Wall seconds and process CPU seconds of fn().
local function measure(fn)
  collectgarbage()
  local wall, cpu = core.now(), os.clock()
  fn()
  return core.now() - wall, os.clock() - cpu
end

-- 1. step(0) per call.
local function empty() end
local function empty_loop()
  for _ = 1, STEP_CALLS do empty() end
end

-- LuaJIT compiles the empty call away; a call into C (clock_gettime) it cannot.
local function clock_loop()
  local now = core.now
  for _ = 1, STEP_CALLS do now() end
end

local function step_loop(client)
  return function()
    for _ = 1, STEP_CALLS do client:step(0) end
  end
end

local step_client = new_client()
local empty_wall = measure(empty_loop)
local clock_wall = measure(clock_loop)
local idle_wall = measure(step_loop(step_client))
server:default("/v1/held", { json = { ok = true }, delay = HELD_DELAY })
-- One answered request first: until a connection's first answer tells curl
-- it speaks HTTP/1.1, transfers to the same plain-http host wait for it
-- (CURLOPT_PIPEWAIT) in case it could multiplex them.
assert(step_client:request{ method = "POST", path = CHAT_PATH, json = CHAT_BODY })
local held = {}
for i = 1, IN_FLIGHT do
  held[i] = step_client:start("request", { method = "POST", path = "/held", json = { i = i } })
end
-- Let every transfer connect and send before timing the loop.
local settle = core.now() + 1
while core.now() < settle and #server:requests("/v1/held") < IN_FLIGHT do step_client:step(0.01) end
assert(#server:requests("/v1/held") == IN_FLIGHT, "the held requests did not all reach the server")
local busy_wall = measure(step_loop(step_client))
for i = 1, IN_FLIGHT do
  assert(held[i]:status() == "running", "a held request ended during the step loop")
  held[i]:cancel()
end
step_client:close()

-- 2. 1,000 sequential small requests, four ways; all see the same server.
local function gptaudio_requests()
  local client = new_client()
  for _ = 1, SEQUENTIAL do
    local res = assert(client:request{ method = "POST", path = CHAT_PATH, json = CHAT_BODY })
    assert(res.json.choices[1].message.content == "Hi.")
  end
  client:close()
end

local function gptaudio_chats()
  local client = new_client()
  for _ = 1, SEQUENTIAL do
    local reply = assert(client:chat{ messages = MESSAGES })
    assert(reply.text == "Hi.", reply.text)
  end
  client:close()
end

local function luasocket_requests()
  local url = server.url .. CHAT_PATH
  for _ = 1, SEQUENTIAL do
    local body = cjson.encode(CHAT_BODY)
    local chunks = {}
    local ok, status = http.request{
      url = url, method = "POST",
      headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#body),
                  authorization = "Bearer sk-bench" },
      source = ltn12.source.string(body), sink = ltn12.sink.table(chunks),
    }
    assert(ok and status == 200, status)
    assert(cjson.decode(table.concat(chunks)).choices[1].message.content == "Hi.")
  end
end

-- The floor: one kept-alive connection, the request bytes prepared once, the
-- answer read by its Content-Length and not decoded.
local function bare_socket_requests()
  local host, port = server.url:match("^http://([^:/]+):(%d+)")
  local conn = assert(socket.connect(host, tonumber(port)))
  conn:setoption("tcp-nodelay", true)
  local body = cjson.encode(CHAT_BODY)
  local head = ("POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n")
    :format(CHAT, host, port, #body)
  local message = head .. body
  for _ = 1, SEQUENTIAL do
    assert(conn:send(message))
    local length
    repeat
      local line = assert(conn:receive("*l"))
      local value = line:lower():match("^content%-length:%s*(%d+)")
      if value then length = tonumber(value) end
    until line == ""
    assert(#assert(conn:receive(length)) == length)
  end
  conn:close()
end

-- The C floor, built here: it reports its own wall and CPU seconds (its CPU
-- is its process's, not ours).
local FLOOR = "build/bench/transport_floor"
assert(util.succeeded(("mkdir -p build/bench && cc -std=c99 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -o %s "
  .. "bench/transport_floor.c $(pkg-config --cflags --libs libcurl)"):format(FLOOR)), "cannot build " .. FLOOR)
local function c_floor_requests()
  local output = util.read_command(("%s %s %d %s"):format(FLOOR, util.shell_quote(server.url .. CHAT_PATH),
    SEQUENTIAL, util.shell_quote(cjson.encode(CHAT_BODY))))
  local wall, cpu = output:match("^(%S+) (%S+)")
  return assert(tonumber(wall), output), tonumber(cpu)
end

-- Each of the five, ROUNDS times, alternating, keeping the best of each.
local ways = {
  { name = "gptaudio client:request", run = gptaudio_requests },
  { name = "gptaudio client:chat (+ decode)", run = gptaudio_chats },
  { name = "socket.http + cjson", run = luasocket_requests },
  { name = "bare socket, one connection (floor)", run = bare_socket_requests },
  { name = "C libcurl multi loop (C floor)", own = c_floor_requests },
}
for _, way in ipairs(ways) do way.wall, way.cpu = math.huge, math.huge end
for _ = 1, ROUNDS do
  for _, way in ipairs(ways) do
    server:clear()
    server:default(CHAT, { json = COMPLETION })
    local wall, cpu
    if way.own then wall, cpu = way.own() else wall, cpu = measure(way.run) end
    way.wall, way.cpu = math.min(way.wall, wall), math.min(way.cpu, cpu)
    local seen, connections = server:requests(CHAT), {}
    assert(#seen == SEQUENTIAL, #seen)
    for _, r in ipairs(seen) do connections[r.connection] = true end
    way.connections = 0
    for _ in pairs(connections) do way.connections = way.connections + 1 end
  end
end

-- 3. 64 requests of 250 ms, 16 at a time: on a fresh client, and on one whose
-- connection has already answered once (see the warm-up in 1).
local function burst(warm)
  server:clear()
  server:default(CHAT, { json = COMPLETION })
  server:default("/v1/slow", { json = { ok = true }, delay = BURST_DELAY })
  local client = new_client{ max_concurrency = BURST_CONCURRENCY }
  if warm then assert(client:request{ method = "POST", path = CHAT_PATH, json = CHAT_BODY }) end
  local requests = {}
  local wall = measure(function()
    for i = 1, BURST do
      requests[i] = client:start("request", { method = "POST", path = "/slow", json = { i = i } })
    end
    while client:step(1) > 0 do end
  end)
  for i = 1, BURST do assert(requests[i]:status() == "done", requests[i]:status()) end
  client:close()
  return wall
end
local burst_cold, burst_warm = burst(false), burst(true)
server:stop()

local ideal = BURST / BURST_CONCURRENCY * BURST_DELAY
local reference = ways[3]
print(("%s, %s"):format(_VERSION, jit and jit.version or "PUC"))
print()
print(("| %d calls of | per call (us) | / empty Lua call | / core.now() |"):format(STEP_CALLS))
print("|---|---:|---:|---:|")
for _, r in ipairs{
  { "empty Lua function (reference)", empty_wall }, { "core.now(), a C function (reference)", clock_wall },
  { "client:step(0), idle", idle_wall }, { ("client:step(0), %d transfers in flight"):format(IN_FLIGHT), busy_wall },
} do
  print(("| %s | %.3f | %.1f | %.1f |"):format(r[1], r[2] / STEP_CALLS * 1e6, r[2] / empty_wall, r[2] / clock_wall))
end
print()
print(("| %d sequential requests | connections | wall/req (us) | / socket.http | CPU/req (us) | / socket.http |")
  :format(SEQUENTIAL))
print("|---|---:|---:|---:|---:|---:|")
for _, way in ipairs(ways) do
  print(("| %s | %d | %.1f | %.3f | %.1f | %.3f |"):format(way.name, way.connections,
    way.wall / SEQUENTIAL * 1e6, way.wall / reference.wall, way.cpu / SEQUENTIAL * 1e6, way.cpu / reference.cpu))
end
print(("client:request CPU per request / the C floor's: %.2f"):format(ways[1].cpu / ways[5].cpu))
print()
print(("| %d requests of %d ms, max_concurrency %d | wall (s) | ideal (s) | measured / ideal |")
  :format(BURST, BURST_DELAY * 1000, BURST_CONCURRENCY))
print("|---|---:|---:|---:|")
print(("| fresh client | %.3f | %.3f | %.3f |"):format(burst_cold, ideal, burst_cold / ideal))
print(("| after one answered request | %.3f | %.3f | %.3f |"):format(burst_warm, ideal, burst_warm / ideal))
