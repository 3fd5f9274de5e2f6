-- A Request: one call through the transport, from client:start to its end,
-- driven by its own task through every attempt, its events and its retries.
--
--   req:status()  "queued"     not in the transport: waiting for a concurrency
--                              slot, or for the delay before a retry
--                 "running"    its transfer is in the transport
--                 "streaming"  a streamed request whose success status arrived
--                 "done" | "failed" | "cancelled"
--   req:result()  done: the value; failed or cancelled: nil, err; before the
--                 end: nil (and no error).
--   req:wait()    waits for the end (yields inside a task, blocks outside one
--                 as the call would) and returns req:result().
--   req:cancel()  frees the transfer now, drops a pending retry, and ends the
--                 request with an error of type "cancelled" (waking whoever
--                 waits). Returns false when the request had already ended.
--
-- Each attempt holds a concurrency slot of its client, then passes the
-- client's rate limiter (limiter.lua: its wait is "queued" too), then starts
-- its transfer on the client's engine (engine/init.lua), which steps it.
--
-- The op's callbacks (on_event, finish) run under pcall in the request's own
-- task, so they may yield (call the API themselves). A Lua error raised by one
-- fails this request alone: a gptaudio.Error raised is the request's error as
-- it is (a call stops a stream that way); anything else becomes an error of
-- type "interrupted" with the raised value as message.
local scheduler = require "gptaudio.engine.scheduler"
local pcall = require "gptaudio.engine.protect" -- may wait inside, on every Lua
local json = require "gptaudio.json"
local retry = require "gptaudio.retry"
local errors = require "gptaudio.errors"
local core = require "gptaudio.core"
local limiter = require "gptaudio.limiter"
local usage = require "gptaudio.usage"

local request = {}

local Request = { __name = "gptaudio.Request" }
Request.__index = Request
request.Request = Request

-- Internal steps of the object, kept off its methods table.
local attempt, callback, deliver, fail, finish, handle, pause, run, stop_transfer

local ENDED = { done = true, failed = true, cancelled = true }

-- Each request's transfer description, kept off the request table: its
-- headers hold the key, and a request may be printed or inspected.
local specs = setmetatable({}, { __mode = "k" })

-- The most memory a response's decoded JSON may take: three times
-- max_response_bytes (the body itself is the fourth).
local function decode_budget(self)
  return 3 * self.client.options.max_response_bytes
end

local function succeeded(status)
  return status >= 200 and status < 300
end

function Request:status()
  return self.state
end

function Request:result()
  if self.state == "done" then return self.value end
  if ENDED[self.state] then return nil, self.err end
  return nil
end

function Request:__tostring()
  return ("gptaudio.Request(%s, %s)"):format(self.label, self.state)
end

function Request:ended()
  return ENDED[self.state] == true
end

