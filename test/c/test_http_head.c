/* The response head: blocks, interim ones dropped, fields lower-cased and
   trimmed, lines of no use skipped, trailers ignored; and the byte buffer it
   keeps them in. */
#include <string.h>

#include "http_head.h"
#include "tap.h"

/* The kept fields as "name=value;". */
static const char *fields_of(const http_head *h)
{
  static char text[512];
  size_t at = 0, used = 0;
  http_field f;
  text[0] = '\0';
  while (http_head_next(h, &at, &f) && used < sizeof text)
    used += (size_t)snprintf(text + used, sizeof text - used, "%s=%s;", f.name, f.value);
  return text;
}

#define LINE(h, text) http_head_line((h), (text), sizeof(text) - 1)

static void test_blocks(void)
{
  http_head h;
  memset(&h, 0, sizeof h);
  CHECK(LINE(&h, "HTTP/1.1 100 Continue\r\n") == HEAD_STATUS_LINE, "a status line starts a block");
  h.status = 100;
  LINE(&h, "X-Interim: 1\r\n");
  CHECK(LINE(&h, "\r\n") == HEAD_MORE && !h.complete, "an interim block ends without completing");
  CHECK(LINE(&h, "HTTP/1.1 200 OK\r\n") == HEAD_STATUS_LINE && h.status == 0 && h.fields.len == 0,
        "the next status line starts over: no status, no fields");
  h.status = 200;
  CHECK(LINE(&h, "Content-Type: text/plain\r\n") == HEAD_MORE, "a field");
  LINE(&h, "X-Blanks: \t padded \t \n");
  LINE(&h, "Empty:\r\n");
  CHECK(LINE(&h, "\r\n") == HEAD_COMPLETE && h.complete, "the final block completes");
  CHECK(strcmp(fields_of(&h), "content-type=text/plain;x-blanks=padded;empty=;") == 0,
        "names lower-case, values trimmed of blanks and line ends");
  CHECK(LINE(&h, "X-Trailer: t\r\n") == HEAD_MORE && LINE(&h, "HTTP/1.1 500 No\r\n") == HEAD_MORE &&
            strcmp(fields_of(&h), "content-type=text/plain;x-blanks=padded;empty=;") == 0,
        "lines after the final block are ignored");
  http_head_free(&h);
  CHECK(h.fields.bytes == NULL && h.fields.len == 0, "freed");
}

static void test_skipped_lines(void)
{
  http_head h;
  memset(&h, 0, sizeof h);
  LINE(&h, "HTTP/1.1 200 OK\r\n");
  h.status = 200;
  LINE(&h, "X-Folded: a\r\n");
  LINE(&h, "  continued\r\n");
  LINE(&h, ": no name\r\n");
  LINE(&h, "NoColon\r\n");
  http_head_line(&h, "X-Nul: a\0b\r\n", 12);
  LINE(&h, "Set-Cookie: a\r\n");
  LINE(&h, "set-cookie: b\r");
  CHECK(strcmp(fields_of(&h), "x-folded=a;set-cookie=a;set-cookie=b;") == 0,
        "folded, nameless, colon-less and NUL lines are skipped; repeats kept in order");
  CHECK(LINE(&h, "\n") == HEAD_COMPLETE, "a bare LF ends the block");
  http_head_free(&h);
  memset(&h, 0, sizeof h);
  LINE(&h, "HTTP/1.1 099 Odd\r\n");
  CHECK(LINE(&h, "\r\n") == HEAD_MORE && !h.complete, "a block whose status curl left at 0 never completes");
  http_head_free(&h);
}

static void test_buffer(void)
{
  byte_buffer b = { NULL, 0, 0 };
  int i, failed = 0;
  for (i = 0; i < 1000; i++)
    failed |= buffer_append(&b, "abc", 3);
  CHECK(!failed && b.len == 3000 && b.cap >= 3000 && memcmp(b.bytes + 2997, "abc", 3) == 0,
        "a buffer grows by appending, bytes in order");
  CHECK(buffer_append(&b, "x", 0) == 0 && b.len == 3000, "appending nothing changes nothing");
  buffer_free(&b);
  CHECK(b.bytes == NULL && b.len == 0 && b.cap == 0, "a freed buffer is empty again");
}

int main(void)
{
  test_blocks();
  test_skipped_lines();
  test_buffer();
  return TAP_DONE();
}
