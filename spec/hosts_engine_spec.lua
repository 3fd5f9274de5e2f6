-- The hosts drive one engine for two clients, attached once: Neovim (the
-- default engine on vim.loop through loop.uv) and LÖVE (love.update steps
-- the default engine). Each runs two requests of two clients (two keys) at
-- once against the fake server while its own loop goes on. (nginx: the
-- second describe block of spec/openresty_spec.lua.)
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local DELAY = 0.3

-- Runs a host command line with the fake server's url and an output file;
-- returns the output's four words.
local function run_host(server, command)
  local out = os.tmpname()
  local log = out .. ".log"
  os.execute(("%s LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/jit/?.so;;' GPTAUDIO_TWO_URL=%s"
              .. " GPTAUDIO_TWO_OUT=%s timeout -s KILL 20 %s < /dev/null > %s 2>&1")
             :format(util.spawn_env(), server.url, util.shell_quote(out), command, util.shell_quote(log)))
  local written, output = util.read_file(out) or "", util.read_file(log) or ""
  os.remove(out)
  os.remove(log)
  local first, second, count, elapsed = written:match("^(%S+) (%S+) (%d+) (%S+)")
  assert(first, "the host wrote no result: " .. output)
  return first, second, tonumber(count), tonumber(elapsed)
end

local function keys_seen(server)
  local keys = {}
  for _, r in ipairs(server:requests("/v1/slow")) do keys[#keys + 1] = r.headers.authorization end
  table.sort(keys)
  return keys
end

describe("host loops drive two clients through one engine attached once", function()
  local server
  setup_.fake_server(function(s) server = s end)
  before_each(function() server:default("/v1/slow", { delay = DELAY, json = {} }) end)

  it("in Neovim: loop.uv.attach(nil, vim.loop) once, both requests at once, the timer ticking", function()
    local first, second, ticks, elapsed = run_host(server,
      "nvim --headless -u NONE -i NONE -n -c 'luafile spec/support/nvim_two.lua'")
    assert.same({ "200", "200" }, { first, second })
    assert.same({ "Bearer sk-nvim-a", "Bearer sk-nvim-b" }, keys_seen(server))
    assert.is_true(elapsed < 2 * DELAY - 0.01, ("took %.3f s"):format(elapsed))
    assert.is_true(ticks >= 5, ticks .. " ticks") -- about 15 in 0.3 s; a blocked loop gives none
  end)

  it("in LÖVE: love.update steps the default engine, both requests at once, frames going on", function()
    local first, second, frames, elapsed = run_host(server, "love spec/support/love_two")
    assert.same({ "200", "200" }, { first, second })
    assert.same({ "Bearer sk-love-a", "Bearer sk-love-b" }, keys_seen(server))
    assert.is_true(elapsed < 2 * DELAY - 0.01, ("took %.3f s"):format(elapsed))
    assert.is_true(frames >= 10, frames .. " frames") -- a frame loop that waited would count a handful
  end)
end)
