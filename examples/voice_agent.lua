-- A call-center voice agent: a caller's spoken question goes in as WAV, the
-- agent looks the order up and issues a refund through its two tools, and the
-- spoken answer comes out as WAV.
--   lua5.4 examples/voice_agent.lua [question.wav]
-- Without a file, a speech model asks the question. With OPENAI_API_KEY set it
-- talks to the real API; with OPENAI_BASE_URL set, to that server; otherwise
-- to the local fake server (spec/support/fake.lua, LuaSocket), answering as
-- the stand-in and scripted so that the model calls both tools in turn. Run
-- it from the repository, with LUA_PATH="lua/?.lua;lua/?/init.lua;./?.lua;;"
-- LUA_CPATH="build/5.4/?.so;;".
local gptaudio = require "gptaudio"
local common = require "examples.common"

local QUESTION = "Hello, the headphones from my order A1001 arrived broken. Can I have my money back?"
local MODEL = "gpt-audio-mini"

-- The shop's orders (a database, in a real agent).
local orders = {
  A1001 = { item = "wireless headphones", status = "delivered", paid = 59.90, refunded = 0 },
  A1002 = { item = "USB-C cable", status = "in transit", paid = 9.50, refunded = 0 },
}
local refunds = 0

local agent_tools = gptaudio.tools.new{
  {
    name = "lookup_order",
    description = "Looks up an order by its number: what was bought, its status, what was paid and refunded.",
    parameters = {
      type = "object",
      properties = { order_id = { type = "string", description = "The order number, such as A1001.",
                                  examples = { "A1001" } } },
      required = { "order_id" },
      additionalProperties = false,
    },
    handler = function(args)
      local order = orders[args.order_id]
      if not order then return nil, "there is no order " .. args.order_id end
      return { order_id = args.order_id, item = order.item, status = order.status, paid = order.paid,
               refunded = order.refunded }
    end,
  },
  {
    name = "issue_refund",
    description = "Refunds an amount of a delivered order to the customer's card.",
    parameters = {
      type = "object",
      properties = {
        order_id = { type = "string", examples = { "A1001" } },
        amount = { type = "number", minimum = 0.01, description = "In USD." },
        reason = { type = "string", enum = { "damaged", "not_received", "changed_mind" } },
      },
      required = { "order_id", "amount", "reason" },
      additionalProperties = false,
    },
    handler = function(args)
      local order = orders[args.order_id]
      if not order then return nil, "there is no order " .. args.order_id end
      if order.status ~= "delivered" then return nil, "only a delivered order can be refunded" end
      if args.amount > order.paid - order.refunded + 1e-9 then
        return nil, ("at most %.2f USD is left to refund"):format(order.paid - order.refunded)
      end
      order.refunded = order.refunded + args.amount
      refunds = refunds + 1
      return { refund_id = ("R-%04d"):format(refunds), order_id = args.order_id, amount = args.amount,
               reason = args.reason }
    end,
  },
}

local function set(name)
  local value = os.getenv(name)
  return value ~= nil and value ~= ""
end

-- What the model says in a scripted round: a call of one tool.
local function tool_round(id, name, arguments)
  return { json = {
    id = "chatcmpl-agent-" .. id, object = "chat.completion", created = os.time(), model = MODEL .. "-2025-12-15",
    choices = { { index = 0, finish_reason = "tool_calls", message = {
      role = "assistant", tool_calls = { { id = id, type = "function",
                                           ["function"] = { name = name, arguments = arguments } } } } } },
    usage = { prompt_tokens = 180, completion_tokens = 24, total_tokens = 204,
              prompt_tokens_details = { audio_tokens = 60, text_tokens = 120, cached_tokens = 0 },
              completion_tokens_details = { audio_tokens = 0, text_tokens = 24, reasoning_tokens = 0 } },
  } }
end

-- The client options, and the fake server when one was started.
local function connect()
  if set("OPENAI_API_KEY") or set("OPENAI_BASE_URL") then return {} end
  local server = require("spec.support.fake").start()
  server:control("standin", { on = true })
  server:script("/v1/chat/completions", {
    tool_round("call_lookup", "lookup_order", '{"order_id": "A1001"}'),
    tool_round("call_refund", "issue_refund", '{"order_id": "A1001", "amount": 59.9, "reason": "damaged"}'),
  })
  return { base_url = server.url }, server
end

local options, server = connect()
local client = common.client("voice agent talking", options)

local question = arg and arg[1] and assert(gptaudio.audio.load(arg[1]))
if not question then
  question = assert(client:speak(QUESTION, { model = "gpt-4o-mini-tts", voice = "ash" })).audio
  assert(question:save("out/voice_agent_question.wav"))
  print(("caller      %.2f s of speech -> out/voice_agent_question.wav"):format(question.duration))
end

local conv = client:conversation{
  system = "You are the voice agent of a small web shop. Look orders up before you answer about them. "
           .. "Refund a damaged delivered order in full without asking again. Answer in two short sentences.",
  tools = agent_tools, model = MODEL, voice = "coral", audio = { format = "wav" },
}
local reply = assert(conv:say(question, {
  on_tool_call = function(call)
    print(("tool call   %s %s"):format(call.name, call.arguments_json))
  end,
}))
for _, result in ipairs(reply.tool_results) do
  print(("tool result %s -> %s"):format(result.name, result.content))
end
assert(reply.audio, "the agent answered without audio")
assert(reply.audio:save("out/voice_agent_answer.wav"))
print(("agent       %q (%.2f s) -> out/voice_agent_answer.wav"):format(reply.transcript or reply.text or "",
                                                                      reply.audio.duration))
local u = conv:usage()
print(("usage       %d calls, %d tokens in, %d out, %s USD"):format(u.calls, u.input_tokens or 0,
  u.output_tokens or 0, u.cost and ("%.6f"):format(u.cost) or "unknown"))
client:close()
if server then server:stop() end
