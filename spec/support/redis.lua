-- A redis-server of the spec's own on a free loopback port, in a temporary
-- folder, saving nothing: started by start(), gone after stop().
--
--   local server = redis.start()   -- server.port
--   server:stop()
local util = require "spec.support.util"

local redis = {}

local STARTUP_SECONDS = 10

local Server = {}
Server.__index = Server

function Server:stop()
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  util.remove_tree(self.dir)
end

function redis.start()
  local dir = util.temp_dir()
  local port = util.closed_port()
  local q = util.shell_quote
  local pid = util.read_command(("cd %s && exec %s redis-server --bind 127.0.0.1 --port %d --dir %s --save '' "
                                 .. "--appendonly no --daemonize no > redis.log 2>&1 & echo $!")
                                :format(q(dir), util.spawn_env(), port, q(dir))):match("%d+")
  local socket = require "socket"
  local deadline = socket.gettime() + STARTUP_SECONDS
  while socket.gettime() < deadline do
    if util.read_command(("redis-cli -h 127.0.0.1 -p %d ping 2>/dev/null"):format(port)):match("PONG") then
      return setmetatable({ port = port, pid = pid, dir = dir }, Server)
    end
    socket.sleep(0.05)
  end
  os.execute("kill " .. pid .. " 2>/dev/null")
  local log = util.read_file(dir .. "/redis.log") or ""
  util.remove_tree(dir)
  error("redis-server did not start:\n" .. log, 2)
end

return redis
