/* lpackets.c — tpp.packets(path, opts): decoded packets one by one, for custom scripts. */
#include "ltpp.h"
#include "tpp/capture.h"
#include "tpp/packet.h"
#include "tpp/result.h"

#include <lauxlib.h>
#include <string.h>

#define PACKETS_MT "tpp.packets"

typedef struct {
    struct tpp_capture *cap;  /* NULL once closed */
    uint64_t count, max;
    int linktype, supported;
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
    int rc = tpp_capture_next(u->cap, &f);
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
    if (u->supported) tpp_decode(f.linktype, f.data, f.caplen, &p);

    lua_createtable(L, 0, 18);
    lua_pushnumber(L, (lua_Number)f.ts_ns / 1e9);
    lua_setfield(L, -2, "ts");
    set_int(L, "ts_ns", f.ts_ns);
    set_int(L, "caplen", f.caplen);
    set_int(L, "wirelen", f.wirelen);
    set_int(L, "linktype", u->linktype);
    lua_pushboolean(L, (p.flags & TPP_PKT_TRUNCATED) != 0);
    lua_setfield(L, -2, "truncated");
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
    }
    int has_flags = (p.flags & TPP_PKT_TCP_FLAGS) != 0;
    if (has_flags) set_int(L, "flags", p.tcp_flags);
    lua_pushboolean(L, has_flags && (p.tcp_flags & 0x02));
    lua_setfield(L, -2, "syn");
    lua_pushboolean(L, has_flags && (p.tcp_flags & 0x01));
    lua_setfield(L, -2, "fin");
    return 1;
}

/* for p in tpp.packets(path [, opts]) — returns iterator, state, nil, closing value (Lua 5.4 generic for). */
static int l_packets(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct tpp_options o;
    tpp_lcheck_options(L, 2, &o);
    LPackets *u = lua_newuserdatauv(L, sizeof *u, 1);
    memset(u, 0, sizeof *u);
    luaL_setmetatable(L, PACKETS_MT);
    char err[TPP_ERRBUF_SIZE];
    u->cap = tpp_capture_open(path, o.filter, err);
    if (!u->cap) return luaL_error(L, "%s: %s", path, err);
    u->linktype = tpp_capture_linktype(u->cap);
    u->supported = tpp_linktype_supported(u->linktype);
    u->max = o.max_packets;
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
