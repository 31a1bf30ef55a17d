/* loptions.c — tpp_lcheck_options: a Lua options table checked key by key into struct tpp_options. */
#include "loptions.h"
#include "tpp/result.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const boundary_names[] = { "aligned", "packet", NULL };
static const char *const ip_names[] = { "any", "v4", "v6", NULL };
static const char *const anchor_names[] = { "epoch", "first", NULL }; /* in enum tpp_anchor's order */
static const char *const keep_tables_names[] = { "edges", "all", NULL }; /* in enum tpp_keep_tables' order */
static const char *const encap_names[] = { "outer", "inner", NULL }; /* in enum tpp_encap's order */
static const char *const option_names[] = { "delta_t", "boundary", "ip", "anchor", "filter", "max_packets",
                                            "max_intervals", "max_gap", "keep_tables", "range", "prev_ns", "index",
                                            "features", "flow_timeout", "heavy_hitters", "hhh_phi", "encap",
                                            "labels", NULL }; /* labels: tpp.parse's own (lresult.c) */

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

/* The feature group called name[0..len), or -1. */
static int feature_bit(const char *name, size_t len)
{
    for (int i = 0; tpp_feature_names[i]; i++)
        if (strlen(tpp_feature_names[i]) == len && memcmp(tpp_feature_names[i], name, len) == 0) return 1 << i;
    return -1;
}

