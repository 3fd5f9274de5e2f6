-- gptaudio talk, scripted: --input plays a recorded question as the
-- microphone, the fake server answers aloud, --output keeps what was heard;
-- stdout gets the transcript as it streams, stderr each turn's cost and latency.
-- --push-to-talk runs on a real pseudo-terminal (tmux), with Enter pressed twice.
local socket = require "socket"
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local command = require "spec.support.command"
local openai = require "spec.support.openai"
local setup_ = require "spec.support.setup"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

describe("gptaudio talk", function()
  local server, dir
  setup_.fake_server(function(s) server = s end)
  setup(function() dir = util.temp_dir() end)
  teardown(function() util.remove_tree(dir) end)

  it("--input and --output: one spoken turn, its transcript on stdout, its cost and latency on stderr", function()
    local question = voice_script.speech("What is the capital of France?", dir, "q")
    local answer = voice_script.speech("Paris is the capital of France.", dir, "a")
    local input = voice_script.recording({ { at = 0.3, audio = question } }, question.duration + 1.0, dir)
    server:script(openai.CHAT, { voice_script.reply(answer, "Paris is the capital of France.", { delay = 0.1 }) })
    local output = dir .. "/heard.wav"
    local status, stdout, stderr = command.run(server.url, { "talk", "--input", input, "--output", output,
                                                             "--system", "Answer briefly.", "--pause", "0.5" })
    assert.equal(0, status, stderr)
    assert.equal("Paris is the capital of France.\n", stdout)
    assert.matches("turn 1, 50 tokens in, 100 out, cost %$%d+%.%d+, latency %d+ ms %(endpointing %d+, upload %d+, "
                   .. "server %d+, client %d+%)", stderr)
    assert.matches("1 turns, cost %$", stderr)
    local heard = assert(gptaudio.audio.load(output))
    assert.equal(answer.frames, heard.frames)
    local sent = server:requests(openai.CHAT)
    assert.equal(1, #sent)
    assert.same({ role = "system", content = "Answer briefly." }, sent[1].json.messages[1])
  end)

  it("--no-echo-cancel (headphones) is taken; --help says when the canceller is on", function()
    local question = voice_script.speech("What is the capital of France?", dir, "q")
    local answer = voice_script.speech("Paris.", dir, "a")
    local input = voice_script.recording({ { at = 0.3, audio = question } }, question.duration + 1.0, dir)
    server:script(openai.CHAT, { voice_script.reply(answer, "Paris.", { delay = 0.1 }) })
    local status, stdout, stderr = command.run(server.url, { "talk", "--input", input, "--output", dir .. "/heard.wav",
                                                             "--no-echo-cancel", "--pause", "0.5" })
    assert.equal(0, status, stderr)
    assert.equal("Paris.\n", stdout)
    assert.equal(1, #server:requests(openai.CHAT))
    local _, help = command.run(server.url, { "talk", "--help" })
    assert.matches("%-%-no%-echo%-cancel  with headphones", help)
  end)

  it("--push-to-talk on a terminal: Enter starts talking, Enter again sends what was said in between", function()
    local question = voice_script.speech("What is the capital of France?", dir, "q")
    local answer = voice_script.speech("Paris.", dir, "a")
    local input = voice_script.recording({ { at = 1.0, audio = question } }, 8.0, dir)
    server:script(openai.CHAT, { voice_script.reply(answer, "Paris.", { delay = 0.1 }) })
    local output, status_file = dir .. "/heard.wav", dir .. "/status"
    -- A tmux server of this test's own; the pane stays after the command ends, for capture.
    local tmux = ("%s tmux -S %s"):format(util.spawn_env(), util.shell_quote(dir .. "/tmux.sock"))
    local inner = ("OPENAI_BASE_URL=%s OPENAI_API_KEY=sk-dummy %s bin/gptaudio talk --push-to-talk --input %s "
                   .. "--output %s; echo $? > %s; sleep 120"):format(
      util.shell_quote(server.url), util.LUA, util.shell_quote(input), util.shell_quote(output),
      util.shell_quote(status_file))
    local function screen()
      return util.read_command(tmux .. " capture-pane -p -J -S -100 -t ptt 2>/dev/null")
    end
    local function wait_for(text, seconds)
      local deadline = socket.gettime() + seconds
      repeat
        if screen():find(text, 1, true) then return true end
        socket.sleep(0.05)
      until socket.gettime() > deadline
      error(("%q never appeared on the terminal:\n%s"):format(text, screen()))
    end
    finally(function() os.execute(tmux .. " kill-server 2>/dev/null") end)
    assert(util.succeeded(("%s new-session -d -s ptt -x 120 -y 30 %s"):format(tmux, util.shell_quote(inner))))
    wait_for("(Enter to talk)", 20)
    -- The recording is playing: the question starts 1 s in.
    socket.sleep(0.8)
    local pressed = socket.gettime()
    assert(util.succeeded(tmux .. " send-keys -t ptt Enter"))
    wait_for("(talking: Enter to send)", 10)
    socket.sleep(2.0 - (socket.gettime() - pressed))
    local released = socket.gettime()
    assert(util.succeeded(tmux .. " send-keys -t ptt Enter"))
    wait_for("(sent)", 10)
    local deadline = socket.gettime() + 40
    while not util.exists(status_file) and socket.gettime() < deadline do socket.sleep(0.1) end
    local shown = screen()
    assert.equal("0", (util.read_file(status_file) or "none"):gsub("%s+", ""), shown)
    assert.matches("%(Enter to talk%).-%(talking: Enter to send%).-%(sent%)", shown)
    assert.matches("Paris%.\n", shown)
    assert.matches("1 turns, cost %$", shown)
    local sent = server:requests(openai.CHAT)
    assert.equal(1, #sent)
    local last = sent[1].json.messages[#sent[1].json.messages]
    local said = assert(gptaudio.audio.decode(core.base64_decode(last.content[1].input_audio.data), "wav"))
    -- What was said between the presses, with the agent's 0.2 s preroll; the
    -- presses reach the agent within a poll, but a loaded machine delays them.
    local span = released - pressed + 0.2
    assert.is_true(said.duration > span - 0.6 and said.duration < span + 1.2,
                   ("utterance %.2f s for %.2f s between the presses"):format(said.duration, span))
    local heard = assert(gptaudio.audio.load(output))
    assert.equal(answer.frames, heard.frames)
  end)

  it("refuses a bad --pause and an unreadable --input as usage errors", function()
    local status, _, stderr = command.run(server.url, { "talk", "--pause", "soon" })
    assert.equal(2, status)
    assert.matches("%-%-pause must be a number", stderr)
    status, _, stderr = command.run(server.url, { "talk", "--input", dir .. "/none.wav" })
    assert.equal(2, status)
    assert.matches("cannot read", stderr)
  end)
end)
