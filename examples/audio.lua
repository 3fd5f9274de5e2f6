-- The audio demo: load a real recording, trim its silence, resample it to the
-- model's 24 kHz and save it as a WAV, saying what each step did.
--   lua5.4 examples/audio.lua [input.wav]     (make demo runs it)
local audio = require("gptaudio").audio

local input = arg and arg[1] or "/usr/share/sounds/alsa/Front_Center.wav"
-- out/front_center_24k.wav for Front_Center.wav
local output = "out/" .. (input:match("([^/]+)%.[wW][aA][vV]$") or "audio"):lower() .. "_24k.wav"

local function dbfs(level)
  return level > 0 and ("%6.1f dBFS"):format(20 * math.log(level, 10)) or "  silence"
end

local function report(step, buf)
  print(("%-8s %7d frames  %6.3f s  %6d Hz  %d ch  peak %s  rms %s"):format(
    step, buf.frames, buf.duration, buf.rate, buf.channels, dbfs(buf:peak()), dbfs(buf:rms())))
end

local original, err = audio.load(input)
if not original then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
report("loaded", original)

local trimmed = original:trim(-50)
report("trimmed", trimmed)
print(("         %d frames (%.3f s) quieter than -50 dBFS cut from the ends"):format(
  original.frames - trimmed.frames, original.duration - trimmed.duration))

local at24k = trimmed:to_channels(1):resample(24000)
report("24 kHz", at24k)

os.execute("mkdir -p out")
assert(at24k:save(output))
local saved = assert(audio.load(output))
print(("saved    %s: %d frames at %d Hz, read back"):format(output, saved.frames, saved.rate))
