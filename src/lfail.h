/* lfail.h — the binding's world-failure tier: return `nil, "path: reason"` as io.open does. */
#ifndef TPP_LFAIL_H
#define TPP_LFAIL_H

#include <lua.h>

/* Push fail (nil) and the message fmt formats (lua_pushfstring's directives); returns 2, the number of results,
 * so that a C function can end with `return tpp_push_fail(L, "%s: %s", path, err);`. */
int tpp_push_fail(lua_State *L, const char *fmt, ...);

#endif
