/* lresult.c — the Lua binding of tpp/result.h: tpp.parse (with its progress and rows hooks), tpp.load and the
 * result userdata.  Glue only: the statistics, selections, summary fields and output formats are the core's
 * (result.c, result_ports.c, result_summary.c, result_export.c); here they become Lua values and errors.
 *
 * Columns, interval records, top-port and heavy-hitter lists are plain Lua tables carrying the metatables
 * "tpp.column", "tpp.interval", "tpp.ports" and "tpp.heavy_hitters", created here and given their methods and
 * string forms by lua/tpp/column.lua and lua/tpp/result.lua (through core._meta), so that statistics and printing are Lua while the loops over intervals
 * and ports stay in C.  tpp.parse and tpp.load load that Lua half before making a result (require_lua_half).
 */
#include "ltpp.h"
#include "lresult.h"
#include "lfail.h"
#include "linterrupt.h"
#include "llabels.h"
#include "loptions.h"
#include "version.h"
#include "tpp/dump.h"
#include "tpp/error.h"
#include "tpp/interrupt.h"
#include "tpp/labels.h"
#include "tpp/parse.h"
#include "tpp/result.h"
#include "tpp/result_export.h"
#include "tpp/result_ports.h"
#include "tpp/result_summary.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESULT_MT "tpp.result"
#define COLUMN_MT "tpp.column"
#define INTERVAL_MT "tpp.interval"
#define PORTS_MT "tpp.ports"
#define HH_MT "tpp.heavy_hitters"

struct dump_job;
/* busy: a dump of r being written on another thread (r:dump_start), which must end before r is freed. */
typedef struct { struct tpp_result *r; struct dump_job *busy; } LResult;
static void dump_job_join(struct dump_job *j);

/* The result at idx, raising when it is not one (or was closed). */
struct tpp_result *tpp_lresult_check(lua_State *L, int idx)
{
    LResult *u = luaL_checkudata(L, idx, RESULT_MT);
    if (!u->r) luaL_error(L, "attempt to use a freed result");
    return u->r;
}

void tpp_lresult_push(lua_State *L, struct tpp_result *r)
{
    LResult *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->r = NULL; /* safe state until the metatable (and its __gc) is set */
    u->busy = NULL;
    luaL_setmetatable(L, RESULT_MT);
    u->r = r;
}

static int result_gc(lua_State *L)
{
    LResult *u = luaL_checkudata(L, 1, RESULT_MT);
    if (u->busy) dump_job_join(u->busy);
    tpp_result_free(u->r);
    u->r = NULL;
    return 0;
}

static int result_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)tpp_lresult_check(L, 1)->nintervals);
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
    const struct tpp_result *r = tpp_lresult_check(L, 1);
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
    tpp_lresult_check(L, 1);
    return push_column_names(L);
}

/* r:interval(i) -> record of every column of interval i (1-based), with the "tpp.interval" metatable. */
static int result_interval(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
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
    const struct tpp_result *r = tpp_lresult_check(L, lua_upvalueindex(1));
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
    tpp_lresult_check(L, 1);
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
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    lua_pushinteger(L, (lua_Integer)tpp_result_distinct_ports(r, check_series(L, 2)));
    return 1;
}

/* ---- port statistics (result_ports.c) ------------------------------------------------------------------------ */

/* r:top_ports(series [, i [, k]]) -> list of { port = p, count = c } ("tpp.ports" metatable), the k (default 10)
 * most frequent ports of interval i (1-based), or of the whole trace when i is nil; count descending, then port
 * ascending. */
