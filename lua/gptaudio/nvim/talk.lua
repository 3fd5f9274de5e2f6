-- :GptAudioTalk in Neovim: a spoken conversation (gptaudio.voice.agent)
-- shown in a scratch buffer, started and stopped by the same command. The
-- microphone and the speaker are child processes read and written from the
-- engine's timers on the editor's loop, so typing goes on while it talks;
-- the agent's events are drawn through vim.schedule.
--
--   talk.toggle(client, {
--     system = nil, voice = nil,  -- the agent's
--     input = nil,                -- a WAV played as the microphone (scripted runs)
--     output = nil,               -- keep what was played in this WAV instead of playing it
--     microphone = nil, speaker = nil, -- the PulseAudio source and sink (ALSA devices); default: the defaults
--     device = nil,               -- both at once (an ALSA device that records and plays)
--     echo_cancel = nil,          -- the agent's; default: on when the microphone and the speaker are both used
--   })
-- (gptaudio.voice.devices: the same rule as `gptaudio talk`'s.)
local M = {}

local session -- { agent, buf, sink, output, answer_line } while a conversation runs

local function append(buf, text)
  if not vim.api.nvim_buf_is_valid(buf) then return end
  local last = vim.api.nvim_buf_line_count(buf)
  local line = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
  local lines = vim.split(line .. text, "\n", { plain = true })
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, lines)
end

local function cost_text(ev)
  local l = ev.latency
  local answered = ""
  if l then
    local ms = function(seconds) return math.floor(seconds * 1000 + 0.5) end
    answered = (", answered %d ms after you stopped: %d pause, %s%d upload, %d server, %d here")
      :format(ms(l.total), ms(l.endpointing), l.tools > 0 and ("%d tools, "):format(ms(l.tools)) or "",
              ms(l.upload), ms(l.server), ms(l.client))
  end
  return ("(turn %d: %s%s)\n"):format(ev.turn, ev.cost and ("$%.6f"):format(ev.cost) or "cost unknown", answered)
end

-- An answer interrupted (the user spoke over it, or :GptAudioTalk stopped it)
-- shows what was heard of it, as the history keeps it, not all that had come.
local function draw_interrupted(s, ev)
  if not (s.answer_line and vim.api.nvim_buf_is_valid(s.buf)) then return end
  local text = ("Assistant: %s [interrupted after %.2f s]"):format(ev.transcript, ev.heard)
  local lines = vim.split(text, "\n", { plain = true })
  lines[#lines + 1] = ""
  vim.api.nvim_buf_set_lines(s.buf, s.answer_line - 1, -1, false, lines)
end

local function draw(s, ev)
  local buf = s.buf
  if ev.type == "user_speech_end" then
    append(buf, ("You: (%.1f s of speech)\nAssistant: "):format(ev.duration or 0))
    s.answer_line = vim.api.nvim_buf_line_count(buf)
  elseif ev.type == "transcript" then
    append(buf, ev.delta)
  elseif ev.type == "interrupted" then
    draw_interrupted(s, ev)
  elseif ev.type == "turn_done" then
    append(buf, "\n" .. cost_text(ev))
  elseif ev.type == "error" then
    append(buf, "\n(error: " .. tostring(ev.error) .. ")\n")
  end
end

-- The conversation is over (stopped, or the input ended): keep the output, say so.
local function ended(s, err)
  if session == s then session = nil end
  if s.output then
    local _, heard = s.sink.recorded()
    heard:save(s.output)
  end
  s.sink:close()
  append(s.buf, err and ("(ended: " .. tostring(err) .. ")\n") or "(conversation ended)\n")
end

--- Starts a conversation in a new scratch buffer, or stops the one running.
function M.toggle(client, opts)
  if session then return M.stop() end
  opts = opts or {}
  local gptaudio = require "gptaudio"
  local audio = gptaudio.audio
  local choice = require("gptaudio.voice.devices").choose(opts)
  local source, err
  if opts.input then
    source, err = audio.capture{ file = opts.input, engine = client.engine }
  else
    source = audio.capture{ device = choice.microphone, engine = client.engine }
  end
  if not source then
    vim.notify("gptaudio: " .. tostring(err), vim.log.levels.ERROR)
    return
  end
  local sink = opts.output and audio.recording_sink{ rate = 24000, engine = client.engine }
    or audio.playback{ rate = 24000, device = choice.speaker, engine = client.engine }
  vim.cmd("botright new")
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype, vim.bo[buf].bufhidden, vim.bo[buf].swapfile = "nofile", "wipe", false
  pcall(vim.api.nvim_buf_set_name, buf, "gptaudio talk")
  local s = { buf = buf, sink = sink, output = opts.output }
  s.agent = gptaudio.voice.agent{
    client = client, source = source, sink = sink, system = opts.system, voice = opts.voice,
    echo_cancel = choice.echo_cancel,
    on_event = function(ev)
      vim.schedule(function()
        draw(s, ev)
        if ev.type == "stopped" then ended(s, ev.error) end
      end)
    end,
  }
  session = s
  append(buf, "(listening: speak; :GptAudioTalk again to stop)\n")
  local ok, start_err = s.agent:start()
  if not ok then
    vim.notify("gptaudio: " .. tostring(start_err), vim.log.levels.ERROR)
    session = nil
  end
end

--- Stops the conversation now (a reply in flight is cancelled and silenced).
function M.stop()
  if session then session.agent:stop() end
end

--- Whether a conversation runs.
function M.running()
  return session ~= nil
end

return M
