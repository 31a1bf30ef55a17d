/* loptions.h — the parse options table shared by tpp.parse and tpp.packets. */
#ifndef TPP_LOPTIONS_H
#define TPP_LOPTIONS_H

#include <lua.h>

struct tpp_options;

/* Read an options table at `idx` (may be absent/nil) into `o`; unknown keys and bad values raise errors. */
void tpp_lcheck_options(lua_State *L, int idx, struct tpp_options *o);

#endif
