-- The LÖVE voice NPC (examples/love_voice) run headless with the agent's
-- test conversation (spec/support/voice_script.lua): the recording plays as
-- the microphone while scripted key events hold T over each question; the
-- second press comes while the first answer is playing (a barge-in). What
-- OpenAL Soft's wave writer received must be the first answer up to that
-- press and then the second answer whole, sample for sample (silence
-- between pieces allowed: a frame late under load starves the source), while
-- love.update kept running; the game's turns, the requests and the history
-- must be those of the plain-Lua conversation.
local gptaudio = require "gptaudio"
local core = require "gptaudio.core"
local fake = require "spec.support.fake"
local love_game = require "spec.support.love_game"
local openai = require "spec.support.openai"
local util = require "spec.support.util"
local voice_script = require "spec.support.voice_script"

local audio = gptaudio.audio
local RATE = 24000
-- How far OpenAL's mixing may run from the agent's clock (its period is some 40 ms).
local DEVICE_SLACK = 0.15

local function question_of(message)
  return assert(audio.decode(core.base64_decode(message.content[1].input_audio.data), "wav"))
end

-- The samples that are not silence, in order, and where each one was: a
-- source that ran dry (a late frame) leaves silence between its pieces
-- without losing or repeating any.
local function sounds(buf)
  local values, at = {}, {}
  for i = 1, buf.frames do
    local v = buf:sample(i)
    if v ~= 0 then values[#values + 1], at[#at + 1] = v, i end
  end
  return values, at
end

-- Fails naming the first of `expected` (from `from`, `count` of them) that `got` (from `at`) does not hold.
local function assert_samples(expected, from, got, at, count, what)
  for i = 0, count - 1 do
    if math.abs(got[at + i] - expected[from + i]) > 1 / 32768 then
      error(("%s, sample %d: expected %.6f, got %.6f"):format(what, from + i, expected[from + i], got[at + i]), 2)
    end
  end
end

describe("the LÖVE voice NPC, headless", function()
  local server, dir
  setup(function()
    server = fake.start()
    dir = util.temp_dir()
  end)
  teardown(function()
    server:stop()
    util.remove_tree(dir)
  end)

  it("holds the conversation: T over her answer silences it at once and cancels it", function()
    local c = voice_script.conversation(dir)
    server:script(openai.CHAT, c.replies)
    -- T down 0.2 s before each question, up 0.25 s after it.
    local keys = {}
    for i, mark in ipairs(c.marks) do keys[i] = ("%.2f-%.2f"):format(mark.start - 0.2, mark.stop + 0.25) end
    local run = love_game.play("examples/love_voice", server,
                               { GPTAUDIO_LOVE_INPUT = c.input, GPTAUDIO_LOVE_KEYS = table.concat(keys, ",") }, 30)
    local stats = run.stats
    assert.equal("false", stats.timed_out, run.log)
    assert.same({ "2", "2" }, { stats.turns, stats.key_downs })
    -- a frame loop that waited on the network or the sink would count a handful
    assert.is_true(tonumber(stats.updates) >= 100, stats.updates)

    local sent = server:requests(openai.CHAT)
    assert.equal(2, #sent)
    -- each question went up whole: from the preroll (0.2 s) before T went down to its release
    for i, message in ipairs{ sent[1].json.messages[2], sent[2].json.messages[4] } do
      local held = c.marks[i].stop - c.marks[i].start + 0.45
      local said = question_of(message).duration
      assert.is_true(said > held + 0.1 and said < held + 0.3, said .. " " .. held)
    end

    -- The barge-in: the first request cancelled (the server saw it go), the
    -- history holding the first answer cut at a word's end at what was heard.
    local heard, received = tonumber(stats.turn1_heard), tonumber(stats.turn1_received)
    assert.same({ "true", "cancelled" }, { stats.turn1_interrupted, stats.turn1_status })
    assert.is_number(sent[1].closed_after)
    assert.is_true(heard > 0.5 and heard < c.a1.duration - 2, heard)
    assert.is_true(received > heard, stats.turn1_received)
    local cut, full = stats.turn1_transcript, stats.turn1_received_transcript
    assert.equal(c.answers[1]:sub(1, #full), full)
    assert.equal(full:sub(1, #cut), cut)
    assert.is_truthy(full:sub(#cut + 1):match("^%s"))
    assert.is_true(#cut <= heard / received * #full and #cut > heard / received * #full - 12, cut)
    assert.same({ role = "assistant", content = cut }, sent[2].json.messages[3])
    assert.same({ "false", "done" }, { stats.turn2_interrupted, stats.turn2_status })
    assert.equal(c.answers[2], stats.turn2_transcript)
    assert.equal(c.answers[2], stats.subtitle)
    assert.is_true(math.abs(tonumber(stats.turn2_heard) - c.a2.duration) < 1e-3, stats.turn2_heard)

    -- Each turn's latency, split: the key's release is the end of speech.
    for turn = 1, 2 do
      local l = {}
      for _, part in ipairs{ "total", "endpointing", "tools", "upload", "server", "first_byte", "client" } do
        l[part] = tonumber(stats[("turn%d_latency_%s"):format(turn, part)])
      end
      assert.is_true(l.endpointing >= 0 and l.endpointing < 0.05, l.endpointing)
      assert.is_true(l.server >= c.ttfb and l.server < c.ttfb + 0.3, l.server)
      assert.is_true(l.upload >= 0 and l.upload < 0.1, l.upload)
      assert.equal(0, l.tools)
      -- generous bounds: the figures are in BENCHMARKS.md
      assert.is_true(l.client >= 0 and l.client < 0.2, l.client)
      assert.is_true(math.abs(l.total - (l.endpointing + l.upload + l.server + l.client)) < 1e-6)
    end

    -- What OpenAL played: the first answer until T went down, then the
    -- second answer whole, sample for sample.
    local played = assert(audio.decode(assert(run.wav, "OpenAL wrote no WAV: " .. tostring(run.log)), "wav"))
    assert.same({ RATE, 1 }, { played.rate, played.channels })
    local got = sounds(played)
    local first, first_at = sounds(audio.from_pcm16(c.a1:encode("pcm16"), RATE))
    local second = sounds(audio.from_pcm16(c.a2:encode("pcm16"), RATE))
    local of_first = #got - #second
    assert.is_true(of_first > 0 and of_first < #first, of_first)
    assert_samples(first, 1, got, 1, of_first, "the first answer")
    assert_samples(second, 1, got, of_first + 1, #second, "the second answer")
    -- as much of the first answer sounded as the agent counted heard
    local played1 = first_at[of_first] / RATE
    assert.is_true(math.abs(played1 - heard) < DEVICE_SLACK, ("played %.3f s, heard %.3f s"):format(played1, heard))
  end)
end)