static int result_top_ports(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    int s = check_series(L, 2);
    int whole = lua_isnoneornil(L, 3);
    lua_Integer i = whole ? 0 : luaL_checkinteger(L, 3);
    lua_Integer k = luaL_optinteger(L, 4, 10);
    luaL_argcheck(L, whole || (i >= 1 && (size_t)i <= r->nintervals), 3, "interval index out of range");
    luaL_argcheck(L, k >= 1, 4, "k must be at least 1");
    size_t m = k < 65536 ? (size_t)k : 65536; /* no series has more distinct ports */
    struct tpp_port_total *top = lua_newuserdatauv(L, m * sizeof *top, 0);
    long n = tpp_result_top_ports(r, s, whole ? TPP_ALL_INTERVALS : (size_t)i - 1, top, m);
    if (n < 0) return luaL_error(L, "not enough memory");
    lua_createtable(L, (int)n, 0);
    for (long j = 0; j < n; j++) {
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

/* r:port_entropy(series) -> column: per interval, the normalised entropy of the port distribution. */
static int result_port_entropy(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    int s = check_series(L, 2);
    lua_createtable(L, (int)r->nintervals, 0);
    for (size_t i = 0; i < r->nintervals; i++) {
        lua_pushnumber(L, tpp_result_port_entropy(r, s, i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    luaL_setmetatable(L, COLUMN_MT);
    return 1;
}

/* ---- heavy hitters (result.h: tpp_result_hh_open) ------------------------------------------------------------ */

static int check_hh_dim(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    int d = tpp_hh_dim_find(name);
    if (d < 0) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (int k = 0; k < TPP_HH_NDIMS; k++) {
            if (k) luaL_addstring(&b, ", ");
            luaL_addstring(&b, tpp_hh_dim_names[k]);
        }
        luaL_pushresult(&b);
        luaL_argerror(L, idx, lua_pushfstring(L, "no heavy-hitter dimension '%s' (%s)", name, lua_tostring(L, -1)));
    }
    return d;
}

/* r:heavy_hitters(dim, i [, k]) -> list of { key, packets, bytes, share }: the heavy hitters of dimension dim in
 * interval i (1-based), at most k (default: all kept), in rank order.  key is an address ("192.0.2.1"), a prefix
 * ("10.0.0.0/24") or a port (an integer). */
static int result_heavy_hitters(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    int d = check_hh_dim(L, 2);
    lua_Integer i = luaL_checkinteger(L, 3);
    if (i < 1 || (size_t)i > r->nintervals)
        luaL_argerror(L, 3, lua_pushfstring(L, "an interval index from 1 to %I expected, got %I",
                                            (lua_Integer)r->nintervals, i));
    lua_Integer k = luaL_optinteger(L, 4, LUA_MAXINTEGER);
    luaL_argcheck(L, k >= 1, 4, "k must be at least 1");
    struct tpp_hh_cursor c;
    struct tpp_hh e;
    tpp_result_hh_open(r, (size_t)i - 1, &c);
    const struct tpp_interval *iv = &r->iv[i - 1];
    char key[64];
    lua_newtable(L);
    lua_Integer m = 0;
    while (m < k && tpp_hh_next(&c, &e)) {
        if (e.dim != d) continue;
        lua_createtable(L, 0, 4);
        if (d == TPP_HH_TCP_DPORT || d == TPP_HH_UDP_DPORT) lua_pushinteger(L, e.port);
        else lua_pushstring(L, tpp_hh_key_text(key, sizeof key, &e));
        lua_setfield(L, -2, "key");
        lua_pushinteger(L, (lua_Integer)e.packets);
        lua_setfield(L, -2, "packets");
        lua_pushinteger(L, (lua_Integer)e.bytes);
        lua_setfield(L, -2, "bytes");
        lua_pushnumber(L, tpp_hh_share(&e, iv));
        lua_setfield(L, -2, "share");
        lua_rawseti(L, -2, ++m);
    }
    luaL_setmetatable(L, HH_MT);
    return 1;
}

/* ---- selections (tpp_result_select) ------------------------------------------------------------------------- */

/* r:select(indices) -> result of the intervals at the given 1-based indices (strictly ascending). */
static int result_select(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
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
    struct tpp_result *out = tpp_result_select(r, idx, n);
    if (!out) return luaL_error(L, "not enough memory");
    tpp_lresult_push(L, out);
    return 1;
}

/* ---- outputs ------------------------------------------------------------------------------------------------ */

/* Write r to path in `format`, atomically.  Returns true | nil, "path: reason". */
static int write_output(lua_State *L, const struct tpp_result *r, const char *path, enum tpp_export_format format)
{
    char err[TPP_ERRBUF_SIZE];
    if (tpp_result_export_file(r, format, path, err, sizeof err) != 0) {
        return tpp_push_fail(L, "%s", err);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* The table formats by name, as the main job's --format spells them. */
static const char *const TABLE_FORMATS[] = { "tsv", "csv", "ndjson", NULL };
static const enum tpp_export_format TABLE_FORMAT_OF[] = { TPP_EXPORT_TSV, TPP_EXPORT_CSV, TPP_EXPORT_NDJSON };

static enum tpp_export_format check_table_format(lua_State *L, int arg)
{
    return TABLE_FORMAT_OF[luaL_checkoption(L, arg, "tsv", TABLE_FORMATS)];
}

/* The column names of the list at `arg` as indices into tpp_columns (a userdata on the stack keeps them); raises
 * for an unknown or repeated name, listing the names there are. */
static size_t *check_column_list(lua_State *L, int arg, size_t *n)
{
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_Integer len = luaL_len(L, arg);
    luaL_argcheck(L, len >= 1 && (size_t)len <= tpp_ncolumns, arg, "a list of column names expected");
    size_t *cols = lua_newuserdatauv(L, (size_t)len * sizeof *cols, 0);
    for (lua_Integer k = 1; k <= len; k++) {
        lua_geti(L, arg, k);
        const char *name = lua_tostring(L, -1);
        const struct tpp_column *c = name ? tpp_column_find(name) : NULL;
        if (!c) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (size_t i = 0; i < tpp_ncolumns; i++) {
                luaL_addstring(&b, i ? ", " : "");
                luaL_addstring(&b, tpp_columns[i].name);
            }
            luaL_pushresult(&b);
            return luaL_error(L, "unknown column '%s' (the columns are %s)", name ? name : luaL_typename(L, -2),
                              lua_tostring(L, -1)), NULL;
        }
        cols[k - 1] = (size_t)(c - tpp_columns);
        for (lua_Integer j = 1; j < k; j++)
            if (cols[j - 1] == cols[k - 1]) return luaL_error(L, "column '%s' listed twice", name), NULL;
        lua_pop(L, 1);
    }
    *n = (size_t)len;
    return cols;
}

/* r:write_critical(path [, format [, columns]]) -> true | nil, message: the critical table as "tsv" (default),
 * "csv" or "ndjson", of the given columns in their order (default all). */
static int result_write_critical(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    const char *path = luaL_checkstring(L, 2);
    enum tpp_export_format format = check_table_format(L, 3);
    size_t ncols = 0, *cols = lua_isnoneornil(L, 4) ? NULL : check_column_list(L, 4, &ncols);
    char err[TPP_ERRBUF_SIZE];
    if (tpp_result_write_table_file(r, format, cols, ncols, path, err, sizeof err) != 0)
        return tpp_push_fail(L, "%s", err);
    lua_pushboolean(L, 1);
    return 1;
}

/* r:critical_text() -> string: the critical TSV of every column, header included, as r:write_critical writes it
 * (for the page and the main job's rows, which need the text and not a file). */
static int result_critical_text(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int ok = f && tpp_result_write_tsv(r, f) == 0;
    if (f && fclose(f) != 0) ok = 0;
    if (ok) lua_pushlstring(L, text, len);
    free(text);
    if (!ok) return luaL_error(L, "critical_text: out of memory");
    return 1;
}

/* r:write_heavy_hitters(path [, format]) -> true | nil, message: the heavy-hitter table (hh/<name>_hh.tsv),
 * atomically. */
static int result_write_heavy_hitters(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    const char *path = luaL_checkstring(L, 2);
    enum tpp_export_format format = check_table_format(L, 3);
    char err[TPP_ERRBUF_SIZE];
    if (tpp_result_write_hh_file(r, format, path, err, sizeof err) != 0) return tpp_push_fail(L, "%s", err);
    lua_pushboolean(L, 1);
    return 1;
}

/* tpp.format_real(x) -> string: a number as the tables spell reals (shortest round-trip text, "nan", "inf"). */
static int l_format_real(lua_State *L)
{
    char buf[64];
    lua_pushstring(L, tpp_format_real(buf, sizeof buf, luaL_checknumber(L, 1)));
    return 1;
}

/* r:dump(path) -> true | nil, message.  Atomic, like every output. */
static int result_dump(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    const char *path = luaL_checkstring(L, 2);
    char err[TPP_ERRBUF_SIZE];
    if (r->state_dropped) /* its dump would silently lack what the dump it came from had */
        return tpp_push_fail(L, "%s: cannot dump a result loaded without its merge state (tpp.load with state = "
                             "false, for reading and drawing): load it again in full", path);
    if (tpp_dump_write(r, path, TPP_VERSION, err, sizeof err) != 0) {
        return tpp_push_fail(L, "%s", err);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- r:dump_start(path) -> job; job:wait() -> true | nil, message ------------------------------------------------
 * The dump written on a thread of its own while the caller writes the tables: the main job's outputs at a fine
 * delta_t are hundreds of MB, and the machine has a second core (issue 19).  The dump only reads the result; the
 * job keeps the result alive (its user value) and the result's __gc waits for the job, so r is never freed under
 * the thread.  A job that is collected or closed unwaited is waited for, its outcome dropped. */
#define DUMP_JOB_MT "tpp.dump_job"

struct dump_job {
    pthread_t thread;
    int running;               /* the thread exists and was not joined yet */
    LResult *owner;            /* the result's userdata, whose busy points here while running */
    const struct tpp_result *r;
    char *path;
    int rc;
    char err[TPP_ERRBUF_SIZE];
};

static void *dump_job_main(void *arg)
{
    struct dump_job *j = arg;
    j->rc = tpp_dump_write(j->r, j->path, TPP_VERSION, j->err, sizeof j->err);
    return NULL;
}

static void dump_job_join(struct dump_job *j)
{
    if (j->running) pthread_join(j->thread, NULL);
    j->running = 0;
    if (j->owner && j->owner->busy == j) j->owner->busy = NULL;
    j->owner = NULL;
}

static int dump_job_gc(lua_State *L)
{
    struct dump_job *j = luaL_checkudata(L, 1, DUMP_JOB_MT);
    dump_job_join(j);
    free(j->path);
    j->path = NULL;
    return 0;
}

static int dump_job_wait(lua_State *L)
{
    struct dump_job *j = luaL_checkudata(L, 1, DUMP_JOB_MT);
    dump_job_join(j);
    if (j->rc != 0) return tpp_push_fail(L, "%s", j->err);
    lua_pushboolean(L, 1);
    return 1;
}

static int result_dump_start(lua_State *L)
{
    LResult *u = luaL_checkudata(L, 1, RESULT_MT);
    if (!u->r) return luaL_error(L, "attempt to use a freed result");
    const char *path = luaL_checkstring(L, 2);
    if (u->busy) return luaL_error(L, "dump_start: a dump of this result is still being written (wait for it)");
    struct dump_job *j = lua_newuserdatauv(L, sizeof *j, 1);
    memset(j, 0, sizeof *j); /* not running: safe to collect from here on */
    luaL_setmetatable(L, DUMP_JOB_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1); /* the job keeps the result alive */
    j->r = u->r;
    j->path = strdup(path);
    if (!j->path) return luaL_error(L, "dump_start: out of memory");
    if (pthread_create(&j->thread, NULL, dump_job_main, j) == 0) {
        j->running = 1;
        j->owner = u;
        u->busy = j;
    } else {
        dump_job_main(j); /* no thread to be had: written here and now */
    }
    return 1;
}

/* The result type is one type in two files: this one and lua/tpp/result.lua, which adds the methods and string
 * forms written in Lua (and is the only place of __tostring).  Loading it before the first result is made means
 * that no result is ever seen without them, whether the script required "tpp" or only "tpp.core". */
static void require_lua_half(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "tpp.result") == LUA_TNIL) {
        lua_getglobal(L, "require");
        lua_pushliteral(L, "tpp.result");
        lua_call(L, 1, 0);
    }
    lua_pop(L, 2);
}

/* tpp.load(path [, { state = false }]) -> result | nil, "path: reason".  state = false leaves out the merge
 * state (tpp/dump.h TPP_DUMP_NO_STATE): for a result that is only read, drawn or reported. */
static int l_load(lua_State *L)
{
    require_lua_half(L);
    const char *path = luaL_checkstring(L, 1);
    unsigned parts = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "state") != 0)
                return luaL_error(L, "tpp.load: unknown option %s (the only one is state)",
                                  luaL_tolstring(L, -1, NULL));
        }
        lua_getfield(L, 2, "state");
        if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
            return luaL_error(L, "tpp.load: option state must be true or false, got %s", luaL_typename(L, -1));
        if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) parts |= TPP_DUMP_NO_STATE;
        lua_pop(L, 1);
    }
    char err[TPP_ERRBUF_SIZE];
    struct tpp_result *r = tpp_dump_read_parts(path, parts, err, sizeof err);
    if (!r) {
        return tpp_push_fail(L, "%s", err);
    }
    tpp_lresult_push(L, r);
    return 1;
}

