/* Fuzz target for the response head (src/http_head.c): the input is a head as
   curl hands it over, cut into lines after each LF. A status line's number is
   what curl would have parsed (the three digits after the first space, 0
   otherwise), so interim and final blocks both come up. What is kept must
   hold its promises: names lower-case, non-empty, without ':' or blanks at
   the start; values trimmed; no NUL inside; the walk covers the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"

static long status_of(const char *line, size_t len)
{
  const char *space = memchr(line, ' ', len);
  size_t at;
  long status = 0;
  if (!space)
    return 0;
  for (at = (size_t)(space - line) + 1; at < len && at < (size_t)(space - line) + 4; at++) {
    if (line[at] < '0' || line[at] > '9')
      return 0;
    status = status * 10 + (line[at] - '0');
  }
  return status;
}

static int is_blank(char c)
{
  return c == ' ' || c == '\t';
}

static void check_fields(const http_head *h)
{
  size_t at = 0, i;
  http_field f;
  while (http_head_next(h, &at, &f)) {
    if (f.name_len == 0 || is_blank(f.name[0]) || memchr(f.name, ':', f.name_len))
      abort();
    for (i = 0; i < f.name_len; i++)
      if (f.name[i] >= 'A' && f.name[i] <= 'Z')
        abort();
    if (f.value_len && (is_blank(f.value[0]) || is_blank(f.value[f.value_len - 1])))
      abort();
    if (f.name[f.name_len] != '\0' || f.value[f.value_len] != '\0')
      abort();
  }
  if (at != h->fields.len)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *bytes = (const char *)data;
  http_head h;
  size_t at = 0;
  int completions = 0;
  memset(&h, 0, sizeof h);
  while (at < size) {
    const char *lf = memchr(bytes + at, '\n', size - at);
    size_t len = lf ? (size_t)(lf - (bytes + at)) + 1 : size - at;
    switch (http_head_line(&h, bytes + at, len)) {
    case HEAD_STATUS_LINE:
      if (h.fields.len != 0)
        abort(); /* a new block starts empty */
      h.status = status_of(bytes + at, len);
      break;
    case HEAD_COMPLETE:
      if (h.status < 200 || ++completions > 1)
        abort(); /* only a final block completes, and only once */
      break;
    case HEAD_NO_MEMORY: abort();
    case HEAD_MORE: break;
    }
    at += len;
  }
  check_fields(&h);
  http_head_free(&h);
  return 0;
}
