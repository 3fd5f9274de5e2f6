-- The JSONL results file of a batch: one JSON object per line, one line per
-- finished input, so a run can be stopped at any point and resumed.
--
--   file, err = results.open(path)   locks it, reads what is there, opens it for appending
--   file.done[key]                   the line already written for that input (a success)
--   file:write(object)               one line, whole, in one write
--   file:close()                     true | nil, err; releases the lock
--   results.key(object)              the input a line is about (see results.path_fields)
--
-- One run at a time: an exclusive lock on PATH.lock (flock: the kernel drops
-- it when the run ends in any way, kill -9 included) refuses a second run on
-- the same file, which would send every input again and lose lines to the
-- other's rewrite. The lock file stays; it is empty.
--
-- On open, lines that are not JSON objects (the cut-off last line of a killed
-- run) and lines of failed inputs are dropped, so those inputs run again; the
-- file is then rewritten through a temporary file and a rename, so it is never
-- half-rewritten. Every write and the close are checked, and the temporary
-- file replaces the results only when it holds every kept byte: a full disk
-- fails the run and leaves the file as it was.
local core = require "gptaudio.core"
local json = require "gptaudio.json"

local results = {}

local Results = {}
Results.__index = Results

-- The complete lines of the file, and whether a cut-off last line was left out;
-- nil, err when the file exists but cannot be read.
local function read_lines(path)
  local f = io.open(path, "rb")
  if not f then return {}, false end
  local text, err = f:read("*a")
  f:close()
  if not text then return nil, ("cannot read %s: %s"):format(path, tostring(err)) end
  local lines = {}
  for line in text:gmatch("([^\n]*)\n?") do
    if line ~= "" then lines[#lines + 1] = line end
  end
  -- A last line without its newline was cut off mid-write, even when it parses.
  local cut = text ~= "" and text:sub(-1) ~= "\n"
  if cut then lines[#lines] = nil end
  return lines, cut
end

-- Writes text to path whole, or fails and leaves nothing there.
local function write_whole(path, text)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  local size = ok and f:seek("end")
  local closed, cerr = f:close()
  if not ok or not closed or size ~= #text then
    os.remove(path)
    return nil, ("cannot write %s: %s"):format(path, tostring(werr or cerr or "short write"))
  end
  return true
end

local function rewrite(path, lines)
  local tmp = path .. ".tmp"
  local ok, err = write_whole(tmp, table.concat(lines))
  if not ok then return nil, err end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    return nil, rerr
  end
  return true
end

--- The input a line is about: its exact path bytes (path_base64 when the
--- name is not UTF-8), else its path.
function results.key(object)
  local exact = json.get(object, "path_base64")
  if type(exact) == "string" then return core.base64_decode(exact) end
  local path = json.get(object, "path")
  return type(path) == "string" and path or nil
end

--- The fields that name an input in its line: "path", valid UTF-8 with each
--- byte of an invalid sequence as U+FFFD, and, when the name is not UTF-8,
--- "path_base64" holding its exact bytes (JSON strings cannot).
function results.path_fields(path)
  if json.is_utf8(path) then return { path = path } end
  return { path = json.to_utf8(path), path_base64 = core.base64_encode(path) }
end

function results.open(path)
  local kind = core.file_kind(path)
  if kind and kind ~= "regular file" then
    return nil, ("%s is a %s, not a results file"):format(path, kind)
  end
  local lock, why, held = core.lock_file(path .. ".lock")
  if not lock then
    if held then return nil, ("%s is in use by another batch run; wait for it to end"):format(path) end
    return nil, "cannot lock the results file: " .. why.message
  end
  local lines, dropped = read_lines(path)
  if not lines then
    lock:unlock()
    return nil, dropped
  end
  local kept, done = {}, {}
  for _, line in ipairs(lines) do
    local object = json.decode(line)
    local input = type(object) == "table" and results.key(object)
    if input and json.get(object, "error") == nil and not done[input] then
      done[input] = line
      kept[#kept + 1] = line .. "\n"
    else
      dropped = true
    end
  end
  if dropped then
    local ok, err = rewrite(path, kept)
    if not ok then
      lock:unlock()
      return nil, err
    end
  end
  local f, err = io.open(path, "ab")
  if not f then
    lock:unlock()
    return nil, err
  end
  -- Unbuffered: each line leaves in the one write that carries it, never split
  -- across a buffer flush, and a full disk shows at that write.
  f:setvbuf("no")
  return setmetatable({ f = f, lock = lock, done = done, kept = #kept }, Results)
end

function Results:write(object)
  local ok, err = self.f:write(json.encode(object) .. "\n")
  if not ok then return nil, err end
  return true
end

function Results:close()
  local ok, err = self.f:close()
  self.lock:unlock()
  return ok, err
end

return results
