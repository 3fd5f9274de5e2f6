/* Windowed RMS levels in dBFS (level_meter.h). */
#include <math.h>

#include "level_meter.h"

void level_meter_init(level_meter *m, size_t window)
{
  m->window = window > 0 ? window : 1;
  m->filled = 0;
  m->sum = 0.0;
}

size_t level_meter_count(const level_meter *m, size_t frames)
{
  return (m->filled + frames) / m->window;
}

static float db_of(double sum, size_t frames)
{
  double mean = frames > 0 ? sum / (double)frames : 0.0;
  double db;
  /* NaN samples or nothing heard: the floor. */
  if (!(mean > 0.0))
    return LEVEL_METER_FLOOR_DB;
  db = 10.0 * log10(mean);
  return db < LEVEL_METER_FLOOR_DB ? LEVEL_METER_FLOOR_DB : (float)db;
}

size_t level_meter_push(level_meter *m, const float *samples, size_t frames, unsigned channels, float *out)
{
  size_t written = 0;
  size_t f;
  unsigned c;
  if (channels == 0)
    return 0;
  for (f = 0; f < frames; f++) {
    double square = 0.0;
    for (c = 0; c < channels; c++) {
      double x = samples[f * channels + c];
      square += x * x;
    }
    m->sum += square / channels;
    if (++m->filled == m->window) {
      out[written++] = db_of(m->sum, m->window);
      m->filled = 0;
      m->sum = 0.0;
    }
  }
  return written;
}

float level_meter_flush(level_meter *m)
{
  float db = m->filled > 0 ? db_of(m->sum, m->filled) : LEVEL_METER_FLOOR_DB;
  m->filled = 0;
  m->sum = 0.0;
  return db;
}