/* The value of summary field k (tpp_summary_fields[k]) of r. */
static int push_field(lua_State *L, const struct tpp_result *r, size_t k)
{
    struct tpp_value v;
    tpp_summary_fields[k].get(r, &v);
    switch (v.type) {
    case TPP_VALUE_NIL: lua_pushnil(L); break;
    case TPP_VALUE_BOOL: lua_pushboolean(L, (int)v.i); break;
    case TPP_VALUE_INT: lua_pushinteger(L, (lua_Integer)v.i); break;
    case TPP_VALUE_REAL: lua_pushnumber(L, v.d); break;
    case TPP_VALUE_STRING: lua_pushstring(L, v.s); break;
    }
    return 1;
}

/* __index: upvalue 1 = methods table, upvalue 2 = field name -> getter index. */
static int result_index(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(2)) == LUA_TNUMBER) return push_field(L, r, (size_t)lua_tointeger(L, -1));
    /* r.labels (a new list at each access) and r.labels_fingerprint: nil without labels */
    const char *key = lua_tostring(L, 2);
    if (key && r->labels && strcmp(key, "labels") == 0) { tpp_llabels_push(L, r); return 1; }
    if (key && r->labels && strcmp(key, "labels_fingerprint") == 0) { tpp_llabels_push_fingerprint(L, r); return 1; }
    return 0;
}

