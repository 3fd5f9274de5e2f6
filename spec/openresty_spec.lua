-- OpenResty: Debian's nginx with its Lua module, on loopback. attach refuses
-- the init phase: a client made in init_by_lua would be forked into every
-- worker.
local nginx = require "spec.support.nginx"
local util = require "spec.support.util"

describe("loop.ngx.attach", function()
  it("refuses init_by_lua: nginx does not start, and says why", function()
    local template = os.tmpname()
    util.write_file(template, [[
@MODULES@
pid nginx.pid;
events {}
http {
  lua_package_path "@REPO@/lua/?.lua;@REPO@/lua/?/init.lua;;";
  lua_package_cpath "@REPO@/build/jit/?.so;;";
  init_by_lua_block { require("gptaudio.loop.ngx").attach(require("gptaudio").new{ api_key = "k" }) }
  server { listen 127.0.0.1:@PORT@; }
}
]])
    local ok, err = pcall(nginx.start, template)
    os.remove(template)
    assert.is_false(ok)
    local says = "loop.ngx.attach: make the client in each worker (init_worker_by_lua or a handler), "
      .. "not in init_by_lua: the workers would share its transfers"
    assert.truthy(tostring(err):find(says, 1, true), err)
  end)
end)

-- A site of two clients on the default engine, attached once per worker.
local SITE = [[
@MODULES@
worker_processes 1;
pid nginx.pid;
env FAKE_URL;
env TMPDIR;
events { worker_connections 64; }
http {
  access_log off;
  lua_package_path "@REPO@/lua/?.lua;@REPO@/lua/?/init.lua;;";
  lua_package_cpath "@REPO@/build/jit/?.so;;";
  init_worker_by_lua_block {
    local gptaudio = require "gptaudio"
    local url = os.getenv("FAKE_URL")
    SITE = {
      a = gptaudio.new{ api_key = "sk-a", base_url = url, max_retries = 0 },
      b = gptaudio.new{ api_key = "sk-b", base_url = url, max_retries = 0 },
      handle = require("gptaudio.loop.ngx").attach(),
    }
  }
  server {
    listen 127.0.0.1:@PORT@;
    location = /stream {
      content_by_lua_block {
        local res, err = SITE.a:request{ path = "/s", stream = true,
          on_event = function(ev) ngx.print(ev.data, "\n") ngx.flush() end }
        ngx.print(res and ("status " .. res.status) or ("error " .. tostring(err)))
      }
    }
    location = /two {
      content_by_lua_block {
        local ra = SITE.a:start("request", { path = "/slow" })
        local rb = SITE.b:start("request", { path = "/slow" })
        local a, b = ra:wait(), rb:wait()
        ngx.print(a and a.status, " ", b and b.status, " ", tostring(SITE.handle))
      }
    }
  }
}
]]

