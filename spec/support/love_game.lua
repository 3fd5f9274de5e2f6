-- LÖVE games as the README ships them, run headless: a folder holding the
-- game's files, gptaudio's Lua half as gptaudio/ and its module as
-- gptaudio/core.so; no LUA_PATH or LUA_CPATH. The sound goes to OpenAL Soft's
-- wave writer at 24 kHz mono 16-bit with no resampling, limiter or dither, so
-- what the game queued comes out sample for sample, after the silence the
-- device played before it.
--
--   love_game.bundle(folder)      puts gptaudio/ into a game folder
--   local run = love_game.play("examples/love_voice", server, { GPTAUDIO_LOVE_INPUT = path }, 15)
--   run.stats (the game's GPTAUDIO_LOVE_STATS "name value" lines), run.wav (the bytes
--   OpenAL wrote, nil when none), run.log (what the game printed)
local util = require "spec.support.util"

local shell_quote = util.shell_quote
local love_game = {}

function love_game.bundle(folder)
  local q = shell_quote(folder)
  assert(util.succeeded(("mkdir -p %s/gptaudio && cp -r lua/gptaudio/. %s/gptaudio/"
                         .. " && cp build/jit/gptaudio/core.so %s/gptaudio/core.so"):format(q, q, q)))
end

--- Runs the example's game until it quits (GPTAUDIO_LOVE_TIMEOUT = seconds),
--- against the fake server, with env's variables set.
function love_game.play(example, server, env, seconds)
  local dir = util.temp_dir()
  local game, wav, conf, stats, log = dir .. "/game", dir .. "/out.wav", dir .. "/alsoft.conf", dir .. "/stats",
                                      dir .. "/love.log"
  util.write_file(conf, table.concat({
    "drivers = wave", "frequency = 24000", "channels = mono", "sample-type = int16", "resampler = point",
    "output-limiter = false", "dither = false", "[wave]", "file = " .. wav, "",
  }, "\n"))
  assert(util.succeeded(("mkdir %s && cp %s/*.lua %s/"):format(shell_quote(game), example, shell_quote(game))))
  love_game.bundle(game)
  local vars = {}
  for name, value in pairs(env or {}) do vars[#vars + 1] = name .. "=" .. shell_quote(tostring(value)) end
  table.sort(vars)
  local command = ("%s -u LUA_PATH -u LUA_CPATH ALSOFT_CONF=%s OPENAI_BASE_URL=%s OPENAI_API_KEY=sk-test"
                   .. " GPTAUDIO_LOVE_HEADLESS=1 GPTAUDIO_LOVE_TIMEOUT=%d GPTAUDIO_LOVE_STATS=%s %s"
                   .. " timeout -s KILL %d love %s < /dev/null > %s 2>&1")
                  :format(util.spawn_env(), shell_quote(conf), server.url, seconds, shell_quote(stats),
                          table.concat(vars, " "), seconds + 10, shell_quote(game), shell_quote(log))
  os.execute(command)
  local run = { stats = {}, wav = util.read_file(wav), log = util.read_file(log) }
  for name, value in (util.read_file(stats) or ""):gmatch("(%S+) ([^\n]*)\n") do run.stats[name] = value end
  util.remove_tree(dir)
  return run
end

return love_game
