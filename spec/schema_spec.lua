-- The JSON Schema subset tool arguments are checked against: values decoded
-- from JSON text (floats on Lua 5.4, json.null), every keyword, the exact
-- messages with their paths; the checks on schemas themselves; the copy sent
-- to the API, empty objects and empty arrays kept apart.
local json = require "gptaudio.json"
local schema = require "gptaudio.schema"

-- The violations of a JSON text against s.
local function violations(text, s)
  local value = json.decode(text)
  assert(value ~= nil, "test JSON does not decode: " .. text)
  return schema.violations(value, s)
end

describe("schema.violations", function()
  local WEATHER = {
    type = "object",
    properties = {
      city = { type = "string", minLength = 2, maxLength = 5 },
      days = { type = "integer", minimum = 1, maximum = 7 },
      unit = { type = "string", enum = { "celsius", "fahrenheit" } },
      note = { type = { "string", "null" } },
    },
    required = { "city", "days" },
    additionalProperties = false,
  }

  it("passes arguments that fit, whole numbers decoded as floats counting as integers", function()
    assert.same({}, violations('{"city": "Oslo", "days": 3, "unit": "celsius", "note": null}', WEATHER))
    assert.same({}, violations('{"city": "Oslo", "days": 7.0}', WEATHER))
    assert.same({}, violations('{"city": "Oslo", "days": 1e0}', WEATHER))
  end)

  it("names the path and both types on a type mismatch", function()
    assert.same({ "args.city: expected string, got number" }, violations('{"city": 12, "days": 1}', WEATHER))
    assert.same({ "args.days: expected integer, got number" }, violations('{"city": "Oslo", "days": 2.5}', WEATHER))
    assert.same({ "args.days: expected integer, got string" }, violations('{"city": "Oslo", "days": "2"}', WEATHER))
    assert.same({ "args: expected object, got array" }, violations('[1, 2]', WEATHER))
    assert.same({ "args.days: expected integer, got null" }, violations('{"city": "Oslo", "days": null}', WEATHER))
  end)

  it("takes null where a type list allows it, and names every type of the list when refusing", function()
    assert.same({}, violations('{"city": "Oslo", "days": 1, "note": null}', WEATHER))
    assert.same({ "args.note: expected string or null, got boolean" },
                violations('{"city": "Oslo", "days": 1, "note": true}', WEATHER))
  end)

  it("reports every missing required property and every property not allowed, in name order", function()
    assert.same({ "args.city: required, missing", "args.days: required, missing" }, violations('{}', WEATHER))
    assert.same({ "args.extra: not allowed (no such property)", "args.zone: not allowed (no such property)" },
                violations('{"city": "Oslo", "days": 1, "zone": "x", "extra": 1}', WEATHER))
  end)

  it("checks the properties not listed against an additionalProperties schema", function()
    local s = { type = "object", properties = { id = { type = "integer" } },
                additionalProperties = { type = "number" } }
    assert.same({}, violations('{"id": 1, "a": 1.5, "b": 2}', s))
    assert.same({ "args.b: expected number, got string" }, violations('{"id": 1, "a": 1.5, "b": "2"}', s))
  end)

  it("refuses a value outside an enum, showing the allowed values as JSON", function()
    assert.same({ 'args.unit: expected one of "celsius", "fahrenheit", got "kelvin"' },
                violations('{"city": "Oslo", "days": 1, "unit": "kelvin"}', WEATHER))
    assert.same({ "args: expected one of 1, 2.5, null, got 3" }, violations('3', { enum = { 1, 2.5, json.null } }))
    assert.same({}, violations('2.5', { enum = { 1, 2.5, json.null } }))
    assert.same({}, violations('null', { enum = { 1, 2.5, json.null } }))
  end)

  it("checks minimum and maximum on numbers, inclusive", function()
    assert.same({ "args.days: 0 is less than the minimum 1" }, violations('{"city": "Oslo", "days": 0}', WEATHER))
    assert.same({ "args.days: 8 is more than the maximum 7" }, violations('{"city": "Oslo", "days": 8}', WEATHER))
    assert.same({ "args: 0.5 is less than the minimum 0.75" }, violations('0.5', { type = "number", minimum = 0.75 }))
    assert.same({}, violations('{"city": "Oslo", "days": 1}', WEATHER))
  end)

  it("counts minLength and maxLength in UTF-8 characters, not bytes", function()
    -- "Zürich" is 6 characters in 7 bytes; "Åre" 3 characters in 4 bytes.
    assert.same({ "args.city: 6 characters, more than maxLength 5" },
                violations('{"city": "Z\\u00fcrich", "days": 1}', WEATHER))
    assert.same({}, violations('{"city": "\\u00c5re", "days": 1}', WEATHER))
    assert.same({ "args.city: 1 characters, fewer than minLength 2" },
                violations('{"city": "\\u00c5", "days": 1}', WEATHER))
  end)

  it("checks every item of an array, positions counted from 0 as in JSON", function()
    local s = { type = "object", properties = {
      orders = { type = "array", items = { type = "object", properties = { id = { type = "integer" } },
                                           required = { "id" } } } } }
    assert.same({ "args.orders[1].id: expected integer, got string", "args.orders[2].id: required, missing" },
                violations('{"orders": [{"id": 1}, {"id": "2"}, {}]}', s))
    assert.same({}, violations('{"orders": []}', s))
  end)

  it("takes a decoded empty table as an empty object or an empty array, whichever is asked", function()
    assert.same({}, violations('{"list": {}}', { properties = { list = { type = "array" } } }))
    assert.same({}, violations('{"map": []}', { properties = { map = { type = "object" } } }))
    assert.same({ "args.list: expected array, got object" },
                violations('{"list": {"a": 1}}', { properties = { list = { type = "array" } } }))
  end)

  it("quotes property names that are not identifiers", function()
    assert.same({ 'args["first name"]: expected string, got number' },
                violations('{"first name": 1}', { properties = { ["first name"] = { type = "string" } } }))
  end)

  it("applies a keyword only to the values it is about", function()
    local s = { minimum = 5, minLength = 3, required = { "a" }, items = { type = "string" } }
    assert.same({}, violations('"abc"', s))
    assert.same({}, violations('7', s))
    assert.same({}, violations('true', s))
    assert.same({ "args: 4 is less than the minimum 5" }, violations('4', s))
  end)

  it("refuses NaN and infinity as numbers", function()
    assert.same({ "args: expected number, got NaN" }, schema.violations(0 / 0, { type = "number" }))
    assert.same({ "args: expected integer, got infinity" }, schema.violations(math.huge, { type = "integer" }))
  end)

  it("starts paths where it is told", function()
    assert.same({ "input.x: expected boolean, got number" },
                schema.violations({ x = 1 }, { properties = { x = { type = "boolean" } } }, "input"))
  end)
end)

