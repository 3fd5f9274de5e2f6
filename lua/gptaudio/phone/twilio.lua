-- The Twilio Media Streams wire: the JSON text messages of a call's WebSocket,
-- read into plain events and written from plain values. No I/O here.
--
-- In:  connected, start (streamSid, callSid, mediaFormat, customParameters),
--      media (base64 mu-law, 20 ms a frame, with sequence numbers and
--      timestamps), dtmf, mark (a mark we sent, played), stop.
-- Out: media, mark, clear.
local check = require "gptaudio.check"
local core = require "gptaudio.core"
local errors = require "gptaudio.errors"
local json = require "gptaudio.json"

local twilio = {}

-- The format of every call's audio on this wire.
twilio.RATE = 8000
twilio.ENCODING = "audio/x-mulaw"

local function field(t, name, kind)
  local v = type(t) == "table" and t[name] or nil
  if type(v) ~= kind then return nil end
  return v
end

--- One message as an event table, or nil and a gptaudio.Error (type
--- "protocol") saying why it cannot be read:
---   {type = "connected"}
---   {type = "start", stream_sid, call_sid, account_sid, encoding, rate, channels, parameters, tracks}
---   {type = "media", stream_sid, track, sequence, chunk, timestamp (ms), audio (AudioBuffer at 8 kHz)}
---   {type = "dtmf", digit}  {type = "mark", name}  {type = "stop", call_sid}
function twilio.read(text)
  check.value("twilio.read", "text", text, "string")
  local msg = json.decode(text)
  if type(msg) ~= "table" then return errors.fail("protocol", "Twilio message: not a JSON object") end
  local event = field(msg, "event", "string")
  if event == "connected" then
    return { type = "connected", protocol = field(msg, "protocol", "string") }
  elseif event == "start" then
    local start = field(msg, "start", "table")
    if not start then return errors.fail("protocol", "Twilio start message without its start object") end
    local format = field(start, "mediaFormat", "table") or {}
    return { type = "start", stream_sid = field(msg, "streamSid", "string") or field(start, "streamSid", "string"),
             call_sid = field(start, "callSid", "string"), account_sid = field(start, "accountSid", "string"),
             encoding = field(format, "encoding", "string"), rate = tonumber(format.sampleRate),
             channels = tonumber(format.channels), parameters = field(start, "customParameters", "table") or {},
             tracks = field(start, "tracks", "table") }
  elseif event == "media" then
    local media = field(msg, "media", "table")
    local payload = field(media, "payload", "string")
    if not payload then return errors.fail("protocol", "Twilio media message without a payload") end
    local bytes, err = core.base64_decode(payload)
    if not bytes then return nil, err end
    return { type = "media", stream_sid = field(msg, "streamSid", "string"), track = field(media, "track", "string"),
             sequence = tonumber(msg.sequenceNumber), chunk = tonumber(media.chunk),
             timestamp = tonumber(media.timestamp), audio = assert(core.audio.decode(bytes, "mulaw", twilio.RATE)) }
  elseif event == "dtmf" then
    return { type = "dtmf", digit = field(field(msg, "dtmf", "table"), "digit", "string") }
  elseif event == "mark" then
    return { type = "mark", name = field(field(msg, "mark", "table"), "name", "string") }
  elseif event == "stop" then
    return { type = "stop", call_sid = field(field(msg, "stop", "table"), "callSid", "string") }
  end
  return errors.fail("protocol", "Twilio message: unknown event " .. tostring(event))
end

local function check_sid(where, stream_sid)
  check.value(where, "stream_sid", stream_sid, "string")
end

--- A media message carrying mu-law bytes (a 20 ms frame is 160 of them).
function twilio.media(stream_sid, mulaw)
  check_sid("twilio.media", stream_sid)
  check.value("twilio.media", "mulaw", mulaw, "string")
  return json.encode{ event = "media", streamSid = stream_sid, media = { payload = core.base64_encode(mulaw) } }
end

--- A mark: Twilio sends it back once the audio sent before it has played.
function twilio.mark(stream_sid, name)
  check_sid("twilio.mark", stream_sid)
  check.value("twilio.mark", "name", name, "string")
  return json.encode{ event = "mark", streamSid = stream_sid, mark = { name = name } }
end

--- Drops the audio Twilio holds and has not played yet (barge-in).
function twilio.clear(stream_sid)
  check_sid("twilio.clear", stream_sid)
  return json.encode{ event = "clear", streamSid = stream_sid }
end

return twilio
