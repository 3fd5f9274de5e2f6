-- The example phone agent (nginx.conf beside this file): an order desk that
-- answers on the line Twilio connects to /call, with one tool that looks up
-- an order. Each worker makes its own client on first use; every call of the
-- worker shares it, and every worker's client draws on one rate limit
-- (GPTAUDIO_RPM, GPTAUDIO_TPM) kept in the lua_shared_dict gptaudio_limits.
local gptaudio = require "gptaudio"
local ngx_loop = require "gptaudio.loop.ngx"
local phone = require "gptaudio.phone"

local site = {}

local SYSTEM = "You are the phone agent of a small online shop. Answer in one or two short spoken sentences. " ..
  "Look orders up with order_status before saying anything about one; ask for the order number if you need it."

-- Stands in for the shop's database.
local ORDERS = {
  ["1234"] = { status = "shipped", carrier = "DHL", arrives = "Thursday" },
  ["5678"] = { status = "being packed", arrives = "next week" },
}

local tools = gptaudio.tools.new{
  {
    name = "order_status",
    description = "The status of an order, by its number.",
    parameters = { type = "object", properties = { order_id = { type = "string" } }, required = { "order_id" } },
    handler = function(args) return ORDERS[args.order_id] or { status = "unknown order" } end,
  },
}

local client -- this worker's

local function worker_client()
  if not client then
    client = gptaudio.new{
      rpm = tonumber(os.getenv("GPTAUDIO_RPM")), tpm = tonumber(os.getenv("GPTAUDIO_TPM")),
      limit_store = require("gptaudio.limiter.shared_dict").new(ngx.shared.gptaudio_limits),
    }
    ngx_loop.attach() -- the default engine, once per worker, for every client
  end
  return client
end

function site.call()
  phone.handle{
    client = worker_client(), system = SYSTEM, tools = tools,
    on_event = function(ev)
      if ev.type == "dtmf" then ngx.log(ngx.NOTICE, "caller pressed ", ev.digit) end
      if ev.type == "tool_call" then ngx.log(ngx.NOTICE, "tool ", ev.tool_call.name, " for the caller") end
    end,
  }
end

return site
