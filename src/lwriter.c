/* lwriter.c — tpp.pcap_writer(path, linktype, opts): write captures from Lua (tests, generators, tools).
 *
 * A writer behaves like a Lua file: what was written is kept unless the script says otherwise.  w:close() commits
 * and reports a failure; a writer never closed is committed when it is collected, when the state is closed, and
 * at os.exit() (an atexit handler commits the writers still open); only w:discard(), a to-be-closed variable
 * whose scope is left by an error, and a Ctrl-C that ends the script (tpp_interrupt_raised) throw it away.
 */
#include "ltpp.h"
#include "lfail.h"
#include "linterrupt.h"
#include "tpp/packet.h"
#include "tpp/writer.h"
#include "tpp/error.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_MT "tpp.pcap_writer"

/* Open writers are linked in a list, so that exit() can commit them when os.exit() skips the collector. */
typedef struct LWriter {
    struct tpp_writer *w;
    struct LWriter *prev, *next;
} LWriter;

static LWriter *open_writers;

static void link_writer(LWriter *u)
{
    u->prev = NULL;
    u->next = open_writers;
    if (open_writers) open_writers->prev = u;
    open_writers = u;
}

static void unlink_writer(LWriter *u)
{
    if (u->prev) u->prev->next = u->next;
    else if (open_writers == u) open_writers = u->next;
    if (u->next) u->next->prev = u->prev;
    u->prev = u->next = NULL;
}

static const struct { const char *name; int linktype; } linktype_names[] = {
    { "null", TPP_LINK_NULL }, { "ethernet", TPP_LINK_ETHERNET }, { "raw", TPP_LINK_RAW },
    { "loop", TPP_LINK_LOOP }, { "sll", TPP_LINK_SLL }, { "ipv4", TPP_LINK_IPV4 }, { "ipv6", TPP_LINK_IPV6 },
    { "sll2", TPP_LINK_SLL2 },
};

static int check_linktype(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER) return (int)luaL_checkinteger(L, idx);
    const char *name = luaL_checkstring(L, idx);
    for (size_t i = 0; i < sizeof linktype_names / sizeof linktype_names[0]; i++)
        if (strcmp(name, linktype_names[i].name) == 0) return linktype_names[i].linktype;
    return luaL_argerror(L, idx, lua_pushfstring(L, "unknown link type '%s'", name));
}

static LWriter *check_open(lua_State *L)
{
    LWriter *u = luaL_checkudata(L, 1, WRITER_MT);
    if (!u->w) luaL_error(L, "attempt to use a closed pcap writer");
    return u;
}

/* Close: flush and commit.  Idempotent. */
static int close_writer(LWriter *u, char *err, size_t errlen)
{
    if (!u->w) return 0;
    unlink_writer(u);
    int rc = tpp_writer_close(u->w, err, errlen);
    u->w = NULL;
    return rc;
}

/* Throw the capture away (the target keeps its previous contents).  Idempotent. */
static void discard_writer(LWriter *u)
{
    if (!u->w) return;
    unlink_writer(u);
    tpp_writer_abort(u->w);
    u->w = NULL;
}

/* Commit a writer nobody closed; nobody can be told of a failure but the user, on stderr.  After a Ctrl-C the
 * capture is half-written: it is thrown away, as an error leaving a to-be-closed variable throws it away. */
static void commit_abandoned(LWriter *u, const char *when)
{
    if (tpp_interrupt_raised()) {
        discard_writer(u);
        return;
    }
    char err[TPP_ERRBUF_SIZE];
    if (close_writer(u, err, sizeof err) != 0) {
        fprintf(stderr, "tpp: %s (a pcap writer committed %s)\n", err, when);
        fflush(stderr);
    }
}

/* atexit: os.exit() without closing the state ends the process without collecting the writers. */
static void commit_at_exit(void)
{
    while (open_writers) commit_abandoned(open_writers, "at exit");
}

/* __gc: a writer collected (or left at lua_close) without w:close() is committed, as Lua's files are flushed. */
static int writer_gc(lua_State *L)
{
    commit_abandoned(luaL_checkudata(L, 1, WRITER_MT), "when it was collected");
    return 0;
}

/* __close(w, err): commit on a normal exit from the scope, discard when an error leaves it. */
static int writer_toclose(lua_State *L)
{
    LWriter *u = luaL_checkudata(L, 1, WRITER_MT);
    if (!lua_isnil(L, 2)) {
        discard_writer(u);
        return 0;
    }
    char err[TPP_ERRBUF_SIZE];
    if (close_writer(u, err, sizeof err) != 0) return luaL_error(L, "%s", err);
    return 0;
}

