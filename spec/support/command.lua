-- Runs the gptaudio command as a user does: bin/gptaudio in a subprocess of
-- the interpreter under test, against base_url (nil: neither OPENAI_BASE_URL
-- nor OPENAI_API_KEY set), stdin from a file when given. Returns the exit
-- status, stdout and stderr.
local util = require "spec.support.util"

local command = {}

function command.run(base_url, arguments, stdin_path)
  local out, err = os.tmpname(), os.tmpname()
  local words = {}
  for i, a in ipairs(arguments) do words[i] = util.shell_quote(a) end
  local env = base_url and ("OPENAI_BASE_URL=%s OPENAI_API_KEY=sk-dummy"):format(util.shell_quote(base_url))
    or "-u OPENAI_BASE_URL -u OPENAI_API_KEY"
  local line = ("%s %s %s bin/gptaudio %s < %s > %s 2> %s; echo $?"):format(util.spawn_env(), env, util.LUA,
    table.concat(words, " "), util.shell_quote(stdin_path or "/dev/null"), out, err)
  local status = tonumber(util.read_command(line))
  local stdout, stderr = util.read_file(out), util.read_file(err)
  os.remove(out)
  os.remove(err)
  return status, stdout, stderr
end

return command
