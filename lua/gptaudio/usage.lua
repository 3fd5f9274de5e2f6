-- Usage and cost: every endpoint's usage object in one shape, priced from the
-- registry or the client's own prices, and running totals per model.
--
-- A normalised usage has integer fields, each present when the API reported it
-- or it follows from what was reported:
--   input_tokens, output_tokens, total_tokens
--   input_text_tokens, input_audio_tokens, cached_tokens (a part of the input),
--   cached_text_tokens, cached_audio_tokens (its split, where the API gives one)
--   output_text_tokens, output_audio_tokens, reasoning_tokens (a part of the output)
--   seconds (audio billed by duration: whisper-1)
--   characters (input billed by character: tts-1, tts-1-hd; the speech call
--   counts them, the API reports nothing)
-- Internal: not part of the API (doc/API.md is the manual); the calls use it.
local json = require "gptaudio.json"
local models = require "gptaudio.models"

local usage = {}

local count = json.integer
local function details(t, key)
  local d = type(t) == "table" and t[key]
  return type(d) == "table" and d or {}
end

local function takes_text(list)
  for _, m in ipairs(list) do
    if m == "text" then return true end
  end
  return false
end

-- The tokens of one side that the API did not split go to text when the model
-- has text on that side, else to audio (gpt-4o-mini-tts reports bare output
-- tokens, all of them audio). Unknown models: text.
local function split(total, text, audio, side_has_text)
  if total == nil or (text ~= nil and audio ~= nil) then return text, audio end
  if text ~= nil then return text, total - text end
  audio = audio or 0
  if side_has_text then return total - audio, audio end
  return 0, total
end

-- The normalised form of `raw` (a chat, transcription or speech usage object)
-- for `model_id`; nil when raw is not a table.
function usage.normalize(raw, model_id)
  if type(raw) ~= "table" then return nil end
  local model = models.get(model_id)
  local u = {}
  if raw.type == "duration" then
    u.seconds = count(raw.seconds)
    return u
  end
  local input_details = details(raw, raw.prompt_tokens ~= nil and "prompt_tokens_details" or "input_token_details")
  local output_details = details(raw, "completion_tokens_details")
  u.input_tokens = count(raw.prompt_tokens or raw.input_tokens)
  u.output_tokens = count(raw.completion_tokens or raw.output_tokens)
  u.total_tokens = count(raw.total_tokens)
  if u.total_tokens == nil and u.input_tokens and u.output_tokens then
    u.total_tokens = u.input_tokens + u.output_tokens
  end
  u.cached_tokens = count(input_details.cached_tokens)
  local cached_details = details(input_details, "cached_tokens_details")
  u.cached_text_tokens = count(cached_details.text_tokens)
  u.cached_audio_tokens = count(cached_details.audio_tokens)
  u.reasoning_tokens = count(output_details.reasoning_tokens)
  u.input_text_tokens, u.input_audio_tokens = split(u.input_tokens, count(input_details.text_tokens),
    count(input_details.audio_tokens), model == nil or takes_text(model.input))
  u.output_text_tokens, u.output_audio_tokens = split(u.output_tokens, count(output_details.text_tokens),
    count(output_details.audio_tokens), model == nil or takes_text(model.output))
  return u
end

-- The prices for a model id: the client's own (by id, then by the id without
-- its snapshot date), else the registry's; nil when neither knows it.
function usage.prices_for(model_id, client_prices)
  if type(model_id) ~= "string" then return nil end
  if client_prices then
    local own = client_prices[model_id] or client_prices[models.base_id(model_id)]
    if own then return own end
  end
  local model = models.get(model_id)
  return model and model.prices
end

-- Adds count * price per unit to sum; nil when a count is there without its price.
local function charge(sum, n, price, per)
  if sum == nil or n == nil or n == 0 then return sum end
  if price == nil then return nil end
  return sum + n * price / per
end

