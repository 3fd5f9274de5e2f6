-- The "request" call: any endpoint of the API as plain HTTP (client:request).
--
--   res, err = client:request{ method =, path =, json = | body = | multipart =, headers =,
--                              stream =, on_event =, timeout =, max_retries = }
--   res = { status, headers (lower-case names), body, json (decoded when the body is JSON),
--           events (streamed requests: every event given to on_event, in order) }
--
-- stream = true (or "sse"): on_event(ev) gets each SSE event as it arrives,
-- ev = {type = "event", event =, data =, id =, json = decoded data or nil};
-- "[DONE]" ends the stream and is not passed on. stream = "raw": on_event(ev)
-- gets the body as it arrives, ev = {type = "data", data = bytes}.
-- When a stream fails after events arrived, err.partial is the list of the
-- events received so far.
local check = require "gptaudio.check"

local WHERE = "client:request"

local FIELDS = {
  method = true, path = true, json = true, body = true, multipart = true, headers = true,
  stream = true, on_event = true, timeout = true, max_retries = true,
}

local STREAM_MODES = { [true] = "sse", sse = "sse", raw = "raw" }

local function user_event(ev)
  if ev.type == "sse" then
    return { type = "event", event = ev.event, data = ev.data, id = ev.id, json = ev.json }
  end
  return { type = "data", data = ev.data }
end

return function(_, params)
  check.value(WHERE, "params", params, "table")
  check.known(WHERE, params, FIELDS)
  check.value(WHERE, "stream", params.stream, { true, false, "sse", "raw" }, true)
  local on_event = check.value(WHERE, "on_event", params.on_event, "function", true)
  local stream = STREAM_MODES[params.stream]
  local events = {}
  return {
    method = params.method, path = params.path, json = params.json, body = params.body,
    multipart = params.multipart, headers = params.headers, stream = stream,
    timeout = params.timeout, max_retries = params.max_retries,
    on_event = stream and function(_, ev)
      local event = user_event(ev)
      events[#events + 1] = event
      if on_event then on_event(event) end
    end,
    partial = function() return events end,
    finish = function(_, response)
      return { status = response.status, headers = response.headers, body = response.body,
               json = response.json, events = stream and events or nil }
    end,
  }
end
