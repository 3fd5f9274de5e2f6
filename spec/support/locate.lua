-- Where a known sound lies in a recording of it, and how faithfully it came
-- through: the lag of the highest normalized cross-correlation, found on the
-- 10 ms energy envelopes first and then sample by sample around that (at
-- 8 kHz: a sound server's resampling and mixing leave the speech band alone).
--
--   local at, similarity = locate.find(recording, sound)   -- seconds into recording; 1 = identical
--   local parts = locate.parts(recording, sound, 4)        -- each quarter: { {at =, similarity =}, ... }
local locate = {}

local RATE = 8000
local STEP = 80 -- 10 ms at RATE
local SEARCH = 2 * STEP

local function samples(buf)
  local mono = buf.channels == 1 and buf or buf:to_channels(1)
  if mono.rate ~= RATE then mono = mono:resample(RATE) end
  local t = {}
  for i = 1, mono.frames do t[i] = mono:sample(i, 1) end
  return t
end

local function envelope(x)
  local e = {}
  for k = 1, math.floor(#x / STEP) do
    local sum = 0
    for i = (k - 1) * STEP + 1, k * STEP do sum = sum + x[i] * x[i] end
    e[k] = math.sqrt(sum / STEP)
  end
  return e
end

-- Normalized correlation of b against a shifted by lag (a[lag + i] with b[i]).
local function similarity(a, b, lag)
  local ab, aa, bb = 0, 0, 0
  for i = math.max(1, 1 - lag), math.min(#b, #a - lag) do
    local x, y = a[lag + i], b[i]
    ab, aa, bb = ab + x * y, aa + x * x, bb + y * y
  end
  if aa == 0 or bb == 0 then return 0 end
  return ab / math.sqrt(aa * bb)
end

local function best(a, b, from, to)
  local lag, score = from, -math.huge
  for l = from, to do
    local s = similarity(a, b, l)
    if s > score then lag, score = l, s end
  end
  return lag, score
end

--- The seconds into `recording` where `sound` starts, and the normalized
--- correlation there (0 to 1). Both are AudioBuffers of any rate.
function locate.find(recording, sound)
  local a, b = samples(recording), samples(sound)
  local ea, eb = envelope(a), envelope(b)
  local coarse = best(ea, eb, 0, math.max(0, #ea - #eb))
  local lag, score = best(a, b, math.max(0, coarse * STEP - SEARCH), coarse * STEP + SEARCH)
  return lag / RATE, score
end

--- sound cut in n equal parts, each found in recording as find does: a
--- brief gap (a player's underrun) spoils one part, not the whole.
function locate.parts(recording, sound, n)
  local found, size = {}, math.floor(sound.frames / n)
  for k = 1, n do
    local at, score = locate.find(recording, sound:slice((k - 1) * size + 1, k * size))
    found[k] = { at = at, similarity = score }
  end
  return found
end

return locate
