-- When a failed attempt is tried again, and after how long: the rules of
-- OpenAI's own SDKs.
--   * retried: connection errors, timeouts, 408, 409, 429 and 5xx;
--   * never: a 429 whose error code is insufficient_quota (more tries cannot
--     add credit);
--   * `x-should-retry: true|false` from the server overrides the status rule;
--   * the wait is retry-after-ms, else retry-after (seconds or an HTTP date),
--     when the server asks for 0 s up to the client's max_retry_after (120 s
--     by default, as openai-python); more than that is not retried at all:
--     the call fails at once with err.retry_after set. Without a usable ask,
--     min(0.5 * 2^n, 8) s for the n-th retry (n from 0) times a jitter factor
--     in [0.75, 1].
-- Internal: not part of the API (doc/API.md is the manual); the calls use it.
local retry = {}

local INITIAL_DELAY = 0.5
local MAX_DELAY = 8
retry.LONGEST_HONOURED = 120

local RETRIED_STATUS = { [408] = true, [409] = true, [429] = true }
local RETRIED_FAILURE = { connection = true, timeout = true }

--- Whether an attempt that ended so may be tried again. status and headers
--- come from the response (nil when there was none), code is the API's error
--- code, failure the transport's error type (nil when a response arrived).
function retry.retryable(status, headers, code, failure)
  if code == "insufficient_quota" then return false end
  local override = headers and headers["x-should-retry"]
  if override == "true" then return true end
  if override == "false" then return false end
  if failure then return RETRIED_FAILURE[failure] == true end
  return RETRIED_STATUS[status] == true or (status ~= nil and status >= 500)
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
                 Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- Seconds since the epoch of a UTC civil date (Howard Hinnant's days_from_civil).
local function utc_seconds(year, month, day, hour, min, sec)
  local y = month <= 2 and year - 1 or year
  local era = math.floor(y / 400)
  local year_of_era = y - era * 400
  local day_of_year = math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1 -- counted from March 1
  local day_of_era = year_of_era * 365 + math.floor(year_of_era / 4) - math.floor(year_of_era / 100) + day_of_year
  return (era * 146097 + day_of_era - 719468) * 86400 + hour * 3600 + min * 60 + sec
end

-- An IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT") as epoch seconds, or nil.
local function http_date(text)
  local day, month, year, hour, min, sec = text:match("^%a+, (%d%d?) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not day or not MONTHS[month] then return nil end
  return utc_seconds(tonumber(year), MONTHS[month], tonumber(day), tonumber(hour), tonumber(min), tonumber(sec))
end

--- The wait the server asked for, in seconds (any value, even out of the
--- honoured range), or nil. wall_clock() is epoch seconds (os.time by default)
--- for retry-after dates.
function retry.asked_delay(headers, wall_clock)
  if not headers then return nil end
  local ms = tonumber(headers["retry-after-ms"])
  if ms then return ms / 1000 end
  local after = headers["retry-after"]
  if not after then return nil end
  local seconds = tonumber(after)
  if seconds then return seconds end
  local date = http_date(after)
  if date then return date - (wall_clock or os.time)() end
  return nil
end

--- Seconds to wait before retry number n (0 for the first retry), or nil
--- when the server asks for more than `longest` seconds (default
--- retry.LONGEST_HONOURED): then no retry. random() gives [0, 1)
--- (math.random by default).
function retry.delay(n, headers, longest, random, wall_clock)
  local asked = retry.asked_delay(headers, wall_clock)
  if asked and asked > (longest or retry.LONGEST_HONOURED) then return nil end
  if asked and asked >= 0 then return asked end
  local base = math.min(INITIAL_DELAY * 2 ^ n, MAX_DELAY)
  return base * (1 - 0.25 * (random or math.random)())
end

return retry
