/* Being written; registers nothing yet. */
#include "core.h"

void gptaudio_open_resampler(lua_State *L)
{
  (void)L;
}
