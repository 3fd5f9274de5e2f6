/* Voice activity detection: a library's frame classifier and our endpointer.
   The classifiers see 10 ms frames of 16 kHz int16, the rate both libraries
   are built around. */
#include <math.h>
#include <samplerate.h>
#include <speex/speex_preprocess.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcm.h"
#include "vad.h"

/* libwebrtc-audio-processing exports the C core of WebRTC's VAD (the one its
   AudioProcessing::voice_detection() runs) but installs no header for it;
   these are the declarations of webrtc_vad.h in the packaged release (0.3). */
typedef struct WebRtcVadInst VadInst;
VadInst *WebRtcVad_Create(void);
void WebRtcVad_Free(VadInst *handle);
int WebRtcVad_Init(VadInst *handle);
int WebRtcVad_set_mode(VadInst *handle, int mode);
int WebRtcVad_Process(VadInst *handle, int fs, const int16_t *audio_frame, size_t frame_length);

#define CLASSIFIER_RATE 16000
#define FRAME 160 /* 10 ms */
#define FRAME_SECONDS 0.01
/* Speech starts when ONSET_VOICED of the last ONSET_WINDOW frames are voiced:
   a click or a cough of noise is not an utterance. */
#define ONSET_WINDOW 10
#define ONSET_VOICED 6
/* Inside speech, a voiced frame keeps the utterance going only with another
   voiced frame among the two before it, so lone noise frames don't hold the
   end back. */
#define HOLD_WINDOW 3
#define HOLD_VOICED 2
/* The noise floor follows a quieter frame at once and a louder one slowly
   (3 dB a second), so it sits under the speech and on the noise. A frame is
   speech only when the classifier says so and it stands out of the floor by
   a margin: both libraries' classifiers call quiet background talk (babble)
   speech, whatever its level. */
#define FLOOR_RISE_DB (3.0 * FRAME_SECONDS)
#define FLOOR_START_DB -60.0
/* The talker near the microphone is louder than talk in the background: the
   loudest voiced frame sets a level that decays 1 dB a second, and a frame
   more than `range_db` below it is not the talker. */
#define PEAK_DECAY_DB (1.0 * FRAME_SECONDS)
#define PEAK_START_DB -120.0
/* Input converted per call to the resampler. */
#define BLOCK 1024

struct vad {
  vad_classifier classifier;
  VadInst *webrtc;
  SpeexPreprocessState *speex;
  SRC_STATE *resampler; /* NULL at 16 kHz */
  double ratio;
  double sensitivity, pause;
  double margin_db, floor_db, range_db, peak_db;
  int16_t frame[FRAME];
  size_t filled;            /* samples in frame */
  unsigned long long index; /* frames classified since the stream started */
  unsigned history;         /* bit i: frame index - 1 - i was voiced */
  int in_speech;
  double last_voiced_end;
  vad_event *events;
  size_t count, head, capacity;
};

static int classifier_init(vad *v, double sensitivity, const char **why)
{
  if (v->classifier == VAD_WEBRTC) {
    /* Modes 0 (least aggressive: most frames are speech) to 3; below 0.5 the
       margin alone makes the detector less sensitive. */
    int mode = (int)lround((1.0 - sensitivity) * 6.0);
    if (mode > 3)
      mode = 3;
    if (!v->webrtc)
      v->webrtc = WebRtcVad_Create();
    if (!v->webrtc || WebRtcVad_Init(v->webrtc) != 0 || WebRtcVad_set_mode(v->webrtc, mode) != 0) {
      *why = "WebRTC VAD: cannot initialise";
      return -1;
    }
  } else {
    int on = 1;
    /* Speech probability (percent) a frame needs to start speech, and to go on. */
    int start = (int)lround(95.0 - 90.0 * sensitivity), go_on = start * 3 / 5;
    if (v->speex)
      speex_preprocess_state_destroy(v->speex);
    v->speex = speex_preprocess_state_init(FRAME, CLASSIFIER_RATE);
    if (!v->speex) {
      *why = "speexdsp preprocessor: cannot initialise";
      return -1;
    }
    speex_preprocess_ctl(v->speex, SPEEX_PREPROCESS_SET_VAD, &on);
    speex_preprocess_ctl(v->speex, SPEEX_PREPROCESS_SET_PROB_START, &start);
    speex_preprocess_ctl(v->speex, SPEEX_PREPROCESS_SET_PROB_CONTINUE, &go_on);
  }
  return 0;
}

