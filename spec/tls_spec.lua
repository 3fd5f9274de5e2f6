-- TLS verification is always on: against a loopback HTTPS server whose
-- self-signed certificate is made here with openssl, a client refuses it
-- without its CA, accepts it with ca_file, and still refuses a certificate
-- for another host name; no option turns verification off.
local gptaudio = require "gptaudio"
local fake = require "spec.support.fake"
local util = require "spec.support.util"

local KEY = "sk-tls-0123456789abcdef"
local SERVER_SCRIPT = "spec/support/tls_server.py"
local STARTUP_SECONDS = 10

local shell_quote = util.shell_quote

-- A self-signed certificate and its key for `names` (a subjectAltName list), in dir.
local function make_certificate(dir, label, subject, names)
  local cert, key = dir .. "/" .. label .. ".pem", dir .. "/" .. label .. ".key"
  local command = ("%s openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                   .. "-subj %s -addext %s -keyout %s -out %s > /dev/null 2>&1"):format(
    util.spawn_env(), shell_quote(subject), shell_quote("subjectAltName=" .. names), shell_quote(key),
    shell_quote(cert))
  assert(util.succeeded(command), "openssl could not make a certificate")
  return cert, key
end

-- Starts tls_server.py with a certificate; returns its port and the pipe that keeps it alive.
local function start_server(cert, key)
  local port, process = util.start_server({ fake.python(), SERVER_SCRIPT, "--cert", cert, "--key", key },
                                          STARTUP_SECONDS)
  assert(port, "the TLS server did not start")
  return port, process
end

describe("TLS", function()
  local dir, cert, other_cert, port, other_port, processes

  setup(function()
    dir = util.temp_dir()
    local key, other_key
    cert, key = make_certificate(dir, "loopback", "/CN=127.0.0.1", "IP:127.0.0.1")
    other_cert, other_key = make_certificate(dir, "elsewhere", "/CN=gptaudio.invalid", "DNS:gptaudio.invalid")
    local p1, p2
    port, p1 = start_server(cert, key)
    other_port, p2 = start_server(other_cert, other_key)
    processes = { p1, p2 }
  end)

  teardown(function()
    for _, p in ipairs(processes or {}) do p:close() end
    if dir then util.remove_tree(dir) end
  end)

  -- GET /models through a new client on the server at server_port; the client's result.
  local function get_models(server_port, options)
    options = options or {}
    options.api_key, options.max_retries = KEY, 0
    options.base_url = ("https://127.0.0.1:%d/v1"):format(server_port)
    local client = gptaudio.new(options)
    local res, err = client:request{ path = "/models" }
    client:close()
    return res, err
  end

  local function assert_refused(res, err)
    assert.is_nil(res)
    assert.equal("connection", err.type)
    assert.equal(60, err.curl_code)
    assert.matches("^TLS certificate verification failed %(", err.message)
  end

  it("refuses a self-signed server without its CA", function()
    assert_refused(get_models(port))
  end)

  it("accepts it with ca_file, and the key goes over TLS", function()
    local res = assert(get_models(port, { ca_file = cert }))
    assert.equal(200, res.status)
    assert.same({ ok = true, path = "/v1/models", authorization = "Bearer " .. KEY }, res.json)
  end)

  it("refuses a certificate for another host name, even with that certificate as ca_file", function()
    assert_refused(get_models(other_port, { ca_file = other_cert }))
  end)

  it("fails cleanly with a ca_file that cannot be read", function()
    local res, err = get_models(port, { ca_file = dir .. "/missing.pem" })
    assert.is_nil(res)
    assert.equal("connection", err.type)
    assert.matches("^cannot load the TLS certificates %(", err.message)
  end)

  it("has no option that turns verification off", function()
    for _, option in ipairs{ "insecure", "verify", "ssl_verify", "verify_peer", "tls_verify" } do
      assert.has_error(function() gptaudio.new{ [option] = false } end,
                       "gptaudio.new: unknown option '" .. option .. "'")
    end
  end)
end)
