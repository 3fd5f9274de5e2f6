-- Debian's nginx with its Lua module, started by a spec on a free loopback
-- port from a config template (examples/openresty/nginx.conf), in a temporary
-- prefix directory that stop() removes.
--
--   local site = nginx.start("examples/openresty/nginx.conf", { OPENAI_BASE_URL = url })
--   site.url          "http://127.0.0.1:<port>"
--   site:error_log()  what nginx logged so far
--   site:stop()       graceful stop (SIGQUIT); the seconds nginx took to exit
--
-- Outside comments, the template's @MODULES@ becomes the load_module lines (ndk first, then
-- http_lua, from the modules path nginx -V names), @REPO@ the repository's
-- absolute path (the current directory), @PORT@ the port. The prefix holds
-- modules/ (a link to that path, for `load_module modules/...` as in Debian's
-- own config) and logs/ (where nginx puts its pid file unless told otherwise).
local socket = require "socket"
local util = require "spec.support.util"

local nginx = {}

local MODULES = { "ndk_http_module.so", "ngx_http_lua_module.so" }
local STOP_SECONDS = 10

local read_file, shell_quote = util.read_file, util.shell_quote

-- The folder of nginx's dynamic modules, or raises.
local function modules_path()
  local version = util.read_command("nginx -V 2>&1")
  local dir = version:match("%-%-modules%-path=(%S+)")
  if not dir then error("nginx is missing (scripts/deps test installs nginx and libnginx-mod-http-lua)", 0) end
  return dir
end

-- The load_module lines, or raises naming what is missing.
local function load_module_lines()
  local dir = modules_path()
  local lines = {}
  for _, name in ipairs(MODULES) do
    local path = dir .. "/" .. name
    if not util.exists(path) then error(path .. " is missing (scripts/deps test installs libnginx-mod-http-lua)", 0) end
    lines[#lines + 1] = ("load_module %s;"):format(path)
  end
  return table.concat(lines, "\n")
end

local Site = {}
Site.__index = Site

function Site:error_log()
  return read_file(self.dir .. "/error.log") or ""
end

-- Whether the master process is still there. It removes its pid file as it
-- exits; the process itself may linger as a zombie until init reaps it.
function Site:running()
  return util.exists(self.dir .. "/nginx.pid") or util.exists(self.dir .. "/logs/nginx.pid")
end

function Site:stop()
  if self.stopped then return self.stopped end
  local started = socket.gettime()
  os.execute("kill -QUIT " .. self.pid)
  local deadline = started + STOP_SECONDS
  while self:running() and socket.gettime() < deadline do socket.sleep(0.01) end
  -- The daemon leads its own process group: its workers go with it.
  if self:running() then os.execute("kill -KILL -- -" .. self.pid) end
  self.stopped = socket.gettime() - started
  util.remove_tree(self.dir)
  return self.stopped
end

--- Starts nginx from the template with env added to its environment.
function nginx.start(template, env)
  local modules = load_module_lines()
  local dir = util.temp_dir()
  assert(util.succeeded(("mkdir %s/logs && ln -s %s %s/modules"):format(shell_quote(dir), shell_quote(modules_path()),
                                                                        shell_quote(dir))))
  local repo = util.read_command("pwd"):gsub("%s+$", "")
  local port = util.closed_port()
  local values = { MODULES = modules, REPO = repo, PORT = tostring(port) }
  local lines = {}
  for line in (assert(read_file(template), "cannot read " .. template) .. "\n"):gmatch("(.-)\n") do
    -- The template's comments name the placeholders: they stay as written.
    if not line:find("^%s*#") then line = line:gsub("@(%u+)@", values) end
    lines[#lines + 1] = line
  end
  util.write_file(dir .. "/nginx.conf", table.concat(lines, "\n"))
  local vars = {}
  for name, value in pairs(env or {}) do vars[#vars + 1] = name .. "=" .. shell_quote(value) end
  local command = ("%s %s nginx -p %s -c %s -e %s"):format(util.spawn_env(), table.concat(vars, " "),
    shell_quote(dir .. "/"), shell_quote(dir .. "/nginx.conf"), shell_quote(dir .. "/error.log"))
  local self = setmetatable({ dir = dir, port = port, url = "http://127.0.0.1:" .. port, command = command }, Site)
  local ok = util.succeeded(command .. " 2>> " .. shell_quote(dir .. "/error.log"))
  local pid = tonumber((read_file(dir .. "/nginx.pid") or read_file(dir .. "/logs/nginx.pid") or ""):match("%d+"))
  if not ok or not pid then
    local log = self:error_log()
    util.remove_tree(dir)
    error("nginx did not start:\n" .. log, 2)
  end
  self.pid = pid
  return self
end

return nginx
