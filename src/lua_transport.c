/* Being written; registers nothing yet. */
#include "core.h"

void gptaudio_open_transport(lua_State *L)
{
  (void)L;
}
