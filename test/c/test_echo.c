/* The echo canceller on a made-up room: a white-noise far end heard back
   20 ms later at half level; whole frames out of odd chunks; reset. */
#include <math.h>
#include <stdlib.h>

#include "echo.h"
#include "tap.h"

#define RATE 16000
#define SECONDS 4
#define DELAY (RATE / 50)

static double power(const int16_t *x, size_t n)
{
  double sum = 0;
  size_t i;
  for (i = 0; i < n; i++)
    sum += (double)x[i] * x[i];
  return sum / n;
}

int main(void)
{
  size_t n = RATE * SECONDS, i, done = 0, got;
  int16_t *far = calloc(n, sizeof *far), *mic = calloc(n, sizeof *mic), *out = calloc(n + RATE, sizeof *out);
  echo *e = echo_new(RATE, 0.1);
  srand(7);
  for (i = 0; i < n; i++)
    far[i] = (int16_t)(rand() % 8001 - 4000);
  for (i = DELAY; i < n; i++)
    mic[i] = (int16_t)(far[i - DELAY] / 2);
  CHECK(e != NULL && echo_frame(e) == 160, "a canceller at 16 kHz works in 160-sample frames");
  for (i = 0; i < n; i += 320) {
    echo_playback(e, far + i, 320);
    got = echo_capture(e, mic + i, 320, out + done);
    done += got;
  }
  CHECK(done == n, "every 20 ms chunk gives back its two frames");
  /* The last second, once the filter has adapted. */
  CHECK(10 * log10(power(mic + n - RATE, RATE) / (power(out + n - RATE, RATE) + 1)) > 20,
        "over 20 dB of the echo is gone after three seconds");
  echo_reset(e);
  CHECK(echo_capture(e, mic, 100, out) == 0 && echo_capture(e, mic, 100, out) == 160,
        "after reset, 100 samples wait and 200 give one frame");
  echo_free(e);
  free(far);
  free(mic);
  free(out);
  return TAP_DONE();
}
