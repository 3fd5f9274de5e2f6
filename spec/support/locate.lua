-- Where a known sound lies in a recording of it, and how faithfully it came
-- through: the lag of the highest normalized cross-correlation, found on the
-- 10 ms energy envelopes first, then sample by sample around that at 8 kHz,
-- then at 24 kHz within a sample of that (at 8 kHz alone, a recording half a
-- sample out of phase with the sound correlates at 0.9 for a perfect copy).
--
--   local at, similarity = locate.find(recording, sound)   -- seconds into recording; 1 = identical
--   local parts = locate.parts(recording, sound, 4)        -- each quarter: { {at =, similarity =}, ... }
--   local at = assert(locate.whole(recording, sound))      -- all of it, in order, or nil, what is wrong
local locate = {}

local RATE = 8000
local FINE_RATE = 24000
local STEP = 80 -- 10 ms at RATE
local SEARCH = 2 * STEP

local function samples(buf, rate)
  local mono = buf.channels == 1 and buf or buf:to_channels(1)
  if mono.rate ~= rate then mono = mono:resample(rate) end
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
  local a, b = samples(recording, RATE), samples(sound, RATE)
  local ea, eb = envelope(a), envelope(b)
  local coarse = best(ea, eb, 0, math.max(0, #ea - #eb))
  local lag = best(a, b, math.max(0, coarse * STEP - SEARCH), coarse * STEP + SEARCH)
  local ratio = math.floor(FINE_RATE / RATE)
  local fine, score = best(samples(recording, FINE_RATE), samples(sound, FINE_RATE), math.max(0, (lag - 1) * ratio),
                           (lag + 1) * ratio)
  return fine / FINE_RATE, score
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

--- Whether all of sound is in recording, in order: each quarter found with a
--- similarity over 0.8 (a clean copy gives 0.99 and more; speech against
--- other speech or noise, under 0.3; a busy machine's player may drop a piece
--- or two), each where the one before says (up to 0.5 s late: an underrun
--- may shift what follows it). Returns where it starts (seconds into
--- recording), or nil and what is wrong.
function locate.whole(recording, sound)
  local parts = locate.parts(recording, sound, 4)
  for k, part in ipairs(parts) do
    if part.similarity <= 0.8 then return nil, ("quarter %d: similarity %.3f"):format(k, part.similarity) end
    local expected = parts[1].at + (k - 1) * sound.duration / 4
    if part.at < expected - 0.01 or part.at >= expected + 0.5 then
      return nil, ("quarter %d at %.3f s, not %.3f s"):format(k, part.at, expected)
    end
  end
  return parts[1].at
end

return locate