vad *vad_new(vad_classifier classifier, unsigned rate, double sensitivity, double pause, const char **why)
{
  vad *v = calloc(1, sizeof *v);
  int error = 0;
  *why = "out of memory";
  if (!v)
    return NULL;
  v->classifier = classifier;
  v->pause = pause;
  v->sensitivity = sensitivity;
  if (rate != CLASSIFIER_RATE) {
    v->ratio = (double)CLASSIFIER_RATE / rate;
    v->resampler = src_new(SRC_SINC_FASTEST, 1, &error);
    if (!v->resampler) {
      *why = src_strerror(error);
      free(v);
      return NULL;
    }
  }
  v->margin_db = 3.0 + 12.0 * (1.0 - sensitivity);
  v->range_db = 10.0 + 20.0 * sensitivity;
  v->floor_db = FLOOR_START_DB;
  v->peak_db = PEAK_START_DB;
  if (classifier_init(v, sensitivity, why) != 0) {
    vad_free(v);
    return NULL;
  }
  return v;
}

void vad_free(vad *v)
{
  if (!v)
    return;
  if (v->webrtc)
    WebRtcVad_Free(v->webrtc);
  if (v->speex)
    speex_preprocess_state_destroy(v->speex);
  if (v->resampler)
    src_delete(v->resampler);
  free(v->events);
  free(v);
}

static int push_event(vad *v, vad_event_type type, double time, double at)
{
  if (v->head > 0 && v->head == v->count)
    v->head = v->count = 0;
  if (v->count == v->capacity) {
    size_t capacity = v->capacity ? 2 * v->capacity : 8;
    vad_event *grown = realloc(v->events, capacity * sizeof *grown);
    if (!grown)
      return -1;
    v->events = grown;
    v->capacity = capacity;
  }
  v->events[v->count].type = type;
  v->events[v->count].time = time;
  v->events[v->count].at = at;
  v->count++;
  return 0;
}

static int voiced_among(unsigned history, int window)
{
  int n = 0, i;
  for (i = 0; i < window; i++)
    n += history >> i & 1;
  return n;
}

/* The frame's level in dBFS, tracking the noise floor. */
static double frame_db(vad *v)
{
  double sum = 0, db;
  int i;
  for (i = 0; i < FRAME; i++)
    sum += (double)v->frame[i] * v->frame[i];
  db = 10.0 * log10(sum / FRAME / (32768.0 * 32768.0) + 1e-12);
  if (db < v->floor_db)
    v->floor_db = db;
  else
    v->floor_db += FLOOR_RISE_DB;
  return db;
}

static int classify(vad *v, const char **why)
{
  int voiced;
  double db = frame_db(v);
  if (v->classifier == VAD_WEBRTC) {
    voiced = WebRtcVad_Process(v->webrtc, CLASSIFIER_RATE, v->frame, FRAME);
    if (voiced < 0) {
      *why = "WebRTC VAD refused a frame";
      return -1;
    }
  } else {
    /* The preprocessor denoises its input in place. */
    int16_t copy[FRAME];
    memcpy(copy, v->frame, sizeof copy);
    voiced = speex_preprocess_run(v->speex, copy);
  }
  if (!voiced || db < v->floor_db + v->margin_db)
    return 0;
  if (db > v->peak_db)
    v->peak_db = db;
  v->peak_db -= PEAK_DECAY_DB;
  return db > v->peak_db - v->range_db;
}

