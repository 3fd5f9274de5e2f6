-- Every format through the optional module gptaudio.ffmpeg: files made at
-- test time by the ffmpeg command from espeak-ng speech are read (whole, from
-- memory, and streamed), buffers are written in every format, and bad input
-- gives nil, err. Without the module, core says what is missing.
local audio = require("gptaudio").audio
local media = require "spec.support.media"
local util = require "spec.support.util"

local DURATION_TOLERANCE = 0.030

local dir = util.temp_dir()
local source = media.make(dir)
local function path_of(ext) return dir .. "/speech." .. ext end

teardown(function() util.remove_tree(dir) end)

local function assert_close_to_source(buf, snr_floor, what)
  assert.is_true(math.abs(buf.duration - source.duration) <= DURATION_TOLERANCE,
    ("%s: %.4f s decoded, %.4f s in the source"):format(what, buf.duration, source.duration))
  if snr_floor then
    local snr = media.snr(source, buf)
    assert.is_true(snr >= snr_floor, ("%s: %.1f dB against the source, below %d dB"):format(what, snr, snr_floor))
  else
    -- lossless: the 16-bit samples come back exactly
    assert.equal(source.rate, buf.rate)
    assert.is_true(buf:encode("pcm16") == source:encode("pcm16"), what .. ": samples differ")
  end
end

describe("reading every format", function()
  for _, f in ipairs(media.FORMATS) do
    it(f.ext .. ": load, decode from memory and the streamed reader give the source's length and samples",
      function()
        local loaded = assert(audio.load(path_of(f.ext)))
        assert_close_to_source(loaded, f.snr, "load " .. f.ext)
        local decoded = assert(audio.decode(util.read_file(path_of(f.ext))))
        assert.is_true(decoded:encode("f32") == loaded:encode("f32"), "decode and load agree")

        local reader = assert(audio.open(path_of(f.ext)))
        assert.equal(loaded.rate, reader.rate)
        assert.equal(loaded.channels, reader.channels)
        assert.equal(f.codec, reader.codec)
        assert.is_true(math.abs(reader.duration - source.duration) <= DURATION_TOLERANCE, "duration up front")
        local joined, chunks = audio.new{ rate = reader.rate, channels = reader.channels }, 0
        while true do
          local chunk, err = reader:read(4000)
          assert.is_nil(err)
          if not chunk then break end
          assert.is_true(chunk.frames >= 1 and chunk.frames <= 4000)
          joined:append(chunk)
          chunks = chunks + 1
        end
        assert.equal(math.ceil(loaded.frames / 4000), chunks)
        assert.is_true(joined:encode("f32") == loaded:encode("f32"), "the chunks join into the whole")
        assert.is_nil(reader:read())
        reader:close()
        local ok, message = pcall(reader.read, reader)
        assert.is_false(ok)
        assert.matches("AudioReader is closed", message, 1, true)
        -- a closed reader's methods are still found; no metamethod or other key is
        assert.is_function(reader.close)
        for _, key in ipairs{ "__gc", "__index", "no_such_field", 1, true } do assert.is_nil(reader[key]) end
      end)
  end

  it("the content decides, not the name: an mp3 named .wav, and a wrong format hint", function()
    local misnamed = dir .. "/really-mp3.wav"
    util.write_file(misnamed, util.read_file(path_of("mp3")))
    assert.equal(source.rate, assert(audio.load(misnamed)).rate)
    assert.is_true(math.abs(assert(audio.decode(util.read_file(path_of("ogg")), "m4a")).duration
                            - source.duration) <= DURATION_TOLERANCE)
  end)

  it("open converts to the rate and channel count asked for (the chat route's 24 kHz mono)", function()
    local reader = assert(audio.open(path_of("opus"), { rate = 24000, channels = 1 }))
    assert.equal(24000, reader.rate)
    assert.equal(48000, reader.source_rate)
    local whole = audio.new{ rate = 24000 }
    for chunk in function() return reader:read(24000) end do whole:append(chunk) end
    assert.is_true(math.abs(whole.duration - source.duration) <= DURATION_TOLERANCE)
    assert.is_true(media.snr(source, whole) >= 6)
    local stereo = assert(audio.open(path_of("flac"), { channels = 2 })):read(100)
    assert.equal(2, stereo.channels)
    assert.equal(stereo:sample(50, 1), stereo:sample(50, 2))
  end)

  it("formats() names what this build reads and writes", function()
    local formats = audio.formats()
    assert.is_true(formats.ffmpeg)
    local reads, writes = {}, {}
    for _, name in ipairs(formats.read) do reads[name] = true end
    for _, name in ipairs(formats.write) do writes[name] = true end
    for _, name in ipairs{ "wav", "mp3", "m4a", "ogg", "opus", "flac", "webm", "mp4", "aiff", "caf" } do
      assert.is_true(reads[name], name)
    end
    for _, name in ipairs{ "wav", "pcm16", "f32", "flac", "mp3", "opus", "aac" } do
      assert.is_true(writes[name], name)
    end
  end)
end)

