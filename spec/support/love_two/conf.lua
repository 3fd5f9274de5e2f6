-- The two-client LÖVE program of spec/hosts_engine_spec.lua: no window, no audio.
function love.conf(t)
  t.identity = "gptaudio-two-clients"
  t.version = "11.4"
  t.window = false
  for _, name in ipairs{ "audio", "sound", "joystick", "physics", "graphics", "image", "font" } do
    t.modules[name] = false
  end
end
