/* lresult.c — tpp.parse, tpp.load and the result userdata: columns, interval records, port histograms and their
 * statistics (top ports, port entropy), selections, summary fields, and the outputs (TSV, dump, CSV, JSON).
 *
 * Columns, interval records and top-port lists are plain Lua tables carrying the metatables "tpp.column",
 * "tpp.interval" and "tpp.ports", created here and given their methods by lua/tpp/result.lua (through
 * core._meta), so that statistics and printing are Lua while the loops over intervals and ports stay in C.
 */
#include "ltpp.h"
#include "tpp/dump.h"
#include "tpp/fingerprint.h"
#include "tpp/interrupt.h"
#include "tpp/interval.h"
#include "tpp/outfile.h"
#include "tpp/result.h"

#include <lauxlib.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESULT_MT "tpp.result"
#define COLUMN_MT "tpp.column"
#define INTERVAL_MT "tpp.interval"
#define PORTS_MT "tpp.ports"

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

/* r:column(name) -> column: a sequence whose element i is interval i-1, with the "tpp.column" metatable. */
static int result_column(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    const struct tpp_column *c = check_column(L, 2);
    lua_createtable(L, (int)r->nintervals, 0);
    for (size_t i = 0; i < r->nintervals; i++) {
        push_cell(L, c, &r->iv[i], i);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    luaL_setmetatable(L, COLUMN_MT);
    return 1;
}

/* The critical table's column names, in order, as a new table on the stack. */
static int push_column_names(lua_State *L)
{
    lua_createtable(L, (int)tpp_ncolumns, 0);
    for (size_t c = 0; c < tpp_ncolumns; c++) {
        lua_pushstring(L, tpp_columns[c].name);
        lua_rawseti(L, -2, (lua_Integer)c + 1);
    }
    return 1;
}

static int result_columns(lua_State *L)
{
    check_result(L, 1);
    return push_column_names(L);
}

/* r:interval(i) -> record of every column of interval i (1-based), with the "tpp.interval" metatable. */
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
    luaL_setmetatable(L, INTERVAL_MT);
    return 1;
}

static int check_series(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    int s = tpp_series_find(name);
    if (s < 0) luaL_argerror(L, idx, lua_pushfstring(L, "no port series '%s' (tcp_src, tcp_dst, udp_src, udp_dst)", name));
    return s;
}

/* Iterator state: upvalue 1 the result, 2 the series, 3 the interval index, 4 the byte offset in the series'
 * packed entries, 5 the last port read in that interval (-1 before its first). */
static int ports_next(lua_State *L)
{
    const struct tpp_result *r = check_result(L, lua_upvalueindex(1));
    const struct tpp_port_series *ps = &r->ports[lua_tointeger(L, lua_upvalueindex(2))];
    size_t i = (size_t)lua_tointeger(L, lua_upvalueindex(3));
    uint64_t off = (uint64_t)lua_tointeger(L, lua_upvalueindex(4));
    struct tpp_port_cursor c = { NULL, NULL, lua_tointeger(L, lua_upvalueindex(5)) };
    while (i < r->nintervals && off >= ps->offsets[i + 1]) i++, c.port = -1;
    if (i >= r->nintervals) return 0;
    c.p = ps->bytes + off;
    c.end = ps->bytes + ps->offsets[i + 1];
    uint32_t port, count;
    tpp_ports_next(&c, &port, &count);
    lua_pushinteger(L, (lua_Integer)i);
    lua_replace(L, lua_upvalueindex(3));
    lua_pushinteger(L, (lua_Integer)(c.p - ps->bytes));
    lua_replace(L, lua_upvalueindex(4));
    lua_pushinteger(L, c.port);
    lua_replace(L, lua_upvalueindex(5));
    lua_pushinteger(L, (lua_Integer)i + 1);
    lua_pushinteger(L, port);
    lua_pushinteger(L, count);
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
    lua_pushinteger(L, -1);
    lua_pushcclosure(L, ports_next, 5);
    return 1;
}

static int result_distinct_ports(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    lua_pushinteger(L, (lua_Integer)tpp_result_distinct_ports(r, check_series(L, 2)));
    return 1;
}

/* ---- port statistics ---------------------------------------------------------------------------------------- */

struct port_total { uint32_t port; uint64_t count; };

