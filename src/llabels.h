/* llabels.h — anomaly lists between Lua and tpp/labels.h (llabels.c), for tpp.parse and the result's r.labels. */
#ifndef TPP_LLABELS_H
#define TPP_LLABELS_H

#include <lua.h>

struct tpp_labels;
struct tpp_result;

/* The list of anomaly tables at idx (docs/lua-api.md, "Labels") as C labels, owned by a box pushed on the stack
 * top (freed with it); raises on a malformed list. */
struct tpp_labels *tpp_llabels_check(lua_State *L, int idx);
/* Push r's labels (r->labels not NULL) as a list of anomaly tables with what the parse found; their fingerprint. */
void tpp_llabels_push(lua_State *L, const struct tpp_result *r);
void tpp_llabels_push_fingerprint(lua_State *L, const struct tpp_result *r);

#endif
