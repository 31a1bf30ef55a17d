/* lfail.c — tpp_push_fail: the `nil, message` pair of a failure of the world. */
#include "lfail.h"

#include <lauxlib.h>
#include <stdarg.h>

int tpp_push_fail(lua_State *L, const char *fmt, ...)
{
    luaL_pushfail(L);
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return 2;
}
