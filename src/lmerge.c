/* lmerge.c — the Lua binding of tpp/merge.h: tpp.merge{r1, r2, ...} and the streaming tpp.merger(). */
#include "ltpp.h"
#include "lresult.h"
#include "lfail.h"
#include "tpp/error.h"
#include "tpp/merge.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define MERGER_MT "tpp.merger"

typedef struct { struct tpp_merger *g; } LMerger;

static LMerger *check_merger(lua_State *L)
{
    LMerger *u = luaL_checkudata(L, 1, MERGER_MT);
    if (!u->g) luaL_error(L, "attempt to use a merger whose result was taken");
    return u;
}

static int merger_gc(lua_State *L)
{
    LMerger *u = luaL_checkudata(L, 1, MERGER_MT);
    tpp_merger_free(u->g);
    u->g = NULL;
    return 0;
}

/* m:add(r) -> true | nil, reason */
static int merger_add(lua_State *L)
{
    LMerger *u = check_merger(L);
    const struct tpp_result *r = tpp_lresult_check(L, 2);
    char err[TPP_ERRBUF_SIZE];
    if (tpp_merger_add(u->g, r, err, sizeof err) != 0) return tpp_push_fail(L, "%s", err);
    lua_pushboolean(L, 1);
    return 1;
}

/* m:result() -> the merged result (nil, reason when nothing was added); the merger is spent. */
static int merger_result(lua_State *L)
{
    LMerger *u = check_merger(L);
    size_t pieces = tpp_merger_pieces(u->g);
    struct tpp_result *r = tpp_merger_finish(u->g);
    tpp_merger_free(u->g);
    u->g = NULL;
    if (!r) return tpp_push_fail(L, pieces ? "out of memory while merging" : "nothing to merge: no result was added");
    tpp_lresult_push(L, r);
    return 1;
}

static int merger_index(lua_State *L)
{
    LMerger *u = luaL_checkudata(L, 1, MERGER_MT);
    const char *key = luaL_checkstring(L, 2);
    if (strcmp(key, "pieces") == 0) {
        lua_pushinteger(L, u->g ? (lua_Integer)tpp_merger_pieces(u->g) : 0);
        return 1;
    }
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, key);
    return 1;
}

static LMerger *new_merger(lua_State *L)
{
    LMerger *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->g = NULL;
    luaL_setmetatable(L, MERGER_MT);
    u->g = tpp_merger_new();
    if (!u->g) luaL_error(L, "out of memory");
    return u;
}

/* tpp.merger() -> a merger: add results in order of their first packet, then take the result. */
static int l_merger(lua_State *L)
{
    new_merger(L);
    return 1;
}

struct piece { int64_t first, last; lua_Integer index; };

static int by_time(const void *x, const void *y)
{
    const struct piece *a = x, *b = y;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    if (a->last != b->last) return a->last < b->last ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* tpp.merge{r1, r2, ...} -> merged result | nil, reason.  Any order: the pieces are sorted by their first packet. */
static int l_merge(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 1, 1, "a list of results to merge");
    struct piece *order = lua_newuserdatauv(L, (size_t)n * sizeof *order, 0); /* freed by the GC, even on error */
    for (lua_Integer k = 1; k <= n; k++) {
        lua_geti(L, 1, k);
        if (!luaL_testudata(L, -1, "tpp.result"))
            luaL_error(L, "bad argument #1 to 'merge' (element %I is a %s, not a result)", k, luaL_typename(L, -1));
        const struct tpp_result *r = tpp_lresult_check(L, -1);
        order[k - 1] = (struct piece){ r->packets ? r->first_ns : INT64_MIN, r->last_ns, k };
        lua_pop(L, 1);
    }
    qsort(order, (size_t)n, sizeof *order, by_time);
    LMerger *u = new_merger(L);
    char err[TPP_ERRBUF_SIZE];
    for (lua_Integer k = 0; k < n; k++) {
        lua_geti(L, 1, order[k].index);
        int rc = tpp_merger_add(u->g, tpp_lresult_check(L, -1), err, sizeof err);
        lua_pop(L, 1);
        if (rc != 0) return tpp_push_fail(L, "%s", err);
    }
    lua_remove(L, -2); /* the order */
    lua_replace(L, 1);
    lua_settop(L, 1);
    return merger_result(L);
}

void tpp_lmerge_register(lua_State *L)
{
    static const luaL_Reg methods[] = { { "add", merger_add }, { "result", merger_result }, { NULL, NULL } };
    luaL_newmetatable(L, MERGER_MT);
    lua_pushcfunction(L, merger_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "methods");
    lua_pushcfunction(L, merger_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_merge);
    lua_setfield(L, -2, "merge");
    lua_pushcfunction(L, l_merger);
    lua_setfield(L, -2, "merger");
}
