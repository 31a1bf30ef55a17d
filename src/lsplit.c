/* lsplit.c — the Lua binding of tpp/split.h: tpp.split_plan(path, { delta_t =, chunks = }). */
#include "ltpp.h"
#include "lfail.h"
#include "tpp/error.h"
#include "tpp/split.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>

enum { MAX_CHUNKS = 4096 };

/* tpp.split_plan(path, { delta_t = seconds, chunks = K }) -> list of { from, to, prev_ns } (prev_ns nil for the
 * first), to pass to tpp.parse as { range = { from, to }, prev_ns = prev_ns }; or nil, "path: reason". */
static int l_split_plan(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "delta_t");
    lua_Number dt = luaL_optnumber(L, -1, 10);
    lua_getfield(L, 2, "chunks");
    lua_Integer want = luaL_checkinteger(L, -1);
    lua_pop(L, 2);
    luaL_argcheck(L, dt * 1e9 >= 1 && dt <= 1e9, 2, "delta_t must be a positive number of seconds");
    luaL_argcheck(L, want >= 1 && want <= MAX_CHUNKS, 2, "chunks must be between 1 and 4096");
    struct tpp_chunk *chunks = lua_newuserdatauv(L, (size_t)want * sizeof *chunks, 0);
    char err[TPP_ERRBUF_SIZE];
    int n = tpp_split_plan(path, (int64_t)llround(dt * 1e9), (int)want, chunks, err, sizeof err);
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

void tpp_lsplit_register(lua_State *L)
{
    lua_pushcfunction(L, l_split_plan);
    lua_setfield(L, -2, "split_plan");
}
