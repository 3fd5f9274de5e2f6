/* What the two Lua bindings of the engine (src/transport.h) share:
   lua_transport.c (gptaudio.Transport) and lua_transfer.c (gptaudio.Transfer).
   No other file includes it. */
#ifndef GPTAUDIO_LUA_TRANSFER_H
#define GPTAUDIO_LUA_TRANSFER_H

#include "core.h"
#include "transport.h"

#define TRANSPORT_MT "gptaudio.Transport"
#define TRANSFER_MT "gptaudio.Transfer"

/* The Transfer userdata: the engine's transfer points back at it
   (transfer_user), and while the transfer is active the registry holds it
   (ref), so that its events can name it. */
typedef struct {
  transfer *tr;   /* NULL only before the transfer exists */
  int ref;        /* LUA_NOREF once the transfer is no longer active */
} transfer_handle;

void wrap_transfer_open(lua_State *L);
/* t:add(spec): pushes the new Transfer (or nil, err) and returns the count. */
int wrap_transfer_add(lua_State *L, transport *t, int spec);
/* Pushes the Transfer userdata of an active transfer. */
void wrap_transfer_push(lua_State *L, const transfer *tr);
/* Sets the fields particular to ev's type on the event table on top of the stack. */
void wrap_transfer_report(lua_State *L, const transport_event *ev);
/* The transfer is no longer active: the registry lets its userdata go. */
void wrap_transfer_forget(lua_State *L, const transfer *tr);

#endif