/* The summary fields' names, in order, as a new table on the stack. */
static int push_field_names(lua_State *L)
{
    lua_createtable(L, (int)tpp_nsummary_fields, 0);
    for (size_t i = 0; i < tpp_nsummary_fields; i++) {
        lua_pushstring(L, tpp_summary_fields[i].name);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* r:fields() -> names of the summary fields (for help and completion). */
static int result_fields(lua_State *L)
{
    tpp_lresult_check(L, 1);
    return push_field_names(L);
}

/* r:to_csv(path), r:to_json(path) -> true | nil, message.  Atomic, like every output. */
static int result_to_csv(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    return write_output(L, r, luaL_checkstring(L, 2), TPP_EXPORT_CSV);
}

static int result_to_json(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    return write_output(L, r, luaL_checkstring(L, 2), TPP_EXPORT_JSON);
}

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
    require_lua_half(L);
    const char *path = luaL_checkstring(L, 1);
    struct tpp_options o;
    tpp_lcheck_options(L, 2, &o);
    int has_progress = !lua_isnoneornil(L, 3), has_rows = !lua_isnoneornil(L, 4);
    if (has_progress) luaL_checktype(L, 3, LUA_TFUNCTION);
    if (has_rows) luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4);
    const struct tpp_labels *labels = NULL;
    if (lua_istable(L, 2) && lua_getfield(L, 2, "labels") != LUA_TNIL) {
        /* labels = paths of label files (read by tpp.labels) or a list of anomalies */
        luaL_argcheck(L, lua_istable(L, -1), 2, "option labels must be a list of label files or of anomalies");
        if (lua_geti(L, -1, 1) == LUA_TSTRING) {
            lua_pop(L, 1);
            lua_getglobal(L, "require");
            lua_pushliteral(L, "tpp.labels");
            lua_call(L, 1, 1);
            lua_getfield(L, -1, "read_all");
            lua_pushvalue(L, -3);
            lua_call(L, 1, 2);
            if (lua_isnil(L, -2)) return 2; /* nil, "file:line: reason" */
            lua_pop(L, 1);
        } else {
            lua_pop(L, 1);
        }
        labels = tpp_llabels_check(L, -1); /* its box stays above the hooks' indices */
    }
    struct hook_ctx ctx = { L, 0 };
    struct tpp_parse_hooks hooks = { has_progress ? parse_progress : NULL, has_rows ? parse_rows : NULL, &ctx };
    char err[TPP_ERRBUF_SIZE];
    struct tpp_result *r = tpp_parse_labelled(path, &o, labels, &hooks, err, sizeof err);
    if (ctx.failed) {
        tpp_result_free(r);
        return lua_error(L);
    }
    if (r && !r->complete && tpp_interrupt_requested()) { /* Ctrl-C stopped it: raise tpp.INTERRUPTED */
        tpp_result_free(r);
        return tpp_raise_interrupted(L);
    }
    if (!r) {
        return tpp_push_fail(L, "%s", err);
    }
    tpp_lresult_push(L, r);
    return 1;
}

