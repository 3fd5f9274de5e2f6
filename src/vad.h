/* Voice activity detection with endpointing. Pure C, no Lua. Audio of any
   rate is brought to 16 kHz (libsamplerate) and cut into 10 ms frames; a
   frame classifier from a library says speech or not (WebRTC's VAD from
   libwebrtc-audio-processing by default, or the speexdsp preprocessor's), and
   the endpointer turns those votes into speech_start and speech_end events:
   speech starts when most of the last frames are voiced, and ends once no
   voiced frame has come for `pause` seconds. Event times are in seconds from
   the start of the stream: where the speech starts, where it ended. */
#ifndef GPTAUDIO_VAD_H
#define GPTAUDIO_VAD_H

#include <stddef.h>

typedef enum { VAD_WEBRTC, VAD_SPEEX } vad_classifier;

typedef enum { VAD_SPEECH_START, VAD_SPEECH_END } vad_event_type;

typedef struct {
  vad_event_type type;
  double time; /* where the speech started or ended, seconds from the stream's start */
  double at;   /* when the detector knew: the stream time of the frame that decided */
} vad_event;

typedef struct vad vad;

/* Rates the detector takes: telephone to studio. */
#define VAD_MIN_RATE 8000
#define VAD_MAX_RATE 192000

/* A detector for mono audio at `rate` (VAD_MIN_RATE .. VAD_MAX_RATE). sensitivity in
   [0, 1]: higher calls more frames speech (0.5 is the default). pause: the
   silence, in seconds (> 0), that ends an utterance. NULL when memory or the
   library fails; *why says which. */
vad *vad_new(vad_classifier classifier, unsigned rate, double sensitivity, double pause, const char **why);
void vad_free(vad *v);

/* Feeds `frames` mono samples. Returns 0, or -1 (out of memory, or the
   library refused a frame; *why says which). Events queue up until taken. */
int vad_process(vad *v, const float *samples, size_t frames, const char **why);

/* Ends the stream: speech still going ends where its last voiced frame did.
   The detector then starts a new stream at time 0. */
int vad_finish(vad *v, const char **why);

/* Takes the oldest queued event into *ev: 1, or 0 when none is left. */
int vad_next_event(vad *v, vad_event *ev);

/* Whether the detector is inside an utterance now. */
int vad_in_speech(const vad *v);

#endif
