-- Which sound devices a spoken conversation uses, and whether the voice
-- agent's echo canceller is on (internal: `gptaudio talk`'s and
-- :GptAudioTalk's one rule).
--
--   local choice = devices.choose{ input =, output =, microphone =, speaker =, device =, echo_cancel = }
--   choice.microphone, choice.speaker  the device names (nil: the default one)
--   choice.echo_cancel                 whether the agent cancels the speaker's echo
--
-- A PulseAudio source and sink have different names, so microphone and
-- speaker name each; device names both (an ALSA device that records and
-- plays, such as a headset's hw:1). The speaker is heard by the microphone
-- only when both are devices: a recording played as the microphone (input)
-- or answers kept in a file (output) need no canceller. echo_cancel true or
-- false decides (false: headphones); nil follows that rule.
local devices = {}

function devices.choose(opts)
  local both = not (opts.input or opts.output)
  local echo_cancel = opts.echo_cancel
  if echo_cancel == nil then echo_cancel = both end
  return { microphone = opts.microphone or opts.device, speaker = opts.speaker or opts.device,
           echo_cancel = echo_cancel }
end

return devices
