-- Shared rate limits in nginx: 4 workers drawing on one lua_shared_dict
-- bucket, and two nginx instances drawing on one Redis bucket, pace the
-- requests that reach the API as one (the example site, GPTAUDIO_RPM). Each
-- request reserves its turn, so the arrivals at the fake server are evenly
-- spaced however nginx spread the requests over its workers; per-worker
-- limits would let each worker's burst through at once. Runs once, in the
-- LuaJIT pass of the suite (nginx runs its own LuaJIT either way).
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"
local redis = require "spec.support.redis"
local util = require "spec.support.util"

local TEMPLATE = [[
@MODULES@
pid nginx.pid;
worker_processes @WORKERS@;
env OPENAI_API_KEY;
env OPENAI_BASE_URL;
env GPTAUDIO_RPM;
env GPTAUDIO_REDIS;
events { worker_connections 256; }
http {
  access_log off;
  lua_package_path "@REPO@/lua/?.lua;@REPO@/lua/?/init.lua;@REPO@/examples/openresty/?.lua;;";
  lua_package_cpath "@REPO@/build/jit/?.so;;";
  lua_shared_dict gptaudio_limits 1m;
  server {
    listen 127.0.0.1:@PORT@;
    location = /transcribe { content_by_lua_block { require("gptaudio_site").transcribe() } }
  }
}
]]

local function start_site(workers, env)
  local path = os.tmpname()
  util.write_file(path, (TEMPLATE:gsub("@WORKERS@", tostring(workers))))
  local ok, site = pcall(nginx.start, path, env)
  os.remove(path)
  assert(ok, site)
  return site
end

-- Sends count POST /transcribe to each url at once; the HTTP statuses, in order of the list.
local function post_all(urls, count, wav)
  local parts = {}
  for _, url in ipairs(urls) do
    for _ = 1, count do
      parts[#parts + 1] = ("curl -s -o /dev/null -w '%%{http_code}\\n' --max-time 60 --data-binary @%s %s/transcribe &")
                          :format(util.shell_quote(wav), url)
    end
  end
  local out = util.read_command(table.concat(parts, " ") .. " wait")
  local statuses = {}
  for code in out:gmatch("%d+") do statuses[#statuses + 1] = tonumber(code) end
  return statuses
end

-- The arrival times at the fake server, from the first, in order.
local function arrivals(server)
  local times = {}
  for i, r in ipairs(server:requests("/v1/audio/transcriptions")) do times[i] = r.time end
  table.sort(times)
  for i = #times, 1, -1 do times[i] = times[i] - times[1] end
  return times
end

-- Fails naming the first arrival that came ahead of the shared schedule: a
-- bucket of `burst` refilled at `rate` per second lets arrival i (from 1) in
-- no earlier than (i - burst) / rate after the first. Late is fine (a loaded
-- machine); early would mean someone did not wait for the shared budget.
local function assert_paced(times, rate, burst)
  for i, t in ipairs(times) do
    local earliest = math.max(0, (i - burst) / rate)
    assert.is_true(t > earliest - 0.25, ("arrival %d at %.3f s, before %.3f s"):format(i, t, earliest))
  end
end

local function wav_file()
  local path = os.tmpname()
  assert(require("gptaudio").audio.from_samples({ 0.25, -0.25, 0.5, -0.5 }, 16000, 1):save(path))
  return path
end

local running = os.getenv("GPTAUDIO_LUA")
local describe_once = (running == nil or running == "luajit") and describe or pending

describe_once("shared rate limits in nginx", function()
  local server, wav
  setup(function()
    server = fake.start()
    wav = wav_file()
  end)
  teardown(function()
    server:stop()
    os.remove(wav)
  end)
  before_each(function()
    server:clear()
    server:default("/v1/audio/transcriptions", { json = { text = "paced" } })
  end)

  it("4 workers and one lua_shared_dict: 24 requests at rpm 60 reach the API one a second", function()
    local site = start_site(4, { OPENAI_BASE_URL = server.url, OPENAI_API_KEY = "sk-test", GPTAUDIO_RPM = "60" })
    finally(function() site:stop() end)
    local statuses = post_all({ site.url }, 24, wav)
    local times = arrivals(server)
    assert.equal(24, #times, site:error_log())
    for _, status in ipairs(statuses) do assert.equal(200, status) end
    -- one a second after the first (a full bucket holds one request): 23 s in all
    assert_paced(times, 1, 1)
    assert.is_true(times[24] < 40, ("24 arrivals over %.2f s"):format(times[24]))
  end)

  it("two nginx instances and one Redis: 12 requests each at rpm 120 reach the API as 24 at rpm 120", function()
    local store = redis.start()
    local env = { OPENAI_BASE_URL = server.url, OPENAI_API_KEY = "sk-test", GPTAUDIO_RPM = "120",
                  GPTAUDIO_REDIS = "127.0.0.1:" .. store.port }
    local a, b
    -- one finally: busted keeps only the last one a test sets
    finally(function()
      if a then a:stop() end
      if b then b:stop() end
      store:stop()
    end)
    a = start_site(2, env)
    b = start_site(2, env)
    local statuses = post_all({ a.url, b.url }, 12, wav)
    local times = arrivals(server)
    assert.equal(24, #times, a:error_log() .. b:error_log())
    for _, status in ipairs(statuses) do assert.equal(200, status) end
    -- a full bucket holds 2 (one second of 120 rpm), then one every 0.5 s: 11 s in all,
    -- where two separate limits would take half that
    assert_paced(times, 2, 2)
    assert.is_true(times[24] < 25, ("24 arrivals over %.2f s"):format(times[24]))
  end)
end)
