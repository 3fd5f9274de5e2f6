-- What the examples share: a client on the real API when OPENAI_API_KEY is
-- set, else on the local stand-in (spec/support/standin.lua), and how they
-- print a cost. Run the examples from the repository, with
-- LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" (make demo sets them).
--
--   local common = require "examples.common"
--   local client = common.client("chatting")   -- prints "chatting through <base_url>"
local gptaudio = require "gptaudio"
local standin = require "spec.support.standin"

local common = {}

--- A new client with options (by default the real API's or the stand-in's,
--- as above); says what it is `doing` through which server, and makes out/,
--- where the examples save their audio.
function common.client(doing, options)
  local client = gptaudio.new(options or standin.options())
  print(doing .. " through " .. client.options.base_url)
  os.execute("mkdir -p out")
  return client
end

--- A cost in USD as the examples print it; nil when the API did not say.
function common.cost(value)
  return value and ("$%.6f"):format(value) or "not reported"
end

return common
