-- Long recordings through client:transcribe against the fake server's ear: a
-- recording of espeak-ng sentences with known pauses over noise (built once
-- for the file), cut at its pauses, sent in pieces, joined in order, with
-- segments at the true sentence times, subtitles, progress, and a named gap
-- where a piece keeps failing.
local command_ = require "spec.support.command"
local gptaudio = require "gptaudio"
local long_audio = require "spec.support.long_audio"
local models = require "gptaudio.models"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local ENDPOINT = "/v1/audio/transcriptions"
local CHAT = "/v1/chat/completions"

local PAUSES = { 1.0, 1.6, 0.7, 2.2, 1.2 }

local function script_text(rec, first, last)
  local words = {}
  for i = first or 1, last or #rec.sentences do words[#words + 1] = rec.sentences[i].text end
  return table.concat(words, " ")
end

-- The sentence whose span holds t, or nil when t falls in a pause.
local function sentence_at(rec, t)
  for i, s in ipairs(rec.sentences) do
    if t > s.start and t < s.stop then return i end
  end
end

local function nearest_start(rec, t)
  local best = math.huge
  for _, s in ipairs(rec.sentences) do best = math.min(best, math.abs(s.start - t)) end
  return best
end

-- Runs bin/gptaudio against the fake server; returns its exit status, stdout and stderr.
local function command(base_url, arguments)
  return command_.start(base_url, arguments).wait()
end

