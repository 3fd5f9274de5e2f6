-- The example OpenResty site (nginx.conf beside this file): speech streamed
-- to the HTTP client as it arrives, transcription of an upload, and a ping
-- that answers at once however many calls are in flight.
--
--   POST /speak       body: the text; answer: audio/L16;rate=24000;channels=1
--                     (16-bit big-endian PCM, as RFC 2586 defines L16), one
--                     chunk per audio chunk from the API
--   POST /transcribe  body: WAV bytes; answer: {"text", "language", "duration", "model"}
--   GET  /ping        "pong"
--
-- Each worker makes its own client on first use and attaches the ngx driver to
-- it; a call in a handler suspends that nginx request, never the worker. With
-- `lua_shared_dict gptaudio_limits` in the config, every worker's client draws
-- on one rate limit (GPTAUDIO_RPM, GPTAUDIO_TPM) kept in that dict; with
-- GPTAUDIO_REDIS (host:port), every nginx using that Redis shares it.
--
-- Upstream failures answer as a gateway does, with {"error": {"type", "message"}}
-- when nothing was sent yet (gptaudio.gateway): 429 stays 429 with its
-- Retry-After, a timeout is 504, anything else the API or the network did
-- (401/403: this gateway's key, not the caller's fault) is 502. A speech
-- stream that breaks midway ends its connection unfinished.
local gptaudio = require "gptaudio"
local ngx_loop = require "gptaudio.loop.ngx"
local gateway = require "gptaudio.gateway"

local site = {}

local SPEECH_MODEL = "gpt-4o-mini-tts"
local TRANSCRIBE_MODEL = "gpt-4o-mini-transcribe"

local LOG_LEVELS = { debug = ngx.DEBUG, info = ngx.INFO, warn = ngx.WARN, error = ngx.ERR }

local client -- this worker's

-- Where the rate limit lives: Redis at GPTAUDIO_REDIS ("host:port", shared by
-- every nginx using it), else the lua_shared_dict gptaudio_limits (this
-- nginx's workers), else nowhere shared (each worker its own).
local function limit_store()
  local redis = os.getenv("GPTAUDIO_REDIS")
  if redis and redis ~= "" then
    local host, port = redis:match("^(.-):(%d+)$")
    return require("gptaudio.limiter.redis").new{ host = host or redis, port = tonumber(port) }
  end
  local dict = ngx.shared.gptaudio_limits
  return dict and require("gptaudio.limiter.shared_dict").new(dict) or nil
end

local function worker_client()
  if not client then
    client = gptaudio.new{
      log = function(level, message) ngx.log(LOG_LEVELS[level], message) end,
      rpm = tonumber(os.getenv("GPTAUDIO_RPM")), tpm = tonumber(os.getenv("GPTAUDIO_TPM")),
      limit_store = limit_store(),
    }
    ngx_loop.attach() -- the default engine, once per worker, for every client
  end
  return client
end

local function reply_json(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(gptaudio.json.encode(value))
end

local function refuse(status, message)
  reply_json(status, { error = { type = "request", message = message } })
end

local function upstream_failed(err)
  local status, retry_after = gateway.status(err)
  if retry_after then ngx.header["Retry-After"] = tostring(retry_after) end
  reply_json(status, gateway.body(err))
end

-- The request body of a POST; nil after answering 405 or 400.
local function posted_body(what)
  if ngx.req.get_method() ~= "POST" then
    ngx.header["Allow"] = "POST"
    refuse(405, "POST " .. what)
    return nil
  end
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then refuse(400, "send " .. what .. " as the request body") end
  return body
end

-- L16 is big-endian; the module's pcm16 is little-endian: swap each pair.
local function big_endian(pcm16)
  return (pcm16:gsub("(.)(.)", "%2%1"))
end

function site.ping()
  ngx.print("pong")
end

function site.speak()
  local text = posted_body("the text")
  if not text then return end
  -- The text is the HTTP client's input: what the call refuses is its mistake.
  local ok, events, req = pcall(ngx_loop.stream, worker_client(), "speak", text,
                                { model = SPEECH_MODEL, format = "pcm" })
  if not ok then return refuse(400, tostring(events)) end
  local started = false
  for ev in events do
    if ev.type == "audio" then
      if not started then
        started = true
        ngx.header["Content-Type"] = ("audio/L16;rate=%d;channels=%d"):format(ev.audio.rate, ev.audio.channels)
      end
      if not (ngx.print(big_endian(ev.audio:encode("pcm16"))) and ngx.flush(true)) then
        req:cancel() -- the listener left: stop paying for speech nobody hears
        return
      end
    end
  end
  local _, err = req:result()
  if not err then return end
  if not started then return upstream_failed(err) end
  ngx.log(ngx.ERR, "speak: the stream broke: ", tostring(err))
  return ngx.exit(ngx.ERROR)
end

function site.transcribe()
  local wav = posted_body("the audio (WAV bytes)")
  if not wav then return end
  local tr, err = worker_client():transcribe({ data = wav, format = "wav" }, { model = TRANSCRIBE_MODEL })
  if not tr then return upstream_failed(err) end
  reply_json(200, { text = tr.text, language = tr.language, duration = tr.duration, model = tr.model })
end

return site
