-- `luarocks make` installs the module offline, for Lua 5.4 and for LuaJIT, with
-- Debian's lua-cjson satisfying the dependency; the installed module loads
-- from a clean directory, and so does the installed gptaudio command.
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"exit:$?\""))
  local out = p:read("a")
  p:close()
  local status = tonumber(out:match("exit:(%d+)%s*$"))
  return status, out
end

local function rockspec(file)
  file = file or "rockspec/gptaudio-scm-1.rockspec"
  local env = {}
  assert(loadfile(file, "t", env) or setfenv(assert(loadfile(file)), env))()
  return env
end

local function lines(cmd)
  local t = {}
  for line in assert(io.popen(cmd)):lines() do t[#t + 1] = line end
  table.sort(t)
  return t
end

describe("the rockspec", function()
  it("builds every C file of src/ into gptaudio.core", function()
    local sources = {}
    for _, f in ipairs(rockspec().build.modules["gptaudio.core"].sources) do sources[#sources + 1] = f end
    table.sort(sources)
    assert.same(lines("ls src/*.c"), sources)
  end)

  it("of gptaudio-ffmpeg builds every C file of src/ffmpeg/ into gptaudio.ffmpeg", function()
    local sources = {}
    local module = rockspec("rockspec/gptaudio-ffmpeg-scm-1.rockspec").build.modules["gptaudio.ffmpeg"]
    for _, f in ipairs(module.sources) do sources[#sources + 1] = f end
    table.sort(sources)
    assert.same(lines("ls src/ffmpeg/*.c"), sources)
  end)

  it("installs every Lua file of lua/ under its module name", function()
    local installed = {}
    for name, file in pairs(rockspec().build.modules) do
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
end)

describe("luarocks make", function()
  local multiarch = lines("dpkg-architecture -qDEB_HOST_MULTIARCH")[1]
  local targets = {
    { lua = "lua5.4", version = "5.4", config = "" },
    { lua = "luajit", version = "5.1",
      -- lua_interpreter: the wrapper luarocks writes for an installed command runs this interpreter.
      config = 'lua_interpreter = "luajit"\nvariables = { LUA_INCDIR = "' ..
               lines("pkg-config --variable=includedir luajit")[1] .. '", LUA_INTERPRETER = "luajit" }\n' },
  }
  -- Each interpreter's run of the suite checks its own install.
  local running = os.getenv("GPTAUDIO_LUA")
  for _, target in ipairs(targets) do
    if running and running ~= target.lua then goto continue end
    it("installs offline for " .. target.lua .. " and loads from a clean directory", function()
      local tmp = lines("mktemp -d")[1]
      finally(function() os.execute("rm -rf '" .. tmp .. "'") end)
      local config = assert(io.open(tmp .. "/config.lua", "w"))
      config:write('rocks_servers = {}\nrocks_provided = { ["lua-cjson"] = "2.1.0-1" }\n', target.config)
      config:close()
      -- luarocks make leaves the built module in the source folder: build in a copy.
      assert.equal(0, (sh("mkdir -p '" .. tmp .. "/src' '" .. tmp .. "/clean' && cp -r src lua bin rockspec '" ..
                         tmp .. "/src/'")))
      local status, out = sh("cd '" .. tmp .. "/src' && env -u LD_PRELOAD LUAROCKS_CONFIG='" .. tmp ..
        "/config.lua' luarocks --lua-version=" .. target.version .. " --tree='" .. tmp ..
        "/tree' make rockspec/gptaudio-scm-1.rockspec CURL_INCDIR=/usr/include/" .. multiarch)
      assert.equal(0, status, out)
      local tree = tmp .. "/tree"
      local lua_path = tree .. "/share/lua/" .. target.version .. "/?.lua;" .. tree .. "/share/lua/" ..
                       target.version .. "/?/init.lua;;"
      local cpath = tree .. "/lib/lua/" .. target.version .. "/?.so;;"
      status, out = sh("cd '" .. tmp .. "/clean' && env -u LD_PRELOAD LUA_PATH='" .. lua_path ..
        "' LUA_CPATH='" .. cpath .. "' " .. target.lua ..
        [[ -e 'local g = require "gptaudio"; io.write(g.VERSION, " ", package.searchpath and ]] ..
        [[package.searchpath("gptaudio.core", package.cpath) or "", "\n")']])
      assert.equal(0, status, out)
      assert.matches("^%d+%.%d+%.%d+ " .. tree:gsub("%p", "%%%0") .. "/lib/lua/" .. target.version, out)
      -- The command finds the installed modules through the wrapper luarocks writes, not through LUA_PATH.
      status, out = sh("cd '" .. tmp .. "/clean' && env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH '" .. tree ..
                       "/bin/gptaudio' --help")
      assert.equal(0, status, out)
      assert.matches("^Usage: gptaudio COMMAND", out)
      -- The optional rock: gptaudio.ffmpeg into the same tree, found by core on first use.
      status, out = sh("cd '" .. tmp .. "/src' && env -u LD_PRELOAD LUAROCKS_CONFIG='" .. tmp ..
        "/config.lua' luarocks --lua-version=" .. target.version .. " --tree='" .. tmp ..
        "/tree' make rockspec/gptaudio-ffmpeg-scm-1.rockspec FFMPEG_INCDIR=/usr/include/" .. multiarch)
      assert.equal(0, status, out)
      status, out = sh("cd '" .. tmp .. "/clean' && env -u LD_PRELOAD LUA_PATH='" .. lua_path ..
        "' LUA_CPATH='" .. cpath .. "' " .. target.lua ..
        [[ -e 'local f = require("gptaudio").audio.formats(); io.write(tostring(f.ffmpeg), " ", #f.write, "\n")']])
      assert.equal(0, status, out)
      assert.matches("^true 7", out)
    end)
    ::continue::
  end
end)
