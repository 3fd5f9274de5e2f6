-- What the specs share: a server and a client installed in a describe block's
-- hooks, and audio checks and files read sample for sample and byte for byte.
--
--   describe("...", function()
--     local server, client
--     setup_.fake_client({ timeout = 5 }, function(s, c) server, client = s, c end)
--
-- busted's hooks are not globals in a required module: they come from busted.
local busted = require "busted"
local luassert = require "luassert"
local gptaudio = require "gptaudio"
local fake = require "spec.support.fake"
local long_audio = require "spec.support.long_audio"
local prism = require "spec.support.prism"
local util = require "spec.support.util"

local setup_ = {}

local function client_options(url, defaults, options)
  local all = { base_url = url }
  for name, value in pairs(defaults) do all[name] = value end
  for name, value in pairs(options or {}) do all[name] = value end
  return all
end

--- In a describe block: the fake server for the whole block, its scripts and
--- requests cleared before each test; ready(server) gets it once it is up.
function setup_.fake_server(ready)
  local server
  busted.setup(function()
    server = fake.start()
    ready(server)
  end)
  busted.teardown(function() server:stop() end)
  busted.before_each(function() server:clear() end)
end

--- In a describe block: the fake server as setup_.fake_server gives it and,
--- before each test, a new client on it (api_key "sk-test", max_retries 0,
--- then options), closed after the test; ready(server, client) gets both
--- before each test.
function setup_.fake_client(options, ready)
  local server, client
  setup_.fake_server(function(s) server = s end)
  busted.before_each(function()
    client = gptaudio.new(client_options(server.url, { api_key = "sk-test", max_retries = 0 }, options))
    ready(server, client)
  end)
  busted.after_each(function() client:close() end)
end

--- In a describe block: a recording long_audio.build makes from spec once for
--- the block (in a temporary folder removed after it), and the client of
--- setup_.fake_client whose server plays the stand-in with an ear that knows
--- the recording; ready(rec, server, client) gets them before each test.
function setup_.recording_client(spec, ready)
  local dir, rec
  busted.setup(function()
    dir = util.temp_dir()
    rec = long_audio.build(dir, spec)
  end)
  busted.teardown(function() util.remove_tree(dir) end)
  setup_.fake_client(nil, function(server, client)
    server:standin(true)
    server:ear(long_audio.ear(rec))
    ready(rec, server, client)
  end)
end

--- In a describe block: Prism serving OpenAI's spec and one client on it
--- (no model check: Prism's answers name the model "string") for the whole
--- block; ready(mock, client) gets both once they are up.
function setup_.prism_client(ready)
  local mock, client
  busted.setup(function()
    mock = prism.start()
    client = gptaudio.new(client_options(mock.url, { api_key = "sk-contract", model_check = false, max_retries = 0 }))
    ready(mock, client)
  end)
  busted.teardown(function()
    if client then client:close() end
    if mock then mock:stop() end
  end)
end

--- A streamed call's outcome when Prism accepted the request: Prism answers
--- a stream with its plain JSON example, which the client refuses as a stream.
function setup_.assert_accepted_stream(result, err)
  luassert.is_nil(result)
  luassert.same({ "protocol", "the response is not an event stream (content-type application/json)" },
                { err.type, err.message })
end

--- The same audio, sample for sample; a failure names the first sample that differs.
function setup_.assert_same_audio(expected, actual)
  luassert.equal(expected.rate, actual.rate)
  luassert.equal(expected.channels, actual.channels)
  luassert.equal(#expected, #actual)
  for i = 1, #expected do
    for ch = 1, expected.channels do
      if expected:sample(i, ch) ~= actual:sample(i, ch) then
        error(("frame %d channel %d: expected %.9g, got %.9g"):format(i, ch, expected:sample(i, ch),
                                                                      actual:sample(i, ch)), 2)
      end
    end
  end
end

--- The bytes of the file at path; raises when it cannot be read.
function setup_.read_file(path)
  return (assert(util.read_file(path), "cannot read " .. path))
end

--- What make() returns, bound to a to-be-closed variable whose block has
--- ended (Lua 5.4: the parser of LuaJIT does not know <close>).
function setup_.closed(make)
  return assert(load([[
    local make = ...
    local kept
    do
      local value <close> = make()
      kept = value
    end
    return kept
  ]]))(make)
end

return setup_
