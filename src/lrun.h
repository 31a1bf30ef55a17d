/* lrun.h — running one chunk of the host (a script, -e, -l, a REPL line): main.c and repl.c both use it. */
#ifndef TPP_LRUN_H
#define TPP_LRUN_H

#include <lua.h>

/* Call the function below its narg arguments protected, with a traceback handler and Ctrl-C enabled (it raises
 * tpp.INTERRUPTED; see linterrupt.c); same stack effect and status as lua_pcall(L, narg, nres, 0). */
int tpp_run_chunk(lua_State *L, int narg, int nres);

#endif
