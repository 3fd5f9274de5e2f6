-- Long recordings in client:transcribe: a recording longer than one request
-- of the model allows is cut at its pauses (chunker.lua), its pieces are sent
-- concurrently under the client's limits, and their texts, segments and usage
-- are joined in order into one Transcript.
--
--   tr, err = long.run(client, kind, audio, opts)   kind "transcribe" | "translate"
--                                                   (client:transcribe, client:translate)
--
-- opts.chunk: nil (pieces only when the recording is longer than one request
-- allows), true or a table (always pieces), false (one request, as given).
-- chunk = { target_seconds, max_seconds, min_silence, concurrency, on_progress }:
--   target_seconds   pieces aim at this long, cut at the nearest pause: 30 where the model
--                    gives no times (the chat route, gpt-4o(-mini)-transcribe), so each piece is
--                    a subtitle-sized segment; 90 for whisper-1 (verbose_json gives the times);
--                    as long as the limits allow for the diarizing model (speakers per request)
--   max_seconds      no piece is longer (default: the model's limits, with a 10% margin)
--   min_silence      the shortest pause a cut may fall in (0.3 s)
--   concurrency      pieces in flight at once (default: the client's max_concurrency, fewer
--                    when the pieces would hold more than 24 MB between them)
--   on_progress(done_seconds, total_seconds)   after each piece (total nil when unknown)
-- Each piece gets the last words of the latest earlier piece already transcribed as its
-- prompt (endpoint) or context line (chat route), after the caller's own prompt; with
-- concurrency = 1 that is always the piece just before it.
-- on_event gets each piece's events in piece order, with ev.piece and ev.offset, and
-- {type = "piece", piece, start, end, text} as each piece ends. When a piece still fails
-- after its retries, the rest go on: the call returns nil, err with err.partial the
-- transcript of the rest and tr.missing = { {start, end, error}, ... } naming each gap.
local check = require "gptaudio.check"
local chunker = require "gptaudio.chunker"
local errors = require "gptaudio.errors"
local pcall = require "gptaudio.engine.protect" -- may wait inside, on every Lua
local models = require "gptaudio.models"
local recording = require "gptaudio.recording"
local scheduler = require "gptaudio.engine.scheduler"
local transcript = require "gptaudio.transcript"
local usage = require "gptaudio.usage"

local long = {}

local DEFAULT_TARGET_SECONDS = 30
local DEFAULT_MIN_SILENCE = 0.3
-- whisper-1 gives its own times: its pieces need not be subtitle-sized, and
-- a minute and a half keeps memory under 100 MB while two go at once. (The diarizing
-- model's pieces are as long as the limits allow: it names speakers per request.)
local TIMED_TARGET_SECONDS = 90
-- Pieces stay this far inside the model's limits.
local MARGIN = 0.9
-- A piece is sent as 16 kHz 16-bit mono WAV (chunker.lua).
local PIECE_BYTES_PER_SECOND = 32000
-- What the pieces in flight may hold between them.
local MEMORY_BUDGET = 24 * 1024 * 1024
-- What a piece in flight holds, in multiples of its WAV: on the chat route the
-- WAV, its base64, the JSON body and the transport's copy of it; on the
-- endpoint the WAV and the transport's copy of the form.
local CHAT_FOOTPRINT, ENDPOINT_FOOTPRINT = 4, 2
-- How many of the previous piece's last words go with the next.
local CONTEXT_WORDS = 40
-- Response formats whose body is not the JSON the pieces are joined from.
local PLAIN_FORMATS = { text = true, srt = true, vtt = true }

local CHUNK_OPTIONS = {
  target_seconds = "positive number", max_seconds = "positive number", min_silence = "positive number",
  concurrency = "positive integer", on_progress = "function",
}

local function check_chunk(where, chunk)
  if chunk == nil or type(chunk) == "boolean" then return end
  if type(chunk) ~= "table" then
    error(("%s: 'chunk' must be a table, true or false (got %s)"):format(where, type(chunk)), 0)
  end
  check.known(where .. ": chunk", chunk, CHUNK_OPTIONS, "option")
  check.fields(where .. ": chunk", chunk, CHUNK_OPTIONS)
end

-- What the pieces of this model are sent as: the form options they add, and
-- whether the answer carries times of its own.
local function piece_route(model_id, opts)
  local id = models.base_id(model_id)
  if models.kind_of(model_id) ~= "transcription" then
    return { timed = false, context = "prompt", footprint = CHAT_FOOTPRINT }
  end
  if id:find("diarize", 1, true) then
    return { timed = true, footprint = ENDPOINT_FOOTPRINT,
             set = { response_format = "diarized_json", chunking_strategy = opts.chunking_strategy or "auto" } }
  end
  if id:find("^whisper") then
    local granularities = opts.timestamp_granularities or { "segment", "word" }
    return { timed = true, context = "prompt", footprint = ENDPOINT_FOOTPRINT, target = TIMED_TARGET_SECONDS,
             set = { response_format = "verbose_json", timestamp_granularities = granularities } }
  end
  return { timed = false, context = "prompt", footprint = ENDPOINT_FOOTPRINT, set = { response_format = "json" } }
end

-- The longest piece the model takes, with the margin: its duration limit, and
-- its upload limit at the pieces' bytes per second.
local function longest_piece(model_id)
  local limits = models.limits(model_id)
  local seconds = math.huge
  if limits.max_audio_seconds then seconds = limits.max_audio_seconds * MARGIN end
  if limits.max_upload_bytes then
    seconds = math.min(seconds, limits.max_upload_bytes * MARGIN / PIECE_BYTES_PER_SECOND)
  end
  return seconds
end

local function last_words(text, count)
  local words = {}
  for word in text:gmatch("%S+") do words[#words + 1] = word end
  return table.concat(words, " ", math.max(1, #words - count + 1))
end

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

---------------------------------------------------------------- events in piece order

-- Each piece's events are passed on live while it is the earliest piece not
-- ended; a later piece's wait in its queue until then.
local Order = {}
Order.__index = Order

local function new_order(on_event)
  return setmetatable({ on_event = on_event, current = 1, queued = {}, ended = {} }, Order)
end

function Order:emit(index, ev)
  if not self.on_event then return end
  if index == self.current then return self.on_event(ev) end
  local queue = self.queued[index] or {}
  queue[#queue + 1] = ev
  self.queued[index] = queue
end

function Order:finish(index)
  self.ended[index] = true
  while self.ended[self.current] do
    self.current = self.current + 1
    local queue = self.queued[self.current]
    self.queued[self.current] = nil
    for _, ev in ipairs(queue or {}) do self.on_event(ev) end
  end
end

---------------------------------------------------------------- one piece

-- The segments of a piece's transcript in the recording's time.
local function piece_segments(piece, tr)
  if type(tr.segments) == "table" and #tr.segments > 0 then
    return transcript.shift(tr.segments, piece.start, piece.stop)
  end
  if tr.text == "" then return {} end
  return { { start = piece.speech_start or piece.start, ["end"] = piece.speech_stop or piece.stop,
             text = (tr.text:gsub("^%s+", ""):gsub("%s+$", "")) } }
end

-- The context the latest earlier piece already transcribed gives piece `index`.
local function context_before(job, index)
  for j = index - 1, 1, -1 do
    local done = job.results[j]
    if done and done.tr and done.tr.text ~= "" then return last_words(done.tr.text, CONTEXT_WORDS) end
  end
end

local function piece_options(job, piece)
  local opts = copy(job.base)
  local context = job.route.context and context_before(job, piece.index)
  if context then opts.prompt = job.opts.prompt and (job.opts.prompt .. " " .. context) or context end
  local order = job.order
  if job.opts.on_event then
    opts.on_event = function(ev)
      if ev.type == "done" then return end
      local shown = copy(ev)
      shown.piece, shown.offset = piece.index, piece.start
      order:emit(piece.index, shown)
    end
  end
  if job.opts.on_progress then
    local on_progress = job.opts.on_progress
    opts.on_progress = function(ev)
      local shown = copy(ev)
      shown.piece = piece.index
      return on_progress(shown)
    end
  end
  return opts
end

-- What stops a call: control.requests holds its requests in flight, and
-- control.cancelled says no new one may start.
local function new_control()
  return { requests = {}, cancelled = false }
end

-- No new request starts; those in flight are cancelled.
local function cancel_control(control)
  control.cancelled = true
  for req in pairs(control.requests) do req:cancel() end
end

-- Runs one request of the call through control (see long.start): while it
-- runs, control.requests holds it, so that cancelling reaches it.
local function call(client, kind, control, audio, opts)
  local req = client:start(kind, audio, opts)
  control.requests[req] = true
  local tr, err = req:wait()
  control.requests[req] = nil
  return tr, err
end

local function send(job, piece)
  local wav = { data = piece.wav, format = "wav" }
  -- The request holds what it sends; the piece need not hold it too.
  piece.wav = nil
  local ok, tr, err = pcall(call, job.client, job.kind, job.control, wav, piece_options(job, piece))
  if not ok then
    job.raised = job.raised or tr
  elseif tr then
    job.results[piece.index] = { piece = piece, tr = tr }
    job.order:emit(piece.index, { type = "piece", piece = piece.index, start = piece.start, ["end"] = piece.stop,
                                  text = tr.text, total = job.total })
  else
    job.results[piece.index] = { piece = piece, err = err }
  end
  job.order:finish(piece.index)
  job.done_seconds = job.done_seconds + piece.seconds
  if job.chunk.on_progress then
    local fine, why = pcall(job.chunk.on_progress, job.done_seconds, job.total)
    if not fine then job.raised = job.raised or why end
  end
  job.in_flight = job.in_flight - 1
  if job.waiter then job.client.engine.scheduler:wake(job.waiter) end
end

---------------------------------------------------------------- the whole job

-- Cuts and sends every piece, at most job.concurrency at once.
local function run(job)
  job.waiter = scheduler.current()
  while not job.raised do
    while job.in_flight >= job.concurrency do scheduler.suspend() end
    if job.client.closed or job.control.cancelled then
      job.stopped = true
      break
    end
    local piece, err = job.cutter:next()
    if not piece then
      job.read_error = err
      break
    end
    job.pieces = piece.index
    job.in_flight = job.in_flight + 1
    scheduler.spawn(send, job, piece)
  end
  while job.in_flight > 0 do scheduler.suspend() end
  job.reader:close()
end

-- The joined Transcript, and the error when a piece is missing.
local function joined(job)
  local texts, segments, words, missing = {}, {}, {}, {}
  local usages, cost, first, spoken = {}, 0, nil, nil
  for i = 1, job.pieces do
    local done = job.results[i]
    if done.tr then
      local tr = done.tr
      first = first or tr
      if tr.text ~= "" then texts[#texts + 1] = (tr.text:gsub("^%s+", ""):gsub("%s+$", "")) end
      for _, s in ipairs(piece_segments(done.piece, tr)) do segments[#segments + 1] = s end
      if type(tr.words) == "table" then
        for _, w in ipairs(transcript.shift_words(tr.words, done.piece.start, done.piece.stop)) do
          words[#words + 1] = w
        end
      end
      usages[#usages + 1] = tr.usage
      cost = cost and tr.cost and cost + tr.cost
      if tr.audio then
        if spoken then spoken:append(tr.audio) else spoken = tr.audio end
      end
    else
      missing[#missing + 1] = { start = done.piece.start, ["end"] = done.piece.stop, error = done.err }
    end
  end
  local cut_to = job.cutter.start_frame / job.cutter.rate
  if job.stopped and job.total and cut_to < job.total then
    -- Stopped before the end (cancelled, the client closed): the rest is a gap too.
    missing[#missing + 1] = { start = cut_to, ["end"] = job.total,
                              error = errors.new{ type = "cancelled", message = "stopped before this part was sent" } }
  end
  local tr = transcript.new{
    text = table.concat(texts, " "), segments = segments, words = #words > 0 and words or nil,
    language = first and first.language, duration = job.total or cut_to,
    model = first and first.model or job.model, usage = usage.sum(usages), cost = #usages > 0 and cost or nil,
    pieces = job.pieces, missing = #missing > 0 and missing or nil, audio = spoken,
  }
  if job.read_error then
    local err = job.read_error
    err.partial = tr
    return nil, err
  end
  if #missing == 0 then return tr end
  local first_error = missing[1].error
  return nil, errors.new{
    type = first_error.type, status = first_error.status, code = first_error.code, partial = tr,
    message = ("%d of %d pieces failed (%s from %.1f s first): %s"):format(
      #missing, job.pieces, first_error.type, missing[1].start, first_error.message),
  }
end

--- How a call with these options would cut a long recording for model_id:
--- { route, target, max (seconds), concurrency } (the bench reads it too).
function long.plan(client, model_id, opts)
  local chunk = type(opts.chunk) == "table" and opts.chunk or {}
  local route = piece_route(model_id, opts)
  local limit = math.min(chunk.max_seconds or math.huge, longest_piece(model_id))
  local default_target = route.timed and (route.target or limit) or DEFAULT_TARGET_SECONDS
  local target = math.min(chunk.target_seconds or default_target, limit)
  local largest = math.min(limit, target * chunker.LONGEST_PIECE) * PIECE_BYTES_PER_SECOND * route.footprint
  local memory_bound = math.max(1, math.floor(MEMORY_BUDGET / largest))
  -- The caller's concurrency wins over the memory bound: it says what memory may hold.
  return { route = route, target = target, max = limit,
           concurrency = math.min(chunk.concurrency or memory_bound, client.options.max_concurrency) }
end

local function in_pieces(client, kind, control, reader, opts, model_id, chunk)
  local plan = long.plan(client, model_id, opts)
  local route = plan.route
  local base = copy(opts)
  base.chunk, base.on_event, base.on_progress = nil, nil, nil
  for name, value in pairs(route.set or {}) do
    if name ~= "response_format" or not base.response_format or PLAIN_FORMATS[base.response_format]
       or base.response_format == "json" then
      base[name] = value
    end
  end
  local job = {
    client = client, kind = kind, control = control, opts = opts, chunk = chunk, route = route, base = base,
    model = model_id,
    reader = reader, total = reader.duration,
    cutter = chunker.new(reader, { target = plan.target, max = plan.max,
                                   min_silence = chunk.min_silence or DEFAULT_MIN_SILENCE }),
    concurrency = plan.concurrency,
    order = new_order(opts.on_event), results = {}, in_flight = 0, done_seconds = 0, pieces = 0,
  }
  -- A host loop that gives up on the call cancels it as long.start's cancel does.
  client:run(run, function() cancel_control(control) end, job)
  -- A programmer error met in a piece (a bad option) raises here, at the call.
  if job.raised then error(job.raised, 0) end
  local tr, err = joined(job)
  if tr and opts.on_event then opts.on_event{ type = "done", transcript = tr } end
  return tr, err
end

-- One request, as before; its segments are the whole recording's when the
-- model gave none and the duration is known.
local function whole(client, kind, control, audio, opts, duration)
  local tr, err = call(client, kind, control, audio, opts)
  if tr and tr.segments == nil and duration and type(tr.text) == "string" and tr.text ~= "" then
    tr.segments = { { start = 0, ["end"] = duration, text = (tr.text:gsub("^%s+", ""):gsub("%s+$", "")) } }
  end
  return tr, err
end

local function run_call(client, kind, audio, opts, control)
  -- opts that are no table: the call raises, naming them.
  if opts ~= nil and type(opts) ~= "table" then return client:call(kind, audio, opts) end
  opts = opts or {}
  local where = "client:" .. kind
  local chunk = opts.chunk
  check_chunk(where, chunk)
  local single = copy(opts)
  single.chunk = nil
  if chunk == false then return whole(client, kind, control, audio, single) end
  local model_id = check.value(where, "model", opts.model, "string", true) or client.options.model
  local reader, why = recording.open(audio)
  if not reader and chunk ~= nil then
    -- Pieces were asked for: say why there can be none.
    return nil, why or errors.new{ type = "audio", message = where .. ": only WAV audio can be cut into pieces here" }
  end
  local wanted = type(chunk) == "table" and chunk or {}
  -- Audio that cannot be read in pieces goes whole, as it is: the API judges it.
  if not reader or (chunk == nil and (reader.duration == nil or reader.duration <= longest_piece(model_id))) then
    if reader then reader:close() end
    return whole(client, kind, control, audio, single, reader and reader.duration)
  end
  return in_pieces(client, kind, control, reader, opts, model_id, wanted)
end

--- client:transcribe(audio, opts), client:translate(audio, opts): see the top.
function long.run(client, kind, audio, opts)
  return run_call(client, kind, audio, opts, new_control())
end

local Handle = {}
Handle.__index = Handle

--- The call started in a task of its own: a handle whose wait() gives what
--- long.run would (yielding inside a task, blocking outside one) and whose
--- cancel() stops it (no new piece starts; the requests in flight are
--- cancelled; what had arrived stays in err.partial). For jobs that cancel
--- (the batch command).
function long.start(client, kind, audio, opts)
  local handle = setmetatable({ client = client, control = new_control(), waiters = {} }, Handle)
  scheduler.spawn(function()
    handle.outcome = { pcall(run_call, client, kind, audio, opts, handle.control) }
    handle.ended = true
    for _, task in ipairs(handle.waiters) do client.engine.scheduler:wake(task) end
  end)
  return handle
end

function Handle:wait()
  local task = scheduler.current()
  if task then
    self.waiters[#self.waiters + 1] = task
    while not self.ended do scheduler.suspend() end
  else
    local waitable = { ended = function() return self.ended == true end, cancel = function() self:cancel() end }
    self.client.engine:block(waitable, "client:transcribe")
  end
  local ok, tr, err = self.outcome[1], self.outcome[2], self.outcome[3]
  if not ok then error(tr, 0) end
  return tr, err
end

function Handle:cancel()
  cancel_control(self.control)
end

return long
