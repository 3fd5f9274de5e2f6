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
