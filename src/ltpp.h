/* ltpp.h — the Lua bindings of the C core (the only part of src/ besides main.c that knows Lua).
 *
 * luaopen_tpp_core() builds the table behind `require "tpp.core"`; lua/tpp/init.lua gathers it with the Lua
 * library into the `tpp` module.  Each binding file registers its own userdata type.
 */
#ifndef TPP_LTPP_H
#define TPP_LTPP_H

#include <lua.h>

/* For lresult.c only, until it includes these itself: TPP_VERSION (version.h) and tpp_lcheck_options
 * (loptions.h) used to be declared here.  Nothing else relies on these two includes. */
#include "loptions.h"
#include "version.h"

int luaopen_tpp_core(lua_State *L);

/* Per-type registration, called by luaopen_tpp_core with the module table on the stack top. */
void tpp_lresult_register(lua_State *L);   /* tpp.parse, the result userdata */
void tpp_lpackets_register(lua_State *L);  /* tpp.packets iterator */
void tpp_lwriter_register(lua_State *L);   /* tpp.pcap_writer */
void tpp_lproc_register(lua_State *L);     /* tpp.spawn, tpp.poll, tpp.isatty, tpp.cpus, tpp.pid */
void tpp_linterrupt_register(lua_State *L);   /* tpp.INTERRUPTED, tpp.interrupted */
void tpp_lconfig_register(lua_State *L);   /* tpp.load_data */

/* Ctrl-C (linterrupt.c).  The host arms SIGINT around each chunk; an interrupt raises the one object
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

/* Send sig to every child process tpp.spawn started and nobody reaped yet (lproc.c); async-signal-safe. */
void tpp_lproc_signal_children(int sig);

/* Push a result userdata that takes ownership of `r` (freed by the garbage collector). */
struct tpp_result;
void tpp_lresult_push(lua_State *L, struct tpp_result *r);

#endif
