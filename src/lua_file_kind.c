/* core.file_kind(path) -> "regular file" | "directory" | "FIFO" | ... | nil,
   err (type "io", the message names the path): what path names, without
   opening it (file_kind.h). */
#include <errno.h>
#include <string.h>

#include "core.h"
#include "file_kind.h"

static int l_file_kind(lua_State *L)
{
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  file_kind_t kind;
  if (strlen(path) != len)
    return gptaudio_fail(L, "io", "the path contains a NUL byte");
  if (file_kind(path, &kind) != 0)
    return gptaudio_fail(L, "io", "%s: %s", path, strerror(errno));
  lua_pushstring(L, file_kind_name(kind));
  return 1;
}

void gptaudio_open_file_kind(lua_State *L)
{
  lua_pushcfunction(L, l_file_kind);
  lua_setfield(L, -2, "file_kind");
}
