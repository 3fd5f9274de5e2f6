-- Loaded by busted before any spec file (scripts/run-tests passes --helper).
-- busted unloads the modules a spec file required once the file is done, and
-- Debian's luv crashes (in uv_timer_init) when it is required again after its
-- module table was collected. Loaded here, luv stays loaded for the whole run,
-- as it does in every real host (Neovim, a luv program).
pcall(require, "luv")
