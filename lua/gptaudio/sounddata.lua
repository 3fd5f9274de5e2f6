-- audio.from_sounddata(sd): a LÖVE SoundData (a recording from
-- love.audio.getRecordingDevices()[i]:getData(), a decoded file, ...) as an
-- AudioBuffer, copied through its pointer with no per-sample loop in Lua.
local audio = require("gptaudio.core").audio

local METHODS = { "getPointer", "getSize", "getSampleRate", "getBitDepth", "getChannelCount" }

return function(sd)
  local kind = type(sd)
  local ok = (kind == "userdata" or kind == "table") and pcall(function()
    for _, name in ipairs(METHODS) do assert(type(sd[name]) == "function") end
  end)
  if not ok then error("bad argument #1 to 'from_sounddata' (LÖVE SoundData expected, got " .. kind .. ")", 2) end
  return audio.from_pointer(sd:getPointer(), sd:getSize(), sd:getSampleRate(), sd:getBitDepth(), sd:getChannelCount())
end
