-- The Lua side of the fake OpenAI server (spec/support/fake_server.py): start
-- it, script its answers, read what it received. Works on Lua 5.4 and LuaJIT.
--
--   local server = fake.start()
--   server:script("/v1/chat/completions", { {status = 429, headers = {["retry-after"] = "0"}}, {json = {...}} })
--   server:requests("/v1/chat/completions")
--     -- { {method, path, headers, header_list, body, json, connection, index, time}, ... }
--     -- headers by lower-case name (repeats joined with ", "); body: the exact bytes;
--     -- connection: which TCP connection carried it (1, 2, ...); time: seconds since start
--   server:stop()
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"
local util = require "spec.support.util"

local fake = {}

local SERVER_SCRIPT = "spec/support/fake_server.py"
local STARTUP_SECONDS = 10

-- The python3 found on PATH may be a version manager's shim that costs a second
-- or more per start; the first server says where its interpreter really is.
local python = os.getenv("GPTAUDIO_PYTHON") or "python3"

-- The command that starts Python for the servers (GPTAUDIO_PYTHON overrides it).
function fake.python()
  return python
end

-- The prefix for every child process a spec starts (util.spawn_env).
fake.spawn_env = util.spawn_env

local Server = {}
Server.__index = Server

-- One control call; returns the decoded answer or raises with the server's reply.
function Server:control(command, payload)
  local body = payload and cjson.encode(payload) or ""
  local answer = {}
  local ok, status = http.request{
    url = self.base .. "/__control/" .. command,
    method = payload and "POST" or "GET",
    headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#body) },
    source = ltn12.source.string(body),
    sink = ltn12.sink.table(answer),
  }
  if not ok or status ~= 200 then
    error(("fake server control %s failed: %s %s"):format(command, tostring(status), table.concat(answer)), 2)
  end
  return cjson.decode(table.concat(answer))
end

-- Queues responses for a path (exact path with query, or the path alone);
-- each is served once, in order, before the path's default answers again.
function Server:script(path, responses)
  assert(type(path) == "string", "script: path must be a string")
  assert(type(responses) == "table", "script: responses must be a list")
  self:control("script", { path = path, responses = responses })
end

-- Makes every unscripted request to path get this response; nil restores the built-in default.
function Server:default(path, response)
  assert(type(path) == "string", "default: path must be a string")
  self:control("default", { path = path, response = response or cjson.null })
end

-- The recorded requests, oldest first; with path, only those to it (with or without query).
function Server:requests(path)
  local list = {}
  for _, r in ipairs(self:control("requests").requests) do
    if path == nil or r.path == path or r.path:match("^[^?]*") == path then
      local ok, decoded = pcall(cjson.decode, r.body)
      r.json = ok and type(decoded) == "table" and decoded or nil
      list[#list + 1] = r
    end
  end
  return list
end

-- Answers unscripted requests as the local stand-in of the API (on = true) or with 404 (false).
function Server:standin(on)
  self:control("standin", { on = on })
end

-- Sentences the stand-in's ear knows ({text, seconds, speaker?, fail?}: see
-- fake_server.py) and the latency of each request it answers; cleared by clear().
function Server:ear(sentences, delay)
  self:control("ear", { sentences = sentences, delay = delay or 0 })
end

-- Forgets scripts, defaults, recorded requests and the ear's sentences.
function Server:clear()
  self:control("clear", {})
end

function Server:stop()
  if not self.process then return end
  pcall(self.control, self, "shutdown", {})
  self.process:close()
  self.process = nil
end

-- Starts a server on a free loopback port and waits until it answers.
function fake.start()
  -- Our pipe is its stdin: when this process ends, the server sees EOF and exits.
  local port, process = util.start_server({ python, SERVER_SCRIPT }, STARTUP_SECONDS)
  if not port then error("fake server did not start within " .. STARTUP_SECONDS .. " s", 2) end
  local self = setmetatable({
    process = process,
    port = port,
    base = "http://127.0.0.1:" .. port,
    url = "http://127.0.0.1:" .. port .. "/v1",
  }, Server)
  local interpreter = self:control("ping").python
  if type(interpreter) == "string" and interpreter ~= "" then python = interpreter end
  return self
end

return fake
