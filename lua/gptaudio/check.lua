-- Argument checks that raise at once with a message naming the argument: the
-- programmer-error convention (doc/API.md, Conventions). Messages read
-- "<where>: <what> '<name>' must be <expected> (got <type>)".
-- Internal: not part of the API (doc/API.md is the manual); the calls use it.
local check = {}

local TESTS = {
  string = function(v) return type(v) == "string" end,
  table = function(v) return type(v) == "table" end,
  ["function"] = function(v) return type(v) == "function" end,
  boolean = function(v) return type(v) == "boolean" end,
  number = function(v) return type(v) == "number" and v == v end,
  -- What JSON can carry: no NaN, no infinity.
  ["finite number"] = function(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end,
  ["positive number"] = function(v) return type(v) == "number" and v > 0 end,
  ["non-negative number"] = function(v) return type(v) == "number" and v >= 0 end,
  ["non-negative integer"] = function(v) return type(v) == "number" and v >= 0 and v % 1 == 0 end,
  ["positive integer"] = function(v) return type(v) == "number" and v >= 1 and v % 1 == 0 end,
}

--- Raises unless value (which may be nil when optional) is of one of the
--- expected kinds: names from the list above, or literal values in a table
--- ({"exact", "prefix", false}). The message shows the value's type only, never
--- the value (it may be a secret), except NaN and infinity.
function check.value(where, name, value, expected, optional)
  if value == nil and optional then return value end
  local names = {}
  for _, kind in ipairs(type(expected) == "table" and expected or { expected }) do
    local test = TESTS[kind]
    if (test and test(value)) or (not test and value == kind) then return value end
    names[#names + 1] = test and kind or ("%q"):format(tostring(kind))
  end
  local got = type(value)
  -- a number is never a secret: NaN and infinity are named, where "number" would puzzle
  if value ~= value then
    got = "nan"
  elseif value == math.huge or value == -math.huge then
    got = value > 0 and "inf" or "-inf"
  end
  error(("%s: '%s' must be %s (got %s)"):format(where, name, table.concat(names, " or "), got), 0)
end

--- Checks the optional fields of t named in expected ({name = kind}) with
--- check.value, in name order, so that the first bad one is always the one named.
--- A field equal to null (JSON's null, when given) counts as not set.
function check.fields(where, t, expected, null)
  local names = {}
  for name in pairs(expected) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    if null == nil or t[name] ~= null then check.value(where, name, t[name], expected[name], true) end
  end
end

--- Raises naming the first key of t that allowed (a set) does not have.
function check.known(where, t, allowed, noun)
  for key in pairs(t) do
    if not allowed[key] then
      error(("%s: unknown %s '%s'"):format(where, noun or "field", tostring(key)), 0)
    end
  end
end

return check
