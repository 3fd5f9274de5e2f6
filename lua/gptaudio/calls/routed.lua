-- The calls routed by the model the caller picks, never another (transcribe,
-- speak): a model of the call's own endpoint goes there, a chat-audio model
-- through Chat Completions, a model of the other endpoint raises. Ids the
-- registry does not know are judged by their name, so a gateway's own models
-- still reach their endpoint.
local models = require "gptaudio.models"

-- Fields that would turn the chat route's request into another kind of call.
local CHAT_OWNED = { messages = true, modalities = true, audio = true }

--- The build function (client, input, opts) of a routed call, route = {
---   where = "client:speak", verb = "speak",
---   endpoint = the model kind (models.lua) the endpoint serves ("speech"),
---   refused = the model kind that cannot do it ("transcription"),
---   names_endpoint(lower_case_id) -> whether an unknown id names an endpoint model,
---   check(input, opts) -> raises for a bad argument,
---   endpoint_op(client, input, opts, model_id, model), chat_op(client, input, opts, model_id) }
--- On the chat route, opts may not hold the fields the call builds itself
--- (messages, modalities, audio).
return function(route)
  local function route_of(model_id)
    local model = models.get(model_id)
    if model then
      if model.kind == route.refused then
        error(("%s: 'model' %s is a %s model: it cannot %s"):format(
          route.where, model_id, route.refused, route.verb), 0)
      end
      return model.kind, model
    end
    if route.names_endpoint(model_id:lower()) then return route.endpoint end
    return "chat-audio"
  end

  return function(client, input, opts)
    if opts ~= nil and type(opts) ~= "table" then
      error(("%s: 'opts' must be a table (got %s)"):format(route.where, type(opts)), 0)
    end
    opts = opts or {}
    route.check(input, opts)
    local model_id = opts.model or client.options.model
    local kind, model = route_of(model_id)
    if kind == route.endpoint then return route.endpoint_op(client, input, opts, model_id, model) end
    for name in pairs(opts) do
      if CHAT_OWNED[name] then
        error(("%s: '%s': the %s call builds the chat request itself"):format(route.where, name, route.verb), 0)
      end
    end
    return route.chat_op(client, input, opts, model_id)
  end
end
