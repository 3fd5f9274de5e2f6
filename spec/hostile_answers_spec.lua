-- Answers a hostile or broken server may send, each taken apart without
-- running away: a tool call index that is no position.
local json = require "gptaudio.json"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"

local MESSAGES = { { role = "user", content = "hi" } }

local function chunk(delta, finish)
  return { id = "c", object = "chat.completion.chunk", model = openai.MODEL,
           choices = { { index = 0, delta = delta, finish_reason = finish or json.null } } }
end

describe("a hostile answer", function()
  local server, client
  setup_.fake_client({}, function(s, c) server, client = s, c end)

  it("a tool call index that is NaN, negative, fractional or past the next call is a protocol error", function()
    local bad = { "NaN", "-1", "0.5", "2", "1e300", '"0"' }
    for _, index in ipairs(bad) do
      local first = json.encode(chunk{ tool_calls = { { index = 0, id = "call_1", type = "function",
                                                         ["function"] = { name = "f", arguments = "" } } } })
      local second = ('{"id":"c","object":"chat.completion.chunk","model":"%s","choices":[{"index":0,'
        .. '"delta":{"tool_calls":[{"index":%s,"function":{"arguments":"{}"}}]},"finish_reason":null}]}')
        :format(openai.MODEL, index)
      server:script(openai.CHAT, { { events = { first, second, "[DONE]" } } })
      local reply, err = client:chat{ messages = MESSAGES, stream = true }
      assert.is_nil(reply, index)
      assert.equal("protocol", err.type, index .. ": " .. tostring(err))
      assert.matches("^a tool call delta's index is ", err.message)
    end
    assert.equal(#bad, #server:requests(openai.CHAT))
  end)
end)
