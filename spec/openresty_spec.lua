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
  local server, site, template

  setup(function()
    server = fake.start()
    template = os.tmpname()
    util.write_file(template, SITE)
    site = nginx.start(template, { FAKE_URL = server.url })
  end)
  teardown(function()
    if site then site:stop() end
    if template then os.remove(template) end
    server:stop()
  end)

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
