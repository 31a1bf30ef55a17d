/* linterrupt.h — Ctrl-C as the one Lua value tpp.INTERRUPTED (linterrupt.c). */
#ifndef TPP_LINTERRUPT_H
#define TPP_LINTERRUPT_H

#include <lua.h>

/* The host arms SIGINT around each chunk; an interrupt raises the one object
 * tpp.INTERRUPTED.  tpp_raise_interrupted consumes the request and raises it (C code that noticed the request
 * itself calls it); tpp_is_interrupted tells whether the value at idx is it. */
void tpp_interrupt_arm(lua_State *L);
void tpp_interrupt_disarm(void);
void tpp_push_interrupted(lua_State *L);
int tpp_is_interrupted(lua_State *L, int idx);
int tpp_raise_interrupted(lua_State *L);
/* Whether tpp.INTERRUPTED was raised since the host armed its last chunk: the process is ending by Ctrl-C (or
 * cleaning up after it), so what was left half-done, such as an unclosed pcap writer, is thrown away. */
int tpp_interrupt_raised(void);
/* Replace os.execute by one that leaves tpp's SIGINT handler in place while the command runs (system() ignores
 * SIGINT in the caller); the host calls it after opening the standard libraries. */
void tpp_interrupt_open_execute(lua_State *L);

#endif
