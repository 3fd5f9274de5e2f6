-- Speakers: gpt-4o-transcribe-diarize against the fake server's ear, on a
-- recording of two espeak-ng voices taking turns (built once for the file):
-- diarized segments with their speakers at the true times, in pieces and
-- streamed, known speakers named from reference clips sent as data URLs.
local gptaudio = require "gptaudio"
local long_audio = require "spec.support.long_audio"
local setup_ = require "spec.support.setup"

local ENDPOINT = "/v1/audio/transcriptions"
local MODEL = "gpt-4o-transcribe-diarize"

-- Two voices taking turns; lengths at least 0.3 s apart (the ear tells sentences by length).
local TURNS = {
  { text = "Hello and welcome to the show.", voice = "en+m3", speaker = "A" },
  { text = "Thanks for having me.", voice = "en+f3", speaker = "B" },
  { text = "Tell us how the project started in the first place.", voice = "en+m3", speaker = "A" },
  { text = "It began as a small experiment with recordings of our own meetings last spring.",
    voice = "en+f3", speaker = "B" },
  { text = "Fascinating.", voice = "en+m3", speaker = "A" },
  { text = "And then it grew much faster than we expected.", voice = "en+f3", speaker = "B" },
}

local function field_values(body, name)
  local values = {}
  for value in body:gmatch('name="' .. name:gsub("%p", "%%%0") .. '"\r\n\r\n(.-)\r\n%-%-') do
    values[#values + 1] = value
  end
  return values
end

describe("speakers (gpt-4o-transcribe-diarize)", function()
  local rec, server, client

  setup_.recording_client({ sentences = long_audio.rounds(TURNS, 2), pauses = { 0.9, 1.4, 0.7 } },
                          function(r, s, c) rec, server, client = r, s, c end)

  local function assert_speakers(tr, names)
    assert.equal(#rec.sentences, #tr.segments)
    for i, s in ipairs(tr.segments) do
      local truth = rec.sentences[i]
      assert.equal(truth.text, s.text)
      assert.equal(names and names[truth.speaker] or truth.speaker, s.speaker)
      assert.is_true(math.abs(s.start - truth.start) <= 0.5,
                     ("segment %d at %.2f s, the sentence at %.2f s"):format(i, s.start, truth.start))
    end
  end

  it("labels each segment with its speaker at the true times, in pieces", function()
    local tr = assert(client:transcribe(rec.path, { model = MODEL, chunk = { max_seconds = 20 } }))
    assert.is_true(tr.pieces >= 2)
    assert_speakers(tr)
    local requests = server:requests(ENDPOINT)
    assert.equal(tr.pieces, #requests)
    for _, request in ipairs(requests) do
      assert.same({ "auto" }, field_values(request.body, "chunking_strategy"))
      assert.same({ "diarized_json" }, field_values(request.body, "response_format"))
      assert.same({}, field_values(request.body, "prompt"))
    end
    assert.truthy(tr:vtt():find("<v A>Hello and welcome to the show.", 1, true))
    assert.truthy(tr:srt():find("B: Thanks for having me.", 1, true))
  end)

  it("names known speakers from reference clips sent as data URLs", function()
    local clip_a = assert(gptaudio.audio.load(rec.sentences[1].path))
    local tr = assert(client:transcribe(rec.path, {
      model = MODEL, response_format = "diarized_json", chunk = false,
      known_speaker_names = { "Alice", "Bob" },
      known_speaker_references = { clip_a, rec.sentences[2].path },
    }))
    assert_speakers(tr, { A = "Alice", B = "Bob" })
    local body = server:requests(ENDPOINT)[1].body
    assert.same({ "Alice", "Bob" }, field_values(body, "known_speaker_names[]"))
    local urls = field_values(body, "known_speaker_references[]")
    assert.equal(2, #urls)
    for _, url in ipairs(urls) do assert.truthy(url:find("^data:audio/wav;base64,")) end
  end)

  it("streams each finished segment as a segment event with its speaker", function()
    local events = {}
    local tr = assert(client:transcribe(rec.path, {
      model = MODEL, response_format = "diarized_json", stream = true, chunk = false,
      on_event = function(ev) if ev.type == "segment" then events[#events + 1] = ev.segment end end,
    }))
    assert.equal(#rec.sentences, #events)
    assert_speakers(tr)
    for i, segment in ipairs(events) do
      assert.equal(rec.sentences[i].speaker, segment.speaker)
      assert.equal(tr.segments[i].text, segment.text)
    end
  end)

  it("refuses a prompt, which the model does not take, before sending anything", function()
    assert.has_error(function() client:transcribe(rec.path, { model = MODEL, prompt = "x", chunk = false }) end,
                     "client:transcribe: 'prompt': gpt-4o-transcribe-diarize takes no prompt")
    assert.equal(0, #server:requests(ENDPOINT))
  end)
end)
