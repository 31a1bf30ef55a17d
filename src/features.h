/* features.h — the research features of one interval computed from its full tables: the port entropies, the
 * prefix counts and entropies, flows and fanout_max, the length percentiles and the heavy hitters.  The
 * aggregator calls it when it closes an interval and the merge when it joins two pieces of one interval, so that
 * both give the same bits for the same packets (integer sums, deterministic orders).
 *
 * Not here: flows_new, new_src and new_dst look back in time (the aggregator's and the merge's own state);
 * synack, rst, frag and ttl_mean are plain sums.
 */
#ifndef TPP_FEATURES_H
#define TPP_FEATURES_H

#include "tpp/result.h"

/* One interval's tables.  Arrays may be in any order unless said; NULL with a count of 0 when empty. */
struct feature_tables {
    const struct tpp_addr_count *src, *dst; /* per-address packets and bytes */
    size_t nsrc, ndst;
    const struct tpp_flow_key *flows;       /* the distinct 5-tuples */
    size_t nflows;
    const struct tpp_value_count *lens;     /* IP length -> packets, ascending length */
    size_t nlens;
    const struct tpp_value_count *ports[TPP_NSERIES]; /* port -> packets, ascending port */
    size_t nports[TPP_NSERIES];
    const struct tpp_value_count *port_bytes[2]; /* TCP / UDP destination port -> bytes, ascending port */
    size_t nport_bytes[2];
};

/* Scratch space reused from interval to interval (hash tables for prefixes, sort buffers): allocated and grown at
 * interval close, never per packet. */
struct features_work;
struct features_work *features_work_new(void);
void features_work_free(struct features_work *w);

/* The most heavy hitters one interval can have under options o (for the caller's buffer). */
size_t features_hh_max(const struct tpp_options *o);

/* Fill iv's table-derived feature columns (entropy_tcp_src .. entropy_udp_dst, src_p24 .. entropy_dst_p24, flows,
 * fanout_max, len_p50, len_p95) for the groups on in o->features, NaN for the groups off, from t and iv's counters
 * (ip_packets); write the interval's heavy hitters to hh[0..features_hh_max(o)) in their canonical order
 * (tpp/result.h) and return their number, or -1 when out of memory.  `original`: the packet mode's conventions
 * (0 instead of NaN where a statistic is undefined). */
long features_finish(struct features_work *w, struct tpp_interval *iv, const struct feature_tables *t,
                     const struct tpp_options *o, int original, struct tpp_hh *hh);

#endif
