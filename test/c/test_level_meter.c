/* The level meter: known levels for known signals, windows that span feeds
   give what one feed gives, channels averaged, silence and NaN at the floor. */
#include <math.h>
#include <string.h>

#include "level_meter.h"
#include "tap.h"

#define RATE 16000
#define WINDOW 160
#define FRAMES (RATE / 2)

static float signal[FRAMES];

static int near(float a, float b, float tolerance)
{
  return fabsf(a - b) <= tolerance;
}

/* A full-scale sine is -3.01 dBFS RMS; half amplitude 6.02 dB lower; silence the floor. */
static void test_known_levels(void)
{
  level_meter m;
  float out[FRAMES / WINDOW];
  size_t i, n;
  int sine_ok = 1, half_ok = 1;
  for (i = 0; i < FRAMES; i++)
    signal[i] = (float)sin(2 * M_PI * 500.0 * (double)i / RATE);
  level_meter_init(&m, WINDOW);
  n = level_meter_push(&m, signal, FRAMES, 1, out);
  CHECK(n == FRAMES / WINDOW, "a feed of 8000 frames completes 50 windows of 160");
  for (i = 0; i < n; i++) sine_ok &= near(out[i], -3.0103f, 0.01f);
  CHECK(sine_ok, "a full-scale 500 Hz sine: -3.01 dB in every window");
  for (i = 0; i < FRAMES; i++) signal[i] *= 0.5f;
  n = level_meter_push(&m, signal, FRAMES, 1, out);
  for (i = 0; i < n; i++) half_ok &= near(out[i], -9.0309f, 0.01f);
  CHECK(half_ok, "half its amplitude: -9.03 dB");
  memset(signal, 0, sizeof signal);
  n = level_meter_push(&m, signal, WINDOW, 1, out);
  CHECK(n == 1 && out[0] == LEVEL_METER_FLOOR_DB, "digital silence: the floor");
  signal[0] = NAN;
  n = level_meter_push(&m, signal, WINDOW, 1, out);
  CHECK(n == 1 && out[0] == LEVEL_METER_FLOOR_DB, "a NaN sample: the floor, not NaN");
}

/* Any split of the frames into feeds gives the levels one feed gives. */
static void test_split_feeds(void)
{
  static const size_t splits[] = {1, 7, 159, 160, 161, 1000, 4999};
  float whole[FRAMES / WINDOW], parts[FRAMES / WINDOW];
  level_meter m;
  size_t i, s, n_whole;
  int same = 1, counted = 1;
  for (i = 0; i < FRAMES; i++)
    signal[i] = (float)(0.3 * sin(2 * M_PI * 220.0 * (double)i / RATE) * (double)(i % 1000) / 1000.0);
  level_meter_init(&m, WINDOW);
  n_whole = level_meter_push(&m, signal, FRAMES, 1, whole);
  for (s = 0; s < sizeof splits / sizeof splits[0]; s++) {
    size_t at = 0, got = 0;
    level_meter_init(&m, WINDOW);
    while (at < FRAMES) {
      size_t step = FRAMES - at < splits[s] ? FRAMES - at : splits[s];
      size_t expected = level_meter_count(&m, step);
      size_t written = level_meter_push(&m, signal + at, step, 1, parts + got);
      counted &= written == expected;
      got += written;
      at += step;
    }
    same &= got == n_whole && memcmp(whole, parts, got * sizeof(float)) == 0;
  }
  CHECK(counted, "count says how many levels each feed writes");
  CHECK(same, "feeds of 1, 7, 159, 160, 161, 1000 and 4999 frames give the one-feed levels");
}

static void test_channels_and_flush(void)
{
  float stereo[2 * WINDOW], out[2];
  level_meter m;
  size_t i;
  for (i = 0; i < WINDOW; i++) {
    stereo[2 * i] = 0.5f;      /* -6.02 dB alone */
    stereo[2 * i + 1] = 0.0f;  /* silence: the mean square halves, 3 dB lower */
  }
  level_meter_init(&m, WINDOW);
  CHECK(level_meter_push(&m, stereo, WINDOW, 2, out) == 1 && near(out[0], -9.0309f, 0.01f),
        "two channels: the mean square over both");
  CHECK(level_meter_push(&m, stereo, 10, 2, out) == 0 && near(level_meter_flush(&m), -9.0309f, 0.01f),
        "flush gives the level of the partial window");
  CHECK(level_meter_flush(&m) == LEVEL_METER_FLOOR_DB, "flush with nothing held: the floor");
  CHECK(level_meter_push(&m, stereo, WINDOW, 0, out) == 0, "zero channels: nothing");
  level_meter_init(&m, 0);
  CHECK(m.window == 1, "a window of 0 frames is read as 1");
}

int main(void)
{
  test_known_levels();
  test_split_feeds();
  test_channels_and_flush();
  return TAP_DONE();
}
