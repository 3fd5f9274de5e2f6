-- The voice agent's test conversation, made at test time: espeak-ng questions
-- placed in one recording at known times (the file source plays it as a
-- microphone would), and spoken replies scripted on the fake server as the
-- API streams them (SSE chunks holding transcript words and pcm16 pieces).
--
--   local q = voice_script.speech("What time is it?", dir, "q1")    -- 24 kHz mono AudioBuffer
--   local input, marks = voice_script.recording({ {at = 0.5, audio = q1}, ... }, 8, dir)
--   server:script(openai.CHAT, { voice_script.reply(pcm_buffer, "It is noon.", { delay = 0.3 }) })
--   local c = voice_script.conversation(dir)   -- the two-question one with a barge-in
local json = require "cjson"
local core = require "gptaudio.core"
local util = require "spec.support.util"
local openai = require "spec.support.openai"

local audio = core.audio
local voice_script = {}

-- espeak-ng's own silence around its speech.
local TRIM_DBFS = -45
-- One SSE chunk's audio: 100 ms, as the API sends about.
local PIECE_SECONDS = 0.1

--- text spoken by espeak-ng (voice: an espeak-ng voice), trimmed, 24 kHz mono.
function voice_script.speech(text, dir, name, voice)
  local path = dir .. "/" .. name .. ".wav"
  local command = ("espeak-ng -v %s -w %s %s"):format(util.shell_quote(voice or "en-us"), util.shell_quote(path),
                                                        util.shell_quote(text))
  assert(util.succeeded(util.spawn_env() .. " " .. command), command)
  return assert(audio.load(path)):trim(TRIM_DBFS):resample(24000)
end

--- `seconds` of 24 kHz mono holding each {at =, audio =} at its time.
function voice_script.laid(pieces, seconds)
  local whole = audio.new{ rate = 24000, frames = math.floor(seconds * 24000) }
  for _, piece in ipairs(pieces) do
    whole:mix(audio.new{ rate = 24000, frames = math.floor(piece.at * 24000) }:append(piece.audio))
  end
  return whole
end

--- A recording of `seconds` holding each {at =, audio =} at its time; saved
--- as dir/input.wav. Returns its path and each piece's {start, stop}.
function voice_script.recording(pieces, seconds, dir)
  local whole = voice_script.laid(pieces, seconds)
  local marks = {}
  for i, piece in ipairs(pieces) do
    marks[i] = { start = piece.at, stop = piece.at + piece.audio.duration }
  end
  local path = dir .. "/input.wav"
  assert(whole:save(path))
  return path, marks
end

--- A scripted streamed chat reply speaking `buf` (24 kHz mono) with `transcript`:
--- its words spread over the audio pieces. opts: delay (seconds before the
--- answer starts), chunk_delay (between SSE chunks; default 0.02), usage.
function voice_script.reply(buf, transcript, opts)
  opts = opts or {}
  local function chunk(delta, reason)
    return { data = json.encode{ id = "chatcmpl-voice", object = "chat.completion.chunk", created = 1,
                                 model = openai.MODEL,
                                 choices = { { index = 0, delta = delta, finish_reason = reason or json.null } } } }
  end
  local events = { chunk{ role = "assistant", audio = { id = "audio_voice", transcript = "" } } }
  local words = {}
  for word in transcript:gmatch("%S+") do words[#words + 1] = word end
  local piece = math.floor(PIECE_SECONDS * 24000)
  local count = math.ceil(buf.frames / piece)
  for i = 1, math.max(count, #words) do
    local delta = {}
    if i <= #words then delta.transcript = (i > 1 and " " or "") .. words[i] end
    if i <= count then
      delta.data = core.base64_encode(buf:slice((i - 1) * piece + 1, math.min(buf.frames, i * piece)):encode("pcm16"))
    end
    events[#events + 1] = chunk{ audio = delta }
  end
  events[#events + 1] = chunk({ audio = { expires_at = 4102444800 } })
  events[#events + 1] = chunk({}, "stop")
  local usage = opts.usage or { prompt_tokens = 50, completion_tokens = 100, total_tokens = 150,
                                prompt_tokens_details = { audio_tokens = 40, text_tokens = 10 },
                                completion_tokens_details = { audio_tokens = 90, text_tokens = 10 } }
  -- cjson writes an empty table as {}; the API's last chunk has "choices": [].
  local last = json.encode{ id = "chatcmpl-voice", object = "chat.completion.chunk", created = 1,
                            model = openai.MODEL, choices = {}, usage = usage }
  events[#events + 1] = { data = (last:gsub('"choices":{}', '"choices":[]')) }
  events[#events + 1] = "[DONE]"
  return { events = events, delay = opts.delay, chunk_delay = opts.chunk_delay or 0.02, no_length = true }
end

--- The conversation every host plays (the agent in plain Lua, the LÖVE NPC,
--- :GptAudioTalk): two questions, the second starting 2 s after the first
--- ends, while the first answer (about 0.9 s after the question, some 5 s
--- long, streamed a little faster than it plays) is playing and still
--- arriving: a barge-in. The server answers each after `ttfb` seconds.
--- Returns { q1, q2, a1, a2 (24 kHz mono), answers (their two texts), input
--- (the recording's path), marks (each question's {start, stop}), ttfb,
--- replies (for server:script(openai.CHAT, ...)) }.
function voice_script.conversation(dir)
  local c = { ttfb = 0.3, answers = {
    "Today it will be sunny in the morning, with clouds and some light rain later in the afternoon.",
    "Why did the chicken cross the road?" } }
  c.q1 = voice_script.speech("What is the weather like today?", dir, "q1")
  c.q2 = voice_script.speech("Stop. Tell me a joke instead.", dir, "q2")
  c.a1 = voice_script.speech(c.answers[1], dir, "a1", "en-gb")
  c.a2 = voice_script.speech(c.answers[2], dir, "a2", "en-gb")
  local second = 0.5 + c.q1.duration + 2.0
  c.input, c.marks = voice_script.recording({ { at = 0.5, audio = c.q1 }, { at = second, audio = c.q2 } },
                                            second + c.q2.duration + 1.0, dir)
  c.replies = { voice_script.reply(c.a1, c.answers[1], { delay = c.ttfb, chunk_delay = 0.08 }),
                voice_script.reply(c.a2, c.answers[2], { delay = c.ttfb }) }
  return c
end

return voice_script
