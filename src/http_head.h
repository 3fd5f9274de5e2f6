/* The head of an HTTP response as libcurl hands it over: one line per call
   (the status line, each header line, the blank line that ends a block), a
   block per 1xx interim response and then the final one. Pure C, no Lua.

   It keeps the fields of the current block as lower-case name, NUL, value
   with surrounding blanks trimmed, NUL; a new status line starts over, so
   what is left is the final response's. The status number is the caller's:
   curl has parsed the line already and accepts forms a second parser would
   get wrong ("HTTP/1.1  500", two spaces). Lines after the final block
   (trailers) are ignored. */
#ifndef GPTAUDIO_HTTP_HEAD_H
#define GPTAUDIO_HTTP_HEAD_H

#include <stddef.h>

#include "byte_buffer.h"

typedef enum {
  HEAD_MORE,         /* a field kept, or a line of no use ignored */
  HEAD_STATUS_LINE,  /* a block begins: set status before the next line */
  HEAD_COMPLETE,     /* the final block (status 200 or more) ended */
  HEAD_NO_MEMORY
} head_result;

typedef struct {
  byte_buffer fields;
  long status;        /* of the current block, as the caller set it */
  int complete;
} http_head;

typedef struct {
  const char *name, *value;   /* each also NUL-terminated */
  size_t name_len, value_len;
} http_field;

/* A zeroed struct is an empty head. curl bounds what reaches it (100 KB a
   line, 300 KB a head in 7.88). */
void http_head_free(http_head *h);

/* One line, its line end (CR LF, LF or CR) included or not. */
head_result http_head_line(http_head *h, const char *line, size_t len);

/* The field after *at (start with *at = 0): 1 and *f filled, or 0 at the end. */
int http_head_next(const http_head *h, size_t *at, http_field *f);

#endif
