/* ltpp.h — the Lua bindings of the C core (the only part of src/ besides main.c that knows Lua).
 *
 * luaopen_tpp_core() builds the table behind `require "tpp.core"`; lua/tpp/init.lua gathers it with the Lua
 * library into the `tpp` module.  Each binding file registers its own userdata type.
 */
#ifndef TPP_LTPP_H
#define TPP_LTPP_H

#include <lua.h>

int luaopen_tpp_core(lua_State *L);

/* Per-type registration, called by luaopen_tpp_core with the module table on the stack top. */
void tpp_lresult_register(lua_State *L);   /* tpp.parse, the result userdata */
void tpp_lpackets_register(lua_State *L);  /* tpp.packets iterator */
void tpp_lwriter_register(lua_State *L);   /* tpp.pcap_writer */
void tpp_lproc_register(lua_State *L);     /* tpp.spawn, tpp.poll, tpp.isatty, tpp.cpus, tpp.pid */
void tpp_linterrupt_register(lua_State *L);   /* tpp.INTERRUPTED, tpp.interrupted */
void tpp_lconfig_register(lua_State *L);   /* tpp.load_data */
void tpp_lmerge_register(lua_State *L);    /* tpp.merge, tpp.merger */
void tpp_lsplit_register(lua_State *L);    /* tpp.split_plan */
void tpp_llabels_register(lua_State *L);   /* tpp.label_address, tpp.labels_fingerprint */

#endif
