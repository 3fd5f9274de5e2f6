-- JSON through Debian's lua-cjson 2.1.0, with its quirks handled in one place:
--   * it has no empty_array: an empty table encodes as {}. Mark a table that
--     must be a JSON array with json.array(t); empty marked tables encode as [].
--   * null decodes to cjson.null, a truthy lightuserdata: read fields through
--     json.get(t, key, ...), which turns null (and a missing level) into nil.
--   * numbers decode as floats (3.0 on Lua 5.4): json.integer(v) gives an
--     integer where the language has them (token counts, sizes).
--   * it writes 14 significant digits: json.encode writes every number
--     exactly (json.number), so a 64-bit seed goes out as it was given.
--   * decode errors come back as nil, message instead of raising; a text whose
--     value would take more memory than a budget is refused before decoding
--     (nil, message, "too_large"), and nesting deeper than 512 levels too.
-- A private cjson instance keeps our settings away from the host's own cjson.
-- Without lua-cjson, inside Neovim: vim.json, the cjson Neovim carries (no
-- new(): its settings are Neovim's; null is vim.NIL).
local function load_cjson()
  local found, cjson = pcall(require, "cjson")
  if found then return cjson.new() end
  local vim = rawget(_G, "vim")
  if type(vim) == "table" and type(vim.json) == "table" then
    return { encode = vim.json.encode, decode = vim.json.decode, null = vim.NIL }
  end
  error(cjson, 0)
end
local cjson = load_cjson()
-- Deeper nesting than this is refused (cjson's own check, before any table is made;
-- vim.json keeps Neovim's limit, 1000).
local MAX_DEPTH = 512
if cjson.decode_max_depth then cjson.decode_max_depth(MAX_DEPTH) end

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

-- cjson 2.1.0 writes numbers with 14 significant digits: a 64-bit seed or a
-- float with more digits would change on the wire. Numbers it writes exactly
-- go through it; the others get json.number's text.
local CJSON_DIGITS = 14
local INTEGER_DIGITS_LIMIT = 1e14 -- below it, 14 digits hold a whole number
local NO_EXPONENT_LIMIT = 1e21    -- as JSON.stringify: whole numbers below it in full
local NOT_FINITE = "Cannot serialise number: must not be NaN or Infinity"

local is_integer = math.type and function(n) return math.type(n) == "integer" end
  or function() return false end

--- The JSON text of a number, exactly: an integer (Lua 5.4) in full, a whole
--- float below 1e21 without an exponent, any other float in the fewest
--- digits (15 to 17) that read back as the same double. Raises for NaN and
--- infinity, as cjson does.
function json.number(n)
  if n ~= n or n == math.huge or n == -math.huge then error(NOT_FINITE, 0) end
  if is_integer(n) then return ("%d"):format(n) end
  if n % 1 == 0 and n > -NO_EXPONENT_LIMIT and n < NO_EXPONENT_LIMIT then return ("%.0f"):format(n) end
  for digits = CJSON_DIGITS + 1, 16 do
    local text = ("%." .. digits .. "g"):format(n)
    if tonumber(text) == n then return text end
  end
  return ("%.17g"):format(n)
end

-- Whether cjson writes n as json.number would (NaN and infinity: cjson raises).
local function cjson_writes_exactly(n)
  if n ~= n or n == math.huge or n == -math.huge then return true end
  -- (not math.abs: the smallest integer is its own absolute value)
  if n % 1 == 0 then return n > -INTEGER_DIGITS_LIMIT and n < INTEGER_DIGITS_LIMIT end
  return tonumber(("%.14g"):format(n)) == n
end

-- True when some value under v is one cjson cannot write as it must be: an
-- empty marked array, or a number its 14 digits would change. Strings are
-- never looked into.
local function needs_parts(v, depth)
  local kind = type(v)
  if kind == "number" then return not cjson_writes_exactly(v) end
  if kind ~= "table" or depth > 1000 then return false end
  if getmetatable(v) == ARRAY and next(v) == nil then return true end
  for _, item in pairs(v) do
    if needs_parts(item, depth + 1) then return true end
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

-- Encodes the tables on the way down to an empty array or an inexact number
-- piece by piece and hands every other subtree to cjson whole.
local function encode_parts(v, out)
  local length = type(v) == "table" and array_length(v)
  if not needs_parts(v, 0) then
    out[#out + 1] = cjson.encode(v)
  elseif type(v) == "number" then
    out[#out + 1] = json.number(v)
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
      out[#out + 1] = cjson.encode(type(key) == "number" and json.number(key) or key)
      out[#out + 1] = ":"
      encode_parts(item, out)
    end
    out[#out + 1] = "}"
  end
end

--- Encodes v; raises on a value JSON cannot hold (a function, a sparse array,
--- NaN). A value without empty arrays and inexact numbers goes through cjson
--- in one pass.
function json.encode(v)
  if not needs_parts(v, 0) then return cjson.encode(v) end
  local out = {}
  encode_parts(v, out)
  return table.concat(out)
end

-- The length of the well-formed UTF-8 sequence at byte i of s (RFC 3629: no
-- overlong forms, no surrogates, nothing past U+10FFFF), or nil.
local function sequence_length(s, i)
  local c, second = s:byte(i, i + 1)
  if c < 0x80 then return 1 end
  local n
  if c >= 0xC2 and c <= 0xDF then n = 2 elseif c >= 0xE0 and c <= 0xEF then n = 3
  elseif c >= 0xF0 and c <= 0xF4 then n = 4 else return nil end
  if not second or (c == 0xE0 and second < 0xA0) or (c == 0xED and second > 0x9F)
     or (c == 0xF0 and second < 0x90) or (c == 0xF4 and second > 0x8F) then
    return nil
  end
  for k = 1, n - 1 do
    local b = s:byte(i + k)
    if not b or b < 0x80 or b > 0xBF then return nil end
  end
  return n
end

--- Whether s is well-formed UTF-8 (what a JSON string must hold; cjson
--- writes any bytes as they are).
function json.is_utf8(s)
  if not s:find("[\128-\255]") then return true end
  local i = 1
  while i <= #s do
    local n = sequence_length(s, i)
    if not n then return false end
    i = i + n
  end
  return true
end

--- s with each byte that starts no well-formed UTF-8 sequence replaced by
--- U+FFFD: readable, valid, and lossy (keep the bytes elsewhere).
function json.to_utf8(s)
  local out, i = {}, 1
  while i <= #s do
    local n = sequence_length(s, i)
    out[#out + 1] = n and s:sub(i, i + n - 1) or "\239\191\189"
    i = i + (n or 1)
  end
  return table.concat(out)
end

-- What one structural byte ([, {, a comma, a quote) may cost once decoded:
-- a table (56 bytes and its parts), an array slot, a string's header. Found
-- by measuring `[[],[],...]`, `[1,1,...]` and `["ab","ac",...]` on Lua 5.4.
local BYTES_PER_STRUCTURAL = 64

--- The most memory text's value may take once decoded, in bytes (an
--- over-estimate: brackets and commas inside strings count too).
function json.decoded_size(text)
  return #text + BYTES_PER_STRUCTURAL * #text:gsub('[^%[{,"]+', "")
end

--- Decodes text; returns the value, or nil and cjson's message. With budget
--- (bytes), a text whose value could take more than that is refused before
--- anything is built: nil, message, "too_large". A valid 60 MiB JSON of empty
--- arrays would otherwise become 1.9 GB of tables.
function json.decode(text, budget)
  if type(text) ~= "string" then return nil, "expected a JSON string, got " .. type(text) end
  if budget then
    local size = json.decoded_size(text)
    if size > budget then
      return nil, ("a JSON text of %d bytes could take %d bytes once decoded, more than the %d allowed"):format(
        #text, size, budget), "too_large"
    end
  end
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
