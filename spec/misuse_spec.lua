-- The misuse sweep: every public function and method called with every wrong
-- type, nil, NaN, huge and negative values, and on closed objects (the cases
-- and the contract are in spec/support/misuse.lua). Each group runs in a child
-- process, so that a crash is caught: the child must exit 0 and report every
-- case. Findings that are reported but not yet fixed are listed in KNOWN;
-- anything else outside the contract fails, and so does a KNOWN entry that no
-- longer happens (remove it then).
local core = require "gptaudio.core"
local misuse = require "spec.support.misuse"
local util = require "spec.support.util"

-- group -> { { pattern of "<case>: <why>", why it is still open[, jit = true when it
-- happens on LuaJIT alone] } }
local KNOWN = {
  audio = {},
  buffer = {},
  client = {},
  closed = {},
  voice = {},
  hosts = {},
}

local function shell_quote(s)
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end

local function read_all(command)
  local pipe = assert(io.popen(command))
  local out = pipe:read("*a")
  pipe:close()
  return out
end

-- Runs one group in a child; returns its output lines and exit status.
local function run_group(group)
  local scratch = read_all("mktemp -d"):match("^(.-)\n")
  local lua = os.getenv("GPTAUDIO_LUA") or "lua5.4"
  -- Under check-valgrind the child is checked too.
  local runner = os.getenv("GPTAUDIO_VALGRIND") and "valgrind -q --error-exitcode=99 " or ""
  local command = ("cd %s && LUA_PATH=%s LUA_CPATH=%s timeout 600 %s%s -e %s 2>&1; echo \"exit $?\""):format(
    shell_quote(scratch), shell_quote(util.absolute_paths(package.path)),
    shell_quote(util.absolute_paths(package.cpath)),
    runner, lua, shell_quote(("require('spec.support.misuse').run(%q)"):format(group)))
  local out = read_all(command)
  os.execute("rm -rf " .. shell_quote(scratch))
  local lines = {}
  for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return lines, tonumber(out:match("exit (%d+)\n$"))
end

describe("misuse sweep", function()
  for _, group in ipairs(misuse.GROUPS) do
    it("keeps the contract in group " .. group .. ", in a child process that must not crash", function()
      local lines, status = run_group(group)
      local last_case, done, bad = nil, nil, {}
      for _, line in ipairs(lines) do
        last_case = line:match("^case (.*)") or last_case
        done = line:match("^done .*") or done
        bad[#bad + 1] = line:match("^bad (.*)")
      end
      assert.equal(0, status, ("the child ended with status %s during case: %s\n%s"):format(
        tostring(status), tostring(last_case), table.concat(lines, "\n", math.max(1, #lines - 30))))
      local run, skipped = assert(done, "no done line"):match("^done (%d+) (%d+)$")
      assert.equal(misuse.count(group), tonumber(run) + tonumber(skipped))
      local known_here = {}
      for _, known in ipairs(KNOWN[group]) do
        if not known.jit or jit then known_here[#known_here + 1] = known end
      end
      local unexplained, seen = {}, {}
      for _, finding in ipairs(bad) do
        local explained = false
        for i, known in ipairs(known_here) do
          if finding:find(known[1]) then
            explained, seen[i] = true, true
          end
        end
        if not explained then unexplained[#unexplained + 1] = finding end
      end
      assert.same({}, unexplained)
      for i, known in ipairs(known_here) do
        assert.is_true(seen[i] == true, "fixed, remove it from KNOWN: " .. known[2])
      end
    end)
  end

  -- Found by the sweep: a message past the first block of Lua 5.4's string
  -- buffer crashed tostring(err).
  it("prints an Error whose message is longer than a string buffer's first block", function()
    local err = core.error{ type = "audio", status = 400, message = ("m"):rep(100000), attempts = 2 }
    assert.equal("gptaudio audio error 400: " .. ("m"):rep(100000) .. " [attempts 2]", tostring(err))
  end)
end)
