-- gptaudio.Error values for what can go wrong with a request, and the
-- scrubbing of secrets out of any text that came from outside.
--
-- Fields (doc/API.md, Errors): type, status, code, message, param, request_id,
-- retry_after, attempts, partial. For type "api" the API's own error type
-- ("invalid_request_error", ...) is kept as api_type, since `type` says which
-- kind of failure this is. A transport failure keeps curl's code as curl_code.
-- Internal: not part of the API (doc/API.md is the manual); the calls use it.
local core = require "gptaudio.core"
local json = require "gptaudio.json"
local retry = require "gptaudio.retry"

local errors = {}

local REDACTED = "[redacted]"
local SHORTEST_SECRET = 8
-- How much of a body that is not an API error object becomes the message.
local BODY_EXCERPT = 200
-- How much of a stream event that is not JSON becomes the message.
local EVENT_EXCERPT = 80

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

-- The longest prefix of a secret that redaction removes where a text ends:
-- an excerpt cut through a secret leaves its start at the cut.
-- (secrets[i], never a named local: see errors.redact.)
local function cut_secret_length(text, secrets, i)
  for length = math.min(#secrets[i], #text) - 1, SHORTEST_SECRET, -1 do
    if text:sub(-length) == secrets[i]:sub(1, length) then return length end
  end
  return 0
end

--- text with every occurrence of each secret (a list of strings) replaced by
--- "[redacted]", and a start of a secret (SHORTEST_SECRET bytes or more) that
--- ends the text as well: a cut excerpt may have split one there. text itself
--- when none occurs. Secrets shorter than SHORTEST_SECRET are left alone: no
--- real key is that short, and replacing them would mangle ordinary words (a
--- test key "k" in "callback").
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
  for i = 1, #secrets do
    local cut = #secrets[i] >= SHORTEST_SECRET and cut_secret_length(text, secrets, i) or 0
    if cut > 0 then text = text:sub(1, -cut - 1) .. REDACTED end
  end
  return text
end

-- The whole text of each cut message (error -> { head, text, limit }) until
-- the error is scrubbed: redaction must see the text before the cut.
local uncut = setmetatable({}, { __mode = "k" })

--- err (a gptaudio.Error, or the fields of one) whose message is head and the
--- first `limit` bytes of text. errors.scrub cuts it again from the whole text
--- once redacted, so that no part of a secret the cut splits survives.
function errors.with_excerpt(err, head, text, limit)
  err.message = head .. text:sub(1, limit):match("^%s*(.-)%s*$")
  uncut[err] = { head = head, text = text, limit = limit }
  return err
end

--- nil, err of type "audio" naming path unless path names a regular file:
--- a FIFO blocks whoever opens it, /dev/zero never ends, a directory reads
--- as nothing. True when it does.
function errors.check_regular_file(path)
  local kind, err = core.file_kind(path)
  if not kind then return nil, core.error{ type = "audio", message = "cannot read input audio " .. err.message } end
  if kind ~= "regular file" then
    return nil, core.error{ type = "audio", message = ("cannot read input audio %s: not a regular file (a %s)"):format(
      path, kind) }
  end
  return true
end

--- nil and a gptaudio.Error of type type_ whose message is head and the start of text.
function errors.fail_excerpt(type_, head, text)
  return nil, errors.with_excerpt(core.error{ type = type_ }, head, tostring(text), EVENT_EXCERPT)
end

-- Redacts every string under v (tables walked once each) in place.
local function redact_tree(v, secrets, seen)
  if seen[v] then return end
  seen[v] = true
  local renamed = {}
  for key, item in pairs(v) do
    if type(item) == "string" then
      v[key] = errors.redact(item, secrets)
    elseif type(item) == "table" then
      redact_tree(item, secrets, seen)
    end
    if type(key) == "string" and errors.redact(key, secrets) ~= key then renamed[#renamed + 1] = key end
  end
  for _, key in ipairs(renamed) do
    v[errors.redact(key, secrets)], v[key] = v[key], nil
  end
end

--- Scrubs every string under err (err.raw and err.partial included) in place;
--- returns err. A cut message is cut again from its redacted whole text.
function errors.scrub(err, secrets)
  local whole = uncut[err]
  if whole then
    uncut[err] = nil
    err.message = whole.head .. errors.redact(whole.text, secrets):sub(1, whole.limit):match("^%s*(.-)%s*$")
  end
  redact_tree(err, secrets, {})
  return err
end

-- The secrets of each owner (a client), for redaction: kept here, out of reach
-- of the owner's own methods and fields.
local secrets_of = setmetatable({}, { __mode = "k" })

--- Records owner's secrets (a list of strings); only redact_for and scrub_for read them.
function errors.keep_secrets(owner, secrets)
  secrets_of[owner] = secrets
end

--- errors.redact with owner's secrets.
function errors.redact_for(owner, text)
  return errors.redact(text, secrets_of[owner] or {})
end

--- errors.scrub with owner's secrets.
function errors.scrub_for(owner, err)
  return errors.scrub(err, secrets_of[owner] or {})
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
      errors.with_excerpt(fields, "", response.body, BODY_EXCERPT)
    end
  end
  fields.message = fields.message or ("HTTP status " .. tostring(response.status))
  fields.retry_after = retry.asked_delay(response.headers)
  return errors.new(fields)
end

--- The error that a successful status carries in its body, or nil: gateways
--- and proxies answer 200 with {"error": {"message": ...}}. A body counts when
--- its "error" is an object with a string message, whatever else it holds,
--- unless it is an API resource: a string "id" and a string "object" other
--- than "error". A response or a fine-tuning job that failed records that in
--- its own "error", and fetching it succeeded; a null "error" is none.
function errors.in_success(response)
  local body = response.json
  local object = json.get(body, "error")
  if type(object) ~= "table" or type(json.get(object, "message")) ~= "string" then return nil end
  local kind = json.get(body, "object")
  if type(kind) == "string" and kind ~= "error" and type(json.get(body, "id")) == "string" then return nil end
  return errors.from_response(response)
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
