/* lresult.c — tpp.parse and the result userdata (columns, intervals, port histograms, summary fields). */
#include "ltpp.h"
#include "tpp/dump.h"
#include "tpp/interval.h"
#include "tpp/outfile.h"
#include "tpp/result.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RESULT_MT "tpp.result"

typedef struct { struct tpp_result *r; } LResult;

static struct tpp_result *check_result(lua_State *L, int idx)
{
    LResult *u = luaL_checkudata(L, idx, RESULT_MT);
    if (!u->r) luaL_error(L, "attempt to use a freed result");
    return u->r;
}

void tpp_lresult_push(lua_State *L, struct tpp_result *r)
{
    LResult *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->r = NULL; /* safe state until the metatable (and its __gc) is set */
    luaL_setmetatable(L, RESULT_MT);
    u->r = r;
}

static int result_gc(lua_State *L)
{
    LResult *u = luaL_checkudata(L, 1, RESULT_MT);
    tpp_result_free(u->r);
    u->r = NULL;
    return 0;
}

static int result_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_result(L, 1)->nintervals);
    return 1;
}

static void push_time(lua_State *L, int64_t ns) { lua_pushnumber(L, (lua_Number)ns / 1e9); }

static int result_tostring(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    lua_pushfstring(L, "tpp.result: %s, %I intervals of %f s, %I packets (%I IP)%s", r->source,
                    (lua_Integer)r->nintervals, (lua_Number)r->opts.delta_ns / 1e9, (lua_Integer)r->packets,
                    (lua_Integer)r->ip_packets, r->complete ? "" : ", incomplete");
    return 1;
}

/* Push the value of column `c` for interval index i (0-based): integers for counts, floats otherwise. */
static void push_cell(lua_State *L, const struct tpp_column *c, const struct tpp_interval *iv, size_t i)
{
    if (c->type == TPP_COL_INDEX) lua_pushinteger(L, (lua_Integer)i);
    else if (c->type == TPP_COL_COUNT) lua_pushinteger(L, (lua_Integer)*(const uint64_t *)((const char *)iv + c->offset));
    else lua_pushnumber(L, tpp_column_value(c, iv, i));
}

static const struct tpp_column *check_column(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    const struct tpp_column *c = tpp_column_find(name);
    if (!c) luaL_argerror(L, idx, lua_pushfstring(L, "no column named '%s'", name));
    return c;
}

/* r:column(name) -> sequence, element i is interval i-1. */
static int result_column(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    const struct tpp_column *c = check_column(L, 2);
    lua_createtable(L, (int)r->nintervals, 0);
    for (size_t i = 0; i < r->nintervals; i++) {
        push_cell(L, c, &r->iv[i], i);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int result_columns(lua_State *L)
{
    check_result(L, 1);
    lua_createtable(L, (int)tpp_ncolumns, 0);
    for (size_t c = 0; c < tpp_ncolumns; c++) {
        lua_pushstring(L, tpp_columns[c].name);
        lua_rawseti(L, -2, (lua_Integer)c + 1);
    }
    return 1;
}

/* r:interval(i) -> record of every column of interval i (1-based). */
static int result_interval(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    luaL_argcheck(L, i >= 1 && (size_t)i <= r->nintervals, 2, "interval index out of range");
    lua_createtable(L, 0, (int)tpp_ncolumns);
    for (size_t c = 0; c < tpp_ncolumns; c++) {
        push_cell(L, &tpp_columns[c], &r->iv[i - 1], (size_t)i - 1);
        lua_setfield(L, -2, tpp_columns[c].name);
    }
    return 1;
}

static int check_series(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    int s = tpp_series_find(name);
    if (s < 0) luaL_argerror(L, idx, lua_pushfstring(L, "no port series '%s' (tcp_src, tcp_dst, udp_src, udp_dst)", name));
    return s;
}

/* Iterator state: upvalue 1 the result, 2 the series, 3 the interval index, 4 the item index. */
static int ports_next(lua_State *L)
{
    const struct tpp_result *r = check_result(L, lua_upvalueindex(1));
    const struct tpp_port_series *ps = &r->ports[lua_tointeger(L, lua_upvalueindex(2))];
    size_t i = (size_t)lua_tointeger(L, lua_upvalueindex(3));
    size_t k = (size_t)lua_tointeger(L, lua_upvalueindex(4));
    if (k >= ps->nitems) return 0;
    while (i < r->nintervals && ps->offsets[i + 1] <= k) i++;
    lua_pushinteger(L, (lua_Integer)i);
    lua_replace(L, lua_upvalueindex(3));
    lua_pushinteger(L, (lua_Integer)k + 1);
    lua_replace(L, lua_upvalueindex(4));
    lua_pushinteger(L, (lua_Integer)i + 1);
    lua_pushinteger(L, ps->items[k].port);
    lua_pushinteger(L, ps->items[k].count);
    return 3;
}

/* for i, port, count in r:ports(series) — ascending interval (1-based), then port. */
static int result_ports(lua_State *L)
{
    check_result(L, 1);
    int s = check_series(L, 2);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, s);
    lua_pushinteger(L, 0);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, ports_next, 4);
    return 1;
}