/* One 10 ms frame through the classifier and the endpointer. */
static int step(vad *v, const char **why)
{
  int voiced = classify(v, why);
  double end;
  if (voiced < 0)
    return -1;
  v->history = (v->history << 1 | (unsigned)voiced) & 0xFFFF;
  v->index++;
  /* Times from whole frame counts: sums of 0.01 s drift off the grid (a start
     at the first frame came out as 7e-18 s). */
  end = (double)v->index * FRAME_SECONDS;
  if (!v->in_speech) {
    if (voiced_among(v->history, ONSET_WINDOW) >= ONSET_VOICED) {
      /* It began at the earliest voiced frame of the window. */
      int i = ONSET_WINDOW - 1;
      while (!(v->history >> i & 1))
        i--;
      v->in_speech = 1;
      v->last_voiced_end = end;
      if (push_event(v, VAD_SPEECH_START, (double)(v->index - (unsigned)i - 1) * FRAME_SECONDS, end) != 0)
        goto no_memory;
    }
  } else {
    if (voiced && voiced_among(v->history, HOLD_WINDOW) >= HOLD_VOICED)
      v->last_voiced_end = end;
    else if (end - v->last_voiced_end >= v->pause - 1e-9) {
      v->in_speech = 0;
      v->history = 0;
      if (push_event(v, VAD_SPEECH_END, v->last_voiced_end, end) != 0)
        goto no_memory;
    }
  }
  return 0;
no_memory:
  *why = "out of memory";
  return -1;
}

/* Feeds 16 kHz samples into frames. */
static int feed(vad *v, const float *samples, size_t n, const char **why)
{
  size_t i;
  for (i = 0; i < n; i++) {
    v->frame[v->filled++] = pcm_float_to_s16(samples[i]);
    if (v->filled == FRAME) {
      v->filled = 0;
      if (step(v, why) != 0)
        return -1;
    }
  }
  return 0;
}

static int resample(vad *v, const float *samples, size_t frames, int end_of_input, const char **why)
{
  static const float nothing[1];
  float out[2 * BLOCK];
  if (frames == 0)
    samples = nothing;
  for (;;) {
    SRC_DATA d;
    int error;
    d.data_in = samples;
    d.input_frames = (long)(frames < BLOCK ? frames : BLOCK);
    d.data_out = out;
    d.output_frames = (long)(sizeof out / sizeof out[0]);
    d.end_of_input = end_of_input && (size_t)d.input_frames == frames;
    d.src_ratio = v->ratio;
    error = src_process(v->resampler, &d);
    if (error) {
      *why = src_strerror(error);
      return -1;
    }
    if (feed(v, out, (size_t)d.output_frames_gen, why) != 0)
      return -1;
    samples += d.input_frames_used;
    frames -= (size_t)d.input_frames_used;
    /* Done when the input is used and the output had room to spare. */
    if (frames == 0 && d.output_frames_gen < d.output_frames && (!end_of_input || d.output_frames_gen == 0))
      return 0;
  }
}

int vad_process(vad *v, const float *samples, size_t frames, const char **why)
{
  if (!v->resampler)
    return feed(v, samples, frames, why);
  return resample(v, samples, frames, 0, why);
}

int vad_finish(vad *v, const char **why)
{
  double now;
  if (v->resampler) {
    if (resample(v, NULL, 0, 1, why) != 0)
      return -1;
    src_reset(v->resampler);
  }
  now = (double)v->index * FRAME_SECONDS;
  if (v->in_speech && push_event(v, VAD_SPEECH_END, v->last_voiced_end, now) != 0) {
    *why = "out of memory";
    return -1;
  }
  v->in_speech = 0;
  v->history = 0;
  v->filled = 0;
  v->index = 0;
  v->floor_db = FLOOR_START_DB;
  v->peak_db = PEAK_START_DB;
  return classifier_init(v, v->sensitivity, why);
}

int vad_next_event(vad *v, vad_event *ev)
{
  if (v->head == v->count)
    return 0;
  *ev = v->events[v->head++];
  return 1;
}

int vad_in_speech(const vad *v)
{
  return v->in_speech;
}
