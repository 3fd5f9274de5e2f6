-- The JSON Schema subset that tool arguments are checked against: enough to
-- catch what a model gets wrong, in messages the model can act on.
--
-- Keywords checked: type (one name, or a list such as {"string", "null"}),
-- enum, properties, required, additionalProperties (false, or a schema for
-- the others), items, minimum, maximum, minLength, maxLength (in UTF-8
-- characters). Every other keyword (description, default, format, ...) is
-- sent to the API and not checked here.
--
--   problem = schema.definition_problem(s, path)  -- nil, or what is wrong with the schema itself
--   list = schema.violations(value, s, path)      -- what is wrong with a decoded value: one
--                                                 -- "<path>: <what>" line each, {} when none
--   copy = schema.for_api(s)                      -- a copy that encodes as the JSON it means
--
-- Values are as gptaudio.json decodes them: null is json.null; numbers may be
-- floats (3.0 on Lua 5.4) and count as integers when whole; a decoded empty
-- table may have been {} or [] and passes as either. Array positions in paths
-- count from 0, as the model counts them in JSON: args.items[0].
-- Internal: not part of the API (doc/API.md is the manual); the calls use it.
local json = require "gptaudio.json"

local schema = {}

local TYPES = { string = true, number = true, integer = true, boolean = true, object = true, array = true,
                null = true }

---------------------------------------------------------------- reading values

local function is_finite(v)
  return v == v and v ~= math.huge and v ~= -math.huge
end

-- What a decoded table was in JSON: "array" (integer keys only), "object"
-- (string keys only) or "empty" (either one).
local function table_kind(t)
  local key = next(t)
  if key == nil then return "empty" end
  if type(key) == "number" then return "array" end
  return "object"
end

-- The JSON type name of a decoded value, for messages.
local function type_name(v)
  if v == json.null then return "null" end
  local t = type(v)
  if t == "number" then
    if v ~= v then return "NaN" end
    if not is_finite(v) then return "infinity" end
    return "number"
  end
  if t == "table" then
    local kind = table_kind(v)
    return kind == "empty" and "object" or kind
  end
  return t
end

local TYPE_TESTS = {
  string = function(v) return type(v) == "string" end,
  boolean = function(v) return type(v) == "boolean" end,
  null = function(v) return v == json.null end,
  number = function(v) return type(v) == "number" and is_finite(v) end,
  integer = function(v) return type(v) == "number" and is_finite(v) and v % 1 == 0 end,
  object = function(v) return type(v) == "table" and table_kind(v) ~= "array" end,
  array = function(v) return type(v) == "table" and table_kind(v) ~= "object" end,
}

local function format_number(v)
  if v % 1 == 0 and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
  return ("%.14g"):format(v)
end

-- A value as the model would write it, cut short.
local function show(v)
  local text
  if type(v) == "number" and is_finite(v) then
    text = format_number(v)
  else
    local ok, encoded = pcall(json.encode, v)
    text = ok and encoded or type_name(v)
  end
  if #text > 40 then text = text:sub(1, 37) .. "..." end
  return text
end

-- UTF-8 characters: every byte that does not continue a sequence starts one.
local function utf8_length(s)
  return select(2, s:gsub("[^\128-\191]", ""))
end

local function member_path(path, key)
  if type(key) == "string" and key:find("^[%a_][%w_]*$") then return path .. "." .. key end
  return ("%s[%s]"):format(path, json.encode(key))
end

local function equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do
    if not equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

---------------------------------------------------------------- checking values

local check