describe("writing every format", function()
  -- The least SNR each encoder keeps at its default bitrate for mono speech.
  local WRITTEN = {
    { format = "flac", ext = "flac", container = "flac", codec = "flac" },
    { format = "mp3", ext = "mp3", container = "mp3", codec = "mp3", snr = 10 },
    { format = "opus", ext = "ogg", container = "ogg", codec = "opus", snr = 4 },
    { format = "aac", ext = "m4a", container = "mov,mp4,m4a,3gp,3g2,mj2", codec = "aac", snr = 10 },
  }
  for _, w in ipairs(WRITTEN) do
    it(w.format .. ": encode and save(." .. w.ext .. ") write a real " .. w.format ..
       " file of the source's length", function()
      local bytes = assert(source:encode(w.format))
      assert_close_to_source(assert(audio.decode(bytes)), w.snr, "encode " .. w.format)
      local path = dir .. "/written." .. w.ext
      assert.is_true(source:save(path))
      assert.same({ w.container, w.codec }, { media.probe(path) })
      assert_close_to_source(assert(audio.load(path)), w.snr, "save " .. w.ext)
    end)
  end

  it("a lower bitrate makes a smaller file; save takes the format given over the extension", function()
    local small = assert(source:encode("mp3", { bitrate = 24000 }))
    local large = assert(source:encode("mp3", { bitrate = 128000 }))
    assert.is_true(#small < #large / 3, #small .. " vs " .. #large)
    local path = dir .. "/named.wav"
    assert.is_true(source:save(path, "opus"))
    assert.same({ "ogg", "opus" }, { media.probe(path) })
    assert.is_true(source:save(dir .. "/plain.pcm"))
    assert.equal(source.frames * 2, #util.read_file(dir .. "/plain.pcm"))
  end)

  it("stereo at 44.1 kHz keeps its channels; opus goes to 48 kHz", function()
    local stereo = source:resample(44100):to_channels(2)
    local back = assert(audio.decode(assert(stereo:encode("opus"))))
    assert.equal(2, back.channels)
    assert.equal(48000, back.rate)
    assert.is_true(math.abs(back.duration - stereo.duration) <= DURATION_TOLERANCE)
    local many = audio.new{ rate = 24000, channels = 3, frames = 100 }
    local ok, err = many:encode("mp3")
    assert.is_nil(ok)
    assert.equal("audio", err.type)
    assert.matches("3 channels", err.message, 1, true)
  end)

  it("an empty buffer encodes and decodes to no frames or an audio error, never a crash", function()
    for _, f in ipairs{ "flac", "mp3", "opus", "aac" } do
      local bytes = assert(audio.new{ rate = 24000 }:encode(f))
      local back, err = audio.decode(bytes)
      assert.is_true((back and back.frames < 4800) or err.type == "audio")
    end
  end)
end)

describe("bad input to the decoder", function()
  local function assert_audio_error(pattern, buf, err)
    assert.is_nil(buf)
    assert.equal("audio", err.type)
    if pattern then assert.matches(pattern, err.message) end
  end

  it("truncated files give the part they hold or an audio error", function()
    for _, f in ipairs(media.FORMATS) do
      local bytes = util.read_file(path_of(f.ext))
      for _, fraction in ipairs{ 0.02, 0.3, 0.6, 0.97 } do
        local cut = bytes:sub(1, math.floor(#bytes * fraction))
        local buf, err = audio.decode(cut)
        if buf then
          assert.is_true(buf.duration <= source.duration + DURATION_TOLERANCE, f.ext .. " cut at " .. fraction)
        else
          assert.equal("audio", err.type)
        end
      end
    end
  end)

  it("a video without sound says it has no audio stream", function()
    local path = dir .. "/picture.mp4"
    assert.is_true(util.succeeded(util.spawn_env() .. " ffmpeg -nostdin -loglevel error -y -f lavfi " ..
      "-i testsrc=size=64x48:rate=10 -t 1 -c:v mpeg4 " .. path .. " >/dev/null 2>&1"))
    assert_audio_error("no audio stream", audio.load(path))
    assert_audio_error("no audio stream", audio.open(path))
  end)

  -- An AIFF header: channels, frames, bits and an 80-bit rate, as the file claims them.
  local function aiff(channels, rate_exponent, data)
    local function be16(v) return string.char(math.floor(v / 256) % 256, v % 256) end
    local function be32(v) return be16(math.floor(v / 65536) % 65536) .. be16(v % 65536) end
    local rate = be16(rate_exponent) .. "\172\68\0\0\0\0\0\0"  -- 44100 when the exponent is 16398
    local comm = "COMM" .. be32(18) .. be16(channels) .. be32(#data / 2) .. be16(16) .. rate
    local ssnd = "SSND" .. be32(8 + #data) .. be32(0) .. be32(0) .. data
    return "FORM" .. be32(4 + #comm + #ssnd) .. "AIFF" .. comm .. ssnd
  end

  it("0 channels or a 0 Hz rate give an audio error", function()
    local data = ("\1\0"):rep(1000)
    assert.equal(44100, assert(audio.decode(aiff(1, 16398, data))).rate)
    assert_audio_error(nil, audio.decode(aiff(0, 16398, data)))
    assert_audio_error(nil, audio.decode(aiff(1, 0, data)))
    assert_audio_error(nil, audio.decode(aiff(65, 16398, data)))
  end)

  it("huge headers and lying sizes end quickly in an audio error or a small buffer", function()
    local mp3 = util.read_file(path_of("mp3"))
    local m4a = util.read_file(path_of("m4a"))
    local cases = {
      -- an ID3 tag claiming 256 MB
      "ID3\4\0\0\127\127\127\127" .. ("\0"):rep(1000),
      -- an mp4 box claiming 4 GB, and one claiming 2^64 bytes
      "\255\255\255\240ftypM4A " .. ("\0"):rep(200),
      "\0\0\0\1moov\255\255\255\255\255\255\255\255" .. ("\0"):rep(200),
      -- the m4a's first 4 kB, then noise
      m4a:sub(1, 4096) .. ("\171"):rep(20000),
      -- an mp3 whose frames are repeated headers with nothing in them
      ("\255\251\144\100"):rep(5000),
      mp3:sub(1, 200) .. mp3:sub(1, 200),
    }
    for i, bytes in ipairs(cases) do
      local buf, err = audio.decode(bytes)
      if buf then
        assert.is_true(buf.duration < 60, "case " .. i)
      else
        assert.equal("audio", err.type, "case " .. i)
      end
    end
  end)

  it("a file that lies about its duration decodes to what it holds", function()
    -- FLAC's STREAMINFO holds the total samples in bytes 22-26 (after "fLaC" and the block header)
    local flac = util.read_file(path_of("flac"))
    local lying = flac:sub(1, 21) .. string.char(flac:byte(22) - flac:byte(22) % 16 + 0x0F) .. "\255\255\255\255"
                  .. flac:sub(27)
    local lying_path = dir .. "/lying.flac"
    util.write_file(lying_path, lying)
    local reader = assert(audio.open(lying_path))
    assert.is_true(reader.duration > 1000, "the header claims " .. tostring(reader.duration))
    local buf = assert(audio.decode(lying))
    assert.is_true(math.abs(buf.duration - source.duration) <= DURATION_TOLERANCE)
  end)

  it("random bytes never crash", function()
    math.randomseed(1414)
    local m4a = util.read_file(path_of("m4a"))
    for round = 1, 300 do
      local at = math.random(1, #m4a)
      local bytes = m4a:sub(1, at - 1) .. string.char(math.random(0, 255)) .. m4a:sub(at + 1)
      if round % 3 == 0 then bytes = bytes:sub(1, math.random(0, #bytes)) end
      local buf, err = audio.decode(bytes)
      assert.is_true(buf ~= nil or err.type == "audio")
    end
  end)
end)

describe("without gptaudio.ffmpeg", function()
  -- A child whose C path holds gptaudio.core alone. It runs in that folder:
  -- the default path's ./?.so would find a gptaudio/ffmpeg.so that `luarocks
  -- make` left in the checkout.
  local function child(code)
    local cdir = util.temp_dir()
    finally(function() util.remove_tree(cdir) end)
    local core_path = util.absolute_paths(package.searchpath("gptaudio.core", package.cpath))
    os.execute("mkdir -p " .. cdir .. "/gptaudio && cp " .. util.shell_quote(core_path) .. " " .. cdir .. "/gptaudio/")
    return util.read_command(("cd %s && %s LUA_PATH=%s LUA_CPATH=%s %s -e %s 2>&1"):format(util.shell_quote(cdir),
      util.spawn_env(), util.shell_quote(util.absolute_paths(package.path)), util.shell_quote(cdir .. "/?.so;;"),
      util.LUA, util.shell_quote(code)))
  end

  it("WAV works, and every other format says what is missing and how to get it", function()
    local out = child(([[
      local audio = require("gptaudio").audio
      local wav = assert(audio.load(%q))
      print("wav", wav.frames)
      local _, err = audio.load(%q)
      print("load", err.type, err.message)
      _, err = audio.decode(%q)
      print("decode", err.type)
      _, err = wav:encode("mp3")
      print("encode", err.type, err.message)
      _, err = wav:save(%q)
      print("save", err.type)
      _, err = audio.open(%q)
      print("open", err.type)
      local formats = audio.formats()
      print("formats", formats.ffmpeg, table.concat(formats.read, ","), table.concat(formats.write, ","))
    ]]):format(dir .. "/speech.wav", path_of("m4a"), "ID3\4\0\0\0\0\0\0", dir .. "/x.mp3", path_of("ogg")))
    assert.matches("wav\t" .. source.frames, out, 1, true)
    assert.matches("load\taudio\treading " .. path_of("m4a") .. " %(not a WAV file%) needs the optional module "
                   .. "gptaudio%.ffmpeg, which is not installed %(module 'gptaudio%.ffmpeg' not found%)%. "
                   .. "`make build` builds it when FFmpeg's libraries are installed "
                   .. "%(Debian: libavformat%-dev libavcodec%-dev libswresample%-dev%)", out)
    assert.matches("decode\taudio", out, 1, true)
    assert.matches("encode\taudio\tencoding to mp3 needs the optional module gptaudio.ffmpeg", out, 1, true)
    assert.matches("save\taudio", out, 1, true)
    assert.matches("open\taudio", out, 1, true)
    assert.matches("formats\tfalse\twav\twav,pcm16,f32", out, 1, true)
    assert.is_false(util.exists(dir .. "/x.mp3"))
  end)
end)