-- The pieces as on_event's "piece" events give them, in order.
local function piece_events(opts)
  local pieces = {}
  opts.on_event = function(ev)
    if ev.type == "piece" then pieces[#pieces + 1] = ev end
  end
  return pieces
end

-- Seconds of an SRT or VTT timestamp.
local function seconds(stamp)
  local h, m, s, ms = stamp:match("^(%d+):(%d+):(%d+)[,.](%d+)$")
  return tonumber(h) * 3600 + tonumber(m) * 60 + tonumber(s) + tonumber(ms) / 1000
end

-- The cues of subtitles: { {start, stop, text}, ... }; raises on a malformed block.
local function parse_cues(text, vtt)
  local cues = {}
  if vtt then
    assert.equal("WEBVTT\n\n", text:sub(1, 8))
    text = text:sub(9)
  end
  for block in (text .. "\n"):gmatch("(.-)\n\n") do
    local lines = {}
    for line in block:gmatch("[^\n]+") do lines[#lines + 1] = line end
    if not vtt then
      assert.equal(tostring(#cues + 1), table.remove(lines, 1))
    end
    local a, b = assert(lines[1]:match("^(%S+) %-%-> (%S+)$"))
    cues[#cues + 1] = { start = seconds(a), stop = seconds(b), text = table.concat(lines, "\n", 2) }
  end
  return cues
end

describe("long recordings", function()
  local rec, server, client

  setup_.recording_client({ sentences = long_audio.rounds(long_audio.MEETING, 3), pauses = PAUSES },
                          function(r, s, c) rec, server, client = r, s, c end)

  describe("on the chat route (no times from the model)", function()
    it("cuts inside pauses near the target, within the limits, and joins the texts in order", function()
      local opts = { chunk = { target_seconds = 8 } }
      local pieces = piece_events(opts)
      local tr = assert(client:transcribe(rec.path, opts))
      assert.equal(script_text(rec), tr.text)
      assert.equal(tr.pieces, #pieces)
      assert.is_true(#pieces >= 6, "pieces: " .. #pieces)
      assert.equal(#pieces, #server:requests(CHAT))
      assert.equal(0, pieces[1].start)
      assert.near(rec.duration, pieces[#pieces]["end"], 0.011)
      for i, p in ipairs(pieces) do
        assert.equal(i, p.piece)
        assert.is_true(p["end"] - p.start <= 12 + 1e-9, ("piece %d is %.2f s"):format(i, p["end"] - p.start))
        if i > 1 then
          assert.equal(pieces[i - 1]["end"], p.start)
          assert.is_nil(sentence_at(rec, p.start), ("the cut at %.2f s falls inside a sentence"):format(p.start))
        end
      end
      assert.near(rec.duration, tr.duration, 0.011)
      assert.is_nil(tr.missing)
    end)

    it("gives a segment per piece starting within 0.5 s of a sentence's start, as srt and vtt", function()
      local tr = assert(client:transcribe(rec.path, { chunk = { target_seconds = 8 } }))
      assert.equal(tr.pieces, #tr.segments)
      for _, s in ipairs(tr.segments) do
        assert.is_true(nearest_start(rec, s.start) <= 0.5, ("a segment starts at %.2f s"):format(s.start))
        assert.is_true(s["end"] > s.start)
      end
      for _, vtt in ipairs{ false, true } do
        local cues = parse_cues(vtt and tr:vtt() or tr:srt(), vtt)
        assert.equal(#tr.segments, #cues)
        local texts = {}
        for i, cue in ipairs(cues) do
          assert.is_true(cue.stop > cue.start)
          if i > 1 then assert.is_true(cue.start >= cues[i - 1].stop) end
          assert.near(tr.segments[i].start, cue.start, 0.001)
          texts[i] = cue.text
        end
        assert.equal(tr.text, table.concat(texts, " "))
      end
    end)

    it("sends each piece the last words of the one before as context, one piece at a time", function()
      local tr = assert(client:transcribe(rec.path, { prompt = "A weekly meeting.",
                                                      chunk = { target_seconds = 8, concurrency = 1 } }))
      local requests = server:requests(CHAT)
      assert.equal(tr.pieces, #requests)
      assert.is_nil(requests[1].json.messages[1].content:find("Good morning", 1, true))
      for i = 2, #requests do
        local system = requests[i].json.messages[1].content
        local previous = tr.segments[i - 1].text
        local tail = previous:sub(-30)
        assert.truthy(system:find("A weekly meeting. ", 1, true), system)
        assert.truthy(system:find(tail, 1, true), ("piece %d's context lacks %q"):format(i, tail))
      end
    end)

    it("streams each piece's deltas in piece order with its index and offset, and reports progress", function()
      local deltas, progress = {}, {}
      local last_piece = 0
      local tr = assert(client:transcribe(rec.path, {
        stream = true,
        chunk = { target_seconds = 8, concurrency = 4,
                  on_progress = function(done, total) progress[#progress + 1] = { done, total } end },
        on_event = function(ev)
          if ev.type == "transcript" then
            assert.is_true(ev.piece >= last_piece)
            assert.is_number(ev.offset)
            last_piece = ev.piece
            deltas[#deltas + 1] = ev.delta
          end
        end,
      }))
      assert.equal(tr.pieces, last_piece)
      assert.equal(tr.text:gsub("%s", ""), (table.concat(deltas):gsub("%s", "")))
      assert.equal(tr.pieces, #progress)
      for i, p in ipairs(progress) do
        assert.near(rec.duration, p[2], 0.011)
        if i > 1 then assert.is_true(p[1] > progress[i - 1][1]) end
      end
      assert.near(rec.duration, progress[#progress][1], 0.011)
    end)
  end)

  describe("on the transcription endpoint", function()
    it("sends a recording longer than the model's limit in pieces by itself, and one under it whole", function()
      local model = models.known["gpt-4o-mini-transcribe"]
      local saved = model.max_audio_seconds
      model.max_audio_seconds = 20
      local ok, tr = pcall(client.transcribe, client, rec.path, { model = "gpt-4o-mini-transcribe" })
      model.max_audio_seconds = saved
      assert(ok, tr)
      assert(tr)
      assert.equal(script_text(rec), tr.text)
      assert.is_true(tr.pieces >= 3)
      assert.equal(tr.pieces, #server:requests(ENDPOINT))
      server:clear()
      server:standin(true)
      server:ear(long_audio.ear(rec))
      local whole = assert(client:transcribe(rec.path, { model = "gpt-4o-mini-transcribe" }))
      assert.equal(1, #server:requests(ENDPOINT))
      assert.equal(script_text(rec), whole.text)
      assert.equal(1, #whole.segments)
      assert.same({ 0, whole.text }, { whole.segments[1].start, whole.segments[1].text })
      assert.near(rec.duration, whole.segments[1]["end"], 0.001)
    end)

    it("takes whisper-1's verbose_json segments and words, shifted by each piece's offset", function()
      local tr = assert(client:transcribe(rec.path, { model = "whisper-1", chunk = { max_seconds = 25 } }))
      assert.is_true(tr.pieces >= 3)
      assert.equal(script_text(rec), tr.text)
      assert.equal(#rec.sentences, #tr.segments)
      for i, s in ipairs(tr.segments) do
        assert.is_true(math.abs(s.start - rec.sentences[i].start) <= 0.5,
                       ("segment %d at %.2f s, the sentence at %.2f s"):format(i, s.start, rec.sentences[i].start))
        assert.equal(rec.sentences[i].text, s.text)
      end
      assert.is_true(#tr.words > #rec.sentences)
      for i = 2, #tr.words do assert.is_true(tr.words[i].start >= tr.words[i - 1].start) end
      for _, request in ipairs(server:requests(ENDPOINT)) do
        assert.truthy(request.body:find('name="response_format"\r\n\r\nverbose_json', 1, true))
      end
      -- whisper bills whole seconds per piece:
      assert.is_true(tr.usage.seconds >= math.floor(rec.duration))
    end)

    it("leaves a named gap where a piece keeps failing and returns the rest with the error", function()
      local ear = long_audio.ear(rec)
      local failing = rec.sentences[4].text -- said three times: three pieces fail
      for _, s in ipairs(ear) do
        if s.text == failing then s.fail = 500 end
      end
      server:ear(ear)
      local retrying = gptaudio.new{ base_url = server.url, api_key = "sk-test", max_retries = 1 }
      local tr, err = retrying:transcribe(rec.path, { chunk = { target_seconds = 8 } })
      retrying:close()
      assert.is_nil(tr)
      assert.equal("api", err.type)
      assert.equal(500, err.status)
      local partial = err.partial
      assert.equal(3, #partial.missing)
      local kept = {}
      for _, s in ipairs(rec.sentences) do
        local lost = false
        for _, gap in ipairs(partial.missing) do
          lost = lost or (s.start >= gap.start and s.stop <= gap["end"])
        end
        if s.text == failing then assert.is_true(lost) end
        if not lost then kept[#kept + 1] = s.text end
      end
      for _, gap in ipairs(partial.missing) do assert.equal(500, gap.error.status) end
      assert.equal(table.concat(kept, " "), partial.text)
      assert.is_true(#kept >= #rec.sentences / 2)
      assert.equal(partial.pieces, #partial.segments + 3)
      -- each failing piece was tried twice, the others once
      assert.equal(partial.pieces + 3, #server:requests(CHAT))
    end)
  end)

  describe("client:translate", function()
    it("translates a long recording in pieces, and speaks it as one buffer", function()
      local opts = { to = "French", speak = true, chunk = { target_seconds = 20, max_seconds = 30 } }
      local pieces = piece_events(opts)
      local tr = assert(client:translate(rec.path, opts))
      assert.is_true(#pieces >= 2)
      local texts = {}
      for i, p in ipairs(pieces) do
        assert.equal("[french] ", p.text:sub(1, 9))
        texts[i] = p.text
      end
      assert.equal(table.concat(texts, " "), tr.text)
      assert.equal(#pieces, #server:requests(CHAT))
      assert.equal("gptaudio.AudioBuffer", getmetatable(tr.audio).__name)
      assert.is_true(tr.audio.duration > 0.5 * rec.duration)
    end)
  end)

  describe("the command", function()
    it("writes subtitles by the output's extension, cut at the pauses, with the audio progress", function()
      local out = rec.dir .. "/meeting.srt"
      local status, stdout, stderr = command(server.url, { "transcribe", rec.path, "-o", out, "--progress" })
      assert.equal(0, status, stderr)
      assert.equal("", stdout)
      local cues = parse_cues(setup_.read_file(out))
      assert.is_true(#cues >= 2)
      for i, cue in ipairs(cues) do
        assert.is_true(nearest_start(rec, cue.start) <= 0.5)
        if i > 1 then assert.is_true(cue.start >= cues[i - 1].stop) end
      end
      assert.truthy(stderr:find("audio [", 1, true), stderr)
      assert.truthy(stderr:find(" / 0:01:0", 1, true), stderr)
    end)

    it("prints JSON with segments, or WebVTT, by --format", function()
      local status, stdout = command(server.url, { "transcribe", rec.path, "--format", "json" })
      assert.equal(0, status)
      local object = require("cjson").decode(stdout)
      assert.equal(script_text(rec), object.text)
      assert.equal(1, #object.segments)
      status, stdout = command(server.url, { "transcribe", rec.path, "--format", "vtt" })
      assert.equal(0, status)
      assert.is_true(#parse_cues(stdout, true) >= 2)
      assert.equal(2, (command(server.url, { "transcribe", rec.path, "--format", "doc" })))
    end)

    it("runs a batch of long recordings: one line each, subtitles, progress in seconds of audio", function()
      local list, results, srt = rec.dir .. "/inputs.txt", rec.dir .. "/results.jsonl", rec.dir .. "/subtitles"
      util.write_file(list, rec.path .. "\n")
      assert(util.succeeded("mkdir -p " .. util.shell_quote(srt)))
      local status, _, stderr = command(server.url, { "batch", "transcribe", list, "-o", results, "--srt", srt,
                                                      "--progress" })
      assert.equal(0, status, stderr)
      local line = require("cjson").decode(setup_.read_file(results))
      assert.equal(rec.path, line.path)
      assert.equal(script_text(rec), line.text)
      assert.is_true(line.pieces >= 2)
      local cues = parse_cues(setup_.read_file(srt .. "/recording.srt"))
      assert.equal(line.pieces, #cues)
      assert.truthy(stderr:find("audio 0:01:0%d / 0:01:0%d"), stderr)
    end)

    it("translates into a language and speaks it into a WAV file", function()
      local out = rec.dir .. "/french.wav"
      local status, stdout, stderr = command(server.url, { "translate", rec.sentences[2].path, "--to", "French",
                                                           "-o", out })
      assert.equal(0, status, stderr)
      assert.equal("[french] " .. rec.sentences[2].text .. "\n", stdout)
      assert.is_true(assert(gptaudio.audio.load(out)).duration > 1)
    end)
  end)

  describe("chunk", function()
    it("= false sends the recording whole, even one longer than the target", function()
      assert(client:transcribe(rec.path, { chunk = false }))
      assert.equal(1, #server:requests(CHAT))
    end)

    it("reads a compressed recording through audio.open, cutting it in the same pauses", function()
      if not gptaudio.audio.formats().ffmpeg then
        pending("gptaudio.ffmpeg is not built")
        return
      end
      local m4a = rec.dir .. "/meeting.m4a"
      assert(util.succeeded(("ffmpeg -loglevel error -y -i %s -c:a aac -b:a 64k %s"):format(
        util.shell_quote(rec.path), util.shell_quote(m4a))))
      local opts = { chunk = { target_seconds = 8, max_seconds = 12 } }
      local pieces = piece_events(opts)
      local tr = assert(client:transcribe(m4a, opts))
      assert.equal(script_text(rec), tr.text)
      for i = 2, #pieces do
        assert.is_nil(sentence_at(rec, pieces[i].start), ("the cut at %.2f s falls inside a sentence"):format(
          pieces[i].start))
      end
    end)

    it("reads an AudioBuffer and WAV bytes as it reads a file", function()
      local buf = assert(gptaudio.audio.load(rec.path))
      local from_buffer = assert(client:transcribe(buf, { chunk = { target_seconds = 8 } }))
      local from_bytes = assert(client:transcribe({ data = setup_.read_file(rec.path), format = "wav" },
                                                  { chunk = { target_seconds = 8 } }))
      assert.equal(script_text(rec), from_buffer.text)
      assert.equal(script_text(rec), from_bytes.text)
    end)

    it("raises for a bad option, naming it", function()
      assert.has_error(function() client:transcribe(rec.path, { chunk = 5 }) end,
                       "client:transcribe: 'chunk' must be a table, true or false (got number)")
      assert.has_error(function() client:transcribe(rec.path, { chunk = { target = 5 } }) end,
                       "client:transcribe: chunk: unknown option 'target'")
      assert.has_error(function() client:transcribe(rec.path, { chunk = { min_silence = -1 } }) end,
                       "client:transcribe: chunk: 'min_silence' must be positive number (got number)")
      assert.has_error(function() client:start("transcribe", rec.path, { chunk = true }) end,
                       "client:transcribe: 'chunk': one request is sent here; client:transcribe cuts long "
                       .. "recordings into pieces")
    end)
  end)
end)
