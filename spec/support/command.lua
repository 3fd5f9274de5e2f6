-- bin/gptaudio as a user runs it, in its own process against a server, for
-- the specs of the command (batch runs that are interrupted, run twice at
-- once, or limited by the shell).
--
--   local run = command.start(url, { "batch", ... }, { key = "sk-...", limits = "ulimit -f 4", stdin = path })
--   run.pid; local status, stdout, stderr = run.wait()
local util = require "spec.support.util"

local command = {}

local quote = util.shell_quote

--- Starts `gptaudio arguments...` with OPENAI_BASE_URL = base_url and
--- OPENAI_API_KEY = options.key (default "sk-dummy"); options.limits is shell
--- text run first in the child's shell (a ulimit, a trap); options.stdin a
--- file the command reads as its stdin (default: none); options.env more
--- arguments of env(1), as shell text ("-u NAME", "NAME=value"). Returns {pid,
--- wait() -> exit status, stdout, stderr}.
function command.start(base_url, arguments, options)
  options = options or {}
  local words = {}
  for i, a in ipairs(arguments) do words[i] = quote(a) end
  local stderr = os.tmpname()
  local inner = ("echo $$; %s exec %s bin/gptaudio %s < %s"):format(
    options.limits and (options.limits .. ";") or "", util.LUA, table.concat(words, " "),
    quote(options.stdin or "/dev/null"))
  local line = ("%s %s OPENAI_BASE_URL=%s OPENAI_API_KEY=%s sh -c %s 2>%s; echo exit:$?"):format(
    util.spawn_env(), options.env or "", quote(base_url), quote(options.key or "sk-dummy"), quote(inner), quote(stderr))
  local p = assert(io.popen(line))
  local pid = assert(tonumber(p:read("*l")))
  return {
    pid = pid,
    wait = function()
      local rest = p:read("*a")
      p:close()
      local err = util.read_file(stderr) or ""
      os.remove(stderr)
      return tonumber(rest:match("exit:(%d+)%s*$")), (rest:gsub("exit:%d+%s*$", "")), err
    end,
  }
end

--- start + wait.
function command.run(base_url, arguments, options)
  return command.start(base_url, arguments, options).wait()
end

return command
