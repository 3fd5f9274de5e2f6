#include <ctype.h>
#include <string.h>

#include "http_head.h"

void http_head_free(http_head *h)
{
  buffer_free(&h->fields);
}

static int is_blank(char c)
{
  return c == ' ' || c == '\t';
}

/* Stores "name: value". Lines without a name (obsolete folding) or with a NUL
   carry nothing worth keeping. */
static head_result add_field(http_head *h, const char *line, size_t len)
{
  const char *colon = memchr(line, ':', len);
  const char *value;
  size_t name_len, value_len, start = h->fields.len, i;
  if (!colon || colon == line || isspace((unsigned char)line[0]) || memchr(line, '\0', len))
    return HEAD_MORE;
  name_len = (size_t)(colon - line);
  value = colon + 1;
  value_len = len - name_len - 1;
  while (value_len && is_blank(*value))
    value++, value_len--;
  while (value_len && is_blank(value[value_len - 1]))
    value_len--;
  if (buffer_append(&h->fields, line, name_len) || buffer_append(&h->fields, "", 1) ||
      buffer_append(&h->fields, value, value_len) || buffer_append(&h->fields, "", 1)) {
    h->fields.len = start;
    return HEAD_NO_MEMORY;
  }
  for (i = start; i < start + name_len; i++)
    h->fields.bytes[i] = (char)tolower((unsigned char)h->fields.bytes[i]);
  return HEAD_MORE;
}

head_result http_head_line(http_head *h, const char *line, size_t len)
{
  if (h->complete)
    return HEAD_MORE;
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    h->fields.len = 0; /* a new block: the one before was interim */
    h->status = 0;
    return HEAD_STATUS_LINE;
  }
  if (len > 0)
    return add_field(h, line, len);
  if (h->status < 200)
    return HEAD_MORE; /* an interim block ended; the final one follows */
  h->complete = 1;
  return HEAD_COMPLETE;
}

int http_head_next(const http_head *h, size_t *at, http_field *f)
{
  if (*at >= h->fields.len)
    return 0;
  f->name = h->fields.bytes + *at;
  f->name_len = strlen(f->name);
  f->value = f->name + f->name_len + 1;
  f->value_len = strlen(f->value);
  *at += f->name_len + f->value_len + 2;
  return 1;
}