/* Count descending, then port ascending. */
static int by_count_desc(const void *a, const void *b)
{
    const struct port_total *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return (x->port > y->port) - (x->port < y->port);
}

/* r:top_ports(series [, i [, k]]) -> list of { port = p, count = c } ("tpp.ports" metatable), the k (default 10)
 * most frequent ports of interval i (1-based), or of the whole trace when i is nil; count descending, then port
 * ascending. */
static int result_top_ports(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    int s = check_series(L, 2);
    int whole = lua_isnoneornil(L, 3);
    lua_Integer i = whole ? 0 : luaL_checkinteger(L, 3);
    lua_Integer k = luaL_optinteger(L, 4, 10);
    luaL_argcheck(L, whole || (i >= 1 && (size_t)i <= r->nintervals), 3, "interval index out of range");
    luaL_argcheck(L, k >= 1, 4, "k must be at least 1");
    size_t n = 0;
    struct port_total *top;
    struct tpp_port_cursor c;
    uint32_t port, count;
    if (whole) {
        /* Sum every interval's histogram (counts may pass 2^32 over a trace), then keep the non-zero cells. */
        uint64_t *sum = lua_newuserdatauv(L, 65536 * sizeof *sum, 0);
        memset(sum, 0, 65536 * sizeof *sum);
        for (size_t j = 0; j < r->nintervals; j++)
            for (tpp_ports_open(r, s, j, &c); tpp_ports_next(&c, &port, &count);) sum[port & 0xffff] += count;
        for (size_t p = 0; p < 65536; p++) n += sum[p] != 0;
        top = lua_newuserdatauv(L, (n ? n : 1) * sizeof *top, 0);
        n = 0;
        for (uint32_t p = 0; p < 65536; p++)
            if (sum[p]) top[n++] = (struct port_total){ p, sum[p] };
    } else {
        top = lua_newuserdatauv(L, 65536 * sizeof *top, 0);
        for (tpp_ports_open(r, s, (size_t)i - 1, &c); tpp_ports_next(&c, &port, &count);)
            top[n++] = (struct port_total){ port, count };
    }
    qsort(top, n, sizeof *top, by_count_desc);
    size_t m = (uint64_t)k < n ? (size_t)k : n;
    lua_createtable(L, (int)m, 0);
    for (size_t j = 0; j < m; j++) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, top[j].port);
        lua_setfield(L, -2, "port");
        lua_pushinteger(L, (lua_Integer)top[j].count);
        lua_setfield(L, -2, "count");
        lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
    luaL_setmetatable(L, PORTS_MT);
    return 1;
}

/* r:port_entropy(series) -> column: per interval, the Shannon entropy of the port distribution normalised as
 * entropy_src is, (log2 n - Σ c·log2 c / n) / log2 d for n packets over d distinct ports; 0 when d is 1.  With no
 * packet it is undefined like entropy_src: NaN, or 0 in the packet mode (the original tool's conventions). */
