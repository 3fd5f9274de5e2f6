-- Prism serving the vendored OpenAI spec on loopback, for the contract specs:
-- it answers 422 with the list of violations for a request that breaks the
-- spec. It serves the paths without /v1, so its url is the base_url.
--
--   local mock = prism.start()   -- mock.url = "http://127.0.0.1:PORT"
--   mock:post("/audio/speech", body)  -- the status line and body of Prism's answer
--   mock:stop()
local socket = require "socket"
local util = require "spec.support.util"

local prism = {}

local PRISM = "node_modules/.bin/prism"
local SPEC = "spec/contract/openapi-audio.yaml"
-- Prism compiles the whole spec before it listens: several seconds.
local STARTUP_SECONDS = 60

local Mock = {}
Mock.__index = Mock

function prism.available()
  return util.exists(PRISM)
end

-- Starts Prism and waits until it listens. A small shell holds it: the shell
-- waits on its stdin (our pipe) and stops Prism when a line or EOF arrives,
-- so Prism ends with this process even if stop() is never called.
function prism.start()
  if not prism.available() then
    error(PRISM .. " is missing: `make test` installs it (npm ci)", 2)
  end
  local port = util.closed_port()
  local log = os.tmpname()
  local command = ("%s sh -c '%s mock -h 127.0.0.1 -p %d %s > %s 2>&1 & read _; kill $!; wait'"):format(
    util.spawn_env(), PRISM, port, SPEC, log)
  local holder = assert(io.popen(command, "w"))
  local deadline = socket.gettime() + STARTUP_SECONDS
  while not util.answers(port) do
    if socket.gettime() > deadline then
      holder:write("\n")
      holder:close()
      local output = util.read_file(log) or ""
      os.remove(log)
      error(("prism did not listen within %d s:\n%s"):format(STARTUP_SECONDS, output), 2)
    end
    socket.sleep(0.1)
  end
  return setmetatable({ holder = holder, log = log, port = port, url = "http://127.0.0.1:" .. port }, Mock)
end

--- POSTs a JSON body to path by hand, outside any client (Prism's answers to
--- some paths carry headers no HTTP client reads): the answer's status line
--- and what came after its headers.
function Mock:post(path, body)
  local conn = assert(socket.connect("127.0.0.1", self.port))
  conn:settimeout(10)
  assert(conn:send(table.concat({
    "POST " .. path .. " HTTP/1.1", "Host: 127.0.0.1", "Authorization: Bearer sk-contract",
    "Content-Type: application/json", "Content-Length: " .. #body, "Connection: close", "", body,
  }, "\r\n")))
  local status = assert(conn:receive("*l"))
  local rest = conn:receive("*a") or ""
  conn:close()
  return status, rest:match("\r\n\r\n(.*)$") or ""
end

function Mock:stop()
  if not self.holder then return end
  self.holder:write("\n")
  self.holder:close()
  self.holder = nil
  os.remove(self.log)
end

return prism
