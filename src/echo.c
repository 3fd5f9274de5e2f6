/* The canceller: two queues (played, heard) cut into 10 ms frames for speexdsp. */
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>
#include <stdlib.h>
#include <string.h>

#include "echo.h"

/* samples[head .. count) wait; the front is moved down only when more room is needed. */
typedef struct {
  int16_t *samples;
  size_t head, count, capacity;
} queue;

struct echo {
  SpeexEchoState *canceller;
  SpeexPreprocessState *suppressor;
  size_t frame;
  queue played, heard;
};

static size_t queued(const queue *q)
{
  return q->count - q->head;
}

static int queue_push(queue *q, const int16_t *samples, size_t n)
{
  if (n == 0) /* an empty chunk may come with no buffer behind it */
    return 0;
  if (n > q->capacity - q->count && q->head > 0) {
    memmove(q->samples, q->samples + q->head, queued(q) * sizeof *q->samples);
    q->count -= q->head;
    q->head = 0;
  }
  if (n > q->capacity - q->count) {
    size_t capacity = q->capacity ? q->capacity : 1024;
    int16_t *grown;
    while (capacity - q->count < n)
      capacity *= 2;
    grown = realloc(q->samples, capacity * sizeof *grown);
    if (!grown)
      return -1;
    q->samples = grown;
    q->capacity = capacity;
  }
  memcpy(q->samples + q->count, samples, n * sizeof *samples);
  q->count += n;
  return 0;
}

static void queue_drop(queue *q, size_t n)
{
  q->head += n;
  if (q->head == q->count)
    q->head = q->count = 0;
}

echo *echo_new(unsigned rate, double tail)
{
  echo *e = calloc(1, sizeof *e);
  int r = (int)rate;
  if (!e)
    return NULL;
  e->frame = rate / 100;
  e->canceller = speex_echo_state_init((int)e->frame, (int)(tail * rate));
  e->suppressor = speex_preprocess_state_init((int)e->frame, r);
  if (!e->canceller || !e->suppressor) {
    echo_free(e);
    return NULL;
  }
  speex_echo_ctl(e->canceller, SPEEX_ECHO_SET_SAMPLING_RATE, &r);
  speex_preprocess_ctl(e->suppressor, SPEEX_PREPROCESS_SET_ECHO_STATE, e->canceller);
  return e;
}

void echo_free(echo *e)
{
  if (!e)
    return;
  if (e->canceller)
    speex_echo_state_destroy(e->canceller);
  if (e->suppressor)
    speex_preprocess_state_destroy(e->suppressor);
  free(e->played.samples);
  free(e->heard.samples);
  free(e);
}

size_t echo_frame(const echo *e)
{
  return e->frame;
}

int echo_playback(echo *e, const int16_t *played, size_t n)
{
  return queue_push(&e->played, played, n);
}

size_t echo_capture(echo *e, const int16_t *mic, size_t n, int16_t *out)
{
  size_t done = 0;
  int16_t silence[ECHO_MAX_RATE / 100];
  if (queue_push(&e->heard, mic, n) != 0)
    return (size_t)-1;
  memset(silence, 0, sizeof silence);
  while (queued(&e->heard) >= e->frame) {
    const int16_t *far = queued(&e->played) >= e->frame ? e->played.samples + e->played.head : silence;
    speex_echo_cancellation(e->canceller, e->heard.samples + e->heard.head, far, out + done);
    speex_preprocess_run(e->suppressor, out + done);
    queue_drop(&e->heard, e->frame);
    if (far != silence)
      queue_drop(&e->played, e->frame);
    done += e->frame;
  }
  return done;
}

void echo_reset(echo *e)
{
  speex_echo_state_reset(e->canceller);
  e->played.head = e->played.count = 0;
  e->heard.head = e->heard.count = 0;
}
