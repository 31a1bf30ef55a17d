/* lsplit.c — the Lua binding of tpp/split.h and tpp/gzindex.h: tpp.split_plan(path, { delta_t =, chunks =
 * [, index =] }) and tpp.gzindex(capture, index_path). */
#include "ltpp.h"
#include "lfail.h"
#include "tpp/error.h"
#include "tpp/split.h"
#include "tpp/gzindex.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>

enum { MAX_CHUNKS = 4096 };

/* tpp.split_plan(path, { delta_t = seconds, chunks = K [, index = gzip index path] }) -> list of { from, to,
 * prev_ns } (prev_ns nil for the first), to pass to tpp.parse as { range = { from, to }, prev_ns = prev_ns
 * [, index = ...] }; or nil, "path: reason". */
static int l_split_plan(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "delta_t");
    lua_Number dt = luaL_optnumber(L, -1, 10);
    lua_getfield(L, 2, "chunks");
    lua_Integer want = luaL_checkinteger(L, -1);
    lua_getfield(L, 2, "index");
    const char *index_path = luaL_optstring(L, -1, NULL);
    lua_pop(L, 2); /* index_path stays valid: the options table holds the string */
    luaL_argcheck(L, dt * 1e9 >= 1 && dt <= 1e9, 2, "delta_t must be a positive number of seconds");
    luaL_argcheck(L, want >= 1 && want <= MAX_CHUNKS, 2, "chunks must be between 1 and 4096");
    struct tpp_chunk *chunks = lua_newuserdatauv(L, (size_t)want * sizeof *chunks, 0);
    char err[TPP_ERRBUF_SIZE];
    int64_t delta = (int64_t)llround(dt * 1e9);
    int n;
    if (index_path) {
        struct tpp_gzindex *x = tpp_gzindex_load(index_path, path, err, sizeof err);
        n = x ? tpp_split_plan_indexed(path, x, delta, (int)want, chunks, err, sizeof err) : -1;
        tpp_gzindex_free(x);
    } else {
        n = tpp_split_plan(path, delta, (int)want, chunks, err, sizeof err);
    }
    if (n < 0) return tpp_push_fail(L, "%s: %s", path, err);
    lua_createtable(L, n, 0);
    for (int k = 0; k < n; k++) {
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, (lua_Integer)chunks[k].from);
        lua_setfield(L, -2, "from");
        lua_pushinteger(L, (lua_Integer)chunks[k].to);
        lua_setfield(L, -2, "to");
        if (chunks[k].has_prev) {
            lua_pushinteger(L, chunks[k].prev_ns);
            lua_setfield(L, -2, "prev_ns");
        }
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* tpp.gzindex(capture, index_path) -> true | nil, "capture: reason": inflate a .pcap.gz once and save the
 * checkpoint index that lets its chunks be read from the middle. */
static int l_gzindex(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1), *out = luaL_checkstring(L, 2);
    char err[TPP_ERRBUF_SIZE];
    struct tpp_gzindex *x = tpp_gzindex_build(path, err, sizeof err);
    if (!x) return tpp_push_fail(L, "%s: %s", path, err);
    int rc = tpp_gzindex_save(x, out, err, sizeof err);
    tpp_gzindex_free(x);
    if (rc != 0) return tpp_push_fail(L, "%s", err);
    lua_pushboolean(L, 1);
    return 1;
}

void tpp_lsplit_register(lua_State *L)
{
    lua_pushcfunction(L, l_gzindex);
    lua_setfield(L, -2, "gzindex");
    lua_pushcfunction(L, l_split_plan);
    lua_setfield(L, -2, "split_plan");
}