static int result_port_entropy(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    int s = check_series(L, 2);
    lua_createtable(L, (int)r->nintervals, 0);
    for (size_t i = 0; i < r->nintervals; i++) {
        double n = 0, sum_clogc = 0, h = 0, distinct = 0;
        struct tpp_port_cursor cur;
        uint32_t port, count;
        for (tpp_ports_open(r, s, i, &cur); tpp_ports_next(&cur, &port, &count); distinct++) {
            double c = (double)count;
            n += c;
            if (c > 1) sum_clogc += c * log2(c);
        }
        if (distinct > 1 && n > 0) h = (log2(n) - sum_clogc / n) / log2(distinct);
        if (n == 0 && r->opts.boundary == TPP_BOUNDARY_ALIGNED) h = NAN;
        lua_pushnumber(L, h);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    luaL_setmetatable(L, COLUMN_MT);
    return 1;
}

/* ---- selections --------------------------------------------------------------------------------------------- */

/* A new result holding the intervals idx[0..n) (0-based, ascending) of r with their port histograms.  Counters
 * with a per-interval breakdown are recomputed (packets, ip_packets, first_ns/last_ns become the first chosen
 * start and the last chosen end, the whole-trace port sets the union of the chosen histograms); the others are
 * r's.  NULL when out of memory. */
static struct tpp_result *select_intervals(const struct tpp_result *r, const size_t *idx, size_t n)
{
    struct tpp_result *out = tpp_result_new(&r->opts, r->source);
    if (!out) return NULL;
    out->linktype = r->linktype;
    out->source_size = r->source_size;
    out->source_mtime_ns = r->source_mtime_ns;
    out->non_ip_packets = r->non_ip_packets;
    out->malformed_packets = r->malformed_packets;
    out->truncated_packets = r->truncated_packets;
    out->backwards_packets = r->backwards_packets;
    out->complete = r->complete;
    out->stopped_by_limit = r->stopped_by_limit;
    memcpy(out->error, r->error, sizeof out->error);
    memcpy(out->warning, r->warning, sizeof out->warning);
    for (size_t k = 0; k < n; k++) {
        const struct tpp_interval *iv = &r->iv[idx[k]];
        /* A row's port entries go in before the row: pushing the row records where its entries end. */
        for (int s = 0; s < TPP_NSERIES; s++) {
            struct tpp_port_cursor c;
            uint32_t port, count;
            for (tpp_ports_open(r, s, idx[k], &c); tpp_ports_next(&c, &port, &count);) {
                if (tpp_result_push_port(out, s, port, count) != 0) goto oom;
                out->seen_ports[s][(port & 0xffff) / 64] |= 1ull << (port % 64);
            }
        }
        if (tpp_result_push_interval(out, iv) != 0) goto oom;
        out->packets += iv->packets;
        out->ip_packets += iv->ip_packets;
    }
    if (n > 0) {
        out->first_ns = r->iv[idx[0]].start_ns;
        out->last_ns = r->iv[idx[n - 1]].end_ns;
    }
    return out;
oom:
    tpp_result_free(out);
    return NULL;
}

/* r:select(indices) -> result of the intervals at the given 1-based indices (strictly ascending). */
static int result_select(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, 2);
    luaL_argcheck(L, n <= r->nintervals, 2, "more indices than intervals");
    size_t *idx = lua_newuserdatauv(L, (n ? n : 1) * sizeof *idx, 0);
    for (size_t k = 0; k < n; k++) {
        int ok;
        lua_Integer i = (lua_geti(L, 2, (lua_Integer)k + 1), lua_tointegerx(L, -1, &ok));
        lua_pop(L, 1);
        if (!ok || i < 1 || (size_t)i > r->nintervals)
            return luaL_error(L, "bad index #%I in select (an interval number from 1 to %I expected)",
                              (lua_Integer)k + 1, (lua_Integer)r->nintervals);
        if (k > 0 && (size_t)i - 1 <= idx[k - 1])
            return luaL_error(L, "bad index #%I in select (indices must be strictly ascending)", (lua_Integer)k + 1);
        idx[k] = (size_t)i - 1;
    }
    struct tpp_result *out = select_intervals(r, idx, n);
    if (!out) return luaL_error(L, "not enough memory");
    tpp_lresult_push(L, out);
    return 1;
}

/* ---- outputs ------------------------------------------------------------------------------------------------ */

typedef int (*writer_fn)(lua_State *L, const struct tpp_result *r, FILE *f);

/* Write r to path atomically through `write` (0 on success, -1 on a write error): a temporary file beside the
 * target is renamed over it only when everything was written.  Returns true | nil, "path: reason". */
