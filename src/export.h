/* The modules are built with hidden visibility: only their luaopen_ functions
   are exported. Otherwise a library loaded earlier into the global scope (the
   host's, or one preloaded) that defines a function of the same name as one of
   ours (libssh has buffer_free) would replace it inside our module. */
#ifndef GPTAUDIO_EXPORT_H
#define GPTAUDIO_EXPORT_H

#if defined(__GNUC__)
#define GPTAUDIO_EXPORT __attribute__((visibility("default")))
#else
#define GPTAUDIO_EXPORT
#endif

#endif