static void bad_feature(lua_State *L, const char *name, size_t len)
{
    char known[128] = "";
    for (int i = 0; tpp_feature_names[i]; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s, ", tpp_feature_names[i]);
    luaL_error(L, "option features: unknown feature group '%s' (known: %sall, none)",
               lua_pushlstring(L, name, len), known);
}

/* The groups of one name (a group, "all" or "none"). */
static unsigned feature_word(lua_State *L, const char *name, size_t len)
{
    if (len == 3 && memcmp(name, "all", 3) == 0) return TPP_FEAT_ALL;
    if (len == 4 && memcmp(name, "none", 4) == 0) return 0;
    int bit = feature_bit(name, len);
    if (bit < 0) bad_feature(L, name, len);
    return (unsigned)bit;
}

/* features: "all", "none", a list "ports,flows" (commas, spaces allowed around names) or an array of names. */
static unsigned opt_features(lua_State *L)
{
    if (lua_isnil(L, -1)) return TPP_FEAT_ALL;
    unsigned bits = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n), *end = s + n;
        while (s < end) {
            while (s < end && (*s == ' ' || *s == ',')) s++;
            const char *w = s;
            while (s < end && *s != ',' && *s != ' ') s++;
            if (s > w) bits |= feature_word(L, w, (size_t)(s - w));
        }
        return bits;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "option features must be \"all\", \"none\", a list such as \"ports,flows\" or an array of "
                   "group names, got %s", luaL_typename(L, -1));
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, -1, i);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option features: element %d is not a group name", (int)i);
        size_t len;
        const char *w = lua_tolstring(L, -1, &len);
        bits |= feature_word(L, w, len);
        lua_pop(L, 1);
    }
    return bits;
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
                       "max_intervals, max_gap, keep_tables, range, prev_ns, index, features, flow_timeout, heavy_hitters, "
                       "hhh_phi, encap, labels)", luaL_tolstring(L, -1, NULL));
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
    lua_getfield(L, idx, "encap");
    o->encap = (enum tpp_encap)opt_enum(L, "encap", encap_names, (int)o->encap);
    lua_pop(L, 1);
    lua_getfield(L, idx, "anchor");
    o->anchor = (enum tpp_anchor)opt_enum(L, "anchor", anchor_names, (int)o->anchor);
    lua_pop(L, 1);

    lua_getfield(L, idx, "max_gap");
    if (!lua_isnil(L, -1)) {
        int ok;
        lua_Number gap = lua_tonumberx(L, -1, &ok);
        if (!ok || !(gap >= 0))
            luaL_error(L, "option max_gap must be a number of seconds >= 0 (math.huge: never end a segment)");
        o->max_gap_ns = gap > 9e9 ? INT64_MAX : (int64_t)llround(gap * 1e9);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "keep_tables");
    o->keep_tables = (enum tpp_keep_tables)opt_enum(L, "keep_tables", keep_tables_names, (int)o->keep_tables);
    lua_pop(L, 1);

    /* A chunk of a split capture (tpp.split_plan gives these): range = { from, to } in bytes, prev_ns. */
    lua_getfield(L, idx, "range");
    if (!lua_isnil(L, -1)) {
        int ok1 = 0, ok2 = 0;
        if (lua_istable(L, -1)) {
            lua_geti(L, -1, 1);
            lua_geti(L, -2, 2);
            lua_Integer from = lua_tointegerx(L, -2, &ok1), to = lua_tointegerx(L, -1, &ok2);
            lua_pop(L, 2);
            ok1 = ok1 && ok2 && from >= 0 && to > from;
            o->range_from = (uint64_t)from;
            o->range_to = (uint64_t)to;
        }
        if (!ok1) luaL_error(L, "option range must be { from, to }: byte offsets with from < to");
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "prev_ns");
    if (!lua_isnil(L, -1)) {
        int ok;
        o->prev_ns = (int64_t)lua_tointegerx(L, -1, &ok);
        if (!ok) luaL_error(L, "option prev_ns must be an integer (nanoseconds since the epoch)");
        o->has_prev = 1;
    }
    lua_pop(L, 1);

    lua_getfield(L, idx, "index");
    if (!lua_isnil(L, -1)) {
        size_t len;
        const char *x = lua_tolstring(L, -1, &len);
        if (!x || len >= sizeof o->index) luaL_error(L, "option index must be the path of a gzip index (.tpx)");
        memcpy(o->index, x, len + 1);
    }
    lua_pop(L, 1);

    lua_getfield(L, idx, "filter");
    if (!lua_isnil(L, -1)) {
        size_t len;
        const char *f = lua_tolstring(L, -1, &len);
        if (!f || len >= sizeof o->filter) luaL_error(L, "option filter must be a string of under %d bytes", (int)sizeof o->filter);
        memcpy(o->filter, f, len + 1);
    }
    lua_pop(L, 1);

    lua_getfield(L, idx, "features");
    o->features = opt_features(L);
    lua_pop(L, 1);
    lua_getfield(L, idx, "flow_timeout");
    if (!lua_isnil(L, -1)) {
        int ok;
        lua_Number t = lua_tonumberx(L, -1, &ok);
        if (!ok || !(t > 0) || t > 9e9) luaL_error(L, "option flow_timeout must be a positive number of seconds");
        o->flow_timeout_ns = (int64_t)llround(t * 1e9);
        if (o->flow_timeout_ns < 1) luaL_error(L, "option flow_timeout is below one nanosecond");
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "heavy_hitters");
    if (!lua_isnil(L, -1)) {
        int ok;
        lua_Integer k = lua_tointegerx(L, -1, &ok);
        if (!ok || k < 1 || k > 1000)
            luaL_error(L, "option heavy_hitters must be an integer from 1 to 1000 (the top keys kept per interval), "
                       "got %s", luaL_tolstring(L, -1, NULL));
        o->hh_k = (uint32_t)k;
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "hhh_phi");
    if (!lua_isnil(L, -1)) {
        int ok;
        lua_Number phi = lua_tonumberx(L, -1, &ok);
        /* at most 1/phi prefixes a side and interval: 1e-4 bounds the buffer of one interval to about 1 MB */
        if (!ok || !(phi >= 1e-4 && phi <= 1))
            luaL_error(L, "option hhh_phi must be a number with 0.0001 <= phi <= 1 (the least residual share of a "
                       "hierarchical heavy hitter), got %s", luaL_tolstring(L, -1, NULL));
        o->hhh_phi = phi;
    }
    lua_pop(L, 1);

    lua_getfield(L, idx, "max_packets");
    o->max_packets = opt_count(L, "max_packets", 0);
    lua_pop(L, 1);
    lua_getfield(L, idx, "max_intervals");
    o->max_intervals = opt_count(L, "max_intervals", 0);
    lua_pop(L, 1);

    /* A chunk is one part of a single pass: only the epoch grid is the same in every chunk, and only the aligned
     * mode's intervals do not depend on the packets before them; a filter or a limit would need them too. */
    if ((o->range_to || o->has_prev) &&
        (o->boundary == TPP_BOUNDARY_PACKET || o->anchor == TPP_ANCHOR_FIRST || o->filter[0] || o->max_packets ||
         o->max_intervals))
        luaL_error(L, "options range and prev_ns (a chunk of a split capture) need the aligned boundary on the "
                   "epoch grid, without a filter or limits");
}