static int write_output(lua_State *L, const struct tpp_result *r, const char *path, writer_fn write)
{
    char err[512];
    struct tpp_outfile out;
    if (tpp_outfile_open(&out, path, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    errno = 0;
    int fd = dup(out.fd);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int rc = f ? write(L, r, f) : -1;
    int write_errno = errno; /* the first failure's reason (fclose may set another) */
    if (f && fclose(f) != 0) {
        if (rc == 0) write_errno = errno;
        rc = -1;
    } else if (!f && fd >= 0) close(fd);
    if (rc != 0) {
        tpp_outfile_abort(&out);
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: write failed: %s", path, write_errno ? strerror(write_errno) : "unknown error");
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

static int write_tsv(lua_State *L, const struct tpp_result *r, FILE *f)
{
    (void)L;
    return tpp_result_write_tsv(r, f);
}

/* r:write_critical(path) -> true | nil, message. */
static int result_write_critical(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    return write_output(L, r, luaL_checkstring(L, 2), write_tsv);
}

/* The shortest "%.Ng" that reads back as the same double, as the TSV writes reals (result.c); NULL for NaN and
 * infinities, which each format spells its own way. */
static const char *format_real(char *buf, size_t len, double v)
{
    if (!isfinite(v)) return NULL;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

/* One cell as the TSV writes it: times "seconds.nanoseconds", counts as integers, reals by format_real. */
static const char *format_cell(char *buf, size_t len, const struct tpp_column *c, const struct tpp_interval *iv,
                               size_t index)
{
    const char *base = (const char *)iv + c->offset;
    switch (c->type) {
    case TPP_COL_INDEX: snprintf(buf, len, "%zu", index); break;
    case TPP_COL_TIME: tpp_format_time(buf, len, *(const int64_t *)base); break;
    case TPP_COL_COUNT: snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)base); break;
    case TPP_COL_REAL: return format_real(buf, len, *(const double *)base);
    }
    return buf;
}

/* CSV (RFC 4180): a header of the column names, one record per interval, CRLF line ends; NaN is an empty field,
 * infinities "inf"/"-inf".  No field needs quoting. */
static int write_csv(lua_State *L, const struct tpp_result *r, FILE *f)
{
    (void)L;
    char buf[64];
    for (size_t c = 0; c < tpp_ncolumns; c++)
        fprintf(f, "%s%s", tpp_columns[c].name, c + 1 < tpp_ncolumns ? "," : "\r\n");
    for (size_t i = 0; i < r->nintervals; i++)
        for (size_t c = 0; c < tpp_ncolumns; c++) {
            const char *cell = format_cell(buf, sizeof buf, &tpp_columns[c], &r->iv[i], i);
            if (!cell) {
                double v = tpp_column_value(&tpp_columns[c], &r->iv[i], i);
                cell = isnan(v) ? "" : v > 0 ? "inf" : "-inf";
            }
            if (fputs(cell, f) == EOF || fputs(c + 1 < tpp_ncolumns ? "," : "\r\n", f) == EOF) return -1;
        }
    return ferror(f) ? -1 : 0;
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
FIELD(anchor, lua_pushstring(L, r->opts.anchor == TPP_ANCHOR_FIRST ? "first" : "epoch"))
FIELD(filter, if (r->opts.filter[0]) lua_pushstring(L, r->opts.filter); else lua_pushnil(L))
FIELD(max_packets, lua_pushinteger(L, (lua_Integer)r->opts.max_packets))
FIELD(max_intervals, lua_pushinteger(L, (lua_Integer)r->opts.max_intervals))
FIELD(packets, lua_pushinteger(L, (lua_Integer)r->packets))
FIELD(ip_packets, lua_pushinteger(L, (lua_Integer)r->ip_packets))
FIELD(non_ip_packets, lua_pushinteger(L, (lua_Integer)r->non_ip_packets))
FIELD(malformed_packets, lua_pushinteger(L, (lua_Integer)r->malformed_packets))
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
FIELD(source_fingerprint, if (r->source_fingerprint) { char h[17]; tpp_fingerprint_hex(r->source_fingerprint, h); lua_pushstring(L, h); } else lua_pushnil(L))
FIELD(complete, lua_pushboolean(L, r->complete))
FIELD(stopped_by_limit, lua_pushboolean(L, r->stopped_by_limit))
FIELD(error, if (r->error[0]) lua_pushstring(L, r->error); else lua_pushnil(L))
FIELD(warning, if (r->warning[0]) lua_pushstring(L, r->warning); else lua_pushnil(L))
#undef FIELD

typedef int (*field_fn)(lua_State *L, const struct tpp_result *r);
#define F(name) { #name, field_##name }
static const struct { const char *name; field_fn fn; } fields[] = {
    F(source), F(delta_t), F(delta_ns), F(boundary), F(ip), F(anchor), F(filter), F(max_packets), F(max_intervals),
    F(packets), F(ip_packets), F(non_ip_packets), F(malformed_packets), F(truncated_packets), F(backwards_packets),
    F(intervals),
    F(first_ts), F(last_ts), F(first_ns), F(last_ns), F(linktype), F(source_size), F(source_mtime), F(source_fingerprint),
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

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when there is none: JSON text is UTF-8. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 :
                 s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80) return 0;
    /* overlong forms, UTF-16 surrogates and code points above U+10FFFF */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* A JSON string: quotes, backslashes and control characters escaped; a byte that is not part of valid UTF-8 (a
 * file name in Latin-1, say) as U+FFFD, so that the file stays JSON that every reader accepts. */
static void json_string(FILE *f, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < len;) {
        unsigned char ch = u[i];
        size_t seq = utf8_sequence(u + i, len - i);
        if (seq == 0) { fputs("\\ufffd", f); i++; continue; }
        if (seq > 1) { fwrite(u + i, 1, seq, f); i += seq; continue; }
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch == '\t') fputs("\\t", f);
        else if (ch < 0x20 || ch == 0x7f) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
        i++;
    }
    fputc('"', f);
}

/* The Lua value on the stack top as JSON (nil, booleans, numbers, strings; NaN and infinities as null); pops it. */
static void json_value(lua_State *L, FILE *f)
{
    char buf[64];
    size_t len;
    switch (lua_type(L, -1)) {
    case LUA_TBOOLEAN: fputs(lua_toboolean(L, -1) ? "true" : "false", f); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
            fprintf(f, "%lld", (long long)lua_tointeger(L, -1));
        } else {
            const char *real = format_real(buf, sizeof buf, lua_tonumber(L, -1));
            fputs(real ? real : "null", f);
        }
        break;
    case LUA_TSTRING: {
        const char *s = lua_tolstring(L, -1, &len);
        json_string(f, s, len);
        break;
    }
    default: fputs("null", f); break;
    }
    lua_pop(L, 1);
}

/* JSON: an object of the summary fields (r:fields() order), "columns" (the names) and "records" (one object per
 * interval, one per line, as pandas' orient="records"); NaN and infinities are null. */
static int write_json(lua_State *L, const struct tpp_result *r, FILE *f)
{
    char buf[64];
    fputs("{\n", f);
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        fprintf(f, "  \"%s\": ", fields[k].name);
        fields[k].fn(L, r);
        json_value(L, f);
        fputs(",\n", f);
    }
    fputs("  \"columns\": [", f);
    for (size_t c = 0; c < tpp_ncolumns; c++) fprintf(f, "%s\"%s\"", c ? ", " : "", tpp_columns[c].name);
    fputs("],\n  \"records\": [", f);
    for (size_t i = 0; i < r->nintervals; i++) {
        fputs(i ? ",\n    {" : "\n    {", f);
        for (size_t c = 0; c < tpp_ncolumns; c++) {
            const char *cell = format_cell(buf, sizeof buf, &tpp_columns[c], &r->iv[i], i);
            if (fprintf(f, "%s\"%s\": %s", c ? ", " : "", tpp_columns[c].name, cell ? cell : "null") < 0) return -1;
        }
        fputc('}', f);
    }
    fputs(r->nintervals ? "\n  ]\n}\n" : "]\n}\n", f);
    return ferror(f) ? -1 : 0;
}

