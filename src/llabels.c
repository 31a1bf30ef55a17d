/* llabels.c — the Lua side of tpp/labels.h: anomaly lists (as lua/tpp/labels.lua reads them) into the C labels a
 * parse matches, a result's labels back into Lua tables, and the two helpers labels.lua needs from C
 * (tpp.label_address, tpp.labels_fingerprint).  Glue only. */
#include "ltpp.h"
#include "llabels.h"
#include "tpp/labels.h"
#include "tpp/result.h"

#include <arpa/inet.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#define LABELS_BOX_MT "tpp.labels_box"

/* An address as text into 16 bytes (IPv4 as IPv4-mapped IPv6, as tpp_packet has it); 0 on success. */
static int parse_address(const char *text, uint8_t out[16])
{
    struct in_addr v4;
    if (inet_pton(AF_INET, text, &v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

/* tpp.label_address(text) -> true | nil: whether text is an IPv4 or IPv6 address (labels.lua checks filters). */
static int l_label_address(lua_State *L)
{
    uint8_t a[16];
    if (parse_address(luaL_checkstring(L, 1), a) != 0) return 0;
    lua_pushboolean(L, 1);
    return 1;
}

static int box_gc(lua_State *L)
{
    struct tpp_labels **box = luaL_checkudata(L, 1, LABELS_BOX_MT);
    tpp_labels_free(*box);
    *box = NULL;
    return 0;
}

/* Field `key` of the table on the top as an integer, raising a message about anomaly k when it is not one. */
static lua_Integer int_field(lua_State *L, const char *key, lua_Integer k, int optional, lua_Integer def)
{
    lua_getfield(L, -1, key);
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok) {
        if (optional && lua_isnil(L, -1)) v = def;
        else luaL_error(L, "labels: anomaly %d: %s must be an integer", (int)k, key);
    }
    lua_pop(L, 1);
    return v;
}

static const char *str_field(lua_State *L, int idx, const char *key)
{
    lua_getfield(L, idx, key);
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1); /* the string stays referenced by the table */
    return s;
}

/* One filter table (on the top) into f. */
static void check_filter(lua_State *L, lua_Integer k, struct tpp_label_filter *f)
{
    memset(f, 0, sizeof *f);
    static const char *const addrs[2] = { "src_ip", "dst_ip" };
    for (int side = 0; side < 2; side++) {
        const char *text = str_field(L, -1, addrs[side]);
        if (!text) continue;
        if (parse_address(text, side ? f->dst : f->src) != 0)
            luaL_error(L, "labels: anomaly %d: %s '%s' is not an IPv4 or IPv6 address", (int)k, addrs[side], text);
        f->has |= side ? TPP_LF_DST_IP : TPP_LF_SRC_IP;
    }
    static const char *const ports[2] = { "src_port", "dst_port" };
    for (int side = 0; side < 2; side++) {
        lua_getfield(L, -1, ports[side]);
        int absent = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (absent) continue;
        lua_Integer port = int_field(L, ports[side], k, 0, 0);
        if (port < 0 || port > 65535) luaL_error(L, "labels: anomaly %d: %s %d is not a port", (int)k, ports[side], (int)port);
        if (side) f->dport = (uint16_t)port, f->has |= TPP_LF_DST_PORT;
        else f->sport = (uint16_t)port, f->has |= TPP_LF_SRC_PORT;
    }
}

struct tpp_labels *tpp_llabels_check(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    struct tpp_labels **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, LABELS_BOX_MT);
    if (!(*box = tpp_labels_new())) luaL_error(L, "out of memory");
    struct tpp_labels *l = *box;
    lua_Integer n = luaL_len(L, idx);
    for (lua_Integer k = 1; k <= n; k++) {
        if (lua_geti(L, idx, k) != LUA_TTABLE) luaL_error(L, "labels: element %d is not an anomaly table", (int)k);
        const char *type = str_field(L, -1, "type");
        int t = type ? tpp_label_type_find(type) : -1;
        if (t < 0) luaL_error(L, "labels: anomaly %d: type must be anomalous, suspicious or notice", (int)k);
        lua_Integer from = int_field(L, "from_ns", k, 0, 0), to = int_field(L, "to_ns", k, 0, 0);
        if (to < from) luaL_error(L, "labels: anomaly %d: its window ends before it starts", (int)k);
        const char *id = str_field(L, -1, "id");
        char ordinal[32];
        if (!id) snprintf(ordinal, sizeof ordinal, "%d", (int)k), id = ordinal;
        if (tpp_labels_add(l, id, t, str_field(L, -1, "taxonomy"), str_field(L, -1, "value"), from, to) != 0)
            luaL_error(L, "out of memory");
        lua_getfield(L, -1, "filters");
        if (!lua_isnil(L, -1)) {
            luaL_argcheck(L, lua_istable(L, -1), idx, "labels: an anomaly's filters must be a list");
            lua_Integer nf = luaL_len(L, -1);
            for (lua_Integer f = 1; f <= nf; f++) {
                if (lua_geti(L, -1, f) != LUA_TTABLE) luaL_error(L, "labels: anomaly %d: filter %d is not a table", (int)k, (int)f);
                struct tpp_label_filter x;
                check_filter(L, k, &x);
                if (tpp_labels_add_filter(l, &x) != 0) luaL_error(L, "out of memory");
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 2);
    }
    return l; /* the box on the stack top owns it */
}

/* The labels' fingerprint as 16 hex digits. */
static void push_fingerprint(lua_State *L, const struct tpp_labels *l)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)tpp_labels_fingerprint(l));
    lua_pushstring(L, hex);
}

