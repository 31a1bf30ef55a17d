/* lrun.c — tpp_run_chunk: a protected call with the host's message handler and Ctrl-C armed, as lua.c's docall. */
#include "lrun.h"
#include "linterrupt.h"

#include <lauxlib.h>

/* Message handler: turns the error object into a string (via __tostring when it has one) and appends
 * a traceback; tpp.INTERRUPTED passes unchanged. */
static int message_handler(lua_State *L)
{
    if (tpp_is_interrupted(L, 1))
        return 1;                           /* kept as it is, for the reports to recognise */
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Call the function below its narg arguments with the traceback handler and Ctrl-C enabled (it raises
 * tpp.INTERRUPTED; see linterrupt.c).  Same stack effect and status as lua_pcall(L, narg, nres, 0). */
int tpp_run_chunk(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    tpp_interrupt_arm(L);
    int status = lua_pcall(L, narg, nres, base);
    tpp_interrupt_disarm();
    lua_remove(L, base);
    return status;
}
