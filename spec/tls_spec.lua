-- TLS verification is always on: against a loopback HTTPS server whose
-- self-signed certificate is made here with openssl, a client refuses it
-- without its CA, accepts it with ca_file, and still refuses a certificate
-- for another host name; no option turns verification off.
local gptaudio = require "gptaudio"
local socket = require "socket"
local fake = require "spec.support.fake"

local KEY = "sk-tls-0123456789abcdef"
local SERVER_SCRIPT = "spec/support/tls_server.py"
local STARTUP_SECONDS = 10

local function shell_quote(s)
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end

local function run(command)
  local result = os.execute(command .. " > /dev/null 2>&1")
  return result == true or result == 0
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

-- A self-signed certificate and its key for `names` (a subjectAltName list), in dir.
local function make_certificate(dir, label, subject, names)
  local cert, key = dir .. "/" .. label .. ".pem", dir .. "/" .. label .. ".key"
  assert(run(("%s openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
              .. "-subj %s -addext %s -keyout %s -out %s"):format(fake.spawn_env(), shell_quote(subject),
                                                                  shell_quote("subjectAltName=" .. names),
                                                                  shell_quote(key), shell_quote(cert))),
         "openssl could not make a certificate")
  return cert, key
end

-- Starts tls_server.py with a certificate; returns its port and the pipe that keeps it alive.
local function start_server(cert, key, dir)
  local port_file = dir .. "/port-" .. cert:match("([^/]+)%.pem$")
  local process = assert(io.popen(("%s %s %s --cert %s --key %s --port-file %s"):format(
    fake.spawn_env(), shell_quote(fake.python()), SERVER_SCRIPT, shell_quote(cert), shell_quote(key),
    shell_quote(port_file)), "w"))
  local deadline = socket.gettime() + STARTUP_SECONDS
  local port
  repeat
    port = tonumber((read_file(port_file) or ""):match("^PORT (%d+)\n"))
    if not port then socket.sleep(0.01) end
  until port or socket.gettime() > deadline
  assert(port, "the TLS server did not start")
  return port, process
end

describe("TLS", function()
  local dir, cert, other_cert, port, other_port, processes

  setup(function()
    local pipe = assert(io.popen("mktemp -d"))
    dir = pipe:read("*l")
    pipe:close()
    local key, other_key
    cert, key = make_certificate(dir, "loopback", "/CN=127.0.0.1", "IP:127.0.0.1")
    other_cert, other_key = make_certificate(dir, "elsewhere", "/CN=gptaudio.invalid", "DNS:gptaudio.invalid")
    local p1, p2
    port, p1 = start_server(cert, key, dir)
    other_port, p2 = start_server(other_cert, other_key, dir)
    processes = { p1, p2 }
  end)

  teardown(function()
    for _, p in ipairs(processes or {}) do p:close() end
    if dir then os.execute("rm -rf " .. shell_quote(dir)) end
  end)

  local function client_for(server_port, options)
    options = options or {}
    options.api_key, options.max_retries = KEY, 0
    options.base_url = ("https://127.0.0.1:%d/v1"):format(server_port)
    return gptaudio.new(options)
  end

  it("refuses a self-signed server without its CA", function()
    local client = client_for(port)
    local res, err = client:request{ path = "/models" }
    client:close()
    assert.is_nil(res)
    assert.equal("connection", err.type)
    assert.equal(60, err.curl_code)
    assert.matches("^TLS certificate verification failed %(", err.message)
  end)

  it("accepts it with ca_file, and the key goes over TLS", function()
    local client = client_for(port, { ca_file = cert })
    local res = assert(client:request{ path = "/models" })
    client:close()
    assert.equal(200, res.status)
    assert.same({ ok = true, path = "/v1/models", authorization = "Bearer " .. KEY }, res.json)
  end)

  it("refuses a certificate for another host name, even with that certificate as ca_file", function()
    local client = client_for(other_port, { ca_file = other_cert })
    local res, err = client:request{ path = "/models" }
    client:close()
    assert.is_nil(res)
    assert.equal("connection", err.type)
    assert.equal(60, err.curl_code)
    assert.matches("^TLS certificate verification failed %(", err.message)
  end)

  it("fails cleanly with a ca_file that cannot be read", function()
    local client = client_for(port, { ca_file = dir .. "/missing.pem" })
    local res, err = client:request{ path = "/models" }
    client:close()
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
