/* ltpp.c — `require "tpp.core"`: the module table, its version, a clock, and the options shared by its
 * functions. */
#include "ltpp.h"
#include "inflate.h"
#include "tpp/fingerprint.h"
#include "tpp/outfile.h"
#include "tpp/result.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <pcap/pcap.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const boundary_names[] = { "aligned", "packet", NULL };
static const char *const ip_names[] = { "any", "v4", "v6", NULL };
static const char *const anchor_names[] = { "epoch", "first", NULL }; /* in enum tpp_anchor's order */
static const char *const option_names[] = { "delta_t", "boundary", "ip", "anchor", "filter", "max_packets",
                                            "max_intervals", NULL };

/* A non-negative integer option (nil keeps the default). */
static uint64_t opt_count(lua_State *L, const char *key, uint64_t def)
{
    if (lua_isnil(L, -1)) return def;
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < 0) luaL_error(L, "option %s must be a non-negative integer, got %s", key, luaL_tolstring(L, -1, NULL));
    return (uint64_t)v;
}

/* One of `names` (nil keeps the default): its index. */
static int opt_enum(lua_State *L, const char *key, const char *const names[], int def)
{
    if (lua_isnil(L, -1)) return def;
    const char *v = lua_tostring(L, -1);
    for (int i = 0; v && names[i]; i++)
        if (strcmp(v, names[i]) == 0) return i;
    char known[128] = "";
    for (int i = 0; names[i]; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", names[i]);
    return luaL_error(L, "option %s must be one of %s, got '%s'", key, known, luaL_tolstring(L, -1, NULL));
}

void tpp_lcheck_options(lua_State *L, int idx, struct tpp_options *o)
{
    tpp_options_default(o);
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    idx = lua_absindex(L, idx);

    /* Reject misspelt keys: a silently ignored option is worse than an error. */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = 0;
        for (int i = 0; key && option_names[i]; i++) known |= strcmp(key, option_names[i]) == 0;
        if (!known)
            luaL_error(L, "unknown option '%s' (known: delta_t, boundary, ip, anchor, filter, max_packets, "
                       "max_intervals)", luaL_tolstring(L, -1, NULL));
    }

    lua_getfield(L, idx, "delta_t");
    if (!lua_isnil(L, -1)) {
        int ok;
        lua_Number dt = lua_tonumberx(L, -1, &ok);
        if (!ok || !(dt > 0) || dt > 1e9) luaL_error(L, "option delta_t must be a positive number of seconds");
        o->delta_ns = (int64_t)llround(dt * 1e9);
        /* rounding would make 0.5 ns one; the tolerance keeps 1e-9, whose product may come out a hair below 1 */
        if (o->delta_ns < 1 || dt * 1e9 < 1 - 1e-6) luaL_error(L, "option delta_t is below one nanosecond");
    }
    lua_pop(L, 1);

    lua_getfield(L, idx, "boundary");
    o->boundary = (enum tpp_boundary)opt_enum(L, "boundary", boundary_names, (int)o->boundary);
    lua_pop(L, 1);
    lua_getfield(L, idx, "ip");
    o->ip = (enum tpp_ipmode)opt_enum(L, "ip", ip_names, (int)o->ip);
    lua_pop(L, 1);
    lua_getfield(L, idx, "anchor");
    o->anchor = (enum tpp_anchor)opt_enum(L, "anchor", anchor_names, (int)o->anchor);
    lua_pop(L, 1);

    lua_getfield(L, idx, "filter");
    if (!lua_isnil(L, -1)) {
        size_t len;
        const char *f = lua_tolstring(L, -1, &len);
        if (!f || len >= sizeof o->filter) luaL_error(L, "option filter must be a string of under %d bytes", (int)sizeof o->filter);
        memcpy(o->filter, f, len + 1);
    }
    lua_pop(L, 1);

    lua_getfield(L, idx, "max_packets");
    o->max_packets = opt_count(L, "max_packets", 0);
    lua_pop(L, 1);
    lua_getfield(L, idx, "max_intervals");
    o->max_intervals = opt_count(L, "max_intervals", 0);
    lua_pop(L, 1);
}

/* tpp.now() -> seconds on a monotonic clock (for rates and durations; os.clock counts CPU time instead). */
static int l_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* tpp.fingerprint(path) -> 16 hex digits (tpp/fingerprint.h) | nil, "path: reason" (a stream has none). */
static int l_fingerprint(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char err[256], hex[17];
    uint64_t fp;
    if (tpp_fingerprint_path(path, &fp, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, err);
        return 2;
    }
    tpp_fingerprint_hex(fp, hex);
    lua_pushstring(L, hex);
    return 1;
}

/* tpp.check_filter(expr) -> true | nil, "bad filter ...": compile the BPF expression for Ethernet without any
 * capture, so that a typo is reported once, before any work, instead of once per capture. */
static int l_check_filter(lua_State *L)
{
    const char *expr = luaL_checkstring(L, 1);
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 262144);
    if (!p) return luaL_error(L, "not enough memory");
    struct bpf_program prog;
    if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "bad filter \"%s\": %s", expr, pcap_geterr(p));
        pcap_close(p);
        return 2;
    }
    pcap_freecode(&prog);
    pcap_close(p);
    lua_pushboolean(L, 1);
    return 1;
}

/* tpp.write_atomic(path, text) -> true | nil, "path: reason": a text output written as tpp's other outputs are
 * (tpp/outfile.h: an unnamed temporary file, fsync, renamed over the target), for the Lua side's own files. */
static int l_write_atomic(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *text = luaL_checklstring(L, 2, &len);
    char err[512];
    struct tpp_outfile out;
    if (tpp_outfile_open(&out, path, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = write(out.fd, text + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            lua_pushfstring(L, "%s: cannot write: %s", path, n < 0 ? strerror(errno) : "no space left");
            tpp_outfile_abort(&out);
            luaL_pushfail(L);
            lua_insert(L, -2);
            return 2;
        }
        done += (size_t)n;
    }
    if (tpp_outfile_commit(&out, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

int luaopen_tpp_core(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, l_now);
    lua_setfield(L, -2, "now");
    lua_pushcfunction(L, l_fingerprint);
    lua_setfield(L, -2, "fingerprint");
    lua_pushcfunction(L, l_check_filter);
    lua_setfield(L, -2, "check_filter");
    lua_pushcfunction(L, l_write_atomic);
    lua_setfield(L, -2, "write_atomic");
    lua_pushliteral(L, TPP_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, inflater_backend());
    lua_setfield(L, -2, "gzip_backend");
    tpp_lresult_register(L);
    tpp_lpackets_register(L);
    tpp_lwriter_register(L);
    tpp_lproc_register(L);
    tpp_linterrupt_register(L);
    tpp_lconfig_register(L);
    return 1;
}