/* r:to_csv(path), r:to_json(path) -> true | nil, message.  Atomic, like every output. */
static int result_to_csv(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    return write_output(L, r, luaL_checkstring(L, 2), write_csv);
}

static int result_to_json(lua_State *L)
{
    const struct tpp_result *r = check_result(L, 1);
    return write_output(L, r, luaL_checkstring(L, 2), write_json);
}

/* The Lua progress callback sits on the stack top while tpp_parse runs.  It is called protected, so that an
 * error in it cannot jump over the C core's cleanup: the error stops the parse and is raised afterwards. */
/* The Lua hooks of tpp.parse are at stack indices 3 (progress) and 4 (rows).  They are called protected, so that
 * an error in one cannot jump over the C core's cleanup: the error stops the parse and is raised afterwards. */
struct hook_ctx { lua_State *L; int failed; };

/* Call the function at `idx` with the `nargs` values on the stack top; 1 when the parse must stop. */
static int call_hook(struct hook_ctx *ctx, int idx, int nargs)
{
    lua_State *L = ctx->L;
    lua_pushvalue(L, idx);
    lua_insert(L, -nargs - 1);
    if (lua_pcall(L, nargs, 1, 0) != LUA_OK) {
        ctx->failed = 1; /* the error object stays on the stack */
        return 1;
    }
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1); /* an explicit false stops */
    lua_pop(L, 1);
    return stop;
}

