-- JSON through Debian's lua-cjson 2.1.0, with its quirks handled in one place:
--   * it has no empty_array: an empty table encodes as {}. Mark a table that
--     must be a JSON array with json.array(t); empty marked tables encode as [].
--   * null decodes to cjson.null, a truthy lightuserdata: read fields through
--     json.get(t, key, ...), which turns null (and a missing level) into nil.
--   * numbers decode as floats (3.0 on Lua 5.4): json.integer(v) gives an
--     integer where the language has them (token counts, sizes).
--   * decode errors come back as nil, message instead of raising.
-- A private cjson instance keeps our settings away from the host's own cjson.
local cjson = require("cjson").new()

local json = { null = cjson.null }

local ARRAY = { __name = "gptaudio.json.array" }

--- Marks t as a JSON array (so an empty one encodes as []) and returns it.
function json.array(t)
  if t == nil then t = {} end
  if type(t) ~= "table" then
    error("json.array: expected a table, got " .. type(t), 2)
  end
  return setmetatable(t, ARRAY)
end

function json.is_array(t)
  return getmetatable(t) == ARRAY
end

-- True when some table under v is an empty marked array (the only case cjson
-- cannot write). Walks tables only; strings are never looked into.
local function has_empty_array(v, depth)
  if type(v) ~= "table" or depth > 1000 then return false end
  if getmetatable(v) == ARRAY and next(v) == nil then return true end
  for _, item in pairs(v) do
    if has_empty_array(item, depth + 1) then return true end
  end
  return false
end

-- cjson's rule: a table whose keys are all positive integers is an array; its
-- length is the largest key (holes are null).
local function array_length(v)
  local n = 0
  for key in pairs(v) do
    if type(key) ~= "number" or key < 1 or key % 1 ~= 0 then return nil end
    if key > n then n = key end
  end
  return n
end

-- Encodes the tables on the way down to an empty array piece by piece and hands
-- every other subtree to cjson whole. Only used when an empty array exists.
local function encode_parts(v, out)
  local length = type(v) == "table" and array_length(v)
  if not has_empty_array(v, 0) then
    out[#out + 1] = cjson.encode(v)
  elseif next(v) == nil then
    out[#out + 1] = "[]"
  elseif length then
    out[#out + 1] = "["
    for i = 1, length do
      if i > 1 then out[#out + 1] = "," end
      encode_parts(v[i] == nil and cjson.null or v[i], out)
    end
    out[#out + 1] = "]"
  else
    out[#out + 1] = "{"
    local first = true
    for key, item in pairs(v) do
      if type(key) ~= "string" and type(key) ~= "number" then
        error("Cannot serialise table: key of type " .. type(key), 0)
      end
      if not first then out[#out + 1] = "," end
      first = false
      out[#out + 1] = cjson.encode(tostring(key))
      out[#out + 1] = ":"
      encode_parts(item, out)
    end
    out[#out + 1] = "}"
  end
end

--- Encodes v; raises on a value JSON cannot hold (a function, a sparse array,
--- NaN). A value without empty arrays goes through cjson in one pass.
function json.encode(v)
  if not has_empty_array(v, 0) then return cjson.encode(v) end
  local out = {}
  encode_parts(v, out)
  return table.concat(out)
end

--- Decodes text; returns the value, or nil and cjson's message.
function json.decode(text)
  if type(text) ~= "string" then return nil, "expected a JSON string, got " .. type(text) end
  local ok, value = pcall(cjson.decode, text)
  if not ok then return nil, value end
  return value
end

--- Follows keys down from t; nil when a level is missing, not a table, or null.
function json.get(t, ...)
  local v = t
  for i = 1, select("#", ...) do
    if type(v) ~= "table" then return nil end
    v = v[(select(i, ...))]
  end
  if v == cjson.null then return nil end
  return v
end

--- A whole number as an integer where the language has them (Lua 5.4), else
--- the number itself; nil for anything that is not a number (null included).
function json.integer(v)
  if type(v) ~= "number" then return nil end
  return math.tointeger and math.tointeger(v) or v
end

return json
