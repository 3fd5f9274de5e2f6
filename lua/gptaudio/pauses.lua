-- The pauses in a stretch of audio, from its loudness over time (a list of
-- dBFS levels, one per short window, from core.audio.level_meter): an energy
-- threshold set between the recording's quiet floor and its speech, and the
-- runs of windows under it.
--
--   db = pauses.threshold(levels, first, last)
--   runs = pauses.find(levels, first, last, db, min_windows)   { {first, last}, ... } window indices
-- Internal: not part of the API (doc/API.md is the manual); the calls use it.
local pauses = {}

-- The quiet floor and the speech level: low and high percentiles, robust to
-- clicks and to a few loud or dead windows.
local FLOOR_PERCENTILE, SPEECH_PERCENTILE = 0.10, 0.90
-- Where between them a window counts as quiet: near the floor, since speech
-- dips (stops, breaths) fall well under its level without being pauses.
local SPLIT = 0.3
-- A recording with no contrast (all speech, all noise or all silence): only
-- what is this much above the floor counts as loud.
local MIN_MARGIN_DB = 3

--- The level under which a window of levels[first..last] is quiet.
function pauses.threshold(levels, first, last)
  local sorted = {}
  for i = first, last do sorted[#sorted + 1] = levels[i] end
  if #sorted == 0 then return -math.huge end
  table.sort(sorted)
  local floor = sorted[math.max(1, math.ceil(#sorted * FLOOR_PERCENTILE))]
  local speech = sorted[math.max(1, math.ceil(#sorted * SPEECH_PERCENTILE))]
  return floor + math.max(MIN_MARGIN_DB, (speech - floor) * SPLIT)
end

--- The runs of at least min_windows consecutive windows under db in
--- levels[first..last], in order, as {first, last} window indices.
function pauses.find(levels, first, last, db, min_windows)
  local runs, start = {}, nil
  for i = first, last + 1 do
    local quiet = i <= last and levels[i] < db
    if quiet and not start then
      start = i
    elseif not quiet and start then
      if i - start >= min_windows then runs[#runs + 1] = { start, i - 1 } end
      start = nil
    end
  end
  return runs
end

--- The first and last window of levels[first..last] at or over db (speech),
--- or nil when there is none.
function pauses.speech_span(levels, first, last, db)
  local from, to
  for i = first, last do
    if levels[i] >= db then
      from = from or i
      to = i
    end
  end
  return from, to
end

return pauses
