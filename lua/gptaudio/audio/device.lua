-- The sound server's or the sound card's own programs, as child processes:
-- PulseAudio/PipeWire through parec and pacat (pulseaudio-utils), ALSA
-- through arecord and aplay (alsa-utils). Raw s16le on a pipe is the whole
-- interface, so a device never blocks the host: gptaudio.audio.capture and
-- gptaudio.audio.playback read and write the pipe from the engine's timers.
--
-- The backend: "pulse" when a PulseAudio or PipeWire server is reachable
-- (PULSE_SERVER, or the user's runtime socket: $PULSE_RUNTIME_PATH/native or
-- $XDG_RUNTIME_DIR/pulse/native), else "alsa".
local core = require "gptaudio.core"
local check = require "gptaudio.check"
local errors = require "gptaudio.errors"

local device = {}

-- The latency asked of the sound server: one 20 ms chunk for the
-- microphone (the server keeps what the recorder has not read yet, so a busy
-- host loses nothing); 60 ms for the speaker, whose server buffer must last
-- while the player waits for the CPU (at 20 ms a machine busy with other work
-- dropped pieces of speech). A barge-in ends the player, so its buffer is
-- never heard after a stop. ALSA's own defaults (125 ms periods in a 500 ms
-- buffer) would hand the microphone over in 125 ms lumps and start the
-- speaker only once half a second is queued.
local CAPTURE_LATENCY_MS = "20"
local PLAYBACK_LATENCY_MS = "60"
local ALSA_PERIOD_US = "20000"
local ALSA_BUFFER_US = "100000"

-- open(2) on a socket fails with ENXIO: that error says the socket is there.
local ENXIO = 6

local function socket_exists(path)
  local f, _, code = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil or code == ENXIO
end

--- "pulse" or "alsa", as above. The runtime socket is PulseAudio's or
--- pipewire-pulse's (PipeWire alone has none: parec could not reach it).
function device.default_backend()
  if os.getenv("PULSE_SERVER") then return "pulse" end
  local runtime = os.getenv("PULSE_RUNTIME_PATH")
  if not runtime and os.getenv("XDG_RUNTIME_DIR") then runtime = os.getenv("XDG_RUNTIME_DIR") .. "/pulse" end
  if runtime and socket_exists(runtime .. "/native") then return "pulse" end
  return "alsa"
end

--- The argv that records (direction "capture") or plays ("playback") raw
--- s16le at rate and channels on the backend, on device when given (kept
--- as argv.device, for the messages).
function device.command(direction, backend, rate, channels, name)
  local argv
  if backend == "pulse" then
    local latency = direction == "capture" and CAPTURE_LATENCY_MS or PLAYBACK_LATENCY_MS
    argv = { direction == "capture" and "parec" or "pacat", "--raw", "--format=s16le",
             "--rate=" .. rate, "--channels=" .. channels, "--latency-msec=" .. latency }
    if name then argv[#argv + 1] = "--device=" .. name end
  else
    argv = { direction == "capture" and "arecord" or "aplay", "-q", "-t", "raw", "-f", "S16_LE",
             "-r", tostring(rate), "-c", tostring(channels),
             "--period-time=" .. ALSA_PERIOD_US, "--buffer-time=" .. ALSA_BUFFER_US }
    if name then argv[#argv + 1], argv[#argv + 2] = "-D", name end
  end
  argv.device = name
  return argv
end

--- Raises unless command (optional) is a list of strings naming a program.
function device.check_command(where, command)
  check.value(where, "command", command, "table", true)
  if command == nil then return end
  if #command == 0 then error(where .. ": 'command' must name a program", 0) end
  for i, arg in ipairs(command) do check.value(where, "command[" .. i .. "]", arg, "string") end
end

-- Where the programs come from (Debian), for the message when one is missing.
local PACKAGE = { parec = "pulseaudio-utils", pacat = "pulseaudio-utils", arecord = "alsa-utils",
                  aplay = "alsa-utils" }

--- Starts argv as a child: the Child, or nil, err (type "io"; for a
--- missing player or recorder of ours, naming the package that has it).
function device.start(argv, with_stdin)
  local child, err = core.spawn(argv, { stdin = with_stdin })
  if not child and PACKAGE[argv[1]] and err.message:match("No such file") then
    err = errors.new{ type = "io", message = ("%s (%s is in the package %s)"):format(err.message, argv[1],
                                                                                  PACKAGE[argv[1]]) }
  end
  return child, err
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
  -- The end: ALSA's library chatters before arecord says what failed.
  if #text > 200 then text = "..." .. text:sub(-200) end
  return ("%s%s ended (%s)%s"):format(argv[1], argv.device and (" (device " .. argv.device .. ")") or "",
    code and ("status " .. code) or tostring(signal),
    text ~= "" and (": " .. text) or "")
end

-- How long a child whose pipe broke may take to finish exiting.
local EXIT_WAIT = 0.05

--- Ends a child whose stdin broke (it exited, or is exiting): the error
--- (type "io") its exit and stderr give, or nil when it exited with status 0.
function device.ended(child, argv)
  local said = {}
  device.collect_errors(child, said)
  child:stop(EXIT_WAIT)
  local why = device.failure(child, argv, said)
  return why and errors.new{ type = "io", message = why }
end

return device
