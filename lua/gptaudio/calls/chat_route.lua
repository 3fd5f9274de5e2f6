-- A call answered through Chat Completions (transcribe and speak with a
-- chat-audio model): the chat op, its reply turned into the call's own result.
local chat = require "gptaudio.calls.chat"

--- The op for chat params whose reply convert(reply) turns into the result;
--- on_event (optional) gets the chat's events, but the "done" event carries
--- the result under result_name ({type = "done", [result_name] = result});
--- where names the call in messages.
return function(client, params, on_event, convert, result_name, where)
  local done
  params.on_event = on_event and function(ev)
    if ev.type == "done" then
      done = convert(ev.reply)
      on_event{ type = "done", [result_name] = done }
    else
      on_event(ev)
    end
  end
  local op, err = chat.build(client, params, where)
  if not op then return nil, err end
  local finish, partial = op.finish, op.partial
  op.finish = function(self, response)
    local reply, why = finish(self, response)
    if not reply then return nil, why end
    return done or convert(reply)
  end
  op.partial = partial and function(self) return convert(partial(self)) end
  return op
end