local function check_type(value, s, path, out)
  local wanted = s.type
  if wanted == nil then return true end
  local names = type(wanted) == "table" and wanted or { wanted }
  for _, name in ipairs(names) do
    if TYPE_TESTS[name](value) then return true end
  end
  out[#out + 1] = ("%s: expected %s, got %s"):format(path, table.concat(names, " or "), type_name(value))
  return false
end

local function check_enum(value, s, path, out)
  if s.enum == nil then return end
  for _, allowed in ipairs(s.enum) do
    if equal(value, allowed) then return end
  end
  local shown = {}
  for i, allowed in ipairs(s.enum) do shown[i] = show(allowed) end
  out[#out + 1] = ("%s: expected one of %s, got %s"):format(path, table.concat(shown, ", "), show(value))
end

local function check_object(value, s, path, out)
  local properties = s.properties or {}
  for _, name in ipairs(s.required or {}) do
    if value[name] == nil then out[#out + 1] = member_path(path, name) .. ": required, missing" end
  end
  for _, key in ipairs(sorted_keys(value)) do
    local member = member_path(path, key)
    local sub = properties[key]
    if sub == nil then sub = s.additionalProperties end
    if sub == false then
      out[#out + 1] = member .. ": not allowed (no such property)"
    elseif type(sub) == "table" then
      check(value[key], sub, member, out)
    end
  end
end

local function check_array(value, s, path, out)
  if type(s.items) ~= "table" then return end
  for i, item in ipairs(value) do
    check(item, s.items, ("%s[%d]"):format(path, i - 1), out)
  end
end

local function check_number(value, s, path, out)
  if s.minimum ~= nil and value < s.minimum then
    out[#out + 1] = ("%s: %s is less than the minimum %s"):format(path, show(value), show(s.minimum))
  end
  if s.maximum ~= nil and value > s.maximum then
    out[#out + 1] = ("%s: %s is more than the maximum %s"):format(path, show(value), show(s.maximum))
  end
end

local function check_string(value, s, path, out)
  local length = utf8_length(value)
  if s.minLength ~= nil and length < s.minLength then
    out[#out + 1] = ("%s: %d characters, fewer than minLength %d"):format(path, length, s.minLength)
  end
  if s.maxLength ~= nil and length > s.maxLength then
    out[#out + 1] = ("%s: %d characters, more than maxLength %d"):format(path, length, s.maxLength)
  end
end

-- Adds value's violations of s to out. Each keyword applies to the values it
-- is about (properties to objects, minimum to numbers), as in JSON Schema.
check = function(value, s, path, out)
  if not check_type(value, s, path, out) then return end
  check_enum(value, s, path, out)
  if TYPE_TESTS.object(value) then check_object(value, s, path, out) end
  if TYPE_TESTS.array(value) then check_array(value, s, path, out) end
  if TYPE_TESTS.number(value) then check_number(value, s, path, out) end
  if type(value) == "string" then check_string(value, s, path, out) end
end

function schema.violations(value, s, path)
  local out = {}
  check(value, s, path or "args", out)
  return out
end

---------------------------------------------------------------- checking schemas

local function is_count(v)
  return type(v) == "number" and v >= 0 and v % 1 == 0
end

local definition_problem

local function type_problem(t, path)
  local names = type(t) == "table" and t or { t }
  if type(t) == "table" and #t == 0 then return path .. ".type: an empty list" end
  for _, name in ipairs(names) do
    if not TYPES[name] then return ("%s.type: unknown type %s"):format(path, show(name)) end
  end
end

local function list_problem(list, path, item_type)
  if type(list) ~= "table" then return path .. ": a list expected, got " .. type(list) end
  for i, item in ipairs(list) do
    if item_type and type(item) ~= item_type then
      return ("%s[%d]: %s expected, got %s"):format(path, i, item_type, type(item))
    end
  end
end

-- Each keyword's own rule; nil when the keyword is well formed.
local KEYWORD_RULES = {
  type = type_problem,
  required = function(v, path) return list_problem(v, path .. ".required", "string") end,
  enum = function(v, path)
    return list_problem(v, path .. ".enum") or (#v == 0 and path .. ".enum: an empty list") or nil
  end,
  properties = function(v, path)
    if type(v) ~= "table" then return path .. ".properties: a table expected, got " .. type(v) end
    for _, name in ipairs(sorted_keys(v)) do
      local problem = definition_problem(v[name], member_path(path .. ".properties", name))
      if problem then return problem end
    end
  end,
  items = function(v, path) return definition_problem(v, path .. ".items") end,
  additionalProperties = function(v, path)
    if type(v) == "boolean" then return nil end
    return definition_problem(v, path .. ".additionalProperties")
  end,
  minimum = function(v, path) if type(v) ~= "number" then return path .. ".minimum: a number expected" end end,
  maximum = function(v, path) if type(v) ~= "number" then return path .. ".maximum: a number expected" end end,
  minLength = function(v, path) if not is_count(v) then return path .. ".minLength: a count expected" end end,
  maxLength = function(v, path) if not is_count(v) then return path .. ".maxLength: a count expected" end end,
}

definition_problem = function(s, path)
  if type(s) ~= "table" then return ("%s: a schema table expected, got %s"):format(path, type(s)) end
  for _, keyword in ipairs(sorted_keys(KEYWORD_RULES)) do
    if s[keyword] ~= nil then
      local problem = KEYWORD_RULES[keyword](s[keyword], path)
      if problem then return problem end
    end
  end
end

-- Where a table under v contains itself (JSON cannot, and every walk over
-- it would recurse until memory ends), as a path, or nil. Tables on the way
-- down are `open`; tables explored whole are `done` and not walked again, so
-- a subschema shared by many places costs one walk.
local function cycle_path(v, path, open, done)
  if type(v) ~= "table" or done[v] then return nil end
  if open[v] then return path end
  open[v] = true
  for _, key in ipairs(sorted_keys(v)) do
    local found = cycle_path(v[key], member_path(path, key), open, done)
    if found then return found end
  end
  open[v], done[v] = nil, true
end

--- What is wrong with schema s for the keywords this module checks, as
--- "<path>.<keyword>: <why>", or nil when nothing is. A schema that contains
--- itself is wrong whatever the keyword.
function schema.definition_problem(s, path)
  path = path or "parameters"
  local cycle = cycle_path(s, path, {}, {})
  if cycle then return cycle .. ": the schema contains itself here (JSON cannot)" end
  return definition_problem(s, path)
end

---------------------------------------------------------------- the API's copy

-- Keywords whose value is a list of values or of schemas: JSON arrays even when empty.
local LIST_KEYWORDS = { required = true, enum = true, examples = true, type = true,
                        anyOf = true, oneOf = true, allOf = true, prefixItems = true }
-- Keywords whose value maps names to schemas.
local MAP_KEYWORDS = { properties = true, patternProperties = true, ["$defs"] = true, definitions = true,
                       dependentSchemas = true }
-- Keywords whose value is one schema (or a list of them, for old-style items).
local SCHEMA_KEYWORDS = { items = true, additionalProperties = true, additionalItems = true, contains = true,
                          ["not"] = true, ["if"] = true, ["then"] = true, ["else"] = true,
                          propertyNames = true, unevaluatedProperties = true, unevaluatedItems = true }

-- A plain deep copy that keeps json.array marks (defaults, examples, consts).
local function copy_value(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, item in pairs(v) do c[k] = copy_value(item) end
  if json.is_array(v) then json.array(c) end
  return c
end

local copy_schema

local function copy_list(list, of_schemas)
  local c = json.array()
  for i, item in ipairs(list) do c[i] = of_schemas and copy_schema(item) or copy_value(item) end
  return c
end

copy_schema = function(s)
  if type(s) ~= "table" then return s end
  local c = {}
  for key, v in pairs(s) do
    if type(v) ~= "table" then
      c[key] = v
    elseif LIST_KEYWORDS[key] then
      c[key] = copy_list(v, key == "anyOf" or key == "oneOf" or key == "allOf" or key == "prefixItems")
    elseif MAP_KEYWORDS[key] then
      c[key] = {}
      for name, sub in pairs(v) do c[key][name] = copy_schema(sub) end
    elseif SCHEMA_KEYWORDS[key] then
      c[key] = (key == "items" and #v > 0) and copy_list(v, true) or copy_schema(v)
    else
      c[key] = copy_value(v)
    end
  end
  return c
end

--- A copy of s that encodes as the schema it means: list keywords (required,
--- enum, type lists, anyOf, ...) are JSON arrays even when empty; every other
--- empty table (properties = {}) stays a JSON object. The caller's tables are
--- left alone.
function schema.for_api(s)
  return copy_schema(s)
end

return schema
