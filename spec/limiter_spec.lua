-- The rate limiter on a fake clock: every wait is a scheduler timer, and the
-- clock jumps straight to the next one, so minutes pass in microseconds.
local scheduler = require "gptaudio.engine.scheduler"
local limiter = require "gptaudio.limiter"

local SLACK = 1e-6

-- A limiter on a scheduler whose clock only moves when told.
local function fake(limits)
  local clock = { now = 0 }
  local sched = scheduler.new{ clock = function() return clock.now end }
  local self = { clock = clock, scheduler = sched, limiter = limiter.new(sched, limits), admitted = {} }

  -- Starts one task per entry of `tokens` (a list of token counts); each
  -- records {i, at} in admitted when let through. gone[i] = true gives up.
  function self.start(tokens, gone)
    gone = gone or {}
    for i, n in ipairs(tokens) do
      scheduler.spawn(function()
        if self.limiter:admit(n, function() return gone[i] == true end) then
          self.admitted[#self.admitted + 1] = { i = i, at = clock.now }
        end
      end)
    end
  end

  -- Jumps to each next timer until none is left or `until_time` is reached.
  function self.run(until_time)
    until_time = until_time or math.huge
    while true do
      local wait = sched:timeout()
      if not wait or clock.now + wait > until_time then break end
      clock.now = clock.now + wait
      sched:fire_due()
    end
  end

  function self.times()
    local t = {}
    for k, a in ipairs(self.admitted) do t[k] = a.at end
    return t
  end
  return self
end

local function zeros(n, value)
  local t = {}
  for i = 1, n do t[i] = value or 0 end
  return t
end

local function assert_times(expected, got)
  assert.equal(#expected, #got)
  for i = 1, #expected do
    assert.is_true(math.abs(expected[i] - got[i]) < SLACK,
                   ("admission %d at %.6f s, expected %.6f s"):format(i, got[i], expected[i]))
  end
end

describe("limiter.duration", function()
  it("reads the reset durations the server sends", function()
    assert.equal(360, limiter.duration("6m0s"))
    assert.equal(1, limiter.duration("1s"))
    assert.is_true(math.abs(limiter.duration("12ms") - 0.012) < 1e-12)
    assert.equal(90.5, limiter.duration("1m30.5s"))
    assert.equal(7200, limiter.duration("2h"))
    assert.equal(3723, limiter.duration("1h2m3s"))
    assert.equal(0, limiter.duration("0s"))
    assert.equal(1.5, limiter.duration("1.5"))
  end)

  it("gives nil for what is not a duration", function()
    for _, text in ipairs{ "", "s", "5x", "1m30", "abc", "-1s", "1s ", " 1s" } do
      assert.is_nil(limiter.duration(text), text)
    end
    assert.is_nil(limiter.duration(nil))
    assert.is_nil(limiter.duration(5))
  end)
end)

describe("limiter buckets", function()
  it("refills continuously: 600 rpm lets a burst of 10 through, then one every 100 ms", function()
    local f = fake{ rpm = 600 }
    f.start(zeros(14))
    f.run()
    assert_times({ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.1, 0.2, 0.3, 0.4 }, f.times())
  end)

  it("500 rpm admits one request every 120 ms once the burst is spent", function()
    local f = fake{ rpm = 500 }
    f.start(zeros(12))
    f.run()
    local t = f.times()
    for i = 1, 8 do assert.equal(0, t[i]) end -- 8.33 requests fit in one second's burst
    assert.is_true(math.abs(t[9] - 0.08) < SLACK, "the ninth waits for the bucket's last 2/3 request")
    for i = 10, 12 do
      assert.is_true(math.abs(t[i] - t[i - 1] - 0.12) < SLACK, ("gap before %d: %.6f"):format(i, t[i] - t[i - 1]))
    end
  end)

  it("keeps no more than one second's burst over an idle spell", function()
    local f = fake{ rpm = 600 }
    f.start(zeros(10))
    f.clock.now = 60 -- a minute idle: the bucket is full, not 600 deep
    f.start(zeros(12))
    f.run()
    local t = f.times()
    assert.equal(22, #t)
    for i = 11, 20 do assert.equal(60, t[i]) end
    assert.is_true(math.abs(t[21] - 60.1) < SLACK and math.abs(t[22] - 60.2) < SLACK)
  end)

  it("without limits admits everything at once", function()
    local f = fake()
    f.start(zeros(100, 5000))
    assert.equal(100, #f.admitted)
    assert.is_nil(f.scheduler:timeout())
  end)

  it("paces tokens per minute; a request larger than the bucket waits for a full one and leaves a debt", function()
    local f = fake{ tpm = 6000 } -- 100 tokens/s, holds 100
    f.start{ 50, 50, 50, 250, 50 }
    f.run()
    -- 0, 0, then 0.5 s for 50 more; the 250 waits for a full bucket (1.5 s), leaving
    -- -150: the last 50 needs 2 s more.
    assert_times({ 0, 0, 0.5, 1.5, 3.5 }, f.times())
  end)

  it("admits in FIFO order: a big request is not overtaken by small ones", function()
    local f = fake{ tpm = 6000 }
    f.start{ 100, 80, 10 }
    f.run()
    assert.same({ 1, 2, 3 }, { f.admitted[1].i, f.admitted[2].i, f.admitted[3].i })
    assert_times({ 0, 0.8, 0.9 }, f.times())
  end)

  it("corrects the token estimate by the usage reported", function()
    local f = fake{ tpm = 6000 }
    f.start{ 100, 100 }
    assert.equal(1, #f.admitted)
    f.limiter:settle(100, 20) -- it used 20: 80 come back
    f.run()
    assert_times({ 0, 0.2 }, f.times())
    local g = fake{ tpm = 6000 }
    g.start{ 100, 100 }
    g.limiter:settle(100, 300) -- it used 300: 200 more owed
    g.run()
    assert_times({ 0, 3 }, g.times())
  end)

  it("lets a request that gives up leave its place to the next", function()
    local f = fake{ rpm = 60 }
    local gone = {}
    f.start(zeros(3), gone)
    assert.equal(1, #f.admitted)
    gone[2] = true
    local second = f.limiter.waiting[f.limiter.first].task
    f.scheduler:wake(second)
    f.run()
    assert.equal(2, #f.admitted)
    assert.equal(3, f.admitted[2].i)
    assert_times({ 0, 1 }, f.times())
  end)

  it("restrict tightens until released; the loosest of none is no limit", function()
    local f = fake{ rpm = 1200 }
    assert.same({ 1200 }, { f.limiter:limits() })
    local release = f.limiter:restrict{ rpm = 600, tpm = 1000 }
    local rpm, tpm = f.limiter:limits()
    assert.equal(600, rpm)
    assert.equal(1000, tpm)
    local looser = f.limiter:restrict{ rpm = 6000 }
    assert.equal(600, (f.limiter:limits()))
    release()
    rpm, tpm = f.limiter:limits()
    assert.equal(1200, rpm)
    assert.is_nil(tpm)
    looser()
    assert.equal(1200, (f.limiter:limits()))
    assert.equal("gptaudio.Limiter(rpm 1200, tpm unlimited)", tostring(f.limiter))
  end)
end)

describe("limiter and the server's word", function()
  it("holds everyone until the reset when the server has no requests left", function()
    for _, case in ipairs{ { "6m0s", 360 }, { "1s", 1 }, { "12ms", 0.012 }, { "1m30.5s", 90.5 } } do
      local f = fake() -- no limit of its own: the server's word is enough
      f.limiter:observe{ ["x-ratelimit-remaining-requests"] = "0", ["x-ratelimit-reset-requests"] = case[1] }
      f.start(zeros(3))
      assert.equal(0, #f.admitted, case[1])
      f.run()
      assert_times({ case[2], case[2], case[2] }, f.times())
    end
  end)

  it("holds everyone until the token reset when no tokens are left", function()
    local f = fake{ tpm = 60000 }
    f.limiter:observe{ ["x-ratelimit-remaining-tokens"] = "0", ["x-ratelimit-reset-tokens"] = "1m30.5s" }
    f.start{ 10 }
    f.run()
    assert.is_true(f.times()[1] >= 90.5 - SLACK)
  end)

  it("shrinks the burst to what the server says remains", function()
    local f = fake{ rpm = 600 }
    f.limiter:observe{ ["x-ratelimit-remaining-requests"] = "3", ["x-ratelimit-reset-requests"] = "6s",
                       ["x-ratelimit-remaining-tokens"] = "junk" }
    f.start(zeros(5))
    f.run()
    assert_times({ 0, 0, 0, 0.1, 0.2 }, f.times())
  end)

  it("ignores responses without the headers", function()
    local f = fake{ rpm = 600 }
    f.limiter:observe(nil)
    f.limiter:observe{ ["content-type"] = "application/json" }
    f.start(zeros(10))
    assert.equal(10, #f.admitted)
  end)

  it("a 429 holds every waiting request, which then restart at the steady rate", function()
    local f = fake{ rpm = 600 }
    f.start(zeros(10)) -- the burst is spent
    f.limiter:hold(2)
    f.start(zeros(3))
    f.run(1.99)
    assert.equal(10, #f.admitted)
    f.run()
    local t = f.times()
    assert_times({ 2.1, 2.2, 2.3 }, { t[11], t[12], t[13] })
  end)

  it("a 429 holds even a limiter without limits", function()
    local f = fake()
    f.limiter:hold(0.5)
    f.start(zeros(4))
    assert.equal(0, #f.admitted)
    assert.equal(0.5, f.scheduler:timeout())
    f.run()
    assert_times({ 0.5, 0.5, 0.5, 0.5 }, f.times())
  end)
end)

describe("limiter.estimate", function()
  it("counts text at 4 bytes a token, WAV audio at 10 tokens a second, plus the output limit", function()
    local wav_second = ("A"):rep(64000) -- base64 of 48,000 bytes: 1 s of 24 kHz 16-bit mono
    local op = { json = { model = "gpt-audio-mini", max_completion_tokens = 100, messages = {
      { role = "user", content = { { type = "text", text = "hi" },
                                   { type = "input_audio", input_audio = { data = wav_second, format = "wav" } } } },
    } } }
    local body = ("x"):rep(64000 + 400) -- the encoded body: the audio plus 400 bytes of JSON
    assert.equal(100 + 10 + 100, limiter.estimate(op, body))
  end)

  it("counts MP3 at 128 kbit/s, plain bodies as text, multipart files by size", function()
    local mp3 = { json = { messages = { { content = {
      { type = "input_audio", input_audio = { data = ("A"):rep(64000), format = "mp3" } } } } } } }
    assert.equal(30, limiter.estimate(mp3, ("x"):rep(64000)))
    assert.equal(25, limiter.estimate({ body = ("b"):rep(100) }, ("b"):rep(100)))
    assert.equal(0, limiter.estimate({}, nil))
    local multipart = { multipart = {
      { name = "model", data = ("m"):rep(40) },
      { name = "file", filename = "speech.wav", data = ("w"):rep(48000 * 2) },
    } }
    assert.equal(10 + 20, limiter.estimate(multipart, nil))
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(("w"):rep(48000 * 3))
    f:close()
    assert.equal(30, limiter.estimate({ multipart = { { name = "file", path = path } } }, nil))
    os.remove(path)
  end)
end)
