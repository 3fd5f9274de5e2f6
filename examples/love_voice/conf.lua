-- LÖVE 11.4 settings for the NPC you talk to. GPTAUDIO_LOVE_HEADLESS=1 runs
-- it without a window (the spec does: no display needed, audio still plays).
-- examples/love/conf.lua is this file but for the names: LÖVE reads conf.lua
-- from the game's own folder before anything else, and each example is a
-- folder to copy as it is, so each carries its own (a link to one file
-- would break in checkouts without symlinks, as on Windows).
function love.conf(t)
  t.identity = "gptaudio-voice-npc"
  t.version = "11.4"
  t.modules.joystick = false
  t.modules.physics = false
  if os.getenv("GPTAUDIO_LOVE_HEADLESS") then
    t.window = false
  else
    t.window.title = "gptaudio: hold T and talk to the innkeeper"
    t.window.width, t.window.height = 640, 240
  end
end
