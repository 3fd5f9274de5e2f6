/* Acoustic echo cancelling with speexdsp: what the speaker played (the far
   end) is taken out of what the microphone heard, so that the user's voice
   remains and the agent's own voice coming back does not. Pure C, no Lua.
   Mono int16 at one rate, in 10 ms frames: an adaptive filter as long as the
   echo's tail (speex_echo), then the preprocessor's residual echo suppression.
   Played audio queues up until the microphone frames it lines up with arrive;
   when the microphone runs ahead of what was played, the filter sees silence. */
#ifndef GPTAUDIO_ECHO_H
#define GPTAUDIO_ECHO_H

#include <stddef.h>
#include <stdint.h>

typedef struct echo echo;

#define ECHO_MIN_RATE 8000
#define ECHO_MAX_RATE 48000

/* A canceller at `rate` Hz with a filter of `tail` seconds (0.01 .. 1). NULL
   when memory or the library fails. */
echo *echo_new(unsigned rate, double tail);
void echo_free(echo *e);

/* Samples a 10 ms frame holds at the canceller's rate. */
size_t echo_frame(const echo *e);

/* Queues `n` samples that were just played. -1 when memory runs out. */
int echo_playback(echo *e, const int16_t *played, size_t n);

/* Cancels `n` microphone samples; writes the cleaned ones to out (room for n
   plus one frame) and returns how many: whole frames only, the rest waits in
   the canceller for the next call. (size_t)-1 when memory runs out. */
size_t echo_capture(echo *e, const int16_t *mic, size_t n, int16_t *out);

/* Forgets the filter and both queues, for a new conversation. */
void echo_reset(echo *e);

#endif
