-- A PulseAudio daemon of the spec's own, needing no sound card: null sinks
-- (module-null-sink) stand for the devices, so what pacat or `aplay -D pulse`
-- plays, parec or `arecord -D pulse` records from a sink's monitor, through
-- the real server and its resampler. Two of them: the speaker (the default
-- sink: where players go) and the room (its monitor is the default source,
-- the microphone: what a spec plays into the room, a recorder hears), so a
-- program's own answers on the speaker never reach its microphone.
-- Everything lives in a temporary folder:
-- the socket (folder/pulse/native, where a client looks when XDG_RUNTIME_DIR
-- is the folder), the state, the log. No system-wide configuration is read
-- (PULSE_CONFIG=/dev/null, -n: no default.pa), it never exits by itself, and
-- it runs as root too (it warns, and works).
--
--   local server = pulse.start()      -- server.address ("unix:<folder>/pulse/native"),
--                                     -- server.runtime (the folder), server.sink and
--                                     -- server.monitor (the speaker's), server.room
--   server:use()                      -- PULSE_SERVER set in this process, for the children it starts
--   server:clients()                  -- the programs connected to it now, e.g. { "parec" }
--   server:stop()                     -- in the test's one finally: kills it, waits until it is gone
--   pulse.nowhere(dir)                -- an address where no server listens: use(), stop()
local util = require "spec.support.util"

local pulse = {}

local STARTUP_SECONDS = 10
local SINK = "gptaudio_speaker"
local ROOM = "gptaudio_room"

local q = util.shell_quote

local Server = {}
Server.__index = Server

local function alive(pid)
  return util.succeeded(("kill -0 %s 2>/dev/null"):format(pid))
end

--- The environment of a command that talks to this server, as shell words.
function Server:env()
  return ("PULSE_SERVER=%s"):format(q(self.address))
end

--- pactl's answer to `words` (shell text), against this server.
function Server:pactl(words)
  return util.read_command(("%s %s pactl %s 2>&1"):format(util.spawn_env(), self:env(), words))
end

--- Sets PULSE_SERVER in this process (luv's setenv), so the children the
--- library starts reach this server; stop() puts back what was there.
function Server:use()
  local uv = require "luv"
  if self.saved == nil then self.saved = uv.os_getenv("PULSE_SERVER") or false end
  uv.os_setenv("PULSE_SERVER", self.address)
end

--- The names of the client programs connected now (pactl list short clients).
function Server:clients()
  local names = {}
  for line in self:pactl("list short clients"):gmatch("[^\n]+") do
    local name = line:match("^%d+%s+%S+%s+(%S+)")
    if name and name ~= "pactl" then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

function Server:log()
  return util.read_file(self.runtime .. "/pulseaudio.log") or ""
end

-- Puts back the PULSE_SERVER that use() replaced.
local function restore(self)
  if self.saved == nil then return end
  local uv = require "luv"
  if self.saved then uv.os_setenv("PULSE_SERVER", self.saved) else uv.os_unsetenv("PULSE_SERVER") end
  self.saved = nil
end

function Server:stop()
  restore(self)
  if not self.pid then return end
  os.execute(("kill %s 2>/dev/null"):format(self.pid))
  local socket = require "socket"
  local deadline = socket.gettime() + 5
  while alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.02) end
  if alive(self.pid) then os.execute(("kill -9 %s 2>/dev/null"):format(self.pid)) end
  util.remove_tree(self.runtime)
end

--- An address in dir where no server listens, for the specs of what a
--- client does without one: use() and stop() as a server's.
function pulse.nowhere(dir)
  return setmetatable({ address = "unix:" .. dir .. "/no-pulse-server/native" }, Server)
end

--- Starts the daemon; returns it once it answers. opts.rate (default 48000)
--- and opts.channels (default 2) are the null sink's, as a sound card's are.
function pulse.start(opts)
  opts = opts or {}
  local dir = util.temp_dir()
  local self = setmetatable({ runtime = dir, address = "unix:" .. dir .. "/pulse/native", sink = SINK,
                              monitor = SINK .. ".monitor", room = ROOM }, Server)
  local env = ("HOME=%s XDG_RUNTIME_DIR=%s PULSE_RUNTIME_PATH=%s/pulse PULSE_STATE_PATH=%s/state "
               .. "PULSE_CONFIG=/dev/null"):format(q(dir), q(dir), q(dir), q(dir))
  local sink = "--load=module-null-sink sink_name=%s rate=" .. (opts.rate or 48000) .. " channels="
               .. (opts.channels or 2)
  -- Niced up as a desktop's server is (rtkit makes that one real-time: not here, on a shared machine).
  local daemon = table.concat({
    "pulseaudio", "-n", "--daemonize=no", "--use-pid-file=no", "--exit-idle-time=-1", "--realtime=no",
    "--high-priority=yes", "--log-target=stderr", "--log-level=notice",
    q(("--load=module-native-protocol-unix auth-anonymous=1 socket=%s/pulse/native"):format(dir)),
    -- The first sink loaded is the default one.
    q(sink:format(SINK)), q(sink:format(ROOM)),
  }, " ")
  self.pid = util.read_command(("cd %s && exec %s %s %s > pulseaudio.log 2>&1 & echo $!")
                               :format(q(dir), util.spawn_env(), env, daemon)):match("%d+")
  local socket = require "socket"
  local deadline = socket.gettime() + STARTUP_SECONDS
  while socket.gettime() < deadline and alive(self.pid) do
    if self:pactl("info"):match("Default Sink: " .. SINK) then
      self:pactl("set-default-source " .. ROOM .. ".monitor")
      if self:pactl("info"):match("Default Source: " .. ROOM .. "%.monitor") then return self end
    end
    socket.sleep(0.05)
  end
  local log = self:log()
  self:stop()
  error("pulseaudio did not start:\n" .. log, 2)
end

return pulse
