-- client:translate against the fake server: whisper-1's form to
-- /audio/translations, the chat route's instruction into any language, as
-- text or speech, and the refusals that raise before anything is sent.
local setup_ = require "spec.support.setup"

local TRANSLATIONS = "/v1/audio/translations"
local CHAT = "/v1/chat/completions"
local SAID = "Where is the train station?"

describe("client:translate", function()
  local server, client, spoken

  setup_.fake_client(nil, function(s, c)
    server, client = s, c
    server:standin(true)
    -- Speech the stand-in made and so knows the words of.
    spoken = spoken or assert(client:speak(SAID, { model = "tts-1", format = "wav" })).audio
    server:clear()
    server:standin(true)
  end)

  it("sends whisper-1 the transcription form to /audio/translations and reads its text", function()
    local tr = assert(client:translate(spoken, { model = "whisper-1", prompt = "Travel." }))
    assert.equal(SAID, tr.text)
    assert.equal(SAID, tostring(tr))
    local requests = server:requests(TRANSLATIONS)
    assert.equal(1, #requests)
    local body = requests[1].body
    assert.truthy(body:find('name="model"\r\n\r\nwhisper-1\r\n', 1, true))
    assert.truthy(body:find('name="prompt"\r\n\r\nTravel.\r\n', 1, true))
    assert.truthy(body:find('name="file"; filename="audio.wav"', 1, true))
    assert.equal(0, #server:requests("/v1/audio/transcriptions"))
  end)

  it("takes verbose_json with segments from whisper-1", function()
    local tr = assert(client:translate(spoken, { model = "whisper-1", to = "English",
                                                 response_format = "verbose_json" }))
    assert.equal(SAID, tr.text)
    assert.equal(1, #tr.segments)
    assert.is_number(tr.duration)
  end)

  it("asks a chat-audio model for a translation into any language, as text", function()
    local tr = assert(client:translate(spoken, { to = "French" }))
    assert.equal("[french] " .. SAID, tr.text)
    local request = server:requests(CHAT)[1].json
    assert.same({ "text" }, request.modalities)
    assert.truthy(request.messages[1].content:find("into French.", 1, true))
    assert.equal("input_audio", request.messages[2].content[1].type)
    assert.is_number(tr.cost)
  end)

  it("speaks the translation with speak = true", function()
    local tr = assert(client:translate(spoken, { to = "German", speak = true, voice = "coral" }))
    assert.equal("[german] " .. SAID, tr.text)
    assert.equal("gptaudio.AudioBuffer", getmetatable(tr.audio).__name)
    assert.is_true(tr.audio.duration > 0.5)
    local request = server:requests(CHAT)[1].json
    assert.same({ "text", "audio" }, request.modalities)
    assert.same({ voice = "coral", format = "wav" }, request.audio)
  end)

  it("streams the translation's text as transcript events", function()
    local deltas = {}
    local tr = assert(client:translate(spoken, { to = "Italian", stream = true, on_event = function(ev)
      if ev.type == "transcript" then deltas[#deltas + 1] = ev.delta end
    end }))
    assert.equal(tr.text, table.concat(deltas))
  end)

  it("raises for what the route cannot do, before sending anything", function()
    assert.has_error(function() client:translate(spoken, { model = "whisper-1", to = "French" }) end,
                     'client:translate: \'to\' "French": whisper-1 translates into English only; a chat-audio '
                     .. "model such as gpt-audio-mini takes any")
    assert.has_error(function() client:translate(spoken, { model = "whisper-1", speak = true }) end,
                     "client:translate: 'speak': whisper-1 gives text alone; a chat-audio model speaks its translation")
    assert.has_error(function() client:translate(spoken, { model = "gpt-4o-mini-transcribe" }) end,
                     "client:translate: 'model' gpt-4o-mini-transcribe: /audio/translations takes whisper-1; "
                     .. "a chat-audio model translates into any language")
    assert.has_error(function() client:translate(spoken, { model = "tts-1" }) end,
                     "client:translate: 'model' tts-1 is a speech model: it cannot translate")
    assert.has_error(function() client:translate(spoken, { to = 5 }) end,
                     "client:translate: 'to' must be string (got number)")
    assert.equal(0, #server:requests())
  end)

  it("is a kind client:start knows", function()
    local req = client:start("translate", spoken, { to = "Spanish" })
    local tr = assert(req:wait())
    assert.equal("[spanish] " .. SAID, tr.text)
  end)
end)
