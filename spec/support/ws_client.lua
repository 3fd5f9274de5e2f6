-- A small WebSocket client (RFC 6455) over LuaSocket for the specs: the
-- handshake, masked text frames out, frames in without blocking. Works on Lua
-- 5.4 and LuaJIT (arithmetic only, no bit operators).
--
--   local ws = ws_client.connect("127.0.0.1", port, "/call")
--   ws:send_text(s)
--   for _, frame in ipairs(ws:poll()) do ... frame.opcode, frame.payload end
--   ws:close()
local socket = require "socket"

local ws_client = {}

local Client = {}
Client.__index = Client

local OPCODES = { [1] = "text", [2] = "binary", [8] = "close", [9] = "ping", [10] = "pong" }

--- Connects and upgrades; raises when the server does not answer 101.
function ws_client.connect(host, port, path)
  local sock = assert(socket.tcp())
  sock:settimeout(5)
  assert(sock:connect(host, port))
  assert(sock:send(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ..
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"):format(path, host, port)))
  local status = assert(sock:receive("*l"))
  if not status:find(" 101 ", 1, true) then error("no WebSocket upgrade: " .. status, 2) end
  repeat local line = assert(sock:receive("*l")) until line == ""
  sock:settimeout(0)
  return setmetatable({ sock = sock, buffer = "", closed = false }, Client)
end

local function length_bytes(n)
  if n < 126 then return string.char(128 + n) end
  if n < 65536 then return string.char(128 + 126, math.floor(n / 256), n % 256) end
  local bytes = {}
  for i = 8, 1, -1 do
    bytes[i] = n % 256
    n = math.floor(n / 256)
  end
  return string.char(128 + 127) .. string.char((table.unpack or unpack)(bytes))
end

local function send_frame(self, opcode, payload)
  -- A zero masking key leaves the payload as it is, which RFC 6455 allows.
  local frame = string.char(128 + opcode) .. length_bytes(#payload) .. "\0\0\0\0" .. payload
  self.sock:settimeout(5)
  local sent, err = self.sock:send(frame)
  self.sock:settimeout(0)
  return sent ~= nil, err
end

function Client:send_text(text)
  return send_frame(self, 1, text)
end

-- One frame off the front of the buffer, or nil when it is not all there.
local function take_frame(self)
  local b = self.buffer
  if #b < 2 then return nil end
  local first, second = b:byte(1, 2)
  local n, at = second % 128, 3
  if n == 126 then
    if #b < 4 then return nil end
    n, at = b:byte(3) * 256 + b:byte(4), 5
  elseif n == 127 then
    if #b < 10 then return nil end
    n = 0
    for i = 3, 10 do n = n * 256 + b:byte(i) end
    at = 11
  end
  if #b < at + n - 1 then return nil end
  self.buffer = b:sub(at + n)
  return { opcode = OPCODES[first % 16] or first % 16, payload = b:sub(at, at + n - 1) }
end

--- The frames that have arrived, without waiting; a closed connection sets closed.
function Client:poll()
  local data, err, partial = self.sock:receive(65536)
  local got = data or partial
  if got and #got > 0 then self.buffer = self.buffer .. got end
  if err == "closed" then self.closed = true end
  local frames = {}
  for frame in take_frame, self do frames[#frames + 1] = frame end
  return frames
end

function Client:close()
  send_frame(self, 8, "")
  self.sock:close()
end

return ws_client