/* tpp.labels_fingerprint(anomalies) -> 16 hex digits that change with any anomaly (a dump's labels are compared
 * with them). */
static int l_labels_fingerprint(lua_State *L)
{
    push_fingerprint(L, tpp_llabels_check(L, 1));
    return 1;
}

static void set_string(lua_State *L, const char *key, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, key);
}

static void set_int(lua_State *L, const char *key, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, key);
}

/* An address of a filter as text. */
static void set_address(lua_State *L, const char *key, const uint8_t a[16])
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    char text[INET6_ADDRSTRLEN];
    if (memcmp(a, mapped, 12) == 0) inet_ntop(AF_INET, a + 12, text, sizeof text);
    else inet_ntop(AF_INET6, a, text, sizeof text);
    set_string(L, key, text);
}

void tpp_llabels_push(lua_State *L, const struct tpp_result *r)
{
    const struct tpp_labels *l = r->labels;
    lua_createtable(L, (int)l->n, 0);
    for (size_t k = 0; k < l->n; k++) {
        const struct tpp_anomaly *a = &l->a[k];
        lua_createtable(L, 0, 11);
        set_string(L, "id", a->id);
        set_string(L, "type", tpp_label_type_names[a->type]);
        set_string(L, "taxonomy", a->taxonomy);
        set_string(L, "value", a->value);
        set_int(L, "from_ns", a->from_ns);
        set_int(L, "to_ns", a->to_ns);
        set_int(L, "packets", (lua_Integer)a->packets);
        if (a->packets && r->nintervals) {
            set_int(L, "first_interval", (lua_Integer)tpp_result_row_at(r, a->first_ns));
            set_int(L, "last_interval", (lua_Integer)tpp_result_row_at(r, a->last_ns));
            set_int(L, "first_ns", a->first_ns);
            set_int(L, "last_ns", a->last_ns);
        }
        lua_createtable(L, (int)a->nfilters, 0);
        for (size_t f = 0; f < a->nfilters; f++) {
            const struct tpp_label_filter *x = &l->filters[a->first_filter + f];
            lua_createtable(L, 0, 4);
            if (x->has & TPP_LF_SRC_IP) set_address(L, "src_ip", x->src);
            if (x->has & TPP_LF_DST_IP) set_address(L, "dst_ip", x->dst);
            if (x->has & TPP_LF_SRC_PORT) set_int(L, "src_port", x->sport);
            if (x->has & TPP_LF_DST_PORT) set_int(L, "dst_port", x->dport);
            lua_rawseti(L, -2, (lua_Integer)f + 1);
        }
        lua_setfield(L, -2, "filters");
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
}

void tpp_llabels_push_fingerprint(lua_State *L, const struct tpp_result *r)
{
    push_fingerprint(L, r->labels);
}

void tpp_llabels_register(lua_State *L)
{
    luaL_newmetatable(L, LABELS_BOX_MT);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_label_address);
    lua_setfield(L, -2, "label_address");
    lua_pushcfunction(L, l_labels_fingerprint);
    lua_setfield(L, -2, "labels_fingerprint");
}
