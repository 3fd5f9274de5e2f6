-- The Neovim plugin (the repository itself) in a real `nvim --headless -u NONE`,
-- loaded as lazy.nvim loads it (runtime path, plugin/gptaudio.lua, then
-- require("gptaudio").setup(opts)), without lua-cjson (vim.json instead),
-- against the fake server: :GptAudioAsk streams a ~1 s answer into a scratch
-- buffer while a 20 ms vim.loop timer keeps firing, :GptAudioTranscribe
-- inserts at the cursor, :GptAudioSpeak sends the visual selection and saves
-- the speech, closing an answer's buffer and :GptAudioStop cancel,
-- :GptAudioDictate records and inserts, :checkhealth gptaudio and :help
-- gptaudio answer. spec/support/nvim_driver.lua plays the user inside Neovim.
local audio = require("gptaudio").audio
local cjson = require "cjson"
local fake = require "spec.support.fake"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local MODEL = "gpt-audio-mini"
local DELTAS = { "The fox", " says", " ring-ding", "-ding.", "\nIt", " also", " says", " wa-pa-pa", "-pow." }
local CHUNK_DELAY = 0.1 -- 12 pieces: the answer takes about 1.2 s
local TRANSCRIPT = "hello from a wav file"

local read_file, shell_quote = setup_.read_file, util.shell_quote

local function chunk(delta, finish_reason)
  return cjson.encode{ id = "chatcmpl-n1", object = "chat.completion.chunk", created = 1764000000, model = MODEL,
                       choices = { { index = 0, delta = delta, finish_reason = finish_reason or cjson.null } } }
end

