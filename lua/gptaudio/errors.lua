-- gptaudio.Error values for what can go wrong with a request, and the
-- scrubbing of secrets out of any text that came from outside.
--
-- Fields (DESIGN.md): type, status, code, message, param, request_id,
-- retry_after, attempts, partial. For type "api" the API's own error type
-- ("invalid_request_error", ...) is kept as api_type, since `type` says which
-- kind of failure this is. A transport failure keeps curl's code as curl_code.
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local retry = require "gptaudio.retry"

local errors = {}

local REDACTED = "[redacted]"
local SHORTEST_SECRET = 8
-- How much of a body that is not an API error object becomes the message.
local BODY_EXCERPT = 200

--- A gptaudio.Error with these fields.
function errors.new(fields)
  return core.error(fields)
end

--- nil and a gptaudio.Error of type type_ with message (and fields, a
--- table that becomes the error's): the bad-data return of the kinds.
function errors.fail(type_, message, fields)
  local err = fields or {}
  err.type, err.message = type_, message
  return nil, core.error(err)
end

--- text with every occurrence of each secret (a list of strings) replaced by
--- "[redacted]"; text itself when none occurs. Secrets shorter than
--- SHORTEST_SECRET are left alone: no real key is that short, and replacing
--- them would mangle ordinary words (a test key "k" in "callback").
function errors.redact(text, secrets)
  if type(text) ~= "string" then return text end
  -- Each secret is read as secrets[i], never held in a named local: a debug
  -- hook that prints locals (a debugger, a profiler) must not see the key.
  for i = 1, #secrets do
    if #secrets[i] >= SHORTEST_SECRET and text:find(secrets[i], 1, true) then
      local out, from = {}, 1
      while true do
        local first, last = text:find(secrets[i], from, true)
        if not first then break end
        out[#out + 1] = text:sub(from, first - 1)
        out[#out + 1] = REDACTED
        from = last + 1
      end
      out[#out + 1] = text:sub(from)
      text = table.concat(out)
    end
  end
  return text
end

--- Scrubs every string field of err in place; returns err.
function errors.scrub(err, secrets)
  for key, value in pairs(err) do
    if type(value) == "string" then err[key] = errors.redact(value, secrets) end
  end
  return err
end

local function request_id(response)
  return response.headers and response.headers["x-request-id"]
end

-- An API error object ({message, type, param, code}) as error fields.
local function api_fields(object, response)
  local code = json.get(object, "code")
  local param = json.get(object, "param")
  local api_type = json.get(object, "type")
  return {
    type = "api",
    status = response.status,
    message = json.get(object, "message"),
    code = code ~= nil and tostring(code) or nil,
    param = param ~= nil and tostring(param) or nil,
    api_type = api_type ~= nil and tostring(api_type) or nil,
    request_id = request_id(response),
  }
end

--- The error for a response with an error status: the API's error body
--- decoded into the fields, else the start of the body, else the status.
function errors.from_response(response)
  local object = json.get(response.json, "error")
  local fields
  if type(object) == "table" then
    fields = api_fields(object, response)
  else
    fields = { type = "api", status = response.status, request_id = request_id(response) }
    if type(object) == "string" then
      fields.message = object
    elseif response.body and response.body:find("%S") then
      fields.message = response.body:sub(1, BODY_EXCERPT):match("^%s*(.-)%s*$")
    end
  end
  fields.message = fields.message or ("HTTP status " .. tostring(response.status))
  fields.retry_after = retry.asked_delay(response.headers)
  return errors.new(fields)
end

--- The error for a stream event that carried {"error": {...}} after a
--- successful status.
function errors.from_stream_event(object, response)
  local fields = api_fields(type(object) == "table" and object or {}, response)
  fields.message = fields.message or (type(object) == "string" and object) or "error event in the stream"
  return errors.new(fields)
end

--- The error for a transfer the transport ended with {type, message, curl_code}.
function errors.from_transport(failure, response)
  return errors.new{
    type = failure.type,
    message = failure.message,
    curl_code = failure.curl_code,
    request_id = request_id(response),
  }
end

return errors
