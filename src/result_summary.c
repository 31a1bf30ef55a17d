/* result_summary.c — the summary fields of a result (r.packets, r.source, ...) as a table of typed getters, as
 * result.c's column table describes the critical table: the Lua binding and the JSON export both read it. */
#include "tpp/fingerprint.h"
#include "tpp/result_summary.h"

#include <math.h>
#include <stdio.h>

static void set_int(struct tpp_value *v, int64_t i) { v->type = TPP_VALUE_INT; v->i = i; }
static void set_bool(struct tpp_value *v, int b) { v->type = TPP_VALUE_BOOL; v->i = b != 0; }
static void set_time(struct tpp_value *v, int64_t ns) { v->type = TPP_VALUE_REAL; v->d = (double)ns / 1e9; }
/* A string, or nil when it is empty (an unset filter, no error). */
static void set_string(struct tpp_value *v, const char *s, int empty_is_nil)
{
    v->type = empty_is_nil && !s[0] ? TPP_VALUE_NIL : TPP_VALUE_STRING;
    v->s = s;
}

/* The feature groups as tpp.parse takes them: "all", "none" or the groups' names in their order, "ports,flows". */
static void features_text(unsigned features, struct tpp_value *v)
{
    if ((features & TPP_FEAT_ALL) == TPP_FEAT_ALL) { set_string(v, "all", 0); return; }
    if (!(features & TPP_FEAT_ALL)) { set_string(v, "none", 0); return; }
    size_t len = 0;
    v->buf[0] = '\0';
    for (int g = 0; tpp_feature_names[g]; g++)
        if (features & (1u << g))
            len += (size_t)snprintf(v->buf + len, sizeof v->buf - len, "%s%s", len ? "," : "", tpp_feature_names[g]);
    set_string(v, v->buf, 0);
}

#define FIELD(name, expr) static void get_##name(const struct tpp_result *r, struct tpp_value *v) { expr; }
FIELD(source, set_string(v, r->source, 0))
FIELD(delta_t, set_time(v, r->opts.delta_ns))
FIELD(delta_ns, set_int(v, r->opts.delta_ns))
FIELD(boundary, set_string(v, r->opts.boundary == TPP_BOUNDARY_ALIGNED ? "aligned" : "packet", 0))
FIELD(ip, set_string(v, r->opts.ip == TPP_IP_ANY ? "any" : r->opts.ip == TPP_IP_V4 ? "v4" : "v6", 0))
FIELD(anchor, set_string(v, r->opts.anchor == TPP_ANCHOR_FIRST ? "first" : "epoch", 0))
FIELD(filter, set_string(v, r->opts.filter, 1))
FIELD(max_packets, set_int(v, (int64_t)r->opts.max_packets))
FIELD(max_intervals, set_int(v, (int64_t)r->opts.max_intervals))
FIELD(packets, set_int(v, (int64_t)r->packets))
FIELD(ip_packets, set_int(v, (int64_t)r->ip_packets))
FIELD(non_ip_packets, set_int(v, (int64_t)r->non_ip_packets))
FIELD(malformed_packets, set_int(v, (int64_t)r->malformed_packets))
FIELD(truncated_packets, set_int(v, (int64_t)r->truncated_packets))
FIELD(backwards_packets, set_int(v, (int64_t)r->backwards_packets))
FIELD(encapsulated_packets, set_int(v, (int64_t)r->encapsulated_packets))
FIELD(encap, set_string(v, r->opts.encap == TPP_ENCAP_INNER ? "inner" : "outer", 0))
FIELD(intervals, set_int(v, (int64_t)r->nintervals))
FIELD(first_ts, set_time(v, r->first_ns))
FIELD(last_ts, set_time(v, r->last_ns))
FIELD(first_ns, set_int(v, r->first_ns))
FIELD(last_ns, set_int(v, r->last_ns))
FIELD(linktype, set_int(v, r->linktype))
FIELD(source_size, set_int(v, (int64_t)r->source_size))
FIELD(source_mtime, set_time(v, r->source_mtime_ns))
FIELD(source_fingerprint,
      if (r->source_fingerprint) { tpp_fingerprint_hex(r->source_fingerprint, v->buf); set_string(v, v->buf, 0); }
      else v->type = TPP_VALUE_NIL)
FIELD(max_gap, v->type = TPP_VALUE_REAL; v->d = r->opts.max_gap_ns == INT64_MAX ? HUGE_VAL : (double)r->opts.max_gap_ns / 1e9)
FIELD(keep_tables, set_string(v, r->opts.keep_tables == TPP_TABLES_ALL ? "all" : "edges", 0))
FIELD(features, features_text(r->opts.features, v))
FIELD(flow_timeout, set_time(v, r->opts.flow_timeout_ns))
FIELD(hh_k, set_int(v, r->opts.hh_k))
FIELD(hhh_phi, v->type = TPP_VALUE_REAL; v->d = r->opts.hhh_phi)
FIELD(segments, set_int(v, (int64_t)tpp_result_nsegments(r)))
FIELD(pieces, set_int(v, (int64_t)r->pieces))
FIELD(mergeable, set_bool(v, r->mergeable))
FIELD(range_from, set_int(v, (int64_t)r->opts.range_from))
FIELD(range_to, set_int(v, (int64_t)r->opts.range_to))
FIELD(complete, set_bool(v, r->complete))
FIELD(stopped_by_limit, set_bool(v, r->stopped_by_limit))
FIELD(error, set_string(v, r->error, 1))
FIELD(warning, set_string(v, r->warning, 1))
#undef FIELD

#define F(name) { #name, get_##name }
const struct tpp_summary_field tpp_summary_fields[] = {
    F(source), F(delta_t), F(delta_ns), F(boundary), F(ip), F(anchor), F(filter), F(max_packets), F(max_intervals),
    F(packets), F(ip_packets), F(non_ip_packets), F(malformed_packets), F(truncated_packets), F(backwards_packets),
    F(encapsulated_packets), F(encap),
    F(intervals), F(segments), F(max_gap), F(keep_tables), F(features), F(flow_timeout), F(hh_k), F(hhh_phi),
    F(pieces), F(mergeable), F(range_from), F(range_to),
    F(first_ts), F(last_ts), F(first_ns), F(last_ns), F(linktype), F(source_size), F(source_mtime), F(source_fingerprint),
    F(complete), F(stopped_by_limit), F(error), F(warning),
};
#undef F
const size_t tpp_nsummary_fields = sizeof tpp_summary_fields / sizeof tpp_summary_fields[0];
