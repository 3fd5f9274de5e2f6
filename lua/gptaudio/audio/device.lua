-- The sound server's or the sound card's own programs, as child processes:
-- PulseAudio/PipeWire through parec and pacat (pulseaudio-utils), ALSA
-- through arecord and aplay (alsa-utils). Raw s16le on a pipe is the whole
-- interface, so a device never blocks the host: gptaudio.audio.capture and
-- gptaudio.audio.playback read and write the pipe from the engine's timers.
--
-- The backend: "pulse" when a PulseAudio or PipeWire server is reachable
-- (PULSE_SERVER, or the user's runtime socket), else "alsa".
local core = require "gptaudio.core"
local check = require "gptaudio.check"

local device = {}

-- The latency asked of the sound server: one 20 ms chunk.
local LATENCY_MS = "20"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- "pulse" or "alsa", as above.
function device.default_backend()
  if os.getenv("PULSE_SERVER") then return "pulse" end
  local runtime = os.getenv("XDG_RUNTIME_DIR")
  if runtime and (exists(runtime .. "/pulse/native") or exists(runtime .. "/pipewire-0")) then return "pulse" end
  return "alsa"
end

--- The argv that records (direction "capture") or plays ("playback") raw
--- s16le at rate and channels on the backend, on device when given.
function device.command(direction, backend, rate, channels, name)
  local argv
  if backend == "pulse" then
    argv = { direction == "capture" and "parec" or "pacat", "--raw", "--format=s16le",
             "--rate=" .. rate, "--channels=" .. channels, "--latency-msec=" .. LATENCY_MS }
    if name then argv[#argv + 1] = "--device=" .. name end
  else
    argv = { direction == "capture" and "arecord" or "aplay", "-q", "-t", "raw", "-f", "S16_LE",
             "-r", tostring(rate), "-c", tostring(channels) }
    if name then argv[#argv + 1], argv[#argv + 2] = "-D", name end
  end
  return argv
end

--- Raises unless command (optional) is a list of strings naming a program.
function device.check_command(where, command)
  check.value(where, "command", command, "table", true)
  if command == nil then return end
  if #command == 0 then error(where .. ": 'command' must name a program", 0) end
  for i, arg in ipairs(command) do check.value(where, "command[" .. i .. "]", arg, "string") end
end

--- Starts argv as a child: the Child, or nil, err (type "io").
function device.start(argv, with_stdin)
  return core.spawn(argv, { stdin = with_stdin })
end

--- What the child wrote on stderr so far (kept in said, a list), read without waiting.
function device.collect_errors(child, said)
  for _ = 1, 16 do
    local piece = child:read_error()
    if not piece or piece == "" then break end
    said[#said + 1] = piece
  end
end

--- Why an ended child failed: its exit and what it said on stderr (said), as
--- one line, or nil when it ended with status 0.
function device.failure(child, argv, said)
  local _, code, signal = child:running()
  if code == 0 then return nil end
  local text = table.concat(said):gsub("%s+$", ""):gsub("%s+", " ")
  return ("%s ended (%s)%s"):format(argv[1], code and ("status " .. code) or tostring(signal),
    text ~= "" and (": " .. text:sub(1, 200)) or "")
end

return device