describe("schema.definition_problem", function()
  it("is nil for a well-formed schema", function()
    assert.is_nil(schema.definition_problem{ type = "object", properties = {
      a = { type = { "string", "null" }, enum = { "x", json.null }, minLength = 0, maxLength = 3 },
      b = { type = "array", items = { type = "number", minimum = -1.5, maximum = 2 } },
    }, required = { "a" }, additionalProperties = { type = "integer" } })
  end)

  it("names the keyword and its path for each kind of mistake", function()
    assert.equal('parameters.properties.city.type: unknown type "str"',
                 schema.definition_problem{ type = "object", properties = { city = { type = "str" } } })
    assert.equal("parameters.required[2]: string expected, got number",
                 schema.definition_problem{ required = { "a", 2 } })
    assert.equal("parameters.enum: an empty list", schema.definition_problem{ enum = {} })
    assert.equal("parameters.type: an empty list", schema.definition_problem{ type = {} })
    assert.equal("parameters.items: a schema table expected, got string",
                 schema.definition_problem{ items = "string" })
    assert.equal("parameters.properties.n.minimum: a number expected",
                 schema.definition_problem{ properties = { n = { minimum = "1" } } })
    assert.equal("parameters.maxLength: a count expected", schema.definition_problem{ maxLength = 2.5 })
    assert.equal("parameters.additionalProperties: a schema table expected, got string",
                 schema.definition_problem{ additionalProperties = "no" })
    assert.equal("parameters: a schema table expected, got string", schema.definition_problem("object"))
  end)
end)

