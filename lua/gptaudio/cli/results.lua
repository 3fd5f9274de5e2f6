-- The JSONL results file of a batch: one JSON object per line, one line per
-- finished input, so a run can be stopped at any point and resumed.
--
--   file, err = results.open(path)   reads what is there and opens it for appending
--   file.done[path]                  the line already written for that input (a success)
--   file:write(object)               one line, whole, in one write, flushed
--   file:close()
-- On open, lines that are not JSON objects (the cut-off last line of a killed
-- run) and lines of failed inputs are dropped, so those inputs run again; the
-- file is then rewritten through a temporary file and a rename, so it is never
-- half-rewritten.
local json = require "gptaudio.json"

local results = {}

local Results = {}
Results.__index = Results

-- The complete lines of the file, and whether a cut-off last line was left out.
local function read_lines(path)
  local f = io.open(path, "rb")
  if not f then return {}, false end
  local text = f:read("*a")
  f:close()
  local lines = {}
  for line in text:gmatch("([^\n]*)\n?") do
    if line ~= "" then lines[#lines + 1] = line end
  end
  -- A last line without its newline was cut off mid-write, even when it parses.
  local cut = text ~= "" and text:sub(-1) ~= "\n"
  if cut then lines[#lines] = nil end
  return lines, cut
end

local function rewrite(path, lines)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(table.concat(lines))
  f:close()
  if not ok then
    os.remove(tmp)
    return nil, werr
  end
  return os.rename(tmp, path)
end

function results.open(path)
  local lines, dropped = read_lines(path)
  local kept, done = {}, {}
  for _, line in ipairs(lines) do
    local object = json.decode(line)
    local input = type(object) == "table" and json.get(object, "path")
    if type(input) == "string" and json.get(object, "error") == nil and not done[input] then
      done[input] = line
      kept[#kept + 1] = line .. "\n"
    else
      dropped = true
    end
  end
  if dropped then
    local ok, err = rewrite(path, kept)
    if not ok then return nil, err end
  end
  local f, err = io.open(path, "ab")
  if not f then return nil, err end
  -- Unbuffered: each line leaves in the one write that carries it, never split
  -- across a buffer flush.
  f:setvbuf("no")
  return setmetatable({ f = f, done = done, kept = #kept }, Results)
end

function Results:write(object)
  local ok, err = self.f:write(json.encode(object) .. "\n")
  if not ok then return nil, err end
  return true
end

function Results:close()
  self.f:close()
end

return results
