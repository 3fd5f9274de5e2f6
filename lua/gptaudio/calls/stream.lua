-- The finishing hooks the calls (chat, transcribe, speak) share: an op
-- answered by a whole body, or by a stream that a gatherer of the call's own
-- reads event by event.
--
-- A gatherer has event(ev) -> true | nil, err; partial() -> what err.partial
-- holds; finish(response) -> the call's result | nil, err; and may have
-- head(headers), called with a successful response's headers.
local errors = require "gptaudio.errors"

local call_stream = {}

--- A function that adds a result's usage and cost to the client's totals
--- under model_id (those of err.reply for a failure that carries one) and
--- returns what it was given.
function call_stream.counter(client, model_id)
  return function(result, err)
    local seen = result or (err and err.reply)
    if seen then client.totals:add(model_id, seen.usage, seen.cost) end
    return result, err
  end
end

--- op with its finish hook: decode(response) gives the result of the whole body.
function call_stream.whole(op, count, decode)
  op.finish = function(_, response) return count(decode(response)) end
  return op
end

--- op streamed ("sse" or "raw") into gatherer. The first failure stops the
--- transfer at once: a hook that raises a gptaudio.Error ends the request
--- with that error. A successful SSE response without a single event is a
--- protocol error, never an empty result: the server sent something else (a
--- whole body, a page). A gatherer with head(headers) sees the headers of a
--- successful response before its first event.
function call_stream.streamed(op, count, gatherer, mode)
  op.stream = mode
  op.on_event = function(_, ev)
    local ok, why = gatherer:event(ev)
    if not ok then error(why, 0) end
  end
  if gatherer.head then op.on_headers = function(_, headers) gatherer:head(headers) end end
  op.partial = function() return gatherer:partial() end
  op.finish = function(_, response)
    if mode == "sse" and response.events == 0 then
      return errors.fail("protocol", "the response is not an event stream (content-type " ..
                         tostring(response.headers and response.headers["content-type"]) .. ")")
    end
    return count(gatherer:finish(response))
  end
  return op
end

--- The one rule for streamed 16-bit audio (a core.pcm_stream) at its end:
--- every whole sample is kept; a byte left without its pair (a server's odd
--- chunk, a stream cut mid-sample) is dropped and logged through log(level,
--- message), never a failure of the call.
function call_stream.end_pcm(pcm, log, what)
  if pcm:partial() then
    log("warn", what .. ": the audio stream ended in the middle of a sample; its odd byte is dropped")
  end
end

--- The op of a call: request = {method, path, json | multipart}; call is the
--- call's record of it (call.model: the model it is counted under); opts the
--- caller's (headers, timeout, max_retries, stream, on_event). Whole, its
--- result is reader.decode(call, response, config); streamed, a gatherer
--- reader.stream(call, config, emit, log) reads it in reader.mode ("sse" |
--- "raw"), log(level, message) being the client's log. opts.keep_raw = true
--- sets call.keep_raw: the gatherer keeps every decoded event for result.raw
--- (else none: a long stream of small events would hold many times its bytes).
function call_stream.op(client, request, call, opts, reader)
  local config = client.options
  local count = call_stream.counter(client, call.model)
  request.headers, request.timeout, request.max_retries = opts.headers, opts.timeout, opts.max_retries
  if not opts.stream then
    return call_stream.whole(request, count, function(response) return reader.decode(call, response, config) end)
  end
  local function log(level, message) client:log(level, message) end
  call.keep_raw = opts.keep_raw == true
  return call_stream.streamed(request, count, reader.stream(call, config, opts.on_event or function() end, log),
                              reader.mode)
end

return call_stream
