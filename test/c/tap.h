/* A few TAP macros for the pure-C unit tests: "ok N - name" / "not ok N - name". */
#ifndef GPTAUDIO_TAP_H
#define GPTAUDIO_TAP_H

#include <stdio.h>

static int tap_count, tap_failed;

#define CHECK(cond, name)                                                     \
  do {                                                                        \
    ++tap_count;                                                              \
    if (cond) {                                                               \
      printf("ok %d - %s\n", tap_count, (name));                              \
    } else {                                                                  \
      ++tap_failed;                                                           \
      printf("not ok %d - %s\n# %s:%d: %s\n", tap_count, (name), __FILE__,    \
             __LINE__, #cond);                                                \
    }                                                                         \
  } while (0)

#define TAP_DONE() (printf("1..%d\n", tap_count), tap_failed != 0)

#endif
