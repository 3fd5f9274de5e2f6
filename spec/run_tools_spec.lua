-- client:run_tools against the fake server scripted round by round: the exact
-- messages sent each round, results in the model's order while handlers run
-- concurrently, every failure sent back to the model (invalid JSON, schema
-- violations, an unknown tool, a raising handler), max_rounds, and streamed
-- tool-call deltas cut at every byte.
local gptaudio = require "gptaudio"
local json = require "gptaudio.json"
local tools = gptaudio.tools
local setup_ = require "spec.support.setup"

local PATH = "/v1/chat/completions"
local MODEL = "gpt-audio-mini-2025-12-15"

local function usage(prompt, completion)
  return { prompt_tokens = prompt, completion_tokens = completion, total_tokens = prompt + completion,
           prompt_tokens_details = { audio_tokens = 0, cached_tokens = 0, text_tokens = prompt },
           completion_tokens_details = { audio_tokens = 0, reasoning_tokens = 0, text_tokens = completion } }
end

-- A scripted whole response whose message is `message`.
local function completion(message, finish_reason)
  return { json = { id = "chatcmpl-t", object = "chat.completion", created = 1764000000, model = MODEL,
                    choices = json.array{ { index = 0, message = message, finish_reason = finish_reason } },
                    usage = usage(50, 10) } }
end

-- The wire form of tool calls: { {id, name, arguments_json}, ... }.
local function wire_calls(calls)
  local list = json.array()
  for i, c in ipairs(calls) do
    list[i] = { id = c[1], type = "function", ["function"] = { name = c[2], arguments = c[3] } }
  end
  return list
end

local function calling(calls)
  return completion({ role = "assistant", content = json.null, refusal = json.null, tool_calls = wire_calls(calls) },
                    "tool_calls")
end

local function answering(text)
  return completion({ role = "assistant", content = text, refusal = json.null }, "stop")
end

local function assistant_calls(calls)
  return { role = "assistant", tool_calls = json.decode(json.encode(wire_calls(calls))) }
end

local function tool_message(id, content)
  return { role = "tool", tool_call_id = id, content = content }
end

local WEATHER_SCHEMA = {
  type = "object",
  properties = { city = { type = "string" }, days = { type = "integer", minimum = 1 } },
  required = { "city" }, additionalProperties = false,
}

