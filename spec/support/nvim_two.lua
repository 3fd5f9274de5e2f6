-- The two-client Neovim program of spec/hosts_engine_spec.lua, run by
-- `nvim --headless -u NONE -c 'luafile spec/support/nvim_two.lua'`: the
-- default engine attached once to vim.loop, two clients (two keys) on it,
-- one request each at once while a 20 ms timer ticks. Writes
-- "first second ticks elapsed" to GPTAUDIO_TWO_OUT and quits.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"

local url, out = os.getenv("GPTAUDIO_TWO_URL"), os.getenv("GPTAUDIO_TWO_OUT")
local handle = require("gptaudio.loop.uv").attach(nil, vim.loop, { schedule = vim.schedule })
local a = gptaudio.new{ api_key = "sk-nvim-a", base_url = url, max_retries = 0 }
local b = gptaudio.new{ api_key = "sk-nvim-b", base_url = url, max_retries = 0 }
local results, ticks = {}, 0
local timer = vim.loop.new_timer()
timer:start(20, 20, function() ticks = ticks + 1 end)
local started = core.now()
for i, client in ipairs{ a, b } do
  gptaudio.spawn(function()
    local res, err = client:request{ path = "/slow" }
    results[i] = res and res.status or tostring(err)
  end)
end
vim.wait(10000, function() return results[1] ~= nil and results[2] ~= nil end, 10)
local elapsed = core.now() - started
timer:stop()
timer:close()
handle:detach()
local f = assert(io.open(out, "w"))
f:write(("%s %s %d %.3f\n"):format(tostring(results[1]), tostring(results[2]), ticks, elapsed))
f:close()
vim.cmd("qa!")
