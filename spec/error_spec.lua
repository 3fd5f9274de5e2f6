local core = require "gptaudio.core"
local gptaudio = require "gptaudio"

describe("gptaudio.Error", function()
  it("is one readable line with the fields that are set", function()
    local err = core.error{ type = "api", status = 429, code = "rate_limit_exceeded",
                            message = "slow down", request_id = "req_1", attempts = 3 }
    assert.equal(gptaudio.Error, getmetatable(err))
    assert.equal("gptaudio api error 429 (rate_limit_exceeded): slow down [request req_1] [attempts 3]",
                 tostring(err))
  end)

  it("leaves out the fields that are not set", function()
    assert.equal("gptaudio timeout error: took too long",
                 tostring(core.error{ type = "timeout", message = "took too long" }))
  end)

  it("refuses a non-table", function()
    assert.has_error(function() core.error("x") end)
  end)
end)