local function streamed_answer(deltas, delay)
  local events = { chunk{ role = "assistant", content = "" } }
  for _, d in ipairs(deltas) do events[#events + 1] = chunk{ content = d } end
  events[#events + 1] = chunk({}, "stop")
  events[#events + 1] = "[DONE]"
  return { events = events, chunk_delay = delay, no_length = true }
end

-- 30 pieces 0.2 s apart: 6 s that a cancel must cut short.
local function long_story()
  local deltas = {}
  for i = 1, 30 do deltas[i] = "Once " end
  return streamed_answer(deltas, 0.2)
end

-- The speech the server answers with: 0.2 s of a 24 kHz sweep.
local function speech_audio()
  local t = {}
  for i = 1, 4800 do t[i] = math.floor(20000 * math.sin(i * i * 0.00002)) / 32768 end
  return audio.from_samples(t, 24000, 1)
end

describe("the Neovim plugin in nvim --headless", function()
  local server, results, dir, input_wav, speech

  setup(function()
    server = fake.start()
    speech = speech_audio()
    server:script("/v1/chat/completions", { streamed_answer(DELTAS, CHUNK_DELAY), long_story(), long_story() })
    server:script("/v1/audio/transcriptions", { { json = { text = TRANSCRIPT } }, { json = { text = "dictated" } } })
    server:script("/v1/audio/speech",
                  { { body = speech:encode("wav"), headers = { ["content-type"] = "audio/wav" } } })

    local tmp = os.tmpname()
    input_wav = tmp .. ".wav"
    os.remove(tmp)
    assert(audio.from_samples({ 0.25, -0.25, 0.5, -0.5 }, 16000, 1):save(input_wav))
    dir = util.temp_dir()
    local out = os.tmpname()

    local command = ("%s -u LUA_PATH -u LUA_CPATH GPTAUDIO_NVIM_URL=%s GPTAUDIO_NVIM_AUDIO=%s GPTAUDIO_NVIM_DIR=%s"
                     .. " GPTAUDIO_NVIM_OUT=%s timeout -s KILL 30 nvim --headless -u NONE -i NONE -n"
                     .. " -c 'luafile spec/support/nvim_driver.lua'"
                     .. " < /dev/null > %s 2>&1")
                    :format(fake.spawn_env(), server.url, shell_quote(input_wav), shell_quote(dir), shell_quote(out),
                            shell_quote(out .. ".log"))
    os.execute(command)
    local written, output = read_file(out), read_file(out .. ".log")
    os.remove(out)
    os.remove(out .. ".log")
    assert(written ~= "", "nvim wrote no results: " .. output)
    results = cjson.decode(written)
  end)

  teardown(function()
    server:stop()
    os.remove(input_wav)
    util.remove_tree(dir)
  end)

  it("finishes every command, on vim.json, and notifies costs, cancels and the speech", function()
    assert.is_nil(results.timed_out)
    assert.equal("vim.json", results.json_backend)
    local kinds = {}
    for _, note in ipairs(results.notes) do
      local what = note:match("^gptaudio: (%a+): ") or note:match("^gptaudio: (%a+) ") or note
      kinds[#kinds + 1] = what
    end
    -- ask, transcribe, speak (its file and its cost), two cancels, dictate (recording, cost)
    assert.same({ "ask", "transcribe", "spoke", "speak", "ask", "ask", "dictate", "dictate" }, kinds,
                table.concat(results.notes, "\n"))
    -- the scripted stream reports no usage; the speech is priced by its characters
    assert.equal("gptaudio: ask: cost unknown", results.notes[1])
    assert.equal("gptaudio: speak: cost unknown", results.notes[4])
    assert.equal("gptaudio: ask: cancelled", results.notes[5])
    assert.equal("gptaudio: ask: cancelled", results.notes[6])
  end)

  it("cancels a request when its answer's buffer is closed, and on :GptAudioStop", function()
    -- the stories take 6 s each; cancelled, each step ends within a second or so
    assert.is_true(results.close_ticks < 60, results.close_ticks .. " ticks after closing")
    assert.is_true(results.stop_ticks < 60, results.stop_ticks .. " ticks after :GptAudioStop")
    assert.equal(3, #server:requests("/v1/chat/completions"))
  end)

  it("dictates: records, then transcribes what was recorded into the buffer at the cursor", function()
    assert.same({ "Said: dictated." }, results.dictate_lines)
    local request = server:requests("/v1/audio/transcriptions")[2]
    assert.truthy(request.body:find(read_file(input_wav), 1, true))
  end)

  it("defines the <Plug> mappings", function()
    assert.same({ ":GptAudioAsk ", ":GptAudioSpeak<CR>", "<Cmd>.GptAudioSpeak<CR>", "<Cmd>GptAudioDictate<CR>",
                  "<Cmd>GptAudioStop<CR>" }, results.plug)
  end)

  it("answers :checkhealth gptaudio and :help gptaudio", function()
    local health = table.concat(results.health, "\n")
    assert.matches("OK:? gptaudio %d+%.%d+%.%d+, built on LuaJIT 2%.1 headers", health)
    assert.matches("OK:? JSON: vim%.json", health)
    assert.matches("OK:? API key set %(setup{api_key}%)", health)
    assert.matches("OK:? base URL " .. server.url:gsub("%p", "%%%0") .. " answers %(HTTP 200%)", health)
    assert.matches("recorder: sh %-c", health)
    assert.matches("player: none %(setup{player = false}%)", health)
    assert.is_nil(health:find("ERROR", 1, true), health)
    assert.is_nil(health:find("WARNING", 1, true), health)
    assert.equal("gptaudio.txt", results.help)
  end)

  it("streams the answer into a scratch buffer while a 20 ms timer keeps firing", function()
    assert.same({ "The fox says ring-ding-ding.", "It also says wa-pa-pa-pow." }, results.ask_lines)
    local request = server:requests("/v1/chat/completions")[1]
    assert.same({ { role = "user", content = "What does the fox say?" } }, request.json.messages)
    assert.is_true(request.json.stream)
    -- about 60 ticks in 1.2 s; a blocked loop would give a handful
    assert.is_true(results.ask_ticks >= 30, results.ask_ticks .. " ticks")
    -- the text showed up piece by piece, not all at the end
    assert.is_true(results.states >= 4, results.states .. " buffer states")
  end)

  it("inserts the transcript at the cursor", function()
    assert.same({ "Heard: " .. TRANSCRIPT .. ".", "end" }, results.transcribe_lines)
    local request = server:requests("/v1/audio/transcriptions")[1]
    assert.truthy(request.body:find('name="model"\r\n\r\ngpt-4o-mini-transcribe\r\n', 1, true))
    assert.truthy(request.body:find(read_file(input_wav), 1, true))
  end)

  it("reads the visual selection aloud into a WAV", function()
    local request = server:requests("/v1/audio/speech")[1]
    assert.equal("say this\nand this", request.json.input)
    assert.equal("gpt-4o-mini-tts", request.json.model)
    local listing = io.popen("ls " .. shell_quote(dir))
    local name = listing:read("*l")
    assert.is_nil(listing:read("*l"))
    listing:close()
    assert.truthy(name:match("^gptaudio%-%d+%-1%.wav$"), name)
    assert.equal(("gptaudio: spoke 0.20 s: %s/%s"):format(dir, name), results.notes[3])
    local saved = assert(audio.load(dir .. "/" .. name))
    assert.equal(speech:encode("pcm16"), saved:encode("pcm16"))
    assert.equal(24000, saved.rate)
  end)
end)