/* r:segment(k) -> { first, last (1-based intervals), first_packet, last_packet (seconds), first_ns, last_ns } */
static int result_segment(lua_State *L)
{
    const struct tpp_result *r = tpp_lresult_check(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    size_t n = tpp_result_nsegments(r);
    luaL_argcheck(L, k >= 1 && (size_t)k <= n, 2, lua_pushfstring(L, "segment %I out of range (the result has %I)",
                                                                   k, (lua_Integer)n));
    size_t first, last;
    int64_t lo, hi;
    tpp_result_segment(r, (size_t)k - 1, &first, &last);
    int any = tpp_result_segment_extent(r, (size_t)k - 1, &lo, &hi);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)first + 1);
    lua_setfield(L, -2, "first");
    lua_pushinteger(L, (lua_Integer)last + 1);
    lua_setfield(L, -2, "last");
    if (any) {
        lua_pushnumber(L, (double)lo / 1e9);
        lua_setfield(L, -2, "first_packet");
        lua_pushnumber(L, (double)hi / 1e9);
        lua_setfield(L, -2, "last_packet");
        lua_pushinteger(L, lo);
        lua_setfield(L, -2, "first_ns");
        lua_pushinteger(L, hi);
        lua_setfield(L, -2, "last_ns");
    }
    return 1;
}

