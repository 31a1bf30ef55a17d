/* lpackets.c — tpp.packets(path, opts): decoded packets one by one, for custom scripts, optionally only those of a
 * time window [from, to). */
#include "ltpp.h"
#include "loptions.h"
#include "tpp/capture.h"
#include "tpp/packet.h"
#include "tpp/parse.h"
#include "tpp/result.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define PACKETS_MT "tpp.packets"

typedef struct {
    struct tpp_capture *cap;  /* NULL once closed */
    uint64_t count, max;       /* packets yielded; max_packets (0 = all) */
    int64_t from_ns, to_ns;    /* the window [from_ns, to_ns) */
    int linktype, supported;
    int bytes;                 /* yield each frame's captured bytes too */
    enum tpp_decode_mode mode; /* as tpp.parse with the same options decodes (encap, --compat) */
} LPackets; /* user value 1: the path, for error messages */

static int packets_close(lua_State *L)
{
    LPackets *u = luaL_checkudata(L, 1, PACKETS_MT);
    tpp_capture_close(u->cap);
    u->cap = NULL;
    return 0;
}

static void set_int(lua_State *L, const char *k, lua_Integer v) { lua_pushinteger(L, v); lua_setfield(L, -2, k); }

static void set_addr(lua_State *L, const char *k, const uint8_t a[16])
{
    char buf[64];
    tpp_addr_format(a, buf, sizeof buf);
    lua_pushstring(L, buf);
    lua_setfield(L, -2, k);
}

/* The iterator: a table per packet, nil at the end; a read error is raised naming the file. */
static int packets_next(lua_State *L)
{
    LPackets *u = luaL_checkudata(L, 1, PACKETS_MT);
    if (!u->cap || (u->max && u->count >= u->max)) return 0;
    struct tpp_frame f;
    int rc;
    /* Packets outside the window are skipped, not a reason to stop: timestamps may go backwards. */
    while ((rc = tpp_capture_next(u->cap, &f)) > 0 && (f.ts_ns < u->from_ns || f.ts_ns >= u->to_ns)) {}
    if (rc < 0) {
        lua_getiuservalue(L, 1, 1);
        return luaL_error(L, "%s: %s", lua_tostring(L, -1), tpp_capture_error(u->cap));
    }
    if (rc == 0) {
        tpp_capture_close(u->cap);
        u->cap = NULL;
        return 0;
    }
    u->count++;
    struct tpp_packet p;
    memset(&p, 0, sizeof p);
    if (f.linktype != u->linktype) { /* a pcapng capture's interfaces may differ */
        u->linktype = f.linktype;
        u->supported = tpp_linktype_supported(f.linktype);
    }
    if (u->supported) tpp_decode_as(u->mode, f.linktype, f.data, f.caplen, f.wirelen, &p);

    lua_createtable(L, 0, 18);
    lua_pushnumber(L, (lua_Number)f.ts_ns / 1e9);
    lua_setfield(L, -2, "ts");
    set_int(L, "ts_ns", f.ts_ns);
    set_int(L, "caplen", f.caplen);
    set_int(L, "wirelen", f.wirelen);
    set_int(L, "linktype", u->linktype);
    if (u->bytes) {
        lua_pushlstring(L, (const char *)f.data, f.caplen);
        lua_setfield(L, -2, "bytes");
    }
    lua_pushboolean(L, (p.flags & TPP_PKT_TRUNCATED) != 0);
    lua_setfield(L, -2, "truncated");
    lua_pushboolean(L, (p.flags & TPP_PKT_ENCAPSULATED) != 0);
    lua_setfield(L, -2, "encapsulated");
    if (p.ipv == 0) return 1;
    set_int(L, "ipv", p.ipv);
    set_addr(L, "src", p.src);
    set_addr(L, "dst", p.dst);
    set_int(L, "proto", p.proto);
    set_int(L, "ip_len", p.ip_len);
    lua_pushboolean(L, (p.flags & TPP_PKT_FRAGMENT) != 0);
    lua_setfield(L, -2, "fragment");
    if (p.flags & TPP_PKT_L4) {
        set_int(L, "sport", p.sport);
        set_int(L, "dport", p.dport);
        lua_pushstring(L, p.flags & TPP_PKT_L4_UDP ? "udp" : "tcp");
        lua_setfield(L, -2, "transport");
    }
    if (p.flags & TPP_PKT_UDP_TOO) { /* compat: a UDP header besides the TCP one */
        set_int(L, "udp_sport", p.udp_sport);
        set_int(L, "udp_dport", p.udp_dport);
    }
    int has_flags = (p.flags & TPP_PKT_TCP_FLAGS) != 0;
    if (has_flags) set_int(L, "flags", p.tcp_flags);
    lua_pushboolean(L, has_flags && (p.tcp_flags & 0x02));
    lua_setfield(L, -2, "syn");
    lua_pushboolean(L, has_flags && (p.tcp_flags & 0x01));
    lua_setfield(L, -2, "fin");
    return 1;
}

