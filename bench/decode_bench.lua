-- Decoding through gptaudio.ffmpeg against the ffmpeg command on the same
-- 10-minute recordings (m4a and mp3, 44.1 kHz stereo speech made here from
-- espeak-ng), in one run: time and peak RSS of each way, to the source's
-- rate and channels and to the chat route's 24 kHz mono, whole (audio.load)
-- and streamed (audio.open, 30 s at a time). Also what the chat route would
-- upload for that audio as WAV and as the MP3 it converts to.
--   make bench, or by itself:
--   LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/decode_bench.lua
local util = require "spec.support.util"

local SECONDS = 600
local ROUNDS = 3
local run = util.read_command

local function machine()
  local model = run("lscpu 2>/dev/null"):match("Model name:%s*([^\n]+)") or "unknown cpu"
  return ("%s cpus (nproc), %s"):format(run("nproc"):gsub("%s+$", ""), model)
end

local dir = util.temp_dir()
local function sh(command)
  assert(util.succeeded(util.spawn_env() .. " " .. command .. " >/dev/null 2>&1"), command)
end
sh(("espeak-ng -w %s/sentence.wav %s"):format(dir, util.shell_quote(
  "Every recording a user has should be heard: memos, calls, meetings and messages, in any format.")))
sh(("ffmpeg -nostdin -y -stream_loop -1 -i %s/sentence.wav -t %d -ar 44100 -ac 2 %s/long.wav"):format(
  dir, SECONDS, dir))
sh(("ffmpeg -nostdin -y -i %s/long.wav -c:a aac -b:a 128k %s/long.m4a"):format(dir, dir))
sh(("ffmpeg -nostdin -y -i %s/long.wav -c:a libmp3lame -b:a 128k %s/long.mp3"):format(dir, dir))

-- Seconds and peak RSS (kB) of a shell command, by /usr/bin/time.
local function measure(command)
  local out = run(("%s /usr/bin/time -f 'time %%e %%M' %s 2>&1 >/dev/null"):format(util.spawn_env(), command))
  local seconds, kb = out:match("time ([%d.]+) (%d+)")
  assert(seconds and not out:find("non%-zero status"), out)
  return tonumber(seconds), tonumber(kb)
end

local lua = ('env LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="%s;;" lua5.4'):format(
  package.cpath:match("^[^;]*") or "build/5.4/?.so")
local OURS = {
  whole = [[local a = require("gptaudio").audio; local b = assert(a.load(arg[1])); print(b.frames * b.channels * 4)]],
  whole24 = [[local f = require("gptaudio.ffmpeg"); local b = assert(f.load(arg[1], {rate = 24000, channels = 1}));
              print(b.frames * 4)]],
  stream24 = [[local a = require("gptaudio").audio; local r = assert(a.open(arg[1], {rate = 24000, channels = 1}))
               local n = 0; while true do local c = r:read(24000 * 30); if not c then break end; n = n + c.frames
               c:close() end; print(n * 4)]],
}
local FFMPEG = {
  whole = "ffmpeg -nostdin -v error -i %s -f f32le -",
  whole24 = "ffmpeg -nostdin -v error -i %s -ac 1 -ar 24000 -f f32le -",
  stream24 = "ffmpeg -nostdin -v error -i %s -ac 1 -ar 24000 -f f32le -",
}
local MODES = { { "whole", "to the source's rate and channels (audio.load)" },
                { "whole24", "to 24 kHz mono (gptaudio.ffmpeg.load with rate, channels)" },
                { "stream24", "to 24 kHz mono, streamed 30 s at a time (audio.open)" } }

print(("# decode: %d s of 44.1 kHz stereo speech, best of %d rounds; %s"):format(SECONDS, ROUNDS, machine()))
print("| file | decoded | ours s | ffmpeg s | ours/ffmpeg | peak RSS ours | decoded MB | RSS/decoded "
      .. "| peak RSS ffmpeg |")
print("|---|---|---|---|---|---|---|---|---|")
for _, ext in ipairs{ "m4a", "mp3" } do
  local path = ("%s/long.%s"):format(dir, ext)
  for _, mode in ipairs(MODES) do
    local name = mode[1]
    local ours_s, ours_kb, ref_s, ref_kb = math.huge, 0, math.huge, 0
    local script = dir .. "/" .. name .. ".lua"
    util.write_file(script, OURS[name])
    for _ = 1, ROUNDS do
      local s, kb = measure(("%s %s %s"):format(lua, script, path))
      if s < ours_s then ours_s = s end
      ours_kb = math.max(ours_kb, kb)
      s, kb = measure(FFMPEG[name]:format(path))
      if s < ref_s then ref_s = s end
      ref_kb = math.max(ref_kb, kb)
    end
    local bytes = tonumber((run(("%s %s %s"):format(lua, script, path)):match("%d+")))
    local decoded_mb = bytes / 2 ^ 20
    print(("| %s | %s | %.2f | %.2f | %.2f | %.0f MB | %.0f | %.2f | %.0f MB |"):format(ext, mode[2], ours_s, ref_s,
      ours_s / ref_s, ours_kb / 1024, decoded_mb, ours_kb / 1024 / decoded_mb, ref_kb / 1024))
  end
end

-- What the chat route uploads for the same 10 minutes of speech: 16-bit WAV
-- at 24 kHz mono (what it sends an AudioBuffer as) and the MP3 it converts
-- other formats to, as bytes and as the JSON's base64.
local measure_upload = [[
local a = require("gptaudio").audio
local input = require("gptaudio.audio.input")
local b = assert(require("gptaudio.ffmpeg").load(arg[1], {rate = 24000, channels = 1}))
local wav = b:encode("wav")
local mp3 = assert(input.convert(arg[1]))
local slow = assert(b:encode("mp3", {bitrate = 32000}))
print(#wav, #mp3, #slow)]]
local script = dir .. "/upload.lua"
util.write_file(script, measure_upload)
local wav, mp3, slow = run(("%s %s %s/long.m4a"):format(lua, script, dir)):match("(%d+)%s+(%d+)%s+(%d+)")
local function mb(n) return tonumber(n) / 2 ^ 20 end
print()
print(("# chat route upload for %d s of speech (base64 is 4/3 of the bytes)"):format(SECONDS))
print("| sent as | bytes | in the JSON |")
print("|---|---|---|")
print(("| WAV 16-bit 24 kHz mono | %.1f MB | %.1f MB |"):format(mb(wav), mb(wav) * 4 / 3))
print(("| MP3 64 kb/s 24 kHz mono (converted formats) | %.1f MB | %.1f MB |"):format(mb(mp3), mb(mp3) * 4 / 3))
print(("| MP3 32 kb/s (over a size limit) | %.1f MB | %.1f MB |"):format(mb(slow), mb(slow) * 4 / 3))
util.remove_tree(dir)
