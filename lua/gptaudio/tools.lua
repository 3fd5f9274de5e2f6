-- Tool calling: toolboxes, the checking of a call's arguments, and the tool
-- loop (client:run_tools).
--
--   box = tools.new{ {name =, description =, parameters = <JSON Schema>, handler = fn(args, ctx)}, ... }
--
-- A toolbox IS the API's `tools` array (box[i] = {type = "function", function =
-- {name, description, parameters}}), so it can also be given to client:chat
-- as `tools`. Names are 1 to 64 of a-zA-Z0-9_- and unique; parameters (default:
-- an object with no properties) must be a well-formed schema for the keywords
-- schema.lua checks. Other fields of an entry (strict, ...) go into its
-- function object unchanged. A bad entry raises, naming it.
--
--   reply, err = client:run_tools{ messages =, tools = box, max_rounds = 10, tool_choice =,
--                                  parallel = true, on_tool_call = fn(call, ctx), <chat options> }
--
-- Without tools it is one chat call whose message is appended (a conversation
-- whose tools come and go).
-- Each round is one client:chat (every other field is passed to it: model,
-- audio, stream, on_event, ...). The reply's assistant message (its audio
-- reduced to {id}) is appended to `messages`, then, if it called tools, one
-- tool message per call, in the order the model gave them. A round's calls run
-- concurrently, each in its own task (parallel = false: one after another), so
-- a handler may call the API or wait (ctx.sleep). The loop ends at a reply
-- without tool calls, or after max_rounds with reply.finish_reason =
-- "max_rounds" (that round's calls are run and answered too, so `messages`
-- stays a valid history: call run_tools again to go on). tool_choice is sent
-- with the first round only: a choice that forces a call, kept on every
-- round, could never end.
--
-- A call's result goes back as the tool message's content: a string as it
-- is, any other value as JSON, nothing as "". What cannot be run goes back to
-- the model as "error: <why>" so it can try again, and is never raised: an
-- unknown tool, arguments that are not JSON, arguments that break the schema
-- ("error: invalid arguments: args.city: expected string, got number"), a
-- handler that raises or returns nil, err, a result JSON cannot hold.
--
-- handler(args, ctx) and on_tool_call(call, ctx) get ctx = { client, call
-- (the reply's tool call: id, name, arguments, arguments_json), round,
-- messages, sleep = fn(seconds) }. on_tool_call runs first, in the call's task,
-- once the arguments are valid; a value other than nil from it is the result
-- and the handler is not run (to confirm a refund with the user, say). A raise
-- from it counts as the handler's.
--
-- The final reply also carries:
--   reply.rounds        { {reply = <that round's reply>, tool_results = {...}}, ... } in order
--   reply.tool_results  every round's results in order, each { id, name, round,
--                       arguments (decoded, or nil), result (what the handler returned),
--                       content (what the model was sent), error (why it failed, or nil) }
-- On a failed chat call run_tools returns nil, err; `messages` then holds the
-- rounds that completed.
local json = require "gptaudio.json"
local check = require "gptaudio.check"
local scheduler = require "gptaudio.engine.scheduler"
local pcall = require "gptaudio.engine.protect" -- may wait inside, on every Lua
local schema = require "gptaudio.schema"

local tools = {}

local NAME_PATTERN = "^[%w_%-]+$"
local NAME_MAX = 64
local DEFAULT_MAX_ROUNDS = 10
local NO_PARAMETERS = { type = "object", properties = {} }
-- run_tools' own fields; every other one goes to each chat call.
local OWN_FIELDS = { messages = true, tools = true, max_rounds = true, tool_choice = true, parallel = true,
                     on_tool_call = true }

local Toolbox = { __name = "gptaudio.Toolbox" }
Toolbox.__index = Toolbox

-- Each toolbox's entries by name, kept off the box: the box itself is
-- encoded as the API's tools array, and a handler is no JSON.
local entries_of = setmetatable({}, { __mode = "k" })

local function entry_error(i, name, message)
  local label = type(name) == "string" and ("entry %d (%s)"):format(i, name) or ("entry %d"):format(i)
  error(("tools.new: %s: %s"):format(label, message), 3)
end

--- A toolbox from a list of tool entries; raises naming the first bad entry.
function tools.new(list)
  if type(list) ~= "table" then error("tools.new: a list of tools expected, got " .. type(list), 2) end
  local box, by_name = setmetatable({}, Toolbox), {}
  for i, entry in ipairs(list) do
    if type(entry) ~= "table" then entry_error(i, nil, "a table expected, got " .. type(entry)) end
    local name = entry.name
    if type(name) ~= "string" or #name > NAME_MAX or not name:find(NAME_PATTERN) then
      entry_error(i, name, "name must be 1 to 64 of a-z, A-Z, 0-9, _ and -")
    end
    if by_name[name] then entry_error(i, name, ("duplicate name (entry %d has it too)"):format(by_name[name].index)) end
    if type(entry.handler) ~= "function" then
      entry_error(i, name, "handler must be a function, got " .. type(entry.handler))
    end
    if entry.description ~= nil and type(entry.description) ~= "string" then
      entry_error(i, name, "description must be a string, got " .. type(entry.description))
    end
    local parameters = entry.parameters or NO_PARAMETERS
    local problem = schema.definition_problem(parameters, "parameters")
    if problem then entry_error(i, name, problem) end
    local definition = {}
    for key, value in pairs(entry) do
      if key ~= "handler" then definition[key] = value end
    end
    definition.parameters = schema.for_api(parameters)
    box[i] = { type = "function", ["function"] = definition }
    by_name[name] = { index = i, handler = entry.handler, parameters = parameters }
  end
  if #box == 0 then error("tools.new: at least one tool expected", 2) end
  entries_of[box] = by_name
  return box
end

function tools.is_toolbox(v)
  return type(v) == "table" and entries_of[v] ~= nil
end

--- The tools' names, in the toolbox's order.
function Toolbox:names()
  local names = {}
  for i, tool in ipairs(self) do names[i] = tool["function"].name end
  return names
end

function Toolbox:__tostring()
  return ("gptaudio.Toolbox(%s)"):format(table.concat(self:names(), ", "))
end

--- The decoded, checked arguments of a reply's tool call for this toolbox's
--- tool of that name, or nil and why not (the text the model is sent).
function Toolbox:arguments(call)
  local entry = entries_of[self][call.name]
  if not entry then
    return nil, ("unknown tool %s; the tools are: %s"):format(json.encode(tostring(call.name)),
                                                            table.concat(self:names(), ", "))
  end
  local args = call.arguments
  -- Some servers send "" for a tool that takes no arguments.
  if args == nil and type(call.arguments_json) == "string" and call.arguments_json:find("^%s*$") then args = {} end
  if args == nil then return nil, call.error or "arguments are not JSON" end
  local problems = schema.violations(args, entry.parameters, "args")
  if #problems > 0 then return nil, "invalid arguments: " .. table.concat(problems, "; ") end
  return args
end

--- The tool message content for a result: a string as it is, nothing as
--- "", anything else as JSON; nil and why when JSON cannot hold it.
function tools.content(value)
  if value == nil then return "" end
  if type(value) == "string" then return value end
  local ok, text = pcall(json.encode, value)
  if not ok then return nil, "the result cannot be sent as JSON: " .. tostring(text) end
  return text
end

-- Runs one call to its end; returns its result record.
local function run_call(box, call, ctx, on_tool_call)
  local record = { id = call.id, name = call.name, round = ctx.round }
  local args, why
  if box then
    args, why = box:arguments(call)
  else
    why = ("unknown tool %s; there are no tools"):format(json.encode(tostring(call.name)))
  end
  if args then
    record.arguments = args
    local ok, value, err = true, nil, nil
    if on_tool_call then ok, value, err = pcall(on_tool_call, call, ctx) end
    if ok and value == nil and err == nil then
      ok, value, err = pcall(entries_of[box][call.name].handler, args, ctx)
    end
    if not ok then
      why = ("%s failed: %s"):format(call.name, tostring(value))
    elseif value == nil and err ~= nil then
      why = ("%s failed: %s"):format(call.name, tostring(err))
    else
      record.result = value
      record.content, why = tools.content(value)
    end
  end
  if why then
    record.error = why
    record.content = "error: " .. why
  end
  return record
end

--- Runs one of a reply's tool calls: its record {id, name, arguments, result,
--- content (the tool message's), error}. Never raises: what cannot be run is
--- in `error` and `content` is "error: <why>". ctx reaches the handler.
function Toolbox:run(call, ctx)
  ctx = ctx or {}
  ctx.call = call
  return run_call(self, call, ctx)
end

-- Runs a round's calls, each in its own task, and waits for all of them;
-- returns their records in the model's order.
local function run_round(box, calls, ctx_base, params)
  local records, left = {}, #calls
  local waiting = scheduler.current()
  local sched = ctx_base.client.engine.scheduler
  local function run(i)
    local ctx = { call = calls[i] }
    for k, v in pairs(ctx_base) do ctx[k] = v end
    records[i] = run_call(box, calls[i], ctx, params.on_tool_call)
    left = left - 1
    sched:wake(waiting)
  end
  for i = 1, #calls do
    scheduler.spawn(run, i)
    if params.parallel == false then
      while records[i] == nil do scheduler.suspend() end
    end
  end
  while left > 0 do scheduler.suspend() end
  return records
end

local function check_params(params)
  local where = "client:run_tools"
  check.value(where, "params", params, "table")
  check.value(where, "messages", params.messages, "table")
  if params.tools ~= nil and not tools.is_toolbox(params.tools) then
    error(where .. ": 'tools' must be a toolbox from gptaudio.tools.new (got " .. type(params.tools) .. ")", 0)
  end
  check.value(where, "max_rounds", params.max_rounds, "positive integer", true)
  check.value(where, "parallel", params.parallel, "boolean", true)
  check.value(where, "on_tool_call", params.on_tool_call, "function", true)
end

-- The tool loop, inside a task.
local function loop(self, params)
  local messages, box = params.messages, params.tools
  local chat_params = {}
  for key, value in pairs(params) do
    if not OWN_FIELDS[key] then chat_params[key] = value end
  end
  chat_params.messages, chat_params.tools = messages, box
  local rounds, all_results = {}, {}
  local max_rounds = params.max_rounds or DEFAULT_MAX_ROUNDS
  local sched = self.engine.scheduler
  local ctx = { client = self, messages = messages, sleep = function(seconds) return sched:sleep(seconds) end }
  for round = 1, max_rounds do
    chat_params.tool_choice = round == 1 and params.tool_choice or nil
    local reply, err = self:chat(chat_params)
    if not reply then return nil, err end
    messages[#messages + 1] = reply.message
    local record = { reply = reply, tool_results = {} }
    rounds[round] = record
    if reply.tool_calls then
      ctx.round = round
      record.tool_results = run_round(box, reply.tool_calls, ctx, params)
      for _, result in ipairs(record.tool_results) do
        messages[#messages + 1] = { role = "tool", tool_call_id = result.id, content = result.content }
        all_results[#all_results + 1] = result
      end
    end
    if not reply.tool_calls or round == max_rounds then
      if reply.tool_calls then reply.finish_reason = "max_rounds" end
      reply.rounds, reply.tool_results = rounds, all_results
      return reply
    end
  end
end

--- See the top of this file. Yields inside a task, blocks outside one (as
--- client:chat does).
function tools.run_tools(self, params)
  check_params(params)
  return self:run(loop, nil, self, params)
end

return tools
