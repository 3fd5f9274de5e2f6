-- The gptaudio command as a user runs it: a subprocess of the interpreter under
-- test, against the scripted fake server, checked by its files, its stdout, its
-- stderr and its exit status.
local cjson = require "cjson"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"

local quote, read_file = util.shell_quote, util.read_file

-- Runs bin/gptaudio with these arguments against base_url (nil: neither
-- OPENAI_BASE_URL nor OPENAI_API_KEY is set). Returns the exit status, stdout and stderr.
local function gptaudio(base_url, arguments)
  local out, err = os.tmpname(), os.tmpname()
  local words = {}
  for i, a in ipairs(arguments) do words[i] = quote(a) end
  local env = base_url and ("OPENAI_BASE_URL=%s OPENAI_API_KEY=sk-dummy"):format(quote(base_url))
    or "-u OPENAI_BASE_URL -u OPENAI_API_KEY"
  local command = ("%s %s %s bin/gptaudio %s > %s 2> %s; echo $?")
    :format(util.spawn_env(), env, util.LUA, table.concat(words, " "), out, err)
  local status = tonumber(util.read_command(command))
  local stdout, stderr = read_file(out), read_file(err)
  os.remove(out)
  os.remove(err)
  return status, stdout, stderr
end

local function completion(text)
  return {
    id = "chatcmpl-1", object = "chat.completion", created = 1764000000, model = "gpt-audio-mini-2025-12-15",
    choices = { { index = 0, message = { role = "assistant", content = text }, finish_reason = "stop" } },
    usage = { prompt_tokens = 20, completion_tokens = 10, total_tokens = 30,
              prompt_tokens_details = { audio_tokens = 0, cached_tokens = 0, text_tokens = 20 },
              completion_tokens_details = { audio_tokens = 0, reasoning_tokens = 0, text_tokens = 10 } },
  }
end

local TRANSCRIPT = { text = "Front center.", usage = { type = "tokens", input_tokens = 14, output_tokens = 3,
                                                        total_tokens = 17,
                                                        input_token_details = { text_tokens = 0, audio_tokens = 14 } } }

