-- The README's install commands, run as written: the lines of its code block
-- marked `<!-- install: ... -->`, each in a copy of the checkout, offline
-- (LUAROCKS_CONFIG as the README says, plus a temporary tree to install into),
-- then the result used from a clean directory: `require "gptaudio"` in the
-- Lua the line is for, and the `gptaudio` command LuaRocks wrote.
-- Each interpreter's run of the suite installs the lines for itself; the
-- optional gptaudio-ffmpeg line goes into the tree of the core line of its Lua.
local util = require "spec.support.util"

local shell_quote, read_command = util.shell_quote, util.read_command

local function sh(command)
  local out = read_command("(" .. command .. ") 2>&1; echo \"exit:$?\"")
  return tonumber(out:match("exit:(%d+)%s*$")), out:gsub("exit:%d+%s*$", "")
end

-- The commands of the README's install block, in order.
local function install_lines()
  local readme = assert(util.read_file("README.md"))
  local block = readme:match("<!%-%- install:[^\n]*%-%->\n```sh\n(.-)\n```")
  assert(block, "README.md has no code block marked <!-- install: ... -->")
  local lines = {}
  for line in (block .. "\n"):gmatch("(.-)\n") do
    if not line:match("^%s*#") and line:match("%S") then lines[#lines + 1] = line end
  end
  return lines
end

-- The interpreter a line installs for: LuaJIT's headers mean LuaJIT.
local function target_of(line)
  local version = assert(line:match("%-%-lua%-version=(%d%.%d)"), "no --lua-version in: " .. line)
  if line:find("luajit", 1, true) then return "luajit", version, "LuaJIT 2.1" end
  return "lua" .. version, version, "Lua " .. version
end

local function release_version()
  local name = read_command("ls rockspec"):match("gptaudio%-(%d+%.%d+%.%d+)%-1%.rockspec")
  return assert(name, "no release rockspec in rockspec/")
end

describe("the README's install commands", function()
  local lines, addons = {}, {}
  for _, line in ipairs(install_lines()) do
    if line:find("gptaudio-ffmpeg", 1, true) then addons[#addons + 1] = line else lines[#lines + 1] = line end
  end
  local running = os.getenv("GPTAUDIO_LUA")

  it("name each Lua: 5.1, 5.2, 5.3, 5.4 and LuaJIT, and the optional FFmpeg rock", function()
    local seen = {}
    for _, line in ipairs(lines) do seen[#seen + 1] = (target_of(line)) end
    table.sort(seen)
    assert.same({ "lua5.1", "lua5.2", "lua5.3", "lua5.4", "luajit" }, seen)
    assert.equal(1, #addons)
  end)

  for _, line in ipairs(lines) do
    local lua, version, headers = target_of(line)
    if not running or running == lua then
      it("installs offline as written and works from a clean directory: " .. line, function()
        local tmp = util.temp_dir()
        finally(function() util.remove_tree(tmp) end)
        local tree = tmp .. "/tree"
        util.write_file(tmp .. "/config.lua", 'rocks_servers = {}\nrocks_provided = { ["lua-cjson"] = "2.1.0-1" }\n'
          .. "rocks_trees = { " .. ("%q"):format(tree) .. " }\n")
        -- luarocks make leaves the built module in the source folder: it runs in a copy.
        assert.equal(0, (sh(("mkdir -p %s/src %s/clean && cp -r src lua bin rockspec README.md %s/src/")
                            :format(shell_quote(tmp), shell_quote(tmp), shell_quote(tmp)))))
        local status, out = sh(("cd %s/src && %s LUAROCKS_CONFIG=%s/config.lua %s")
                               :format(shell_quote(tmp), util.spawn_env(), shell_quote(tmp), line))
        assert.equal(0, status, out)

        local share, lib = tree .. "/share/lua/" .. version, tree .. "/lib/lua/" .. version
        status, out = sh(("cd %s/clean && %s LUA_PATH=%s LUA_CPATH=%s %s -e %s"):format(
          shell_quote(tmp), util.spawn_env(), shell_quote(share .. "/?.lua;" .. share .. "/?/init.lua;;"),
          shell_quote(lib .. "/?.so;;"), lua, shell_quote([[
            local g = require "gptaudio"
            local core = require "gptaudio.core"
            local buf = g.audio.from_samples({ 0.5, -0.25 }, 8000)
            io.write(g.VERSION, "|", core.HEADERS, "|", buf.frames, "|", buf:sample(2), "|",
                     package.searchpath and package.searchpath("gptaudio.core", package.cpath) or "", "\n")]])))
        assert.equal(0, status, out)
        local got_version, got_headers, frames, sample, path = out:match("^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|\n]*)")
        assert.equal(release_version(), got_version)
        assert.equal(headers, got_headers)
        assert.same({ "2", "-0.25" }, { frames, sample })
        if path ~= "" then assert.equal(lib .. "/gptaudio/core.so", path) end

        -- The command finds the installed modules through the wrapper LuaRocks wrote, not through LUA_PATH.
        status, out = sh(("cd %s/clean && %s -u LUA_PATH -u LUA_CPATH %s --version")
                         :format(shell_quote(tmp), util.spawn_env(), shell_quote(tree .. "/bin/gptaudio")))
        assert.equal(0, status, out)
        assert.matches("^gptaudio " .. release_version():gsub("%.", "%%.") .. " %(.-; module built on "
                       .. headers:gsub("%.", "%%.") .. " headers%)\n$", out)

        -- The optional rock of this Lua, into the same tree: core finds gptaudio.ffmpeg on first use.
        for _, addon in ipairs(addons) do
          if target_of(addon) == lua then
            status, out = sh(("cd %s/src && %s LUAROCKS_CONFIG=%s/config.lua %s")
                             :format(shell_quote(tmp), util.spawn_env(), shell_quote(tmp), addon))
            assert.equal(0, status, out)
            status, out = sh(("cd %s/clean && %s LUA_PATH=%s LUA_CPATH=%s %s -e %s"):format(
              shell_quote(tmp), util.spawn_env(), shell_quote(share .. "/?.lua;" .. share .. "/?/init.lua;;"),
              shell_quote(lib .. "/?.so;;"), lua, shell_quote([[
                local f = require("gptaudio").audio.formats()
                io.write(tostring(f.ffmpeg), " ", #f.write, "\n")]])))
            assert.equal(0, status, out)
            assert.matches("^true 7", out)
          end
        end
      end)
    end
  end
end)