function Request:wait()
  if self:ended() then return self:result() end
  local task = scheduler.current()
  if task and task == self.task then
    error("gptaudio: a request cannot wait for itself from its own callback", 0)
  end
  if task then
    self.waiters[#self.waiters + 1] = task
    while not self:ended() do scheduler.suspend() end
  else
    self.engine:block(self, "client:step")
  end
  return self:result()
end

-- Takes the transfer out of the transport and gives its slot back.
function stop_transfer(self)
  local transfer = self.transfer
  if transfer then
    self.transfer = nil
    self.engine:remove(transfer, true)
  end
  self.client:release(self)
end

--- Resumes the request's task (an event arrived for it).
function Request:wake()
  self.engine.scheduler:wake(self.task, self.client.log_function)
end

-- Ends the request once: records the outcome, wakes the waiters.
function finish(self, state, value, err)
  if self:ended() then return end
  self.state, self.value = state, value
  local client = self.client
  if err then
    err.attempts = err.attempts or self.attempts
    self.err = errors.scrub_for(client, err)
  end
  client:forget(self)
  specs[self] = nil -- the request body and headers: not needed any more
  if state == "failed" then
    client:log("error", ("%s failed: %s"):format(self.label, tostring(self.err)))
  elseif state == "cancelled" then
    client:log("info", self.label .. " cancelled")
  end
  local waiters = self.waiters
  self.waiters = {}
  for _, task in ipairs(waiters) do self.engine.scheduler:wake(task, client.log_function) end
end

function fail(self, err, response)
  if response and response.events > 0 and self.op.partial then
    err.partial = self.op.partial(self.op)
  end
  finish(self, "failed", nil, err)
end

function Request:cancel()
  if self:ended() then return false end
  if self.retry_timer then self.retry_timer:cancel() end
  stop_transfer(self)
  finish(self, "cancelled", nil, errors.new{ type = "cancelled", message = "request cancelled" })
  self.engine.scheduler:wake(self.task)
  return true
end

-- Ends the attempt early with err (a callback raised, the stream carried an
-- error): the transfer goes now, the request fails once the attempt is logged
-- (with err scrubbed already: the log line quotes its message).
local function abort(self, response, err)
  stop_transfer(self)
  response.abort, response.complete = errors.scrub_for(self.client, err), true
end

-- What a raised value means for the request (see the top of this file).
local function raised(value)
  if getmetatable(value) == core.Error then return value end
  return errors.new{ type = "interrupted", message = tostring(value) }
end

-- Runs one of the op's callbacks; a raise aborts the attempt.
function callback(self, response, fn, ...)
  local ok, err = pcall(fn, self.op, ...)
  if not ok and not self:ended() then
    abort(self, response, raised(err))
  end
end

-- An SSE or raw event of a successful response, on its way to the op. An SSE
-- event "[DONE]" ends the stream; one whose JSON has an "error" ends the
-- request with that error.
function deliver(self, response, ev)
  if response.ended then return end
  if ev.type == "sse" then
    if ev.data == "[DONE]" then
      response.ended = true
      return
    end
    local first = ev.data:byte(1)
    if first == 123 or first == 91 then -- "{" or "["
      ev.json = json.decode(ev.data, decode_budget(self))
    end
    local object = json.get(ev.json, "error")
    if object ~= nil then
      abort(self, response, errors.from_stream_event(object, response))
      return
    end
  end
  response.events = response.events + 1
  if self.op.on_event then callback(self, response, self.op.on_event, ev) end
end

function handle(self, response, ev)
  if ev.type == "headers" then
    response.status, response.headers = ev.status, ev.headers
    if self.op.stream and succeeded(ev.status) then
      self.state = "streaming"
      if self.op.on_headers then callback(self, response, self.op.on_headers, ev.headers) end
    end
  elseif ev.type == "progress" then
    if self.on_progress then callback(self, response, self.on_progress, ev) end
    if self.op.progress and self.op.on_event then callback(self, response, self.op.on_event, ev) end
  elseif ev.type == "done" then
    self.engine:remove(ev.transfer, false)
    self.transfer = nil
    self.client:release(self)
    if ev.status ~= 0 then response.status = ev.status end
    response.headers = ev.headers or response.headers
    response.body, response.failure, response.complete = ev.body, ev.error, true
  else
    deliver(self, response, ev)
  end
end

local function log_attempt(self, response, started)
  local failure = response.abort or response.failure
  local outcome = failure and ("%s error: %s"):format(failure.type, failure.message)
    or ("status %d"):format(response.status)
  self.client:log("debug", ("%s attempt %d: %s in %.3f s"):format(
    self.label, self.attempts, outcome, self.engine.scheduler:now() - started))
end

-- The decoded JSON of a whole body, within decode_budget; never for a failed
-- transfer (a too_large body is not decoded at all).
local function decode_body(response, budget)
  if response.failure or not response.body or response.body == "" then return end
  local content_type = response.headers and response.headers["content-type"] or ""
  local first = response.body:byte(1)
  if content_type:find("json", 1, true) or first == 123 or first == 91 then -- "{" or "["
    local value, why, too_large = json.decode(response.body, budget)
    response.json = value
    if too_large then response.failure = { type = "too_large", message = why } end
  end
end

-- One attempt, from adding the transfer to its "done" event (or to an abort).
-- Returns the response, or nil when the request ended meanwhile (cancelled).
function attempt(self)
  local started = self.engine.scheduler:now()
  local response = { status = 0, events = 0 }
  self.inbox = {}
  local transfer, err = self.engine:add(self, specs[self])
  if not transfer then
    self.client:release(self)
    response.failure, response.complete = err, true
  else
    self.state, self.transfer = "running", transfer
  end
  while not response.complete do
    while #self.inbox == 0 and not self:ended() do scheduler.suspend() end
    local batch = self.inbox
    self.inbox = {}
    for _, ev in ipairs(batch) do
      if self:ended() or response.complete then break end
      handle(self, response, ev)
    end
    if self:ended() then return nil end
  end
  decode_body(response, decode_budget(self))
  log_attempt(self, response, started)
  return response
end

-- What went wrong with a response, and whether another attempt may help.
local function judge(response)
  if response.failure then
    local err = errors.from_transport(response.failure, response)
    return err, response.events == 0 and retry.retryable(nil, nil, nil, err.type)
  end
  local err = errors.from_response(response)
  return err, retry.retryable(response.status, response.headers, err.code)
end

-- Waits out the delay before the next attempt; false when the request ended.
function pause(self, delay)
  local scheduler_ = self.engine.scheduler
  self.state = "queued"
  local timer = scheduler_:after(delay, function() self:wake() end)
  self.retry_timer = timer
  while not timer.fired and not self:ended() do scheduler.suspend() end
  timer:cancel()
  self.retry_timer = nil
  return not self:ended()
end

-- The tokens a successful response says it used: the call's usage on the
-- value, else the body's usage object; nil when neither says.
local function used_tokens(value, response)
  local u = type(value) == "table" and type(value.usage) == "table" and value.usage
           or usage.normalize(json.get(response.json, "usage"))
  if not u then return nil end
  return u.total_tokens or (u.input_tokens and u.output_tokens and u.input_tokens + u.output_tokens)
end

-- The request's task: attempts until one succeeds, one fails for good, or
-- the request is cancelled.
function run(self)
  local client, op = self.client, self.op
  local function gone() return self:ended() end
  while client:acquire(self) do
    if not client.limiter:admit(self.tokens, gone) then return end
    self.attempts = self.attempts + 1
    local response = attempt(self)
    if not response then return end
    client.limiter:observe(response.headers)
    if response.abort then
      fail(self, response.abort, response)
      return
    end
    local carried = not response.failure and succeeded(response.status) and errors.in_success(response)
    if carried then
      fail(self, carried, response)
      return
    end
    if not response.failure and succeeded(response.status) then
      local ok, value, err = pcall(op.finish, op, response)
      if not ok then
        fail(self, raised(value), response)
      elseif value == nil then
        fail(self, err or errors.new{ type = "protocol", message = "the response gave no result" }, response)
      else
        client.limiter:settle(self.tokens, used_tokens(value, response))
        finish(self, "done", value)
      end
      return
    end
    local err, retryable = judge(response)
    -- nil: the server asks for a longer wait than max_retry_after; no retry then.
    local delay = retry.delay(self.attempts - 1, not response.failure and response.headers or nil,
                              client.options.max_retry_after)
    -- A rate limit holds the whole client back, not only this request.
    if delay and response.status == 429 and err.code ~= "insufficient_quota" then client.limiter:hold(delay) end
    if not retryable or not delay or self.attempts > self.max_retries then
      fail(self, err, response)
      return
    end
    client:log("warn", ("%s: retrying in %.3f s (attempt %d of %d) after %s"):format(
      self.label, delay, self.attempts + 1, self.max_retries + 1,
      response.failure and (err.type .. " error") or ("status " .. response.status)))
    if not pause(self, delay) then return end
  end
end

--- A started request: client is the Client, op what the call built (see
--- client.lua), spec the transfer description for the transport,
--- on_progress(op, ev) the call's own progress hook (or nil).
function request.start(client, op, spec, on_progress)
  local self = setmetatable({
    client = client,
    engine = client.engine,
    op = op,
    label = op.method .. " " .. op.path,
    state = "queued",
    attempts = 0,
    max_retries = op.max_retries or client.options.max_retries,
    tokens = limiter.estimate(op, spec.body),
    on_progress = on_progress,
    waiters = {},
  }, Request)
  specs[self] = spec
  client:track(self)
  self.task = scheduler.spawn(function()
    local ok, err = pcall(run, self)
    if not ok then
      stop_transfer(self)
      fail(self, errors.new{ type = "interrupted", message = tostring(err) })
    end
  end)
  return self
end

--- A request that failed before it could start (the call returned nil, err
--- for bad data): it ends at once, so that the call returns nil, err.
function request.failed(client, name, err)
  local self = setmetatable({ client = client, engine = client.engine, label = name, state = "queued", attempts = 0,
                              waiters = {} }, Request)
  finish(self, "failed", nil, err)
  return self
end

return request