describe("loop.ngx, one engine attached once for two clients", function()
  local fake = require "spec.support.fake"
  local http = require "socket.http"
  local server, site, template, tmpdir

  setup(function()
    server = fake.start()
    template = os.tmpname()
    -- as /tmp is: the workers run as another user than the one starting nginx
    tmpdir = util.temp_dir()
    assert(util.succeeded("chmod 1777 " .. util.shell_quote(tmpdir)))
    util.write_file(template, SITE)
    site = nginx.start(template, { FAKE_URL = server.url, TMPDIR = tmpdir })
  end)
  teardown(function()
    if site then site:stop() end
    if template then os.remove(template) end
    util.remove_tree(tmpdir)
    server:stop()
  end)
  before_each(function() server:clear() end)

  it("runs on_event in the handler: ngx.print from it streams the whole reply", function()
    local events = {}
    for i = 1, 40 do events[i] = "e" .. i end
    server:script("/v1/s", { { events = events, chunk_delay = 0.005 } })
    local body, status = http.request(site.url .. "/stream")
    assert.equal(200, status, site:error_log())
    assert.equal(table.concat(events, "\n") .. "\nstatus 200", body)
    assert.is_nil(site:error_log():find("no co ctx", 1, true))
    -- the driver waited on the wake-up helper, not by polling
    assert.is_nil(site:error_log():find("the driver polls", 1, true), site:error_log())
  end)

  it("keeps the wake-up helper's socket under the TMPDIR nginx hands its workers", function()
    server:default("/v1/slow", { delay = 1, json = {} })
    local socket = require "socket"
    local function sockets()
      local listed = util.read_command("ls " .. util.shell_quote(tmpdir) .. "/gptaudio-wakeup-*/socket 2>/dev/null")
      return select(2, listed:gsub("\n", ""))
    end
    local request = io.popen("curl -s " .. util.shell_quote(site.url .. "/two"))
    local deadline, seen = socket.gettime() + 0.9, 0
    while seen == 0 and socket.gettime() < deadline do
      seen = sockets()
      socket.sleep(0.02)
    end
    local body = request:read("*a")
    request:close()
    assert.equal("200 200 gptaudio.loop.ngx.Handle(attached)", body)
    assert.equal(1, seen, "one wake-up socket under TMPDIR while the requests ran")
  end)

  it("drives both clients' requests from one handler, concurrently", function()
    server:default("/v1/slow", { delay = 0.3, json = {} })
    local started = require("gptaudio.core").now()
    local body, status = http.request(site.url .. "/two")
    local elapsed = require("gptaudio.core").now() - started
    assert.equal(200, status, site:error_log())
    assert.equal("200 200 gptaudio.loop.ngx.Handle(attached)", body)
    assert.is_true(elapsed < 0.59, ("took %.3f s"):format(elapsed))
    local keys = {}
    for _, r in ipairs(server:requests("/v1/slow")) do keys[#keys + 1] = r.headers.authorization end
    table.sort(keys)
    assert.same({ "Bearer sk-a", "Bearer sk-b" }, keys)
  end)
end)

-- The README's config, as written but for the checkout's path and a free
-- port, serving the example site against the fake server: upstream failures
-- answered as a gateway does, speech with a real content type.
describe("the README's nginx.conf", function()
  local fake = require "spec.support.fake"
  local gateway = require "gptaudio.gateway"
  local http = require "socket.http"
  local ltn12 = require "ltn12"
  local server, site

  local function readme_template()
    local readme = assert(util.read_file("README.md"))
    local conf = readme:match("<!%-%- nginx:[^\n]*%-%->\n```nginx\n(.-)\n```")
    assert(conf, "README.md has no code block marked <!-- nginx: ... -->")
    -- a pid file of its own: Debian's nginx would write /run/nginx.pid
    local template = "pid nginx.pid;\n" .. conf:gsub("/path/to/gptaudio", "@REPO@")
                                             :gsub("listen 8080;", "listen 127.0.0.1:@PORT@;")
    local path = os.tmpname()
    util.write_file(path, template)
    return path
  end

  local function post(path, body)
    local chunks = {}
    local _, status, headers = http.request{
      url = site.url .. path, method = "POST", source = ltn12.source.string(body),
      headers = { ["content-length"] = #body }, sink = ltn12.sink.table(chunks),
    }
    return status, headers, table.concat(chunks)
  end

  setup(function()
    server = fake.start()
    local template = readme_template()
    site = nginx.start(template, { OPENAI_BASE_URL = server.url, OPENAI_API_KEY = "sk-test" })
    os.remove(template)
  end)
  teardown(function()
    if site then site:stop() end
    server:stop()
  end)
  before_each(function() server:clear() end)

  it("starts with env in the main context, and serves speech as audio/L16, big-endian", function()
    -- gpt-4o-mini-tts streams server-sent events, two chunks here
    local core = require "gptaudio.core"
    local piece = core.base64_encode(("\1\0\2\0\255\127"):rep(800))
    local delta = '{"type":"speech.audio.delta","audio":"' .. piece .. '"}'
    server:script("/v1/audio/speech", { { events = { delta, delta, '{"type":"speech.audio.done"}' } } })
    local status, headers, body = post("/speak", "Hello.")
    assert.equal(200, status, site:error_log())
    assert.equal("audio/L16;rate=24000;channels=1", headers["content-type"])
    assert.equal(("\0\1\0\2\127\255"):rep(1600), body)
  end)

  it("answers an upstream 401 or 403 with 502 and a JSON error", function()
    for _, upstream in ipairs{ 401, 403 } do
      server:script("/v1/audio/speech", { { status = upstream, json = { error = { message = "Incorrect API key",
                                                                                 type = "invalid_request_error" } } } })
      local status, headers, body = post("/speak", "Hello.")
      assert.equal(502, status)
      assert.equal("application/json", headers["content-type"])
      local answer = require("gptaudio").json.decode(body)
      assert.same({ "api", upstream }, { answer.error.type, answer.error.status })
    end
  end)

  it("answers an upstream 429 with 429 and Retry-After, once the client's own retries are spent", function()
    local busy = { status = 429, headers = { ["retry-after"] = "2" },
                   json = { error = { message = "Rate limit reached", type = "requests" } } }
    server:script("/v1/audio/speech", { busy, busy, busy })
    local status, headers = post("/speak", "Hello.")
    assert.equal(429, status)
    assert.equal("2", headers["retry-after"])
    assert.equal(3, #server:requests("/v1/audio/speech"))
  end)

  it("maps a timeout to 504 and anything else to 502 (gptaudio.gateway)", function()
    local errors = require "gptaudio.errors"
    assert.same({ 504 }, { gateway.status(errors.new{ type = "timeout", message = "no answer" }) })
    assert.same({ 502 }, { gateway.status(errors.new{ type = "connection", message = "refused" }) })
    assert.same({ 429, 1 }, { gateway.status(errors.new{ type = "api", status = 429, message = "slow down" }) })
    assert.same({ 429, 3 }, { gateway.status(errors.new{ type = "api", status = 429, retry_after = 2.5,
                                                        message = "slow down" }) })
    assert.same({ 502 }, { gateway.status(errors.new{ type = "api", status = 500, message = "oops" }) })
    assert.has_error(function() gateway.status("x") end,
                     "bad argument #1 to 'gateway.status' (gptaudio.Error expected, got string)")
  end)
end)