/* Option `key` of the table at idx (epoch seconds) as nanoseconds, rounded to the nearest; `dflt` when absent.
 * Whole seconds and the fraction are converted apart, so that 1672531210.25 is exact. */
static int64_t window_bound(lua_State *L, int idx, const char *key, int64_t dflt)
{
    int64_t ns = dflt;
    int t = lua_getfield(L, idx, key);
    if (t != LUA_TNIL) {
        if (lua_isinteger(L, -1)) {
            lua_Integer s = lua_tointeger(L, -1);
            if (s < -INT64_MAX / 1000000000 || s > INT64_MAX / 1000000000 - 1)
                luaL_error(L, "option %s must be epoch seconds between the years 1678 and 2262", key);
            ns = (int64_t)s * 1000000000;
        } else {
            lua_Number v = t == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
            if (v == HUGE_VAL || v == -HUGE_VAL) ns = v > 0 ? INT64_MAX : INT64_MIN;
            else if (!(fabs(v) < 9.2e9)) luaL_error(L, "option %s must be epoch seconds (a number)", key);
            else {
                double whole = floor(v);
                ns = (int64_t)whole * 1000000000 + llround((v - whole) * 1e9);
            }
        }
    }
    lua_pop(L, 1);
    return ns;
}

/* for p in tpp.packets(path [, opts]) — returns iterator, state, nil, closing value (Lua 5.4 generic for).
 * opts.from / opts.to (epoch seconds) and opts.bytes (yield the frames' bytes, to copy or cut a capture with
 * tpp.pcap_writer) are this function's own; the rest are the parse options (of which filter and max_packets apply). */
static int l_packets(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int64_t from_ns = INT64_MIN, to_ns = INT64_MAX;
    int bytes = 0;
    struct tpp_options o;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "bytes");
        bytes = lua_toboolean(L, -1);
        lua_pop(L, 1);
        from_ns = window_bound(L, 2, "from", INT64_MIN);
        to_ns = window_bound(L, 2, "to", INT64_MAX);
        if (to_ns < from_ns) luaL_error(L, "option to is before option from (the window is [from, to))");
        /* The parse options without this function's own, which tpp_lcheck_options would call unknown. */
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            if (k && (strcmp(k, "from") == 0 || strcmp(k, "to") == 0 || strcmp(k, "bytes") == 0)) {
                lua_pop(L, 1);
                continue;
            }
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
        lua_replace(L, 2);
    }
    tpp_lcheck_options(L, 2, &o);
    LPackets *u = lua_newuserdatauv(L, sizeof *u, 1);
    memset(u, 0, sizeof *u);
    luaL_setmetatable(L, PACKETS_MT);
    u->from_ns = from_ns;
    u->to_ns = to_ns;
    u->bytes = bytes;
    char err[TPP_ERRBUF_SIZE];
    u->cap = tpp_capture_open(path, o.filter, err, sizeof err);
    if (!u->cap) return luaL_error(L, "%s: %s", path, err);
    u->linktype = tpp_capture_linktype(u->cap);
    u->supported = tpp_linktype_supported(u->linktype);
    u->max = o.max_packets;
    u->mode = tpp_decode_mode_of(&o);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    lua_pushcfunction(L, packets_next);
    lua_insert(L, -2);
    lua_pushnil(L);
    lua_pushvalue(L, -2);
    return 4;
}

void tpp_lpackets_register(lua_State *L)
{
    static const luaL_Reg meta[] = { { "__gc", packets_close }, { "__close", packets_close }, { NULL, NULL } };
    luaL_newmetatable(L, PACKETS_MT);
    luaL_setfuncs(L, meta, 0);
    lua_pop(L, 1);
    lua_pushcfunction(L, l_packets);
    lua_setfield(L, -2, "packets");
}