-- The cached input tokens billed at a cached price: (text, audio). Only where
-- the prices name one (cached_text_input, cached_audio_input); otherwise 0,
-- and cached tokens cost as other input. Without the API's split, the cached
-- tokens are text first (a cached prefix is the instructions), the rest audio.
local function cached_split(u, p)
  if not (p.cached_text_input or p.cached_audio_input) or not u.cached_tokens then return 0, 0 end
  local text, audio = u.cached_text_tokens, u.cached_audio_tokens
  if text == nil and audio == nil then
    text = math.min(u.cached_tokens, u.input_text_tokens or 0)
    audio = math.min(u.cached_tokens - text, u.input_audio_tokens or 0)
  end
  text, audio = text or 0, audio or 0
  -- A cached kind without its own price is billed as other input of that kind.
  if not p.cached_text_input then text = 0 end
  if not p.cached_audio_input then audio = 0 end
  return text, audio
end

-- The cost in USD of a normalised usage, or nil when the model is unpriced or
-- the usage holds something its prices do not cover.
function usage.cost(model_id, u, client_prices)
  local p = usage.prices_for(model_id, client_prices)
  if p == nil or u == nil then return nil end
  if p.minute then
    return u.seconds and u.seconds / 60 * p.minute
  end
  if p.characters_1m then
    return u.characters and u.characters * p.characters_1m / 1e6
  end
  if u.input_tokens == nil and u.output_tokens == nil then return nil end
  local cached_text, cached_audio = cached_split(u, p)
  local sum = 0
  sum = charge(sum, u.input_text_tokens and u.input_text_tokens - cached_text, p.text_input, 1e6)
  sum = charge(sum, cached_text, p.cached_text_input, 1e6)
  sum = charge(sum, u.input_audio_tokens and u.input_audio_tokens - cached_audio, p.audio_input, 1e6)
  sum = charge(sum, cached_audio, p.cached_audio_input, 1e6)
  sum = charge(sum, u.output_text_tokens, p.text_output, 1e6)
  sum = charge(sum, u.output_audio_tokens, p.audio_output, 1e6)
  return sum
end

local COUNTED = {
  "input_tokens", "output_tokens", "total_tokens", "input_text_tokens", "input_audio_tokens", "cached_tokens",
  "output_text_tokens", "output_audio_tokens", "reasoning_tokens", "seconds", "characters",
}

--- The sum of normalised usages (nil ones skipped): a field is there when
--- any of them has it; nil when none is a table.
-- What a sum of usages adds: every counted field, and the split of the cached tokens.
local SUMMED = { "cached_text_tokens", "cached_audio_tokens" }
for _, field in ipairs(COUNTED) do SUMMED[#SUMMED + 1] = field end

function usage.sum(list)
  local total
  for _, u in pairs(list) do
    if type(u) == "table" then
      total = total or {}
      for _, field in ipairs(SUMMED) do
        if u[field] then total[field] = (total[field] or 0) + u[field] end
      end
    end
  end
  return total
end

local Totals = {}
Totals.__index = Totals

-- Running totals per model: { [model id] = { calls, cost, unpriced_calls, <every usage field> } }.
function usage.totals()
  return setmetatable({ by_model = {} }, Totals)
end

-- Counts one finished call: the model asked for, its normalised usage (or nil)
-- and its cost (or nil).
function Totals:add(model_id, u, cost)
  local t = self.by_model[model_id]
  if not t then
    t = { calls = 0, unpriced_calls = 0 }
    for _, field in ipairs(COUNTED) do t[field] = 0 end
    self.by_model[model_id] = t
  end
  t.calls = t.calls + 1
  for _, field in ipairs(COUNTED) do
    t[field] = t[field] + ((u and u[field]) or 0)
  end
  if cost then
    t.cost = (t.cost or 0) + cost
  else
    t.unpriced_calls = t.unpriced_calls + 1
  end
end

-- A copy the caller may keep or change.
function Totals:snapshot()
  local copy = {}
  for id, t in pairs(self.by_model) do
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    copy[id] = c
  end
  return copy
end

return usage
