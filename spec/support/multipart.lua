-- Reading back the multipart/form-data bodies the fake server recorded.
local multipart = {}

--- The parts of a recorded request's body, in order: {name, filename, content_type, data}.
function multipart.parts(request)
  local boundary = assert(request.headers["content-type"]:match("^multipart/form%-data; boundary=(.+)$"))
  local body, delimiter = request.body, "--" .. boundary
  local parts = {}
  local at = assert(body:find(delimiter, 1, true))
  while body:sub(at + #delimiter, at + #delimiter + 1) ~= "--" do
    local start = at + #delimiter + 2
    local stop = assert(body:find("\r\n" .. delimiter, start, true))
    local part = body:sub(start, stop - 1)
    local head_end = assert(part:find("\r\n\r\n", 1, true))
    local head = part:sub(1, head_end - 1)
    parts[#parts + 1] = {
      name = head:match('name="([^"]*)"'), filename = head:match('filename="([^"]*)"'),
      content_type = head:match("[Cc]ontent%-[Tt]ype: ([^\r\n]+)"), data = part:sub(head_end + 4),
    }
    at = stop + 2
  end
  return parts
end

--- The part named "file" of a recorded request.
function multipart.file(request)
  for _, p in ipairs(multipart.parts(request)) do
    if p.name == "file" then return p end
  end
end

return multipart
