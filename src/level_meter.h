/* Loudness over time: the RMS level in dBFS of each fixed-length window of a
   stream of float frames, fed in pieces of any length (a window may span two
   feeds). What the pause finder of long recordings reads. Pure C, no Lua. */
#ifndef GPTAUDIO_LEVEL_METER_H
#define GPTAUDIO_LEVEL_METER_H

#include <stddef.h>

/* The level of a window of digital silence (and the floor of every level). */
#define LEVEL_METER_FLOOR_DB -120.0f

typedef struct {
  size_t window; /* frames per window, >= 1 */
  size_t filled; /* frames of the current window seen so far */
  double sum;    /* sum of squares of those frames' samples */
} level_meter;

void level_meter_init(level_meter *m, size_t window);

/* How many levels a feed of `frames` frames completes (what push writes). */
size_t level_meter_count(const level_meter *m, size_t frames);

/* Feeds `frames` interleaved frames of `channels` channels (the level of a
   frame is the mean square over its channels); writes the level of each
   window it completes to out (level_meter_count(m, frames) of them) and
   returns how many. */
size_t level_meter_push(level_meter *m, const float *samples, size_t frames, unsigned channels, float *out);

/* The level of the partial window held (LEVEL_METER_FLOOR_DB when none), and
   starts a new window. */
float level_meter_flush(level_meter *m);

#endif