describe("client:run_tools", function()
  local server, client

  setup_.fake_client(nil, function(s, c) server, client = s, c end)

  local function sent(i)
    return server:requests(PATH)[i].json
  end

  it("runs a round's calls concurrently and appends their results in the model's order", function()
    local log = {}
    local box = tools.new{
      { name = "wait", parameters = { type = "object", properties = { s = { type = "number" } } },
        handler = function(args, ctx)
          log[#log + 1] = "start " .. ctx.call.id
          ctx.sleep(args.s)
          log[#log + 1] = "end " .. ctx.call.id
          return ("waited %.2f s"):format(args.s)
        end },
    }
    local calls = { { "call_a", "wait", '{"s": 0.3}' }, { "call_b", "wait", '{"s": 0.05}' },
                    { "call_c", "wait", '{"s": 0.15}' } }
    server:script(PATH, { calling(calls), answering("All three waited.") })
    local messages = { { role = "user", content = "Wait three times." } }
    local reply = assert(client:run_tools{ messages = messages, tools = box })
    -- Run one after another, each call would end before the next starts.
    assert.same({ "start call_a", "start call_b", "start call_c", "end call_b", "end call_c", "end call_a" }, log)
    assert.equal("All three waited.", reply.text)
    assert.equal("stop", reply.finish_reason)
    local expected = {
      { role = "user", content = "Wait three times." },
      assistant_calls(calls),
      tool_message("call_a", "waited 0.30 s"),
      tool_message("call_b", "waited 0.05 s"),
      tool_message("call_c", "waited 0.15 s"),
      { role = "assistant", content = "All three waited." },
    }
    assert.same(expected, json.decode(json.encode(messages)))
    assert.equal(2, #server:requests(PATH))
    assert.same({ expected[1] }, sent(1).messages)
    assert.same({ expected[1], expected[2], expected[3], expected[4], expected[5] }, sent(2).messages)
    assert.same(json.decode(json.encode(box)), sent(1).tools)
    assert.same(json.decode(json.encode(box)), sent(2).tools)
    assert.equal(2, #reply.rounds)
    assert.equal(3, #reply.rounds[1].tool_results)
    assert.same({}, reply.rounds[2].tool_results)
    assert.equal(reply, reply.rounds[2].reply)
    assert.equal(3, #reply.tool_results)
    assert.same({ id = "call_b", name = "wait", round = 1, arguments = { s = 0.05 }, result = "waited 0.05 s",
                  content = "waited 0.05 s" }, reply.tool_results[2])
  end)

  it("runs them one after another with parallel = false", function()
    local log = {}
    local box = tools.new{
      { name = "wait", handler = function(args, ctx)
          log[#log + 1] = "start " .. ctx.call.id
          ctx.sleep(args.s)
          log[#log + 1] = "end " .. ctx.call.id
        end },
    }
    server:script(PATH, { calling{ { "call_a", "wait", '{"s": 0.1}' }, { "call_b", "wait", '{"s": 0.01}' } },
                          answering("ok") })
    local messages = { { role = "user", content = "go" } }
    assert(client:run_tools{ messages = messages, tools = box, parallel = false })
    assert.same({ "start call_a", "end call_a", "start call_b", "end call_b" }, log)
    assert.same({ tool_message("call_a", ""), tool_message("call_b", "") }, { messages[3], messages[4] })
  end)

  it("sends invalid JSON arguments back to the model, which tries again", function()
    local seen = {}
    local box = tools.new{
      { name = "weather", parameters = WEATHER_SCHEMA, handler = function(args)
          seen[#seen + 1] = args.city
          return { city = args.city, celsius = 12 }
        end },
    }
    server:script(PATH, { calling{ { "call_1", "weather", '{"city": "Os' } },
                          calling{ { "call_2", "weather", '{"city": "Oslo"}' } },
                          answering("12 degrees in Oslo.") })
    local messages = { { role = "user", content = "Weather in Oslo?" } }
    local reply = assert(client:run_tools{ messages = messages, tools = box })
    assert.same({ "Oslo" }, seen)
    assert.equal("12 degrees in Oslo.", reply.text)
    local first = reply.tool_results[1]
    assert.matches("^arguments are not JSON: ", first.error)
    assert.equal("error: " .. first.error, first.content)
    assert.is_nil(first.arguments)
    assert.equal(messages[3].content, first.content)
    assert.same(tool_message("call_1", first.content), sent(2).messages[3])
    assert.same({ city = "Oslo", celsius = 12 }, json.decode(sent(3).messages[5].content))
    assert.equal(5, #sent(3).messages)
  end)

  it("sends schema violations back as the tool's result, naming the paths, without running the handler", function()
    local ran = 0
    local box = tools.new{
      { name = "weather", parameters = WEATHER_SCHEMA, handler = function() ran = ran + 1 return "sunny" end },
    }
    server:script(PATH, { calling{ { "call_1", "weather", '{"city": 12, "days": 1.5}' } },
                          calling{ { "call_2", "weather", '{"city": "Oslo", "days": 2}' } },
                          answering("Sunny.") })
    local messages = { { role = "user", content = "Weather?" } }
    local reply = assert(client:run_tools{ messages = messages, tools = box })
    assert.equal(1, ran)
    local why = "invalid arguments: args.city: expected string, got number; args.days: expected integer, got number"
    assert.equal(why, reply.tool_results[1].error)
    assert.same(tool_message("call_1", "error: " .. why), sent(2).messages[3])
    assert.same(tool_message("call_2", "sunny"), sent(3).messages[5])
  end)

  it("answers a call to an unknown tool with the tools it has, and runs the others of the round", function()
    local box = tools.new{
      { name = "lookup_order", handler = function() return "order 7: shipped" end },
      { name = "issue_refund", handler = function() return "refunded" end },
    }
    server:script(PATH, { calling{ { "call_1", "cancel_order", "{}" }, { "call_2", "lookup_order", "{}" } },
                          answering("It has shipped.") })
    local messages = { { role = "user", content = "Cancel order 7." } }
    local reply = assert(client:run_tools{ messages = messages, tools = box })
    local why = 'unknown tool "cancel_order"; the tools are: lookup_order, issue_refund'
    assert.same({ id = "call_1", name = "cancel_order", round = 1, error = why, content = "error: " .. why },
                reply.tool_results[1])
    assert.same({ tool_message("call_1", "error: " .. why), tool_message("call_2", "order 7: shipped") },
                { sent(2).messages[3], sent(2).messages[4] })
  end)

  it("answers a handler that raises or returns nil, err with the error, and goes on", function()
    local box = tools.new{
      { name = "explode", handler = function() error("the database is down", 0) end },
      { name = "missing", handler = function() return nil, "no order 99" end },
      { name = "fine", handler = function() return { ok = true } end },
    }
    server:script(PATH, { calling{ { "c1", "explode", "{}" }, { "c2", "missing", "{}" }, { "c3", "fine", "{}" } },
                          answering("Sorry.") })
    local messages = { { role = "user", content = "go" } }
    local reply = assert(client:run_tools{ messages = messages, tools = box })
    assert.equal("Sorry.", reply.text)
    assert.equal("explode failed: the database is down", reply.tool_results[1].error)
    assert.equal("missing failed: no order 99", reply.tool_results[2].error)
    assert.is_nil(reply.tool_results[3].error)
    assert.same({ tool_message("c1", "error: explode failed: the database is down"),
                  tool_message("c2", "error: missing failed: no order 99"),
                  tool_message("c3", '{"ok":true}') },
                { sent(2).messages[3], sent(2).messages[4], sent(2).messages[5] })
  end)

  it("stops at max_rounds with finish_reason max_rounds, its last calls answered", function()
    local count = 0
    local box = tools.new{ { name = "again", handler = function() count = count + 1 return count end } }
    server:script(PATH, { calling{ { "r1", "again", "{}" } }, calling{ { "r2", "again", "{}" } },
                          calling{ { "r3", "again", "{}" } }, answering("never sent") })
    local messages = { { role = "user", content = "loop" } }
    local reply = assert(client:run_tools{ messages = messages, tools = box, max_rounds = 3 })
    assert.equal("max_rounds", reply.finish_reason)
    assert.equal(3, #server:requests(PATH))
    assert.equal(3, count)
    assert.equal(3, #reply.rounds)
    assert.same(tool_message("r3", "3"), json.decode(json.encode(messages[#messages])))
    assert.equal(7, #messages) -- user, then (assistant, tool) three times
    assert.equal("tool_calls", reply.raw.choices[1].finish_reason)
  end)

  it("sends tool_choice with the first round only, and every chat option with every round", function()
    local box = tools.new{ { name = "now", handler = function() return "noon" end } }
    server:script(PATH, { calling{ { "c1", "now", "{}" } }, answering("It is noon.") })
    local messages = { { role = "user", content = "Time?" } }
    assert(client:run_tools{ messages = messages, tools = box, tool_choice = "required", temperature = 0.5,
                             max_completion_tokens = 99, parallel_tool_calls = false, model = "gpt-audio-mini" })
    assert.equal("required", sent(1).tool_choice)
    assert.is_nil(sent(2).tool_choice)
    for i = 1, 2 do
      assert.equal(0.5, sent(i).temperature)
      assert.equal(99, sent(i).max_completion_tokens)
      assert.is_false(sent(i).parallel_tool_calls)
      assert.equal("gpt-audio-mini", sent(i).model)
      assert.is_nil(sent(i).max_rounds)
      assert.is_nil(sent(i).parallel)
    end
  end)

  it("lets on_tool_call answer instead of the handler, and lets handlers call the API", function()
    local refunded = false
    local box = tools.new{
      { name = "lookup_order", parameters = { type = "object", properties = { id = { type = "integer" } } },
        handler = function(args, ctx)
          local res = assert(ctx.client:request{ path = ("/orders/%d"):format(args.id) })
          return res.json
        end },
      { name = "issue_refund", handler = function() refunded = true return "refunded" end },
    }
    server:script("/v1/orders/7", { { json = { id = 7, status = "delivered" } } })
    server:script(PATH, { calling{ { "c1", "lookup_order", '{"id": 7}' }, { "c2", "issue_refund", "{}" } },
                          answering("Order 7 was delivered; the refund was declined.") })
    local asked = {}
    local messages = { { role = "user", content = "Refund order 7." } }
    local reply = assert(client:run_tools{ messages = messages, tools = box, on_tool_call = function(call, ctx)
      asked[#asked + 1] = ("%s round %d"):format(call.name, ctx.round)
      if call.name == "issue_refund" then return "the customer declined the refund" end
    end })
    assert.is_false(refunded)
    assert.same({ "lookup_order round 1", "issue_refund round 1" }, asked)
    assert.same({ id = 7, status = "delivered" }, json.decode(sent(2).messages[3].content))
    assert.same(tool_message("c2", "the customer declined the refund"), sent(2).messages[4])
    assert.equal("Order 7 was delivered; the refund was declined.", reply.text)
  end)

  it("joins streamed tool-call deltas cut at every byte, handing on each call in the model's order", function()
    local chunks = {}
    local function chunk(delta, finish_reason)
      chunks[#chunks + 1] = { data = { id = "chatcmpl-s", object = "chat.completion.chunk", created = 1764000000,
        model = MODEL, choices = json.array{ { index = 0, delta = delta, finish_reason = finish_reason } } } }
    end
    chunk{ role = "assistant", content = json.null, tool_calls = json.array{
      { index = 0, id = "call_x", type = "function", ["function"] = { name = "weather", arguments = "" } } } }
    for _, piece in ipairs{ '{"ci', 'ty": "Tr', 'oms\\u00f8"', "}" } do
      chunk{ tool_calls = json.array{ { index = 0, ["function"] = { arguments = piece } } } }
    end
    chunk{ tool_calls = json.array{
      { index = 1, id = "call_y", type = "function", ["function"] = { name = "weather", arguments = '{"city":' } } } }
    chunk{ tool_calls = json.array{ { index = 1, ["function"] = { arguments = ' "Bergen", "days": 2}' } } } }
    chunk({}, "tool_calls")
    chunks[#chunks + 1] = "[DONE]"
    local final = {}
    for i, word in ipairs{ "Cold", " in", " both." } do
      final[i] = { data = { id = "chatcmpl-f", object = "chat.completion.chunk", created = 1764000000, model = MODEL,
                            choices = json.array{ { index = 0, delta = { content = word } } } } }
    end
    final[#final + 1] = { data = { id = "chatcmpl-f", object = "chat.completion.chunk", created = 1764000000,
                                   model = MODEL, choices = json.array{ { index = 0, delta = {},
                                                                          finish_reason = "stop" } } } }
    final[#final + 1] = "[DONE]"
    server:script(PATH, { { events = chunks, split = 1 }, { events = final, split = 1 } })
    local box = tools.new{
      { name = "weather", parameters = WEATHER_SCHEMA, handler = function(args) return "cold in " .. args.city end },
    }
    local events = {}
    local messages = { { role = "user", content = "Tromsø and Bergen?" } }
    local reply = assert(client:run_tools{ messages = messages, tools = box, stream = true, on_event = function(ev)
      if ev.type == "tool_call" then
        events[#events + 1] = ev.tool_call.id .. " " .. ev.tool_call.arguments_json
      elseif ev.type == "text" then
        events[#events + 1] = ev.delta
      end
    end })
    assert.same({ 'call_x {"city": "Troms\\u00f8"}', 'call_y {"city": "Bergen", "days": 2}',
                  "Cold", " in", " both." }, events)
    assert.equal("Cold in both.", reply.text)
    assert.is_true(sent(1).stream)
    assert.same({
      { role = "user", content = "Tromsø and Bergen?" },
      assistant_calls{ { "call_x", "weather", '{"city": "Troms\\u00f8"}' },
                       { "call_y", "weather", '{"city": "Bergen", "days": 2}' } },
      tool_message("call_x", "cold in Tromsø"),
      tool_message("call_y", "cold in Bergen"),
    }, sent(2).messages)
  end)

  it("works inside a task: the task waits while handlers and requests run", function()
    local box = tools.new{ { name = "now", handler = function(_, ctx) ctx.sleep(0.01) return "noon" end } }
    server:script(PATH, { calling{ { "c1", "now", "{}" } }, answering("Noon.") })
    local messages = { { role = "user", content = "Time?" } }
    local task = gptaudio.spawn(function() return client:run_tools{ messages = messages, tools = box } end)
    assert.equal("waiting", task:status())
    while task:status() == "waiting" do client:step(1) end
    assert.equal("done", task:status())
    assert.equal("Noon.", task:result().text)
    assert.equal(4, #messages)
  end)

  it("raises outside a task where the attached event loop must not block, before anything is sent", function()
    local box = tools.new{ { name = "now", handler = function() return "noon" end } }
    client:attach_loop{}
    local messages = { { role = "user", content = "Time?" } }
    assert.has_error(function() client:run_tools{ messages = messages, tools = box } end,
      "gptaudio: call this from gptaudio.spawn: a call outside a task would block the event loop")
    assert.equal(0, #server:requests(PATH))
  end)

  it("returns nil, err when a round's chat call fails, with the completed rounds in messages", function()
    local box = tools.new{ { name = "now", handler = function() return "noon" end } }
    server:script(PATH, { calling{ { "c1", "now", "{}" } },
                          { status = 400, json = { error = { message = "bad tool message", param = json.null,
                                                             type = "invalid_request_error", code = json.null } } } })
    local messages = { { role = "user", content = "Time?" } }
    local reply, err = client:run_tools{ messages = messages, tools = box }
    assert.is_nil(reply)
    assert.equal("api", err.type)
    assert.equal(400, err.status)
    assert.equal("bad tool message", err.message)
    assert.equal(3, #messages)
    assert.same(tool_message("c1", "noon"), messages[3])
  end)

  it("without tools is one chat call whose message is appended", function()
    server:script(PATH, { answering("Hello.") })
    local messages = { { role = "user", content = "Hi" } }
    local reply = assert(client:run_tools{ messages = messages })
    assert.equal("Hello.", reply.text)
    assert.same({ { role = "user", content = "Hi" }, { role = "assistant", content = "Hello." } }, messages)
    assert.is_nil(sent(1).tools)
    assert.same({}, reply.tool_results)
    assert.equal(1, #reply.rounds)
  end)

  it("raises at the call for a missing toolbox, a bad max_rounds, and a bad chat option", function()
    local box = tools.new{ { name = "now", handler = function() return "noon" end } }
    local messages = { { role = "user", content = "Time?" } }
    assert.has_error(function() client:run_tools{ messages = messages, tools = { box[1] } } end,
      "client:run_tools: 'tools' must be a toolbox from gptaudio.tools.new (got table)")
    assert.has_error(function() client:run_tools{ messages = messages, tools = box, max_rounds = 0 } end,
      "client:run_tools: 'max_rounds' must be positive integer (got number)")
    assert.has_error(function() client:run_tools{ tools = box } end,
      "client:run_tools: 'messages' must be table (got nil)")
    assert.has_error(function() client:run_tools{ messages = messages, tools = box, on_event = 5 } end,
      "on_event: a function expected, got number")
    assert.equal(0, #server:requests(PATH))
    assert.equal(1, #messages)
  end)
end)
