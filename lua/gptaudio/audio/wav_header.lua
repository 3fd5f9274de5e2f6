-- Internal: the 44-byte header of a 16-bit mono PCM WAV, for code that sends
-- PCM it already holds as pieces (a recording's chunks, an utterance) without
-- joining them into an AudioBuffer first.

-- n as `bytes` little-endian bytes.
local function little_endian(n, bytes)
  local out = {}
  for i = 1, bytes do
    out[i] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  return table.concat(out)
end

return function(rate, data_bytes)
  return "RIFF" .. little_endian(36 + data_bytes, 4) .. "WAVEfmt " .. little_endian(16, 4)
    .. little_endian(1, 2) .. little_endian(1, 2) .. little_endian(rate, 4) .. little_endian(rate * 2, 4)
    .. little_endian(2, 2) .. little_endian(16, 2) .. "data" .. little_endian(data_bytes, 4)
end
