local json = require "gptaudio.json"

describe("gptaudio.json", function()
  it("encodes a marked empty array as [] and an unmarked empty table as {}", function()
    assert.equal("[]", json.encode(json.array{}))
    assert.equal("[]", json.encode(json.array()))
    assert.equal("{}", json.encode({}))
  end)

  it("encodes empty arrays nested in objects and arrays", function()
    local text = json.encode{ tools = json.array{}, messages = { { role = "user", content = json.array{} } } }
    local back = json.decode(text)
    assert.equal("user", back.messages[1].role)
    assert.matches('"tools":%[%]', text)
    assert.matches('"content":%[%]', text)
    assert.equal('[1,[],{"a":[]},"x"]', json.encode{ 1, json.array{}, { a = json.array{} }, "x" })
    assert.equal('[[],null,3]', json.encode(json.array{ json.array{}, [3] = 3 }))
  end)

  it("encodes strings as given, without checking them", function()
    local big = string.rep("QUJD", 2 ^ 18) -- 1 MiB of base64
    local text = json.encode{ data = big, empty = json.array{} }
    assert.equal(#big + #'{"data":"","empty":[]}', #text)
    assert.equal("\"\\u0000\255\"", json.encode("\0\255"))
  end)

  it("raises on a value JSON cannot hold", function()
    assert.has_error(function() json.encode{ f = print } end)
    assert.has_error(function() json.encode{ f = print, a = json.array{} } end)
    assert.has_error(function() json.array("x") end, "json.array: expected a table, got string")
  end)

  it("returns nil and the reason for text that is not JSON", function()
    local value, err = json.decode("{nope")
    assert.is_nil(value)
    assert.is_string(err)
    assert.is_nil((json.decode(nil)))
  end)

  it("reads fields with null and missing levels as nil", function()
    local t = json.decode('{"error": {"message": "m", "code": null, "param": null}, "list": [1, 2]}')
    assert.equal(json.null, t.error.code)
    assert.equal("m", json.get(t, "error", "message"))
    assert.is_nil(json.get(t, "error", "code"))
    assert.is_nil(json.get(t, "missing", "deeper"))
    assert.is_nil(json.get(t, "error", "message", "not a table"))
    assert.equal(2, json.get(t, "list", 2))
    assert.equal(t, json.get(t))
  end)

  it("turns whole numbers into integers where the language has them", function()
    local usage = json.decode('{"total_tokens": 1234, "seconds": 2.5}')
    assert.equal(1234, json.integer(usage.total_tokens))
    if math.type then
      assert.equal("float", math.type(usage.total_tokens))
      assert.equal("integer", math.type(json.integer(usage.total_tokens)))
      assert.equal("1234", tostring(json.integer(usage.total_tokens)))
    end
    assert.equal(2.5, json.integer(usage.seconds))
    assert.is_nil(json.integer(json.null))
    assert.is_nil(json.integer("12"))
  end)

  it("knows a marked array", function()
    assert.is_true(json.is_array(json.array{ 1 }))
    assert.is_false(json.is_array({ 1 }))
  end)
end)

describe("gptaudio.json bounds", function()
  it("refuses nesting past 512 levels and a text whose value would outgrow a budget", function()
    assert.is_table(json.decode(("["):rep(500) .. ("]"):rep(500)))
    local value, why = json.decode(("["):rep(600) .. ("]"):rep(600))
    assert.is_nil(value)
    assert.matches("too many nested data structures", why, 1, true)
    local bomb = "[" .. ("[],"):rep(1000) .. "[]]"
    assert.equal(#bomb + 64 * 2002, json.decoded_size(bomb))
    local refused, message, kind = json.decode(bomb, 100000)
    assert.same({ nil, "too_large" }, { refused, kind })
    assert.matches("could take 131132 bytes once decoded, more than the 100000 allowed", message, 1, true)
    assert.equal(1001, #json.decode(bomb, 200000))
  end)
end)