static int parse_progress(void *ud, uint64_t bytes, uint64_t size, uint64_t packets)
{
    struct hook_ctx *ctx = ud;
    if (ctx->failed) return 1;
    lua_pushinteger(ctx->L, (lua_Integer)bytes);
    lua_pushinteger(ctx->L, (lua_Integer)size);
    lua_pushinteger(ctx->L, (lua_Integer)packets);
    return call_hook(ctx, 3, 3);
}

/* rows(text, first): the closed rows as critical-TSV lines (no header); first is the first one's 1-based index. */
static int parse_rows(void *ud, const struct tpp_result *r, size_t first, size_t n)
{
    struct hook_ctx *ctx = ud;
    if (ctx->failed) return 1;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int ok = f && tpp_result_write_rows(r, f, first, n) == 0;
    if (f && fclose(f) != 0) ok = 0;
    if (ok) lua_pushlstring(ctx->L, text, len);
    free(text);
    if (!ok) return 0; /* out of memory: the rows go unreported, the parse goes on */
    lua_pushinteger(ctx->L, (lua_Integer)first + 1);
    return call_hook(ctx, 4, 2);
}

/* tpp.parse(path [, opts [, progress [, rows]]]) -> result | nil, "path: reason".
 * progress(bytes_read, file_size, packets) is called every 65536 packets, rows(text, first) as intervals close;
 * either returning false stops the parse. */
static int l_parse(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct tpp_options o;
    tpp_lcheck_options(L, 2, &o);
    int has_progress = !lua_isnoneornil(L, 3), has_rows = !lua_isnoneornil(L, 4);
    if (has_progress) luaL_checktype(L, 3, LUA_TFUNCTION);
    if (has_rows) luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4);
    struct hook_ctx ctx = { L, 0 };
    struct tpp_parse_hooks hooks = { has_progress ? parse_progress : NULL, has_rows ? parse_rows : NULL, &ctx };
    char err[600];
    struct tpp_result *r = tpp_parse(path, &o, &hooks, err, sizeof err);
    if (ctx.failed) {
        tpp_result_free(r);
        return lua_error(L);
    }
    if (r && !r->complete && tpp_interrupt_requested()) { /* Ctrl-C stopped it: raise tpp.INTERRUPTED */
        tpp_result_free(r);
        return tpp_raise_interrupted(L);
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
        { "top_ports", result_top_ports }, { "port_entropy", result_port_entropy }, { "select", result_select },
        { "to_csv", result_to_csv }, { "to_json", result_to_json },
        { NULL, NULL },
    };
    static const luaL_Reg meta[] = {
        { "__gc", result_gc }, { "__close", result_gc }, { "__len", result_len }, { "__tostring", result_tostring },
        { NULL, NULL },
    };
    /* core._meta: the metatables and the result methods table, which lua/tpp/result.lua completes with Lua
     * methods, and the lists of column and summary-field names. */
    lua_createtable(L, 0, 7);
    luaL_newmetatable(L, RESULT_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "result_methods");
    lua_createtable(L, 0, (int)(sizeof fields / sizeof fields[0]));
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        lua_pushinteger(L, (lua_Integer)i);
        lua_setfield(L, -2, fields[i].name);
    }
    lua_pushcclosure(L, result_index, 2);
    lua_setfield(L, -2, "__index");
    lua_setfield(L, -2, "result");
    static const char *const tables[][2] = { { COLUMN_MT, "column" }, { INTERVAL_MT, "interval" }, { PORTS_MT, "ports" } };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        luaL_newmetatable(L, tables[i][0]);
        lua_setfield(L, -2, tables[i][1]);
    }
    lua_createtable(L, (int)tpp_ncolumns, 0);
    for (size_t c = 0; c < tpp_ncolumns; c++) {
        lua_pushstring(L, tpp_columns[c].name);
        lua_rawseti(L, -2, (lua_Integer)c + 1);
    }
    lua_setfield(L, -2, "columns");
    lua_createtable(L, (int)(sizeof fields / sizeof fields[0]), 0);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        lua_pushstring(L, fields[i].name);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "fields");
    lua_setfield(L, -2, "_meta");

    lua_pushcfunction(L, l_parse);
    lua_setfield(L, -2, "parse");
    lua_pushcfunction(L, l_load);
    lua_setfield(L, -2, "load");
    lua_pushcfunction(L, push_column_names); /* tpp.column_names(): without needing a result */
    lua_setfield(L, -2, "column_names");
}
