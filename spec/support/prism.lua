-- Prism serving the vendored OpenAI spec on loopback, for the contract specs:
-- it answers 422 with the list of violations for a request that breaks the
-- spec. It serves the paths without /v1, so its url is the base_url.
--
--   local mock = prism.start()   -- mock.url = "http://127.0.0.1:PORT"
--   mock:stop()
local socket = require "socket"
local fake = require "spec.support.fake"

local prism = {}

local PRISM = "node_modules/.bin/prism"
local SPEC = "spec/contract/openapi-audio.yaml"
-- Prism compiles the whole spec before it listens: several seconds.
local STARTUP_SECONDS = 60

local Mock = {}
Mock.__index = Mock

-- A port nobody listens on now (the kernel's pick for a bind to port 0).
local function free_port()
  local probe = assert(socket.bind("127.0.0.1", 0))
  local _, port = probe:getsockname()
  probe:close()
  return tonumber(port)
end

local function answers(port)
  local conn = socket.tcp()
  conn:settimeout(1)
  local ok = conn:connect("127.0.0.1", port)
  conn:close()
  return ok ~= nil
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

function prism.available()
  return exists(PRISM)
end

-- Starts Prism and waits until it listens. A small shell holds it: the shell
-- waits on its stdin (our pipe) and stops Prism when a line or EOF arrives,
-- so Prism ends with this process even if stop() is never called.
function prism.start()
  if not prism.available() then
    error(PRISM .. " is missing: `make test` installs it (npm ci)", 2)
  end
  local port = free_port()
  local log = os.tmpname()
  local command = ("%s sh -c '%s mock -h 127.0.0.1 -p %d %s > %s 2>&1 & read _; kill $!; wait'"):format(
    fake.spawn_env(), PRISM, port, SPEC, log)
  local holder = assert(io.popen(command, "w"))
  local deadline = socket.gettime() + STARTUP_SECONDS
  while not answers(port) do
    if socket.gettime() > deadline then
      holder:write("\n")
      holder:close()
      local f = io.open(log, "rb")
      local output = f and f:read("*a") or ""
      if f then f:close() end
      os.remove(log)
      error(("prism did not listen within %d s:\n%s"):format(STARTUP_SECONDS, output), 2)
    end
    socket.sleep(0.1)
  end
  return setmetatable({ holder = holder, log = log, port = port, url = "http://127.0.0.1:" .. port }, Mock)
end

function Mock:stop()
  if not self.holder then return end
  self.holder:write("\n")
  self.holder:close()
  self.holder = nil
  os.remove(self.log)
end

return prism