describe("schema.for_api", function()
  it("encodes empty list keywords as JSON arrays and every other empty table as a JSON object", function()
    local s = { type = "object", properties = {}, required = {}, ["$defs"] = {},
                additionalProperties = {} }
    assert.same({ type = "object", properties = {}, required = {}, ["$defs"] = {}, additionalProperties = {} }, s)
    local text = json.encode(schema.for_api(s))
    assert.truthy(text:find('"required":[]', 1, true))
    assert.truthy(text:find('"properties":{}', 1, true))
    assert.truthy(text:find('"$defs":{}', 1, true))
    assert.truthy(text:find('"additionalProperties":{}', 1, true))
  end)

  it("treats a property named like a keyword as a property, not as the keyword", function()
    local s = { type = "object", properties = { required = { type = "object", properties = {} },
                                                enum = { type = "array", items = {}, enum = { {} } } } }
    local decoded = json.decode(json.encode(schema.for_api(s)))
    assert.equal("object", decoded.properties.required.type)
    local text = json.encode(schema.for_api(s))
    assert.truthy(text:find('"required":{"', 1, true))
    assert.truthy(text:find('"enum":[{}]', 1, true))
    assert.truthy(text:find('"items":{}', 1, true))
  end)

  it("keeps type lists, anyOf lists and marked empty defaults as arrays", function()
    local s = { anyOf = { { type = { "string", "null" } }, { type = "array", default = json.array() } } }
    local text = json.encode(schema.for_api(s))
    assert.truthy(text:find('"type":["string","null"]', 1, true))
    assert.truthy(text:find('"default":[]', 1, true))
    assert.same({ anyOf = { { type = { "string", "null" } }, { type = "array", default = {} } } }, json.decode(text))
  end)

  it("copies: the caller's schema is left as it was", function()
    local required = {}
    local s = { required = required }
    local c = schema.for_api(s)
    assert.is_nil(getmetatable(required))
    assert.are_not.equal(required, c.required)
    assert.is_true(json.is_array(c.required))
  end)
end)

describe("a schema that contains itself", function()
  local tools = require "gptaudio.tools"

  it("is a definition problem naming where the cycle closes, wherever it is, and tools.new raises", function()
    local object = { type = "object", properties = {} }
    object.properties.child = object
    assert.equal("parameters.properties.child: the schema contains itself here (JSON cannot)",
                 schema.definition_problem(object))
    local hidden = { type = "object", ["$defs"] = {} }
    hidden["$defs"].node = { anyOf = { hidden } }
    assert.equal("parameters[\"$defs\"].node.anyOf[1]: the schema contains itself here (JSON cannot)",
                 schema.definition_problem(hidden))
    local ok, err = pcall(tools.new, { { name = "walk", parameters = object, handler = function() end } })
    assert.is_false(ok)
    assert.matches("the schema contains itself", err, 1, true)
  end)

  it("is told apart from a subschema shared by many places, which is fine", function()
    local shared = { type = "string" }
    local s = { type = "object", properties = {} }
    for i = 1, 200 do s.properties["p" .. i] = { type = "object", properties = { a = shared, b = shared } } end
    assert.is_nil(schema.definition_problem(s))
    assert.equal("string", json.decode(json.encode(schema.for_api(s))).properties.p7.properties.b.type)
  end)
end)
