/* repl.h — the interactive loop of the `tpp` host. */
#ifndef TPP_REPL_H
#define TPP_REPL_H

#include <lua.h>

/* Read-eval-print until end of input: expressions print their values, errors print their message and the
 * loop goes on.  Uses GNU readline with history in ~/.tpp_history and Tab completion of Lua names.
 * First, lua/tpp/repl.lua's start() sets the globals tpp and help and, given args[0..nargs) (parse options such
 * as -t 1, and dumps, captures or directories of them), loads the files into globals named after them; the
 * strings are only read during the call. */
void tpp_repl(lua_State *L, char **args, int nargs);

/* Whether `tpp -i PATH ...` names data to load (a capture or a dump, by content or by name, or a directory)
 * rather than a script to run.  Never raises; false when that cannot be decided. */
int tpp_repl_is_data(lua_State *L, const char *path);

#endif
