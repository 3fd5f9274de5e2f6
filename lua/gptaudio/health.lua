-- :checkhealth gptaudio (Neovim 0.7 on: vim.health where it exists, the
-- health#report_* functions of 0.7 otherwise).
local nvim = require "gptaudio.nvim"

local M = {}

local function reporter()
  local h = vim.health or {}
  local function pick(new)
    return h[new] or h["report_" .. new] or function(message, advice)
      -- 0.7's health#report_ok and _info take the message alone
      if advice then vim.fn["health#report_" .. new](message, advice)
      else vim.fn["health#report_" .. new](message) end
    end
  end
  local function start(name)
    (h.start or h.report_start or vim.fn["health#report_start"])(name)
  end
  return start, pick("ok"), pick("warn"), pick("error"), pick("info")
end

-- Whether something answers HTTP at url (any status counts), within a few seconds.
local function reachable(gptaudio, base_url, api_key)
  -- An engine of its own, not the editor's (attached to its loop, where a call may not block):
  -- :checkhealth is synchronous, and waits at most a few seconds here.
  local own = gptaudio.engine.new()
  local client = gptaudio.new{ base_url = base_url, api_key = api_key, timeout = 3, connect_timeout = 3,
                               max_retries = 0, engine = own }
  local res, err = client:request{ path = "/models", method = "GET" }
  client:close()
  own:close()
  if res then return true, res.status end
  if err.type == "api" then return true, err.status end
  return false, tostring(err)
end

function M.check()
  local start, ok, warn, error, info = reporter()
  local config = nvim.config()
  start("gptaudio: the module")
  nvim.add_cpath(config.cpath)
  local gptaudio, why = nvim.load()
  if not gptaudio then
    error(why, { "make build" })
    return
  end
  local core = require "gptaudio.core"
  ok(("gptaudio %s, built on %s headers, running on %s"):format(gptaudio.VERSION, core.HEADERS,
                                                                   rawget(_G, "jit") and jit.version or _VERSION))
  local has_cjson = pcall(require, "cjson")
  if has_cjson then ok("JSON: lua-cjson") else ok("JSON: vim.json (lua-cjson is not installed)") end

  start("gptaudio: the API")
  local key = config.api_key or os.getenv("OPENAI_API_KEY")
  local base_url = config.base_url or os.getenv("OPENAI_BASE_URL")
  if key and key ~= "" then
    ok("API key set (" .. (config.api_key and "setup{api_key}" or "OPENAI_API_KEY") .. ")")
  elseif base_url and base_url ~= "" then
    info("no API key: fine for a server that needs none")
  else
    error("no API key", { "export OPENAI_API_KEY=...", "or setup{ api_key = ... }" })
  end
  local url = base_url and base_url ~= "" and base_url or "https://api.openai.com/v1"
  local answered, detail = reachable(gptaudio, base_url, key)
  if answered then
    ok(("base URL %s answers (HTTP %s)"):format(url, tostring(detail)))
  else
    warn(("base URL %s does not answer: %s"):format(url, detail))
  end

  start("gptaudio: sound")
  local player, recorder = nvim.player(), nvim.recorder()
  if player then ok("player: " .. table.concat(player, " "))
  elseif config.player == false then info("player: none (setup{player = false}): speech is saved, not played")
  else
    warn("no player: speech is saved, not played", { "install pulseaudio-utils or alsa-utils" })
  end
  if recorder then ok("recorder: " .. table.concat(recorder, " ")) else
    warn("no recorder: :GptAudioDictate cannot record", { "install pulseaudio-utils or alsa-utils" })
  end
end

return M
