-- The gptaudio demo (make demo): each part runs in turn.
dofile("examples/audio.lua")