void tpp_lresult_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "column", result_column }, { "columns", result_columns }, { "interval", result_interval },
        { "ports", result_ports }, { "distinct_ports", result_distinct_ports },
        { "write_critical", result_write_critical }, { "critical_text", result_critical_text }, { "dump", result_dump },
        { "dump_start", result_dump_start }, { "fields", result_fields },
        { "top_ports", result_top_ports }, { "port_entropy", result_port_entropy }, { "select", result_select },
        { "to_csv", result_to_csv }, { "to_json", result_to_json }, { "segment", result_segment },
        { "heavy_hitters", result_heavy_hitters }, { "write_heavy_hitters", result_write_heavy_hitters },
        { NULL, NULL },
    };
    static const luaL_Reg meta[] = {
        { "__gc", result_gc }, { "__close", result_gc }, { "__len", result_len },
        { NULL, NULL },
    };
    /* core._meta: the metatables and the result methods table, which lua/tpp/result.lua completes with Lua
     * methods, and the lists of column and summary-field names. */
    lua_createtable(L, 0, 7);
    luaL_newmetatable(L, RESULT_MT);
    luaL_setfuncs(L, meta, 0);
    static const luaL_Reg job_methods[] = { { "wait", dump_job_wait }, { NULL, NULL } };
    static const luaL_Reg job_meta[] = { { "__gc", dump_job_gc }, { "__close", dump_job_gc }, { NULL, NULL } };
    luaL_newmetatable(L, DUMP_JOB_MT);
    luaL_setfuncs(L, job_meta, 0);
    luaL_newlib(L, job_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "result_methods");
    lua_createtable(L, 0, (int)tpp_nsummary_fields);
    for (size_t i = 0; i < tpp_nsummary_fields; i++) {
        lua_pushinteger(L, (lua_Integer)i);
        lua_setfield(L, -2, tpp_summary_fields[i].name);
    }
    lua_pushcclosure(L, result_index, 2);
    lua_setfield(L, -2, "__index");
    lua_setfield(L, -2, "result");
    static const char *const tables[][2] = { { COLUMN_MT, "column" }, { INTERVAL_MT, "interval" },
                                             { PORTS_MT, "ports" }, { HH_MT, "heavy_hitters" } };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        luaL_newmetatable(L, tables[i][0]);
        lua_setfield(L, -2, tables[i][1]);
    }
    push_column_names(L);
    lua_setfield(L, -2, "columns");
    push_field_names(L);
    lua_setfield(L, -2, "fields");
    lua_setfield(L, -2, "_meta");

    lua_pushcfunction(L, l_parse);
    lua_setfield(L, -2, "parse");
    lua_pushcfunction(L, l_load);
    lua_setfield(L, -2, "load");
    lua_pushcfunction(L, l_format_real);
    lua_setfield(L, -2, "format_real");
    lua_pushcfunction(L, push_column_names); /* tpp.column_names(): without needing a result */
    lua_setfield(L, -2, "column_names");
    /* tpp.feature_groups and tpp.hh_dims: C's lists, in their order (the options and r:heavy_hitters take them) */
    lua_newtable(L);
    for (int g = 0; tpp_feature_names[g]; g++) {
        lua_pushstring(L, tpp_feature_names[g]);
        lua_rawseti(L, -2, g + 1);
    }
    lua_setfield(L, -2, "feature_groups");
    lua_createtable(L, TPP_HH_NDIMS, 0);
    for (int d = 0; d < TPP_HH_NDIMS; d++) {
        lua_pushstring(L, tpp_hh_dim_names[d]);
        lua_rawseti(L, -2, d + 1);
    }
    lua_setfield(L, -2, "hh_dims");
}
