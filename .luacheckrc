std = "max"
max_line_length = 120
files["spec"] = { std = "+busted" }
-- The hosts' own globals, where the code runs inside them.
files["plugin"] = { globals = { "vim" } }
files["lua/gptaudio/nvim"] = { globals = { "vim" } }
files["lua/gptaudio/health.lua"] = { globals = { "vim" } }
files["spec/support/nvim_driver.lua"] = { globals = { "vim" } }
files["spec/support/nvim_talk_driver.lua"] = { globals = { "vim" } }
files["spec/support/nvim_two.lua"] = { globals = { "vim" } }
files["spec/support/love_two"] = { globals = { "love" } }
files["examples/love"] = { globals = { "love" } }
files["examples/love_voice"] = { globals = { "love" } }
files["examples/openresty"] = { globals = { "ngx" } }
files["examples/phone"] = { globals = { "ngx" } }
exclude_files = { "build", "node_modules" }
