-- What a gateway in front of the API (an OpenResty site, a proxy of your own)
-- answers its caller when an upstream call failed: the caller's own fault is
-- not the question here, only what went wrong upstream.
--   429 from the API          429, with Retry-After (the API's delay, at least 1 s)
--   a timeout                 504
--   anything else             502 (401/403: the gateway's key, not the caller's)
local gateway = {}

--- The HTTP status for a failed call's gptaudio.Error, and the Retry-After
--- seconds to send with it (nil when none).
function gateway.status(err)
  if getmetatable(err) ~= require("gptaudio.core").Error then
    error("bad argument #1 to 'gateway.status' (gptaudio.Error expected, got " .. type(err) .. ")", 2)
  end
  if err.type == "api" and err.status == 429 then
    local delay = tonumber(err.retry_after) or 1
    return 429, math.max(1, math.ceil(delay))
  end
  if err.type == "timeout" then return 504 end
  return 502
end

--- The JSON body for that answer: {error = {type, status, message}}.
function gateway.body(err)
  return { error = { type = err.type, status = err.status, message = tostring(err) } }
end

return gateway
