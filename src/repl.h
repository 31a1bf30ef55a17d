/* repl.h — the interactive loop of the `tpp` host. */
#ifndef TPP_REPL_H
#define TPP_REPL_H

#include <lua.h>

/* Read-eval-print until end of input: expressions print their values, errors print their message and the
 * loop goes on.  Uses GNU readline with history in ~/.tpp_history and Tab completion of Lua names. */
void tpp_repl(lua_State *L);

/* Provided by main.c: call the function below its narg arguments protected, with a traceback handler and
 * Ctrl-C enabled; same stack effect and status as lua_pcall(L, narg, nres, 0). */
int tpp_run_chunk(lua_State *L, int narg, int nres);

#endif
