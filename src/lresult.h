/* lresult.h — the result userdata, for the binding files that take or make results (lresult.c defines it). */
#ifndef TPP_LRESULT_H
#define TPP_LRESULT_H

#include <lua.h>

struct tpp_result;

/* The result at idx, raising when it is not one (or was closed). */
struct tpp_result *tpp_lresult_check(lua_State *L, int idx);
/* Push r as a new result userdata; it takes ownership. */
void tpp_lresult_push(lua_State *L, struct tpp_result *r);

#endif
