-- Conversations: the turns of a voice agent, one conv:say at a time, over
-- client:run_tools.
--
--   conv = client:conversation{ system =, tools = box, model =, voice =, audio = true,
--                               max_history_tokens =, clock = os.time }
--   reply, err = conv:say(text | AudioBuffer | parts[, options])
--   conv.history     the messages so far (the system message first), as sent
--   conv:usage()     tokens and cost of every call of the conversation:
--                    { calls, cost, unpriced_calls, input_tokens, output_tokens, total_tokens,
--                      input_audio_tokens, ... } (client:usage()'s fields for one model);
--                    { calls = 0 } before the first turn
--
-- audio: true (the default: spoken answers in the client's voice), a table
-- { voice =, format =, rate = } as client:chat takes it, or false for text
-- only; voice sets the voice of either. parts: a content list whose items are
-- parts as client:chat takes them, strings (text parts) or AudioBuffers
-- (input audio). options go to run_tools and on to chat for this turn only
-- (stream, on_event, max_rounds, tool_choice, temperature, ...).
--
-- An earlier audio answer is sent back as its id while the API keeps it, and
-- as its transcript from EXPIRY_MARGIN seconds before its expires_at on (the
-- clock gives Unix seconds). Input audio is encoded once, when it is said.
--
-- Trimming: the usage of a turn's last call counts the whole history plus
-- the answer, so each turn's share is the growth of that count. After a turn,
-- while the count passes max_history_tokens (default: the model's context
-- window less its largest answer; no trimming for a model the registry does not
-- know), the oldest turn goes, whole (its question, answers and tool
-- exchanges). The system message and the latest turn always stay.
--
-- A turn whose first call fails leaves the history as it was (say it again);
-- a turn that fails after tools ran keeps what happened, since what a tool did
-- is done.
local json = require "gptaudio.json"
local pcall = require "gptaudio.engine.protect" -- may wait inside, on every Lua
local check = require "gptaudio.check"
local chat = require "gptaudio.calls.chat"
local models = require "gptaudio.models"
local usage = require "gptaudio.usage"
local tools = require "gptaudio.tools"

local conversation = {}

-- Seconds before expires_at from which an audio id is no longer sent: the
-- request has to reach the API while the id is still good.
local EXPIRY_MARGIN = 30

local OPTIONS = { system = true, tools = true, model = true, voice = true, audio = true,
                  max_history_tokens = true, clock = true }

local Conversation = { __name = "gptaudio.Conversation" }
Conversation.__index = Conversation

-- The conversation's own steps, kept off its methods.
local forget_expired_audio, record, trim

local function is_buffer(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return type(mt) == "table" and mt.__name == "gptaudio.AudioBuffer"
end

-- The audio the conversation asks for, in client:chat's terms.
local function audio_option(audio, voice)
  if audio == false then return false end
  local out = {}
  if type(audio) == "table" then
    for k, v in pairs(audio) do out[k] = v end
  end
  out.voice = voice or out.voice
  return out
end

local function default_history_limit(model_id)
  local model = models.get(model_id)
  if model and model.context_window then return model.context_window - (model.max_output_tokens or 0) end
end

--- A new conversation on client `self`; see the top of this file.
function conversation.new(self, options)
  local where = "client:conversation"
  self:check_open()
  options = check.value(where, "options", options, "table", true) or {}
  check.known(where, options, OPTIONS, "option")
  check.value(where, "system", options.system, "string", true)
  if options.tools ~= nil and not tools.is_toolbox(options.tools) then
    error(where .. ": 'tools' must be a toolbox from gptaudio.tools.new (got " .. type(options.tools) .. ")", 0)
  end
  check.value(where, "model", options.model, "string", true)
  check.value(where, "voice", options.voice, { "string", "table" }, true)
  check.value(where, "audio", options.audio, { "table", true, false }, true)
  check.value(where, "max_history_tokens", options.max_history_tokens, "positive integer", true)
  check.value(where, "clock", options.clock, "function", true)
  local model = options.model or self.options.model
  local conv = setmetatable({
    client = self,
    model = model,
    tools = options.tools,
    audio = audio_option(options.audio, options.voice),
    max_history_tokens = options.max_history_tokens or default_history_limit(model),
    clock = options.clock or os.time,
    history = {},
    turns = {},          -- per turn still in history: { messages = count, tokens = its share }
    context_tokens = 0,  -- the last call's total_tokens, less the turns dropped since
    spoken = setmetatable({}, { __mode = "k" }), -- assistant message -> { transcript, expires_at }
    totals = usage.totals(),
  }, Conversation)
  if options.system then conv.history[1] = { role = "system", content = options.system } end
  return conv
end

function Conversation:__tostring()
  return ("gptaudio.Conversation(%s, %d turns)"):format(self.model, #self.turns)
end

-- One content part for an item of a parts list; nil, err when audio cannot be encoded.
local function part_of(item, i)
  if type(item) == "string" then return { type = "text", text = item } end
  if is_buffer(item) then
    local wav, err = chat.upload_wav(item)
    if not wav then return nil, err end
    return { type = "input_audio", audio = { data = wav, format = "wav" } }
  end
  if type(item) == "table" then return item end
  error(("conv:say: parts[%d] must be a string, an AudioBuffer or a content part (got %s)"):format(i, type(item)), 0)
end

-- The user message for what is said; nil, err when audio cannot be encoded.
local function user_message(said)
  if type(said) == "string" then return { role = "user", content = said } end
  local items = is_buffer(said) and { said } or said
  if type(items) ~= "table" then
    error("conv:say: text, an AudioBuffer or a list of parts expected, got " .. type(said), 0)
  end
  local content = json.array()
  for i, item in ipairs(items) do
    local part, err = part_of(item, i)
    if not part then return nil, err end
    content[i] = part
  end
  if #content == 0 then error("conv:say: an empty list of parts", 0) end
  return { role = "user", content = content }
end

-- Turns the audio ids that are about to expire into their transcripts.
function forget_expired_audio(self)
  local now = self.clock()
  for _, message in ipairs(self.history) do
    local spoken = self.spoken[message]
    if spoken and spoken.expires_at and now >= spoken.expires_at - EXPIRY_MARGIN then
      message.audio = nil
      message.content = spoken.transcript or ""
      self.spoken[message] = nil
    end
  end
end

-- Drops the oldest turns while the history passes the limit.
function trim(self)
  local limit = self.max_history_tokens
  local first = (self.history[1] and self.history[1].role == "system") and 2 or 1
  while limit and self.context_tokens > limit and #self.turns > 1 do
    local oldest = table.remove(self.turns, 1)
    for _ = 1, oldest.messages do table.remove(self.history, first) end
    self.context_tokens = self.context_tokens - oldest.tokens
  end
end

-- Counts a finished turn: its calls' usage, its audio answers, its share of the context.
function record(self, reply, messages)
  for _, round in ipairs(reply.rounds) do
    local r = round.reply
    self.totals:add(self.model, r.usage, r.cost)
    if r.audio_id then
      self.spoken[r.message] = { transcript = r.transcript, expires_at = r.audio_expires_at }
    end
  end
  local total = reply.usage and reply.usage.total_tokens
  local tokens = total and math.max(0, total - self.context_tokens) or 0
  if total then self.context_tokens = total end
  self.turns[#self.turns + 1] = { messages = messages, tokens = tokens }
  trim(self)
end

--- One turn: says `said`, runs the tools the model calls, returns the final
--- reply (with rounds and tool_results as run_tools gives them), or nil, err.
function Conversation:say(said, options)
  check.value("conv:say", "options", options, "table", true)
  local message, err = user_message(said)
  if not message then return nil, err end
  forget_expired_audio(self)
  local history = self.history
  local before = #history
  local params = {}
  for k, v in pairs(options or {}) do params[k] = v end
  params.messages, params.tools, params.model = history, self.tools, self.model
  if params.audio == nil then params.audio = self.audio end
  history[before + 1] = message
  local ok, reply, failure = pcall(self.client.run_tools, self.client, params)
  if not (ok and reply) and #history == before + 1 then history[before + 1] = nil end
  if not ok then error(reply, 0) end
  if not reply then return nil, failure end
  record(self, reply, #history - before)
  return reply
end

--- Tokens and cost of every call so far (see the top of this file).
function Conversation:usage()
  return self.totals:snapshot()[self.model] or { calls = 0 }
end

conversation.Conversation = Conversation
conversation.EXPIRY_MARGIN = EXPIRY_MARGIN

return conversation
