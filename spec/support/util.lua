-- Small helpers the specs, their support modules and the benches share: files,
-- shell words and commands, loopback ports, and starting a helper server that
-- says its port in a file. Works on Lua 5.4 and LuaJIT.
--
--   local util = require "spec.support.util"
--   local port, process = util.start_server({ "python3", "server.py" }, 10)
local socket = require "socket"

local util = {}

--- The interpreter under test (scripts/run-tests names it), for the Lua
--- processes a spec starts.
util.LUA = os.getenv("GPTAUDIO_LUA") or "lua5.4"

--- s as one shell word.
function util.shell_quote(s)
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end

--- The prefix for every child process a spec starts: the sanitizer runtime
--- that check-asan preloads into the interpreter must not leak into its children.
function util.spawn_env()
  return "env -u LD_PRELOAD"
end

--- The bytes of the file at path, or nil when it cannot be opened.
function util.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local bytes = f:read("*a")
  f:close()
  return bytes
end

function util.write_file(path, bytes)
  local f = assert(io.open(path, "wb"))
  assert(f:write(bytes))
  f:close()
end

function util.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- What command wrote on its stdout.
function util.read_command(command)
  local pipe = assert(io.popen(command, "r"))
  local text = pipe:read("*a")
  pipe:close()
  return text
end

--- Whether command exited with status 0: os.execute says so as true (Lua 5.4)
--- or 0 (LuaJIT).
function util.succeeded(command)
  local status = os.execute(command)
  return status == true or status == 0
end

--- A search path (package.path, package.cpath) with its relative entries made
--- absolute, for a child that runs in a folder of its own.
function util.absolute_paths(paths)
  local cwd = util.read_command("pwd"):gsub("%s+$", "")
  return (paths:gsub("[^;]+", function(entry)
    if entry:sub(1, 1) == "/" then return entry end
    return cwd .. "/" .. entry:gsub("^%./", "")
  end))
end

--- A new empty directory; util.remove_tree removes it with all it holds.
function util.temp_dir()
  return (util.read_command("mktemp -d"):gsub("%s+$", ""))
end

function util.remove_tree(dir)
  os.execute("rm -rf " .. util.shell_quote(dir))
end

--- A loopback port that nothing listens on now: the kernel's pick for a bind
--- to port 0, closed again.
function util.closed_port()
  local probe = assert(socket.bind("127.0.0.1", 0))
  local _, port = probe:getsockname()
  probe:close()
  return tonumber(port)
end

--- Whether something accepts connections on the loopback port.
function util.answers(port)
  local conn = socket.tcp()
  conn:settimeout(1)
  local ok = conn:connect("127.0.0.1", port)
  conn:close()
  return ok ~= nil
end

--- Starts a server that writes "PORT <n>\n" to the file named by its option
--- --port-file once it listens: words are its command line, quoted here, its
--- stdout goes nowhere and its stdin is our pipe (the server ends when this
--- process does). Returns the port and the pipe, or nil when no port came
--- within `seconds` (the pipe closed).
function util.start_server(words, seconds)
  local port_file = os.tmpname()
  os.remove(port_file)
  local quoted = {}
  for i, word in ipairs(words) do quoted[i] = util.shell_quote(word) end
  local process = assert(io.popen(("%s %s --port-file %s > /dev/null"):format(
    util.spawn_env(), table.concat(quoted, " "), util.shell_quote(port_file)), "w"))
  local deadline = socket.gettime() + seconds
  local port
  repeat
    port = tonumber((util.read_file(port_file) or ""):match("^PORT (%d+)\n"))
    if not port then socket.sleep(0.01) end
  until port or socket.gettime() > deadline
  os.remove(port_file)
  if not port then
    process:close()
    return nil
  end
  return port, process
end

return util
