/* The C floor of bench/transport_bench.lua: the same sequential chat-shaped
 * POSTs through a plain libcurl multi loop (one easy handle reused, so one
 * kept-alive connection; the body kept in memory, not decoded), as the
 * transport does them minus Lua. Prints "<wall seconds> <cpu seconds>".
 *   transport_floor URL COUNT BODY */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct sink {
  char *data;
  size_t size;
};

static size_t keep(char *bytes, size_t size, size_t count, void *userdata) {
  struct sink *sink = userdata;
  size_t n = size * count;
  char *grown = realloc(sink->data, sink->size + n);
  if (!grown) return 0;
  memcpy(grown + sink->size, bytes, n);
  sink->data = grown;
  sink->size += n;
  return n;
}

static double seconds(struct timespec t) { return (double)t.tv_sec + (double)t.tv_nsec / 1e9; }

static double cpu_seconds(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 + (double)usage.ru_stime.tv_sec +
         (double)usage.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s URL COUNT BODY\n", argv[0]);
    return 2;
  }
  long count = strtol(argv[2], NULL, 10);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM *multi = curl_multi_init();
  CURL *easy = curl_easy_init();
  struct curl_slist *headers = NULL;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Authorization: Bearer sk-bench");
  struct sink sink = { NULL, 0 };
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  double cpu_start = cpu_seconds();
  for (long i = 0; i < count; i++) {
    sink.size = 0;
    curl_easy_setopt(easy, CURLOPT_URL, argv[1]);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, argv[3]);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
    curl_multi_add_handle(multi, easy);
    int running = 1;
    while (running) {
      curl_multi_perform(multi, &running);
      if (running) curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    int left;
    CURLMsg *msg = curl_multi_info_read(multi, &left);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(multi, easy);
    if (!msg || msg->data.result != CURLE_OK || status != 200 || sink.size == 0) {
      fprintf(stderr, "request %ld failed (status %ld)\n", i + 1, status);
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  printf("%.6f %.6f\n", seconds(end) - seconds(start), cpu_seconds() - cpu_start);
  free(sink.data);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  curl_multi_cleanup(multi);
  curl_global_cleanup();
  return 0;
}
