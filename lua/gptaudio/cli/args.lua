-- Command-line arguments: options anywhere among the operands, `--name value`,
-- `--name=value`, `-x value`, flags without values, and `--` ending the options.
--
--   parsed, err = args.parse(list, first, options)
--   options = { output = { short = "o", value = "FILE" }, json = {}, rpm = { value = "N", number = true } }
--   parsed = { options = { output = "x.wav", json = true }, operands = { "hello" } }
-- err is a message for the user: the caller reports it as a usage error.
local args = {}

local function by_short(options)
  local map = {}
  for name, spec in pairs(options) do
    if spec.short then map[spec.short] = name end
  end
  return map
end

local function set(parsed, options, name, value)
  local spec = options[name]
  if spec.number then
    local n = tonumber(value)
    if not n or n <= 0 then return nil, ("--%s wants a positive number (got '%s')"):format(name, value) end
    value = n
  end
  parsed.options[name] = value
  return true
end

function args.parse(list, first, options)
  local parsed = { options = {}, operands = {} }
  local shorts = by_short(options)
  local i = first
  while i <= #list do
    local word = list[i]
    local name, inline
    if word == "--" then
      for j = i + 1, #list do parsed.operands[#parsed.operands + 1] = list[j] end
      break
    elseif word:sub(1, 2) == "--" then
      name, inline = word:match("^%-%-([^=]+)=(.*)$")
      name = name or word:sub(3)
      if not options[name] then return nil, ("unknown option --%s"):format(name) end
    elseif word:match("^%-.") then
      name = shorts[word:sub(2)]
      if not name then return nil, ("unknown option %s"):format(word) end
    end
    if not name then
      parsed.operands[#parsed.operands + 1] = word
    elseif options[name].value then
      local value = inline
      if value == nil then
        i = i + 1
        value = list[i]
        if value == nil then return nil, ("--%s needs a value (%s)"):format(name, options[name].value) end
      end
      local ok, err = set(parsed, options, name, value)
      if not ok then return nil, err end
    elseif inline ~= nil then
      return nil, ("--%s takes no value"):format(name)
    else
      parsed.options[name] = true
    end
    i = i + 1
  end
  return parsed
end

return args
