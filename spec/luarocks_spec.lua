-- The rockspecs (scm and the release's) list every file that ships; a release
-- packs into a source rock that installs offline, and `luarocks test` runs the
-- specs. spec/install_spec.lua runs the README's install commands.
local util = require "spec.support.util"

local function sh(cmd)
  local out = util.read_command("(" .. cmd .. ") 2>&1; echo \"exit:$?\"")
  return tonumber(out:match("exit:(%d+)%s*$")), (out:gsub("exit:%d+%s*$", ""))
end

local function rockspec(path)
  local env = {}
  local chunk = assert(loadfile(path))
  if setfenv then setfenv(chunk, env) else chunk = assert(load(util.read_file(path), path, "t", env)) end
  chunk()
  return env
end

local ROCKSPECS = { "rockspec/gptaudio-scm-1.rockspec", "rockspec/gptaudio-" .. require("gptaudio.core").VERSION
                    .. "-1.rockspec" }

local function lines(cmd)
  local t = {}
  for line in assert(io.popen(cmd)):lines() do t[#t + 1] = line end
  table.sort(t)
  return t
end

describe("the rockspecs", function()
  for _, path in ipairs(ROCKSPECS) do
  it("build every C file of src/ into gptaudio.core: " .. path, function()
    local sources = {}
    for _, f in ipairs(rockspec(path).build.modules["gptaudio.core"].sources) do sources[#sources + 1] = f end
    table.sort(sources)
    assert.same(lines("ls src/*.c"), sources)
  end)

  it("install every Lua file of lua/ under its module name: " .. path, function()
    local installed = {}
    for name, file in pairs(rockspec(path).build.modules) do
      if type(file) == "string" then
        local expected = "lua/" .. name:gsub("%.", "/") .. ".lua"
        if file ~= expected then expected = "lua/" .. name:gsub("%.", "/") .. "/init.lua" end
        assert.equal(expected, file)
        installed[#installed + 1] = file
      end
    end
    table.sort(installed)
    assert.same(lines("find lua -name '*.lua'"), installed)
  end)
  end
end)

describe("the rockspec of gptaudio-ffmpeg", function()
  it("builds every C file of src/ffmpeg/ into gptaudio.ffmpeg", function()
    local sources = {}
    local module = rockspec("rockspec/gptaudio-ffmpeg-scm-1.rockspec").build.modules["gptaudio.ffmpeg"]
    for _, f in ipairs(module.sources) do sources[#sources + 1] = f end
    table.sort(sources)
    assert.same(lines("ls src/ffmpeg/*.c"), sources)
  end)
end)

describe("a release", function()
  local running = os.getenv("GPTAUDIO_LUA")

  it("has a rockspec of the module's version beside the scm one, and a CHANGELOG entry", function()
    local core = require "gptaudio.core"
    assert.same({ "gptaudio-" .. core.VERSION .. "-1.rockspec", "gptaudio-ffmpeg-scm-1.rockspec",
                  "gptaudio-scm-1.rockspec" }, lines("ls rockspec"))
    local release = rockspec("rockspec/gptaudio-" .. core.VERSION .. "-1.rockspec")
    assert.equal(core.VERSION .. "-1", release.version)
    assert.truthy(release.source.url:find("/gptaudio-" .. core.VERSION .. ".tar.gz", 1, true), release.source.url)
    assert.truthy(util.read_file("CHANGELOG.md"):find("\n## " .. core.VERSION:gsub("%.", "%%.") .. " "), "CHANGELOG.md")
  end)

  -- Once: the rock is the same for every Lua.
  if not running or running == "lua5.4" then
    it("packs into a source rock that installs offline and runs", function()
      local core = require "gptaudio.core"
      local tmp = util.temp_dir()
      finally(function() util.remove_tree(tmp) end)
      local status, out = sh("scripts/pack-rock " .. util.shell_quote(tmp))
      assert.equal(0, status, out)
      local rock = tmp .. "/gptaudio-" .. core.VERSION .. "-1.src.rock"
      assert.equal(rock .. "\n", out)
      -- what the rock holds: the rockspec as released, and the archive its url names
      assert.same({ "gptaudio-" .. core.VERSION .. "-1.rockspec", "gptaudio-" .. core.VERSION .. ".tar.gz" },
                  lines("unzip -Z1 " .. util.shell_quote(rock)))
      assert.equal(util.read_file("rockspec/gptaudio-" .. core.VERSION .. "-1.rockspec"),
                   util.read_command("unzip -p " .. util.shell_quote(rock) .. " '*.rockspec'"))
      util.write_file(tmp .. "/config.lua", 'rocks_servers = {}\nrocks_provided = { ["lua-cjson"] = "2.1.0-1" }\n'
        .. "rocks_trees = { " .. ("%q"):format(tmp .. "/tree") .. " }\n")
      status, out = sh("cd " .. util.shell_quote(tmp) .. " && env -u LD_PRELOAD LUAROCKS_CONFIG=config.lua "
                       .. "luarocks --lua-version=5.4 install " .. util.shell_quote(rock))
      assert.equal(0, status, out)
      status, out = sh("env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH " .. util.shell_quote(tmp .. "/tree/bin/gptaudio")
                       .. " --version")
      assert.equal(0, status, out)
      assert.matches("^gptaudio " .. core.VERSION:gsub("%.", "%%.") .. " %(Lua 5%.4;", out)
    end)

    it("runs the specs through luarocks test", function()
      -- the release's test command is make test; one small spec on one Lua stands for the suite here
      local status, out = sh("env -u LD_PRELOAD GPTAUDIO_ONLY=lua5.4 GPTAUDIO_SPECS=spec/json_spec.lua "
                             .. "luarocks --lua-version=5.4 test rockspec/gptaudio-scm-1.rockspec")
      assert.equal(0, status, out)
      local passed, failed = out:match("\n(%d+) passed, (%d+) failed\n")
      assert.equal("0", failed, out)
      assert.is_true(tonumber(passed) > 0, out)
    end)
  end
end)
