/* The reference for bench/resample_bench.lua: libsamplerate called directly
   from C (src_simple, one call over the whole buffer) on the same samples.
   Each run allocates its output, as AudioBuffer:resample must for its new
   buffer, so the difference left is the Lua binding's own.
   usage: resample_ref in.f32 channels ratio converter repeats [out.f32]
   in.f32 holds interleaved float32 samples; converter is libsamplerate's
   number (0 best ... 4 linear). Prints the best wall time in seconds and the
   frames written; with out.f32, writes the last run's output there. */
#define _POSIX_C_SOURCE 200809L
#include <samplerate.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static float *read_samples(const char *path, long *count)
{
  FILE *f = fopen(path, "rb");
  float *samples;
  long bytes;
  if (!f || fseek(f, 0, SEEK_END) != 0 || (bytes = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
    return NULL;
  *count = bytes / (long)sizeof(float);
  samples = malloc((size_t)*count * sizeof(float) + 1);
  if (samples && fread(samples, sizeof(float), (size_t)*count, f) != (size_t)*count) {
    free(samples);
    samples = NULL;
  }
  fclose(f);
  return samples;
}

int main(int argc, char **argv)
{
  SRC_DATA d;
  long count;
  int channels, converter, repeats, i, error;
  double best = 1e300;
  float *in, *out;
  if (argc < 6) {
    fprintf(stderr, "usage: %s in.f32 channels ratio converter repeats [out.f32]\n", argv[0]);
    return 2;
  }
  channels = atoi(argv[2]);
  converter = atoi(argv[4]);
  repeats = atoi(argv[5]);
  in = read_samples(argv[1], &count);
  if (!in || channels < 1) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  d.data_in = in;
  d.input_frames = count / channels;
  d.src_ratio = atof(argv[3]);
  d.output_frames = (long)((double)d.input_frames * d.src_ratio) + 64;
  out = NULL;
  for (i = 0; i < repeats; i++) {
    double start = now(), took;
    free(out);
    out = malloc((size_t)d.output_frames * (size_t)channels * sizeof(float));
    if (!out)
      return 1;
    d.data_out = out;
    error = src_simple(&d, converter, channels);
    took = now() - start;
    if (error) {
      fprintf(stderr, "libsamplerate: %s\n", src_strerror(error));
      return 1;
    }
    if (took < best)
      best = took;
  }
  if (argc > 6) {
    FILE *f = fopen(argv[6], "wb");
    if (!f || fwrite(out, sizeof(float) * (size_t)channels, (size_t)d.output_frames_gen, f)
                != (size_t)d.output_frames_gen)
      return 1;
    fclose(f);
  }
  printf("%.6f %ld\n", best, d.output_frames_gen);
  free(in);
  free(out);
  return 0;
}