describe("the gptaudio command", function()
  local server, tmp
  setup_.fake_server(function(s) server = s end)
  before_each(function()
    tmp = os.tmpname()
  end)
  after_each(function()
    os.remove(tmp)
  end)

  describe("usage", function()
    it("prints the help with the exit codes, status 0; no command is status 2", function()
      local status, out = gptaudio(server.url, { "--help" })
      assert.equal(0, status)
      assert.matches("Exit status: 0 success, 1 other failure, 2 usage error", out, 1, true)
      assert.equal(2, (gptaudio(server.url, {})))
    end)

    it("prints each command's help", function()
      for _, command in ipairs{ "speak", "transcribe", "chat", "batch" } do
        local status, out = gptaudio(server.url, { command, "--help" })
        assert.equal(0, status)
        assert.matches("^Usage: gptaudio " .. command, out)
      end
    end)

    it("exits 2 on an unknown command, an unknown option, a missing argument, sending nothing", function()
      local cases = {
        { { "sing", "x" }, "unknown command 'sing'" },
        { { "speak", "hi", "-o", tmp, "--bogus" }, "unknown option --bogus" },
        { { "speak", "hi" }, "speak needs -o FILE" },
        { { "transcribe" }, "transcribe takes one audio file" },
        { { "chat", "--audio" }, "--audio needs a value (FILE)" },
        { { "speak", "hi", "-o", tmp, "--model", "whisper-1" }, "is a transcription model: it cannot speak" },
      }
      for _, case in ipairs(cases) do
        local status, out, err = gptaudio(server.url, case[1])
        assert.equal(2, status)
        assert.equal("", out)
        assert.matches(case[2], err, 1, true)
      end
      assert.same({}, server:requests())
    end)

    it("exits 2 without an API key against the real API, naming OPENAI_API_KEY", function()
      local status, _, err = gptaudio(nil, { "transcribe", openai.RECORDING })
      assert.equal(2, status)
      assert.matches("OPENAI_API_KEY is not set", err, 1, true)
    end)
  end)

  it("core.catch_interrupt turns SIGINT into a flag that interrupted(true) reads and clears", function()
    local script = [[
      local core = require "gptaudio.core"
      assert(core.catch_interrupt())
      local before = core.interrupted()
      io.popen("kill -INT $PPID"):close() -- the shell's parent: this interpreter
      print(before, core.interrupted(), core.interrupted(true), core.interrupted(), pcall(core.interrupted, 1))
    ]]
    local out = util.read_command(("%s %s -e %s"):format(util.spawn_env(), util.LUA, quote(script)))
    assert.matches("^false\tSIGINT\tSIGINT\tfalse\tfalse\t" ..
                   "bad argument #1 to '[^']+' %(boolean expected, got number%)\n$", out)
  end)

  describe("transcribe", function()
    it("prints the transcript on stdout, tokens and cost on stderr", function()
      server:script(openai.TRANSCRIPTIONS, { { json = TRANSCRIPT } })
      local status, out, err = gptaudio(server.url, { "transcribe", openai.RECORDING, "--model",
                                                      "gpt-4o-mini-transcribe" })
      assert.equal(0, status)
      assert.equal("Front center.\n", out)
      assert.matches("^gpt%-4o%-mini%-transcribe: 14 tokens in, 3 tokens out, cost %$0%.0000%d+\n$", err)
      local sent = server:requests(openai.TRANSCRIPTIONS)
      assert.equal(1, #sent)
      assert.equal("Bearer sk-dummy", sent[1].headers.authorization)
      assert.truthy(sent[1].body:find(read_file(openai.RECORDING), 1, true))
    end)

    it("--json prints one JSON object and nothing on stderr", function()
      server:script(openai.TRANSCRIPTIONS, { { json = TRANSCRIPT } })
      local status, out, err = gptaudio(server.url, { "--json", "transcribe", openai.RECORDING, "--model",
                                                      "gpt-4o-mini-transcribe" })
      assert.equal(0, status)
      assert.equal("", err)
      local result = cjson.decode(out)
      assert.same({ openai.RECORDING, "Front center.", "gpt-4o-mini-transcribe", 14, 3 },
                  { result.path, result.text, result.model, result.usage.input_tokens, result.usage.output_tokens })
      assert.is_number(result.cost)
    end)

    it("exits 3 on an API error; --json gives it as {error}", function()
      local bad = { status = 400, json = { error = { message = "Invalid file format.", type = "invalid_request_error",
                                                     param = "file", code = "invalid_value" } } }
      server:script(openai.TRANSCRIPTIONS, { bad, bad })
      local status, out, err = gptaudio(server.url, { "transcribe", openai.RECORDING, "--model",
                                                      "gpt-4o-mini-transcribe" })
      assert.equal(3, status)
      assert.equal("", out)
      -- One prefix: the error's own line.
      assert.matches("^gptaudio api error 400 %(invalid_value%): Invalid file format%. %[param file%] "
                     .. "%[request req_%d+%] %[attempts 1%]\n$", err)
      status, out = gptaudio(server.url, { "transcribe", openai.RECORDING, "--model", "gpt-4o-mini-transcribe",
                                           "--json" })
      assert.equal(3, status)
      assert.same({ error = { type = "api", status = 400, code = "invalid_value", message = "Invalid file format." } },
                  cjson.decode(out))
    end)

    it("exits 4 when nothing listens", function()
      local status, out = gptaudio("http://127.0.0.1:" .. util.closed_port() .. "/v1",
                                   { "transcribe", openai.RECORDING, "--json" })
      assert.equal(4, status)
      assert.equal("connection", cjson.decode(out).error.type)
    end)

  end)

  describe("files, standard input and --version", function()
    it("exits 2 naming a directory, a missing file or an unreadable one, sending nothing", function()
      local dir = util.temp_dir()
      finally(function() util.remove_tree(dir) end)
      local cases = {
        { { "transcribe", dir }, dir .. " is a directory" },
        { { "transcribe", dir .. "/missing.wav" }, "transcribe: cannot open " .. dir .. "/missing.wav: No such file" },
        { { "chat", "What is it?", "--audio", dir }, dir .. " is a directory" },
      }
      for _, case in ipairs(cases) do
        local status, out, err = gptaudio(server.url, case[1])
        assert.equal(2, status, err)
        assert.equal("", out)
        assert.matches(case[2], err, 1, true)
        assert.is_nil(err:find("traceback", 1, true), err)
      end
      assert.same({}, server:requests())
    end)

    it("speak - reads the text from the standard input", function()
      server:script(openai.SPEECH, { { body = ("\1\0"):rep(480) } })
      local out_file = tmp .. ".wav"
      finally(function() os.remove(out_file) end)
      local status = tonumber(util.read_command(("printf 'Read from\\nstdin.' | %s OPENAI_BASE_URL=%s"
        .. " OPENAI_API_KEY=sk-dummy %s bin/gptaudio speak - -o %s --model gpt-4o-mini-tts > /dev/null 2>&1; echo $?")
        :format(util.spawn_env(), quote(server.url), util.LUA, quote(out_file))))
      assert.equal(0, status)
      assert.equal("Read from\nstdin.", server:requests(openai.SPEECH)[1].json.input)
      assert.equal(480, require("gptaudio").audio.load(out_file).frames)
    end)

    it("--version names the version, the Lua running and the module's headers", function()
      local status, out = gptaudio(nil, { "--version" })
      assert.equal(0, status)
      local core = require "gptaudio.core"
      assert.equal(("gptaudio %s (%s; module built on %s headers)\n")
                   :format(core.VERSION, rawget(_G, "jit") and jit.version or _VERSION, core.HEADERS), out)
    end)
  end)

  describe("speak", function()
    it("writes the WAV file from the speech endpoint's pcm", function()
      server:script(openai.SPEECH, { { body = ("\1\0"):rep(4800) } })
      local out_file = tmp .. ".wav"
      finally(function() os.remove(out_file) end)
      local status, out = gptaudio(server.url, { "speak", "Hello there.", "-o", out_file, "--model",
                                                 "gpt-4o-mini-tts", "--voice", "coral", "--json" })
      assert.equal(0, status)
      local result = cjson.decode(out)
      assert.same({ out_file, "wav", 0.2, "gpt-4o-mini-tts" }, { result.output, result.format, result.duration,
                                                                 result.model })
      local buf = require("gptaudio").audio.load(out_file)
      assert.same({ 24000, 1, 4800 }, { buf.rate, buf.channels, buf.frames })
      assert.equal(1, buf:sample(4800, 1) * 32768)
      local body = server:requests(openai.SPEECH)[1].json
      assert.same({ "gpt-4o-mini-tts", "Hello there.", "coral", "pcm" },
                  { body.model, body.input, body.voice, body.response_format })
    end)

    it("writes another format's bytes as they came", function()
      server:script(openai.SPEECH, { { body = "ID3 mp3 bytes" } })
      local out_file = tmp .. ".mp3"
      finally(function() os.remove(out_file) end)
      local status = gptaudio(server.url, { "speak", "Hi.", "-o", out_file, "--model", "gpt-4o-mini-tts" })
      assert.equal(0, status)
      assert.equal("ID3 mp3 bytes", read_file(out_file))
      assert.equal("mp3", server:requests(openai.SPEECH)[1].json.response_format)
    end)

    it("draws a progress bar on stderr for a slow download with --progress, never on stdout", function()
      server:script(openai.SPEECH, { { body = ("\0\0"):rep(12000), drip = { bytes = 2400, interval = 0.08 } } })
      local out_file = tmp .. ".wav"
      finally(function() os.remove(out_file) end)
      local status, out, err = gptaudio(server.url, { "speak", "Slowly.", "-o", out_file, "--model",
                                                      "gpt-4o-mini-tts", "--progress", "--json" })
      assert.equal(0, status)
      assert.equal(0.5, cjson.decode(out).duration)
      assert.matches("\rdownload [#", err, 1, true)
      assert.matches("%] +%d+%% +%d+ kB / 24 kB", err)
    end)
  end)

  describe("chat", function()
    it("asks the question with the recording and prints the answer", function()
      server:script(openai.CHAT, { { json = completion("It says front center.") } })
      local status, out, err = gptaudio(server.url, { "chat", "What does it say?", "--audio", openai.RECORDING })
      assert.equal(0, status)
      assert.equal("It says front center.\n", out)
      assert.matches("^gpt%-audio%-mini%-2025%-12%-15: 20 tokens in, 10 tokens out, cost %$", err)
      local body = server:requests(openai.CHAT)[1].json
      assert.equal("gpt-audio-mini", body.model)
      local content = body.messages[1].content
      assert.same({ type = "text", text = "What does it say?" }, content[1])
      assert.equal("wav", content[2].input_audio.format)
      assert.equal(require("gptaudio.core").base64_encode(read_file(openai.RECORDING)), content[2].input_audio.data)
    end)

    it("-o asks for audio out and saves the spoken answer", function()
      local gptaudio_audio = require("gptaudio").audio
      local wav = gptaudio_audio.from_pcm16(("\2\0"):rep(2400), 24000, 1):encode("wav")
      local reply = completion(cjson.null)
      reply.choices[1].message.audio = { id = "audio_1", expires_at = 1764003600, transcript = "Spoken answer.",
                                         data = require("gptaudio.core").base64_encode(wav) }
      server:script(openai.CHAT, { { json = reply } })
      local out_file = tmp .. ".wav"
      finally(function() os.remove(out_file) end)
      local status, out = gptaudio(server.url, { "chat", "Say it.", "-o", out_file, "--voice", "verse", "--json" })
      assert.equal(0, status)
      local result = cjson.decode(out)
      assert.same({ "Spoken answer.", out_file, "stop" }, { result.transcript, result.output, result.finish_reason })
      local buf = gptaudio_audio.load(out_file)
      assert.same({ 24000, 2400, 2 }, { buf.rate, buf.frames, buf:sample(2400, 1) * 32768 })
      local body = server:requests(openai.CHAT)[1].json
      assert.same({ "verse", { "text", "audio" } }, { body.audio.voice, body.modalities })
    end)
  end)
end)
