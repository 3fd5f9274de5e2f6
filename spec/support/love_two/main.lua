-- Two clients (two keys) on the default engine, which love.update steps
-- once per frame: both requests run at once while frames go on. Writes
-- "first second frames elapsed" to GPTAUDIO_TWO_OUT and quits.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"

local url, out = os.getenv("GPTAUDIO_TWO_URL"), os.getenv("GPTAUDIO_TWO_OUT")
local results, frames, started = {}, 0, nil

function love.load()
  local a = gptaudio.new{ api_key = "sk-love-a", base_url = url, max_retries = 0 }
  local b = gptaudio.new{ api_key = "sk-love-b", base_url = url, max_retries = 0 }
  started = core.now()
  for i, client in ipairs{ a, b } do
    gptaudio.spawn(function()
      local res, err = client:request{ path = "/slow" }
      results[i] = res and res.status or tostring(err)
    end)
  end
end

function love.update()
  frames = frames + 1
  gptaudio.step(0)
  if (results[1] and results[2]) or core.now() - started > 10 then
    local f = assert(io.open(out, "w"))
    f:write(("%s %s %d %.3f\n"):format(tostring(results[1]), tostring(results[2]), frames, core.now() - started))
    f:close()
    love.event.quit()
  end
end
