-- gptaudio.Client: configuration (options, the headers it sends, its
-- secrets, its rate limiter and concurrency slots) and the one methods table
-- that names every call.
--
-- Options (gptaudio.new{...}; every one optional, an unknown one raises):
--   api_key, base_url, organization, project   env OPENAI_API_KEY, OPENAI_BASE_URL
--       (else https://api.openai.com/v1), OPENAI_ORG_ID, OPENAI_PROJECT_ID; false for
--       api_key, organization or project means "none", whatever the environment says
--   model = "gpt-audio-mini", voice = "alloy", model_check = "exact" | "prefix" | false,
--   prices = {}                                  read by the chat/transcribe/speak calls
--   engine = gptaudio.engine.new()               the engine it runs on (default: the
--       default engine of this Lua state)
--   timeout = 600        seconds from the moment an attempt leaves the queue: until its
--       last byte when not streamed; until the response's first byte when streamed (then
--       only the stall limit applies, so a long stream outlives it)
--   connect_timeout = 10 seconds until the connection (and TLS) is up, within timeout
--   low_speed_limit = 1, low_speed_time = 60     a streamed attempt that receives less than
--       1 byte/s for 60 s has stalled (type "timeout"), the wait for its first byte
--       included. Only streams: a non-streamed answer legitimately sends nothing until it
--       is complete, which `timeout` bounds; a live stream sends events every few
--       seconds, so a minute of silence is a dead one.
--   max_retries = 2, max_concurrency = 16, max_response_bytes = 64 MiB
--   max_retry_after = 120   the longest retry-after a retry waits for; a longer
--       ask fails the call at once (err.retry_after says what was asked)
--   rpm, tpm             requests and tokens per minute for the whole client (default:
--       not limited); client:map's rpm/tpm tighten them for its run. See limiter.lua.
--   headers = {}         sent with every request; a header set to false is not sent
--   ca_file, proxy       handed to the transport
--   log = fn(level, message)   one line per attempt ("debug"), retry ("warn"), failure
--       ("error"), cancellation ("info"); a task that raised ("error"). Secrets are
--       already redacted. Without it, request lines go nowhere (the caller gets the
--       error) and task failures go to stderr.
--
-- client.options holds the options as used (defaults and environment applied;
-- no key, no headers, no log, no engine): calls read client.options.model, .voice, ...
-- client.totals (usage.totals()) is where calls count each call's usage and
-- cost; client:usage() returns a copy.
--
-- Headers sent: Authorization: Bearer <key> (when there is a key),
-- OpenAI-Organization and OpenAI-Project (when set), User-Agent
-- gptaudio/<VERSION>, Content-Type: application/json for JSON bodies, then the
-- client's headers, then the call's (a later one replaces an earlier one of
-- the same name, in any case). CR, LF or NUL in a header name or value raises
-- (they would end the header and start another).
--
-- A call is a function in the registry `require("gptaudio.client").calls`
-- (name -> build), named once more in the methods table below:
--
--   calls.chat = function(client, params, ...) return op end
--
-- It checks its arguments (raising on programmer errors: it runs at the call
-- site) and returns `op`, a table describing the HTTP request and its hooks,
-- or nil, err for bad data (an unreadable file): the request then ends failed
-- at once and the call returns nil, err. Calls read the client's options and
-- totals; they never require this module.
--   method     "POST" | "GET" | ... (default: POST with a body, GET without)
--   path       "/chat/completions" (appended to base_url) or a whole http(s) URL
--   json | body | multipart    at most one: a Lua value encoded with gptaudio.json
--              (Content-Type: application/json), bytes, or transport multipart parts
--   headers    { Name = value } for this call
--   stream     nil | "sse" | "raw"
--   timeout, max_retries       for this call (default: the client's)
--   progress   true to receive the transport's progress events in on_event
--   on_event(op, ev)   each event of a successful response, in order: ev is the
--              transport's event ({type = "sse", event, data, id, json = decoded data
--              when it is JSON} or {type = "data", data} or {type = "progress", ...}).
--              An SSE "[DONE]" is not passed on: it ends the stream (response.ended);
--              an SSE event whose JSON has "error" fails the request (type "api").
--   on_headers(op, headers)   a streamed request's successful headers, before its first event
--   finish(op, response) -> value | nil, err    the result of a successful response:
--              response = {status, headers, body (buffered mode), json (decoded body, when
--              JSON), events (how many events were delivered), ended ([DONE] seen)}
--   partial(op) -> what err.partial holds when a stream fails after events arrived
-- Every call also takes on_progress = fn(ev) in its options (the last
-- argument): the transport's progress events ({type = "progress", ul_now,
-- ul_total, dl_now, dl_total}), whatever the call.
-- The hooks run under pcall in the request's own task (they may yield, even call
-- the API); a raise fails that request alone, with type "interrupted". Streamed
-- requests are retried only while no event has arrived.
--
-- The client drives nothing itself: its requests run on its engine
-- (gptaudio.engine; options.engine, default: the default engine), which
-- many clients share. client:step, :pollfd, :events, :timeout drive that
-- engine (step returns this client's active requests); a call outside any
-- task blocks by driving the engine until its request ends.
--
-- Layers (each requires only those after it): cli -> client (this methods
-- table) -> map, tools, conversation (take a client, never require it) ->
-- calls/* -> request -> engine -> core.
local core = require "gptaudio.core"
local scheduler = require "gptaudio.engine.scheduler"
local engine = require "gptaudio.engine"
local json = require "gptaudio.json"
local errors = require "gptaudio.errors"
local request = require "gptaudio.request"
local retry = require "gptaudio.retry"
local check = require "gptaudio.check"
local usage = require "gptaudio.usage"
local limiter = require "gptaudio.limiter"
local map = require "gptaudio.map"
local long = require "gptaudio.calls.long"
local tools = require "gptaudio.tools"
local conversation = require "gptaudio.conversation"

local client = {}

local Client = { __name = "gptaudio.Client" }
Client.__index = Client
client.Client = Client

-- The registry of calls: name -> build(client, ...) -> op | nil, err.
local calls = {
  request = require "gptaudio.calls.request",
  chat = require("gptaudio.calls.chat").build,
  transcribe = require("gptaudio.calls.transcribe").build,
  translate = require("gptaudio.calls.translate").build,
  speak = require("gptaudio.calls.speak").build,
}
client.calls = calls

local CLOSED = "gptaudio: the client is closed"

local OPTIONS = {
  api_key = { "string", false }, base_url = "string",
  organization = { "string", false }, project = { "string", false },
  model = "string", voice = { "string", "table" }, model_check = { "exact", "prefix", false },
  prices = "table", headers = "table", ca_file = "string", proxy = "string", log = "function",
  timeout = "positive number", connect_timeout = "positive number",
  low_speed_limit = "positive number", low_speed_time = "positive number",
  max_retries = "non-negative integer", max_retry_after = "non-negative number", max_concurrency = "positive integer",
  max_response_bytes = "positive integer", rpm = "positive number", tpm = "positive number",
  engine = "table", limit_store = "table",
}

local DEFAULTS = {
  base_url = "https://api.openai.com/v1", model = "gpt-audio-mini", voice = "alloy", model_check = "exact",
  timeout = 600, connect_timeout = 10, low_speed_limit = 1, low_speed_time = 60,
  max_retries = 2, max_retry_after = retry.LONGEST_HONOURED, max_concurrency = 16,
  max_response_bytes = 64 * 1024 * 1024,
}

local ENVIRONMENT = {
  api_key = "OPENAI_API_KEY", base_url = "OPENAI_BASE_URL",
  organization = "OPENAI_ORG_ID", project = "OPENAI_PROJECT_ID",
}

-- What must never be shown (the key, the default header lines), kept off the
-- client table so that printing or inspecting a client cannot reveal it.
local private = setmetatable({}, { __mode = "k" })

local function printable(text)
  return (text:gsub("\r", "\\r"):gsub("\n", "\\n"):gsub("%z", "\\0"))
end

local function breaks_header(text)
  return text:find("[\r\n]") or text:find("\0", 1, true)
end

-- Adds headers (a {Name = value|false} table) to the ordered set `into`
-- ({order = {lower names}, lines = {lower name -> "Name: value" | false}}).
local function add_headers(into, headers, where)
  local names = {}
  for name in pairs(headers) do
    if type(name) ~= "string" or name == "" then
      error(("%s: a header name must be a non-empty string (got %s)"):format(where, type(name)), 0)
    end
    names[#names + 1] = name
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local value = headers[name]
    if breaks_header(name) then
      error(("%s: header '%s' contains CR, LF or NUL"):format(where, printable(name)), 0)
    end
    if value ~= false then
      check.value(where, "header " .. name, value, { "string", "number" })
      value = tostring(value)
      if breaks_header(value) then error(("%s: header '%s' contains CR, LF or NUL"):format(where, name), 0) end
    end
    local key = name:lower()
    if into.lines[key] == nil then into.order[#into.order + 1] = key end
    into.lines[key] = value and (name .. ": " .. value)
  end
end

local function header_set(base)
  local set = { order = {}, lines = {} }
  if base then
    for i, key in ipairs(base.order) do
      set.order[i] = key
      set.lines[key] = base.lines[key]
    end
  end
  return set
end

local function header_lines(set)
  local lines = {}
  for _, key in ipairs(set.order) do
    if set.lines[key] then lines[#lines + 1] = set.lines[key] end
  end
  return lines
end

-- The key, and the values of headers that carry credentials, for redaction.
local function secrets_of(key, headers)
  local list = {}
  if key then list[1] = key end
  for name, value in pairs(headers) do
    local lower = type(name) == "string" and name:lower()
    if (lower == "authorization" or lower == "api-key") and type(value) == "string" and value ~= "" then
      list[#list + 1] = value
      local token = value:match("^[Bb]earer%s+(.+)$")
      if token then list[#list + 1] = token end
    end
  end
  return list
end

-- Raises unless ca_file, when given and there, is a regular file: libcurl
-- reads it inside step, where a FIFO would block the host for ever.
local function check_ca_file(ca_file)
  local kind = ca_file and core.file_kind(ca_file)
  if kind and kind ~= "regular file" then
    error(("gptaudio.new: 'ca_file' %s is a %s, not a regular file"):format(ca_file, kind), 0)
  end
end

--- A new client; see the options above.
function client.new(options)
  options = check.value("gptaudio.new", "options", options, "table", true) or {}
  check.known("gptaudio.new", options, OPTIONS, "option")
  local config = {}
  for name, expected in pairs(OPTIONS) do
    local value = options[name]
    if value == nil and ENVIRONMENT[name] then
      value = os.getenv(ENVIRONMENT[name])
      if value == "" then value = nil end
    end
    if value == nil then value = DEFAULTS[name] end
    config[name] = check.value("gptaudio.new", name, value, expected, true)
  end
  check_ca_file(config.ca_file)
  local key = config.api_key or nil
  local self = setmetatable({ logger = config.log }, Client)
  local on = config.engine or engine.default()
  if not engine.is_engine(on) then
    error("gptaudio.new: 'engine' must be a gptaudio engine (gptaudio.engine.new())", 0)
  end
  on:check_open()
  config.api_key, config.headers, config.log, config.engine = nil, nil, nil, nil
  config.base_url = config.base_url:gsub("/+$", "")
  self.options = config
  local headers = header_set()
  add_headers(headers, {
    ["Authorization"] = key and ("Bearer " .. key) or false,
    ["OpenAI-Organization"] = config.organization or false,
    ["OpenAI-Project"] = config.project or false,
    ["User-Agent"] = "gptaudio/" .. core.VERSION,
  }, "gptaudio.new")
  add_headers(headers, options.headers or {}, "gptaudio.new")
  private[self] = { headers = headers }
  errors.keep_secrets(self, secrets_of(key, options.headers or {}))
  self.engine = on
  -- The engine's, shared with every client on it (kept for callers that read them).
  self.transport, self.scheduler = on.transport, on.scheduler
  self.log_function = self.logger and function(level, message) self:log(level, message) end
  self.totals = usage.totals()
  self.limiter = limiter.new(on.scheduler, { rpm = config.rpm, tpm = config.tpm }, config.limit_store,
                             function(level, message) self:log(level, message) end)
  self.live, self.live_count = {}, 0
  self.running, self.queue, self.queue_first, self.queue_last = 0, {}, 1, 0
  return self
end

function Client:__tostring()
  return errors.redact_for(self, ("gptaudio.Client(%s, model %s)"):format(self.options.base_url, self.options.model))
end

--- One line to the user's log, secrets redacted; a failing log function is
--- reported on stderr rather than breaking the request.
function Client:log(level, message)
  if not self.logger then return end
  message = errors.redact_for(self, message)
  local ok, err = pcall(self.logger, level, message)
  if not ok then
    scheduler.default_log("error", "the log function failed: " .. errors.redact_for(self, tostring(err)))
  end
end

local function check_open(self)
  if self.closed then error(CLOSED, 0) end
end

--- Raise unless the client is open.
Client.check_open = check_open

--- Runs fn(...) to its end (see engine:run): in the task, or outside one by
--- driving the client's engine; raises at once where that must not block.
function Client:run(fn, cancel, ...)
  check_open(self)
  return self.engine:run(fn, cancel, ...)
end

local PER_CALL = "client:%s"

-- The transfer description for an op: URL, headers, body, limits.
local function transfer_spec(self, kind, op)
  local where = PER_CALL:format(kind)
  check.value(where, "path", op.path, "string")
  if op.path:find("[%s%c]") then error(where .. ": 'path' contains a space or a control character", 0) end
  local url = op.path
  if not url:find("^https?://") then
    if url:sub(1, 1) ~= "/" then error(where .. ": 'path' must start with / or be an http(s) URL", 0) end
    url = self.options.base_url .. url
  end
  local bodies = (op.json ~= nil and 1 or 0) + (op.body ~= nil and 1 or 0) + (op.multipart ~= nil and 1 or 0)
  if bodies > 1 then error(where .. ": give only one of 'json', 'body' and 'multipart'", 0) end
  check.value(where, "body", op.body, "string", true)
  check.value(where, "multipart", op.multipart, "table", true)
  for i, part in ipairs(op.multipart or {}) do
    local name = ("multipart[%d]"):format(i)
    check.value(where, name, part, "table")
    check.value(where, name .. ".name", part.name, "string")
    if (part.data == nil) == (part.path == nil) then
      error(("%s: %s needs one of 'data' and 'path'"):format(where, name), 0)
    end
    check.value(where, name .. ".data", part.data, "string", true)
    check.value(where, name .. ".path", part.path, "string", true)
  end
  check.value(where, "headers", op.headers, "table", true)
  check.value(where, "timeout", op.timeout, "positive number", true)
  check.value(where, "max_retries", op.max_retries, "non-negative integer", true)
  check.value(where, "stream", op.stream, { "sse", "raw" }, true)
  op.method = op.method or (bodies > 0 and "POST" or "GET")
  check.value(where, "method", op.method, "string")
  if not op.method:find("^%u+$") then error(where .. ": 'method' must be upper-case letters", 0) end
  op.finish = op.finish or function(_, response) return response end
  local headers = header_set(private[self].headers)
  local body = op.body
  if op.json ~= nil then
    local ok, text = pcall(json.encode, op.json)
    if not ok then error(where .. ": 'json' cannot be encoded: " .. tostring(text), 0) end
    body = text
    add_headers(headers, { ["Content-Type"] = "application/json" }, where)
  elseif body ~= nil then
    add_headers(headers, { ["Content-Type"] = "application/octet-stream" }, where)
  end
  add_headers(headers, op.headers or {}, where)
  local options = self.options
  -- A stream is bounded by its first byte and then by the stall limit, never
  -- by its length: a long speech stream is as healthy as a short one.
  local timeout = op.timeout or options.timeout
  return {
    url = url, method = op.method, headers = header_lines(headers), body = body, multipart = op.multipart,
    stream = op.stream, progress = op.progress,
    timeout = not op.stream and timeout or nil, first_byte_timeout = op.stream and timeout or nil,
    connect_timeout = options.connect_timeout,
    low_speed_limit = op.stream and options.low_speed_limit or nil,
    low_speed_time = op.stream and options.low_speed_time or nil,
    max_response_bytes = options.max_response_bytes, ca_file = options.ca_file, proxy = options.proxy,
  }
end

local pack = table.pack or function(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack

-- The per-call option on_progress = fn(ev), taken out of the call's options
-- (its last argument, when a table) before the kind sees them: the kinds
-- never know of it. ev is the transport's progress event.
local function take_on_progress(kind, args)
  local last = args[args.n]
  if type(last) ~= "table" or last.on_progress == nil then return nil end
  local on_progress = check.value(PER_CALL:format(kind), "on_progress", last.on_progress, "function")
  local copy = {}
  for key, value in pairs(last) do copy[key] = value end
  copy.on_progress = nil
  args[args.n] = copy
  return function(_, ev) return on_progress(ev) end
end

--- Starts the call `name` with the call's own arguments and returns its
--- Request at once (see request.lua); never waits.
function Client:start(name, ...)
  check_open(self)
  local build = type(name) == "string" and calls[name]
  if not build then error(("client:start: unknown kind '%s'"):format(tostring(name)), 0) end
  local args = pack(...)
  local on_progress = take_on_progress(name, args)
  local op, err = build(self, unpack(args, 1, args.n))
  if op == nil then return request.failed(self, name, err) end
  local spec = transfer_spec(self, name, op)
  spec.progress = op.progress or on_progress ~= nil
  return request.start(self, op, spec, on_progress)
end

--- start + wait: yields inside a task, blocks outside one (raises instead
--- when an event loop that must not block is attached).
function Client:call(name, ...)
  check_open(self)
  if not scheduler.current() then self.engine:check_may_block("client:step") end
  return self:start(name, ...):wait()
end

---------------------------------------------------------------- the calls

--- Any endpoint: see calls/request.lua.
function Client:request(params)
  return self:call("request", params)
end

--- Chat Completions: see calls/chat.lua.
function Client:chat(params)
  return self:call("chat", params)
end

--- Speech to text: see calls/transcribe.lua; long recordings go in pieces
--- (calls/long.lua).
function Client:transcribe(audio, opts)
  return long.run(self, "transcribe", audio, opts)
end

--- Speech to English text, or another language: see calls/translate.lua;
--- long recordings go in pieces (calls/long.lua).
function Client:translate(audio, opts)
  return long.run(self, "translate", audio, opts)
end

--- Text to speech: see calls/speak.lua.
function Client:speak(text, opts)
  return self:call("speak", text, opts)
end

--- Bulk jobs: see map.lua.
Client.map = map.run

--- The tool loop: see tools.lua.
Client.run_tools = tools.run_tools

--- A conversation: see conversation.lua.
Client.conversation = conversation.new

--- Running totals of usage and cost per model over this client's calls (a copy).
function Client:usage()
  return self.totals:snapshot()
end

---------------------------------------------------------------- requests and slots

--- A request of this client began / ended (request.lua).
function Client:track(req)
  self.live[req] = true
  self.live_count = self.live_count + 1
  self.engine:track(req)
end

function Client:forget(req)
  if self.live[req] then
    self.live[req] = nil
    self.live_count = self.live_count - 1
  end
  self.engine:forget(req)
end

--- How many of this client's requests are active (queued, running, or
--- waiting for a retry): what client:step returns.
function Client:active()
  return self.live_count
end

-- Hands free slots to queued requests, oldest first, through the scheduler:
-- a request woken here may fail at once and free its slot again, and a
-- nested resume per hand-over would exhaust the C stack.
local function grant(self)
  while not self.closed and self.running < self.options.max_concurrency and self.queue_first <= self.queue_last do
    local req = self.queue[self.queue_first]
    self.queue[self.queue_first] = nil
    self.queue_first = self.queue_first + 1
    if not req:ended() then
      req.slot = true
      self.running = self.running + 1
      self.engine.scheduler:defer(req.task, self.log_function)
    end
  end
end

--- Takes a concurrency slot for req, waiting in FIFO order when all are
--- taken (called from the request's task). False when req ended meanwhile.
function Client:acquire(req)
  if req:ended() then return false end
  if self.running < self.options.max_concurrency and self.queue_first > self.queue_last then
    req.slot = true
    self.running = self.running + 1
    return true
  end
  req.state = "queued"
  self.queue_last = self.queue_last + 1
  self.queue[self.queue_last] = req
  while not req.slot and not req:ended() do scheduler.suspend() end
  return not req:ended()
end

--- Gives req's slot back (idempotent).
function Client:release(req)
  if not req.slot then return end
  req.slot = false
  self.running = self.running - 1
  grant(self)
end

---------------------------------------------------------------- driving the engine

--- Drives the client's engine (every client's requests on it; see
--- engine:step) and returns how many of this client's requests are active.
function Client:step(timeout)
  check_open(self)
  self.engine:drive_step(timeout, "client:step")
  return self.live_count
end

--- The engine's fd to wait on, or nil where the platform has no epoll.
function Client:pollfd()
  check_open(self)
  return self.engine:pollfd()
end

--- cqueues style: wait for the pollfd to become readable.
function Client.events(_)
  return "r"
end

--- Seconds until the engine's step has something to do; nil when nothing is pending.
function Client:timeout()
  check_open(self)
  return self.engine:timeout()
end

--- Attaches a host loop to the client's engine (see engine:attach_loop); it
--- is detached again when this client closes.
function Client:attach_loop(loop)
  check_open(self)
  if self.engine.loop then error("gptaudio: this client already has an event loop attached", 0) end
  self.engine:attach_loop(loop)
  self.attached_loop = loop
end

function Client:detach_loop(loop)
  if self.attached_loop == loop then self.attached_loop = nil end
  self.engine:detach_loop(loop)
end

--- Cancels this client's requests and detaches a loop attached through it;
--- the engine stays for its other clients. Calls on a closed client raise;
--- closing again does nothing.
function Client:close()
  if self.closed then return end
  self.closed = true -- first: the cancellations below hand no slot over
  local live = {}
  for req in pairs(self.live) do live[#live + 1] = req end
  for _, req in ipairs(live) do req:cancel() end
  local loop = self.attached_loop
  self.attached_loop = nil
  if loop then
    self.engine:detach_loop(loop)
    if loop.detach then loop.detach() end
  end
end

Client.__close = Client.close

return client