static int result_distinct_ports(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    lua_pushinteger(L, (lua_Integer)tpp_result_distinct_ports(r, check_series(L, 2)));
    return 1;
}

/* r:write_critical(path) -> true | nil, message.  Atomic: a temporary file renamed over the target. */
static int result_write_critical(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    const char *path = luaL_checkstring(L, 2);
    char err[512];
    struct tpp_outfile out;
    if (tpp_outfile_open(&out, path, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    int fd = dup(out.fd);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int rc = f ? tpp_result_write_tsv(r, f) : -1;
    if (f && fclose(f) != 0) rc = -1;
    else if (!f && fd >= 0) close(fd);
    if (rc != 0) {
        tpp_outfile_abort(&out);
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: write failed", path);
        return 2;
    }
    if (tpp_outfile_commit(&out, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* r:dump(path) -> true | nil, message.  Atomic, like every output. */
static int result_dump(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    const char *path = luaL_checkstring(L, 2);
    char err[1200];
    if (tpp_dump_write(r, path, TPP_VERSION, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* tpp.load(path) -> result | nil, "path: reason" */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char err[1200];
    struct tpp_result *r = tpp_dump_read(path, err, sizeof err);
    if (!r) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    tpp_lresult_push(L, r);
    return 1;
}

/* Summary fields, looked up by name through a table of getters (no strcmp chain in __index). */
#define FIELD(name, expr) static int field_##name(lua_State *L, const struct tpp_result *r) { expr; return 1; }
FIELD(source, lua_pushstring(L, r->source))
FIELD(delta_t, lua_pushnumber(L, (lua_Number)r->opts.delta_ns / 1e9))
FIELD(delta_ns, lua_pushinteger(L, r->opts.delta_ns))
FIELD(boundary, lua_pushstring(L, r->opts.boundary == TPP_BOUNDARY_ALIGNED ? "aligned" : "packet"))
FIELD(ip, lua_pushstring(L, r->opts.ip == TPP_IP_ANY ? "any" : r->opts.ip == TPP_IP_V4 ? "v4" : "v6"))
FIELD(filter, if (r->opts.filter[0]) lua_pushstring(L, r->opts.filter); else lua_pushnil(L))
FIELD(max_packets, lua_pushinteger(L, (lua_Integer)r->opts.max_packets))
FIELD(max_intervals, lua_pushinteger(L, (lua_Integer)r->opts.max_intervals))
FIELD(packets, lua_pushinteger(L, (lua_Integer)r->packets))
FIELD(ip_packets, lua_pushinteger(L, (lua_Integer)r->ip_packets))
FIELD(non_ip_packets, lua_pushinteger(L, (lua_Integer)r->non_ip_packets))
FIELD(truncated_packets, lua_pushinteger(L, (lua_Integer)r->truncated_packets))
FIELD(backwards_packets, lua_pushinteger(L, (lua_Integer)r->backwards_packets))
FIELD(intervals, lua_pushinteger(L, (lua_Integer)r->nintervals))
FIELD(first_ts, push_time(L, r->first_ns))
FIELD(last_ts, push_time(L, r->last_ns))
FIELD(first_ns, lua_pushinteger(L, r->first_ns))
FIELD(last_ns, lua_pushinteger(L, r->last_ns))
FIELD(linktype, lua_pushinteger(L, r->linktype))
FIELD(source_size, lua_pushinteger(L, (lua_Integer)r->source_size))
FIELD(source_mtime, push_time(L, r->source_mtime_ns))
FIELD(complete, lua_pushboolean(L, r->complete))
FIELD(stopped_by_limit, lua_pushboolean(L, r->stopped_by_limit))
FIELD(error, if (r->error[0]) lua_pushstring(L, r->error); else lua_pushnil(L))
FIELD(warning, if (r->warning[0]) lua_pushstring(L, r->warning); else lua_pushnil(L))
#undef FIELD

typedef int (*field_fn)(lua_State *L, const struct tpp_result *r);
#define F(name) { #name, field_##name }
static const struct { const char *name; field_fn fn; } fields[] = {
    F(source), F(delta_t), F(delta_ns), F(boundary), F(ip), F(filter), F(max_packets), F(max_intervals),
    F(packets), F(ip_packets), F(non_ip_packets), F(truncated_packets), F(backwards_packets), F(intervals),
    F(first_ts), F(last_ts), F(first_ns), F(last_ns), F(linktype), F(source_size), F(source_mtime),
    F(complete), F(stopped_by_limit), F(error), F(warning),
};
#undef F

/* __index: upvalue 1 = methods table, upvalue 2 = field name -> getter index. */
static int result_index(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(2)) == LUA_TNUMBER) return fields[lua_tointeger(L, -1)].fn(L, r);
    return 0;
}

/* r:fields() -> names of the summary fields (for help and completion). */
static int result_fields(lua_State *L)
{
    check_result(L, 1);
    size_t n = sizeof fields / sizeof fields[0];
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, fields[i].name);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* The Lua progress callback sits on the stack top while tpp_parse runs.  It is called protected, so that an
 * error in it cannot jump over the C core's cleanup: the error stops the parse and is raised afterwards. */
struct progress_ctx { lua_State *L; int failed; };

static int parse_progress(void *ud, uint64_t bytes, uint64_t size, uint64_t packets)
{
    struct progress_ctx *ctx = ud;
    lua_State *L = ctx->L;
    lua_pushvalue(L, -1);
    lua_pushinteger(L, (lua_Integer)bytes);
    lua_pushinteger(L, (lua_Integer)size);
    lua_pushinteger(L, (lua_Integer)packets);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        ctx->failed = 1; /* the error object stays on the stack */
        return 1;
    }
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1); /* an explicit false stops */
    lua_pop(L, 1);
    return stop;
}

/* tpp.parse(path [, opts [, progress]]) -> result | nil, "path: reason".
 * progress(bytes_read, file_size, packets) is called every 65536 packets; returning false stops the parse. */
static int l_parse(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct tpp_options o;
    tpp_lcheck_options(L, 2, &o);
    struct progress_ctx ctx = { L, 0 };
    int has_progress = !lua_isnoneornil(L, 3);
    if (has_progress) {
        luaL_checktype(L, 3, LUA_TFUNCTION);
        lua_settop(L, 3);
    }
    char err[600];
    struct tpp_result *r = tpp_parse(path, &o, has_progress ? parse_progress : NULL, &ctx, err, sizeof err);
    if (ctx.failed) {
        tpp_result_free(r);
        return lua_error(L);
    }
    if (!r) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    tpp_lresult_push(L, r);
    return 1;
}

void tpp_lresult_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "column", result_column }, { "columns", result_columns }, { "interval", result_interval },
        { "ports", result_ports }, { "distinct_ports", result_distinct_ports },
        { "write_critical", result_write_critical }, { "dump", result_dump }, { "fields", result_fields },
        { NULL, NULL },
    };
    static const luaL_Reg meta[] = {
        { "__gc", result_gc }, { "__close", result_gc }, { "__len", result_len }, { "__tostring", result_tostring },
        { NULL, NULL },
    };
    luaL_newmetatable(L, RESULT_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_createtable(L, 0, (int)(sizeof fields / sizeof fields[0]));
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        lua_pushinteger(L, (lua_Integer)i);
        lua_setfield(L, -2, fields[i].name);
    }
    lua_pushcclosure(L, result_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    lua_pushcfunction(L, l_parse);
    lua_setfield(L, -2, "parse");
    lua_pushcfunction(L, l_load);
    lua_setfield(L, -2, "load");
}
