-- Toolboxes: checked names and entries, the API's tools array (empty objects
-- and empty arrays kept apart), arguments decoded and checked into the text
-- the model is sent, and results turned into tool message content.
local gptaudio = require "gptaudio"
local json = require "gptaudio.json"
local tools = gptaudio.tools

local function noop() end

-- The message a call raises with, without the position prefix.
local function raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected a raise")
  return (tostring(err):gsub("^[^:]*:%d+: ", ""))
end

-- A tool call as client:chat's reply gives it.
local function call(name, arguments_json)
  local arguments, why = json.decode(arguments_json)
  local c = { id = "call_1", name = name, arguments_json = arguments_json }
  if type(arguments) == "table" then
    c.arguments = arguments
  else
    c.error = why and ("arguments are not JSON: " .. why) or "arguments are not a JSON object"
  end
  return c
end

describe("tools.new", function()
  it("accepts names of 1 to 64 letters, digits, _ and -", function()
    local long = ("a"):rep(64)
    local box = tools.new{ { name = "a", handler = noop }, { name = "get_order-2", handler = noop },
                           { name = long, handler = noop } }
    assert.same({ "a", "get_order-2", long }, box:names())
    assert.equal("gptaudio.Toolbox(a, get_order-2, " .. long .. ")", tostring(box))
    assert.is_true(tools.is_toolbox(box))
    assert.is_false(tools.is_toolbox({}))
  end)

  it("refuses a bad name, naming the entry", function()
    local rule = "name must be 1 to 64 of a-z, A-Z, 0-9, _ and -"
    assert.equal("tools.new: entry 2 (get weather): " .. rule,
                 raised(tools.new, { { name = "ok", handler = noop }, { name = "get weather", handler = noop } }))
    assert.equal("tools.new: entry 1 (" .. ("a"):rep(65) .. "): " .. rule,
                 raised(tools.new, { { name = ("a"):rep(65), handler = noop } }))
    assert.equal("tools.new: entry 1 (): " .. rule, raised(tools.new, { { name = "", handler = noop } }))
    assert.equal("tools.new: entry 1 (café): " .. rule, raised(tools.new, { { name = "café", handler = noop } }))
    assert.equal("tools.new: entry 1: " .. rule, raised(tools.new, { { name = 7, handler = noop } }))
  end)

  it("refuses a duplicate name, naming both entries", function()
    assert.equal("tools.new: entry 3 (lookup): duplicate name (entry 1 has it too)",
                 raised(tools.new, { { name = "lookup", handler = noop }, { name = "refund", handler = noop },
                                     { name = "lookup", handler = noop } }))
  end)

  it("refuses entries without a handler, with a bad description or schema, and empty lists", function()
    assert.equal("tools.new: entry 1 (x): handler must be a function, got nil", raised(tools.new, { { name = "x" } }))
    assert.equal("tools.new: entry 1 (x): description must be a string, got number",
                 raised(tools.new, { { name = "x", handler = noop, description = 5 } }))
    assert.equal('tools.new: entry 1 (x): parameters.properties.id.type: unknown type "int"',
                 raised(tools.new, { { name = "x", handler = noop,
                                       parameters = { type = "object", properties = { id = { type = "int" } } } } }))
    assert.equal("tools.new: entry 2: a table expected, got string",
                 raised(tools.new, { { name = "x", handler = noop }, "y" }))
    assert.equal("tools.new: a list of tools expected, got nil", raised(tools.new))
    assert.equal("tools.new: at least one tool expected", raised(tools.new, {}))
  end)

  it("is the API's tools array, empty objects as {} and empty arrays as []", function()
    local box = tools.new{
      { name = "ping", description = "Checks the line.", handler = noop },
      { name = "find", handler = noop, strict = true,
        parameters = { type = "object", properties = { q = { type = "string", enum = { "a", "b" } } },
                       required = {}, additionalProperties = false } },
    }
    local decoded = json.decode(json.encode(box))
    assert.same({
      { type = "function", ["function"] = { name = "ping", description = "Checks the line.",
                                            parameters = { type = "object", properties = {} } } },
      { type = "function", ["function"] = { name = "find", strict = true,
        parameters = { type = "object", properties = { q = { type = "string", enum = { "a", "b" } } },
                       required = {}, additionalProperties = false } } },
    }, decoded)
    local text = json.encode(box)
    assert.truthy(text:find('"properties":{}', 1, true))
    assert.truthy(text:find('"required":[]', 1, true))
    assert.is_nil(text:find("handler", 1, true))
  end)
end)

describe("toolbox:arguments", function()
  local box = tools.new{
    { name = "weather", handler = noop, parameters = {
      type = "object", properties = { city = { type = "string" }, days = { type = "integer", minimum = 1 } },
      required = { "city" }, additionalProperties = false } },
    { name = "now", handler = noop },
  }

  it("returns the decoded arguments when they fit the schema", function()
    local args = assert(box:arguments(call("weather", '{"city": "Oslo", "days": 2}')))
    assert.equal("Oslo", args.city)
    assert.equal(2, args.days)
  end)

  it("says why, for the model, when the arguments break the schema: every violation with its path", function()
    local args, why = box:arguments(call("weather", '{"city": 12, "days": 0, "x": 1}'))
    assert.is_nil(args)
    assert.equal("invalid arguments: args.city: expected string, got number; args.days: 0 is less than the "
                 .. "minimum 1; args.x: not allowed (no such property)", why)
  end)

  it("says why when the arguments are not JSON or not an object", function()
    local args, why = box:arguments(call("weather", '{"city": "Os'))
    assert.is_nil(args)
    assert.truthy(why:find("^arguments are not JSON: "))
    assert.equal("invalid arguments: args: expected object, got array", select(2, box:arguments(call("now", "[1]"))))
    assert.equal("arguments are not a JSON object", select(2, box:arguments(call("now", "3"))))
  end)

  it("takes empty arguments text as no arguments", function()
    assert.same({}, box:arguments(call("now", "")))
    assert.same({}, box:arguments(call("now", " \n")))
    assert.equal("invalid arguments: args.city: required, missing", select(2, box:arguments(call("weather", ""))))
  end)

  it("names the tools it has when the model asks for another", function()
    assert.equal('unknown tool "forecast"; the tools are: weather, now',
                 select(2, box:arguments(call("forecast", "{}"))))
  end)
end)

describe("tools.content", function()
  it("sends strings as they are, nothing as an empty string, anything else as JSON", function()
    assert.equal("it is 12 degrees", tools.content("it is 12 degrees"))
    assert.equal("", tools.content(nil))
    assert.equal("42", tools.content(42))
    assert.equal("true", tools.content(true))
    local text = tools.content{ order = { items = json.array(), id = 7 } }
    assert.same({ order = { items = {}, id = 7 } }, json.decode(text))
    assert.truthy(text:find('"items":[]', 1, true))
    assert.equal("[1,2]", tools.content{ 1, 2 })
  end)

  it("says why when a result cannot be JSON", function()
    local text, why = tools.content{ f = noop }
    assert.is_nil(text)
    assert.truthy(why:find("^the result cannot be sent as JSON: "))
  end)
end)