/* w:discard(): give up the capture; the path keeps what it held before tpp.pcap_writer. */
static int writer_discard(lua_State *L)
{
    discard_writer(luaL_checkudata(L, 1, WRITER_MT));
    return 0;
}

/* w:close() -> true | nil, "path: reason": flush and put the capture in place, as f:close() does. */
static int writer_close(lua_State *L)
{
    char err[TPP_ERRBUF_SIZE];
    if (close_writer(check_open(L), err, sizeof err) != 0) return tpp_push_fail(L, "%s", err);
    lua_pushboolean(L, 1);
    return 1;
}

static int write_record(lua_State *L, int64_t ts_ns)
{
    LWriter *u = check_open(L);
    size_t len;
    const char *data = luaL_checklstring(L, 3, &len);
    lua_Integer wirelen = luaL_optinteger(L, 4, (lua_Integer)len);
    luaL_argcheck(L, len <= UINT32_MAX && wirelen >= 0 && wirelen <= UINT32_MAX, 4, "length out of range");
    if (tpp_writer_write(u->w, ts_ns, (const uint8_t *)data, (uint32_t)len, (uint32_t)wirelen) != 0)
        return luaL_error(L, "pcap writer: write failed");
    return 0;
}

/* Seconds whose nanosecond count fits an int64 (about 292 years either side of 1970). */
#define MAX_TS_SECONDS 9223372035

/* w:write(ts_seconds, bytes [, wirelen]) — ts rounded to the nearest nanosecond. */
static int writer_write(lua_State *L)
{
    lua_Number ts = luaL_checknumber(L, 2);
    luaL_argcheck(L, ts >= -MAX_TS_SECONDS && ts <= MAX_TS_SECONDS, 2, "timestamp out of range"); /* and not NaN */
    if (lua_isinteger(L, 2)) return write_record(L, (int64_t)lua_tointeger(L, 2) * 1000000000);
    lua_Number sec = floor(ts);
    return write_record(L, (int64_t)sec * 1000000000 + (int64_t)llround((ts - sec) * 1e9));
}

/* w:write_ns(ns, bytes [, wirelen]) — exact integer nanoseconds. */
static int writer_write_ns(lua_State *L) { return write_record(L, (int64_t)luaL_checkinteger(L, 2)); }

/* tpp.pcap_writer(path, linktype [, opts]) -> writer | nil, "path: reason" (as io.open); bad arguments raise. */
static int l_pcap_writer(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int linktype = check_linktype(L, 2);
    struct tpp_writer_options o = { TPP_WRITE_PCAP, 0, 0, 262144 };
    size_t n = strlen(path);
    o.gzip = n > 3 && strcmp(path + n - 3, ".gz") == 0;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        if (lua_getfield(L, 3, "format") != LUA_TNIL) {
            const char *f = luaL_checkstring(L, -1);
            if (strcmp(f, "pcapng") == 0) o.format = TPP_WRITE_PCAPNG;
            else if (strcmp(f, "pcap") != 0) return luaL_error(L, "pcap_writer: format must be pcap or pcapng, got '%s'", f);
        }
        if (lua_getfield(L, 3, "nanosecond") != LUA_TNIL) o.nanosecond = lua_toboolean(L, -1);
        if (lua_getfield(L, 3, "gzip") != LUA_TNIL) o.gzip = lua_toboolean(L, -1);
        if (lua_getfield(L, 3, "snaplen") != LUA_TNIL) {
            lua_Integer s = luaL_checkinteger(L, -1);
            if (s <= 0 || s > UINT32_MAX) return luaL_error(L, "pcap_writer: snaplen out of range");
            o.snaplen = (uint32_t)s;
        }
        lua_pop(L, 4);
    }
    static int exit_hook_set;
    if (!exit_hook_set && atexit(commit_at_exit) != 0) return luaL_error(L, "pcap_writer: cannot register the exit handler");
    exit_hook_set = 1;
    LWriter *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->w = NULL;
    u->prev = u->next = NULL;
    luaL_setmetatable(L, WRITER_MT);
    char err[TPP_ERRBUF_SIZE];
    u->w = tpp_writer_open(path, linktype, &o, err, sizeof err);
    if (!u->w) return tpp_push_fail(L, "%s", err);
    link_writer(u);
    return 1;
}

void tpp_lwriter_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "write", writer_write }, { "write_ns", writer_write_ns }, { "close", writer_close },
        { "discard", writer_discard }, { NULL, NULL },
    };
    static const luaL_Reg meta[] = { { "__gc", writer_gc }, { "__close", writer_toclose }, { NULL, NULL } };
    luaL_newmetatable(L, WRITER_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_pcap_writer);
    lua_setfield(L, -2, "pcap_writer");
}
