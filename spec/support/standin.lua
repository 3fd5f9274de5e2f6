-- The local stand-in of the API (fake_server.py --standin, beside this file)
-- for the examples and `make demo`. Plain Lua: no LuaSocket needed.
--
-- In an example:
--   local standin = require "spec.support.standin"
--   local client = gptaudio.new(standin.options())
-- standin.options() is {} when OPENAI_API_KEY or OPENAI_BASE_URL is set (the
-- real API, or a server the caller chose, stand-in included). Otherwise it
-- starts the stand-in (once per process) and returns { base_url = its URL };
-- the stand-in ends with this process, whichever way it ends (its stdin is our
-- pipe).
--
-- As a script (make demo):
--   lua5.4 spec/support/standin.lua COMMAND ARG...
-- runs COMMAND against the real API when OPENAI_API_KEY is set; otherwise
-- starts the stand-in, runs COMMAND with OPENAI_BASE_URL pointing at it, stops
-- the stand-in whatever COMMAND did, and exits with COMMAND's status.
local standin = {}

local HERE = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local SERVER = HERE .. "fake_server.py"
local STARTUP_SECONDS = 20
local POLL_SECONDS = 0.05

local function quote(s)
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end

local function read_port(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local port = tonumber((f:read("*a") or ""):match("^PORT (%d+)\n"))
  f:close()
  return port
end

local Server = {}
Server.__index = Server

--- Starts the stand-in on a free loopback port; returns it once it listens:
--- server.url is the base_url to give a client.
function standin.start()
  local port_file = os.tmpname()
  os.remove(port_file)
  local python = os.getenv("GPTAUDIO_PYTHON") or "python3"
  -- A sanitizer runtime preloaded into the interpreter must not leak into Python.
  local process = assert(io.popen(("env -u LD_PRELOAD %s %s --standin --port-file %s > /dev/null"):format(
    quote(python), quote(SERVER), quote(port_file)), "w"))
  local port
  for _ = 1, STARTUP_SECONDS / POLL_SECONDS do
    port = read_port(port_file)
    if port then break end
    os.execute("sleep " .. POLL_SECONDS)
  end
  os.remove(port_file)
  if not port then
    process:close()
    error(("the stand-in (%s) did not start within %d s"):format(SERVER, STARTUP_SECONDS), 2)
  end
  return setmetatable({ process = process, url = ("http://127.0.0.1:%d/v1"):format(port) }, Server)
end

--- Stops the stand-in: closing its stdin ends it; waits until it has.
function Server:stop()
  if self.process then
    self.process:close()
    self.process = nil
  end
end

local function set(name)
  local value = os.getenv(name)
  return value ~= nil and value ~= ""
end

local running

--- The client options for an example: see the top of this file.
function standin.options()
  if set("OPENAI_API_KEY") or set("OPENAI_BASE_URL") then return {} end
  running = running or standin.start()
  return { base_url = running.url }
end

-- The exit code of os.execute's results on Lua 5.4 (true|nil, "exit", code)
-- and on LuaJIT without 5.2 compatibility (a wait status).
local function exit_code(ok, how, code)
  if type(ok) == "number" then return math.floor(ok / 256) end
  if how == "exit" then return code end
  return ok and 0 or 1
end

local function run(args)
  local words = {}
  for i, a in ipairs(args) do words[i] = quote(a) end
  local command = table.concat(words, " ")
  if set("OPENAI_API_KEY") then
    print("running against the real API (OPENAI_API_KEY is set)")
    return exit_code(os.execute(command))
  end
  local server = standin.start()
  print("running against the stand-in at " .. server.url .. " (OPENAI_API_KEY is not set)")
  local status = exit_code(os.execute(("OPENAI_BASE_URL=%s %s"):format(quote(server.url), command)))
  server:stop()
  return status
end

-- Run as the main script (not required by one): the command mode.
if arg and arg[0] and arg[0]:match("standin%.lua$") then
  if #arg == 0 then
    io.stderr:write("usage: lua spec/support/standin.lua COMMAND ARG...\n")
    os.exit(2)
  end
  os.exit(run(arg))
end

return standin
