/* The endpointer over WebRTC's classifier, on made-up voiced sound (a
   150 Hz pulse train through two vowel-like resonances): where speech starts
   and ends, when the end is reported (after the pause), streaming in odd
   chunk sizes, another rate, and finish() in the middle of speech. */
#include <math.h>
#include <stdlib.h>

#include "tap.h"
#include "vad.h"

#define RATE 16000

/* silence, `voiced` seconds of vowel at `at` seconds, silence until `total`. */
static float *vowel_at(unsigned rate, double at, double voiced, double total, size_t *frames)
{
  size_t n = (size_t)(total * rate), i;
  float *x = calloc(n, sizeof *x);
  double y1 = 0, y2 = 0, z1 = 0, z2 = 0;
  /* two-pole resonators at 700 Hz and 1200 Hz */
  double r = 0.97, a1 = 2 * r * cos(2 * M_PI * 700 / rate), b1 = 2 * r * cos(2 * M_PI * 1200 / rate);
  for (i = 0; i < n; i++) {
    double t = (double)i / rate;
    double pulse = t >= at && t < at + voiced && i % (rate / 150) == 0 ? 1.0 : 0.0;
    double y = pulse + a1 * y1 - r * r * y2, z = y + b1 * z1 - r * r * z2;
    y2 = y1;
    y1 = y;
    z2 = z1;
    z1 = z;
    x[i] = (float)(0.02 * z);
  }
  *frames = n;
  return x;
}

static int events_of(vad *v, vad_event *out, int max)
{
  int n = 0;
  vad_event ev;
  while (vad_next_event(v, &ev))
    if (n < max)
      out[n++] = ev;
  return n;
}

/* t is k frames of 10 ms, computed as k * 0.01 (what a user prints is 1.53, not 1.5299999999999998). */
static int on_frame_grid(double t)
{
  return t == (double)lround(t / 0.01) * 0.01;
}

static void test_silence(void)
{
  const char *why;
  vad *v = vad_new(VAD_WEBRTC, RATE, 0.5, 0.6, &why);
  float *zero = calloc(RATE * 5, sizeof *zero);
  vad_event ev[4];
  CHECK(v != NULL, "a detector at 16 kHz");
  CHECK(vad_process(v, zero, RATE * 5, &why) == 0 && vad_finish(v, &why) == 0 && events_of(v, ev, 4) == 0,
        "5 s of silence: no events");
  free(zero);
  vad_free(v);
}

static void test_one_utterance(unsigned rate, size_t chunk, const char *name)
{
  const char *why;
  size_t frames, done;
  float *x = vowel_at(rate, 1.0, 1.5, 4.0, &frames);
  vad *v = vad_new(VAD_WEBRTC, rate, 0.5, 0.6, &why);
  vad_event ev[4];
  int n, ok = 1;
  for (done = 0; done < frames; done += chunk)
    ok &= vad_process(v, x + done, frames - done < chunk ? frames - done : chunk, &why) == 0;
  n = events_of(v, ev, 4);
  CHECK(ok && n == 2 && ev[0].type == VAD_SPEECH_START && ev[1].type == VAD_SPEECH_END, name);
  if (n == 2) {
    CHECK(fabs(ev[0].time - 1.0) < 0.05 && ev[0].at - ev[0].time < 0.15,
          "speech_start within 50 ms of the onset, known within 150 ms");
    CHECK(fabs(ev[1].time - 2.5) < 0.1, "speech_end within 100 ms of the end");
    CHECK(ev[1].at - ev[1].time >= 0.6 - 1e-9 && ev[1].at - ev[1].time < 0.62,
          "speech_end is reported once the 0.6 s pause has passed");
    CHECK(on_frame_grid(ev[0].time) && on_frame_grid(ev[1].time) && on_frame_grid(ev[1].at),
          "times are whole 10 ms frames, with no rounding left over");
  }
  free(x);
  vad_free(v);
}

static void test_finish_mid_speech(void)
{
  const char *why;
  size_t frames;
  float *x = vowel_at(RATE, 0.5, 3.0, 2.0, &frames);
  vad *v = vad_new(VAD_WEBRTC, RATE, 0.5, 0.6, &why);
  vad_event ev[4];
  int n;
  vad_process(v, x, frames, &why);
  CHECK(vad_in_speech(v), "inside speech while the vowel goes on");
  CHECK(vad_finish(v, &why) == 0, "finish");
  n = events_of(v, ev, 4);
  CHECK(n == 2 && ev[1].type == VAD_SPEECH_END && fabs(ev[1].time - 2.0) < 0.02 && !vad_in_speech(v),
        "finish ends the speech where the stream stopped");
  /* A new stream starts at time 0. */
  vad_process(v, x, frames, &why);
  n = events_of(v, ev, 4);
  CHECK(n == 1 && ev[0].type == VAD_SPEECH_START && fabs(ev[0].time - 0.5) < 0.05,
        "after finish, times count from the new stream's start");
  free(x);
  vad_free(v);
}

int main(void)
{
  test_silence();
  test_one_utterance(RATE, 160, "16 kHz in 10 ms chunks: one speech_start, one speech_end");
  test_one_utterance(RATE, 37, "16 kHz in chunks of 37 samples: the same");
  test_one_utterance(24000, 480, "24 kHz (resampled inside) in 20 ms chunks: the same");
  test_one_utterance(8000, 160, "8 kHz (resampled inside) in 20 ms chunks: the same");
  test_finish_mid_speech();
  return TAP_DONE();
}
