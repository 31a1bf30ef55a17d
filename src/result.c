/* result.c — storage of per-interval rows and sparse port histograms, the column table, and selections of
 * intervals.  Statistics over the ports are in result_ports.c, summary fields in result_summary.c, the text
 * outputs in result_export.c. */
#include "tpp/result.h"
#include "tpp/labels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tpp_options_default(struct tpp_options *o)
{
    memset(o, 0, sizeof *o);
    o->delta_ns = 10 * 1000000000LL;
    o->boundary = TPP_BOUNDARY_ALIGNED;
    o->ip = TPP_IP_ANY;
    o->max_gap_ns = 3600 * 1000000000LL;
    o->features = TPP_FEAT_ALL;
    o->flow_timeout_ns = 60 * 1000000000LL;
    o->hh_k = 10;
    o->hhh_phi = 0.05;
}

const char *const tpp_feature_names[] = { "ports", "prefixes", "flows", "novelty", "headers", "hh", NULL };

const char *const tpp_hh_dim_names[TPP_HH_NDIMS] = { "src", "dst", "src_p24", "dst_p24", "tcp_dport", "udp_dport",
                                                      "src_hhh", "dst_hhh" };

int tpp_hh_dim_find(const char *name)
{
    for (int d = 0; d < TPP_HH_NDIMS; d++)
        if (strcmp(tpp_hh_dim_names[d], name) == 0) return d;
    return -1;
}

#define COL(name, type) { #name, type, offsetof(struct tpp_interval, name) }
const struct tpp_column tpp_columns[] = {
    { "interval", TPP_COL_INDEX, 0 },
    { "start", TPP_COL_TIME, offsetof(struct tpp_interval, start_ns) },
    { "end", TPP_COL_TIME, offsetof(struct tpp_interval, end_ns) },
    COL(packets, TPP_COL_COUNT), COL(ip_packets, TPP_COL_COUNT), COL(ip_bytes, TPP_COL_COUNT),
    COL(src_ips, TPP_COL_COUNT), COL(dst_ips, TPP_COL_COUNT),
    COL(f2_src, TPP_COL_REAL), COL(f2_dst, TPP_COL_REAL),
    COL(iat_mean, TPP_COL_REAL), COL(iat_std, TPP_COL_REAL), COL(iat_skew, TPP_COL_REAL), COL(iat_kurt, TPP_COL_REAL),
    COL(entropy_src, TPP_COL_REAL), COL(entropy_dst, TPP_COL_REAL),
    COL(avg_len, TPP_COL_REAL), COL(icmp_frac, TPP_COL_REAL), COL(tcp_frac, TPP_COL_REAL), COL(udp_frac, TPP_COL_REAL),
    COL(syn, TPP_COL_COUNT), COL(fin, TPP_COL_COUNT),
    COL(tcp_port_packets, TPP_COL_COUNT), COL(udp_port_packets, TPP_COL_COUNT),
    COL(segment, TPP_COL_COUNT), { "covered", TPP_COL_TIME, offsetof(struct tpp_interval, covered_ns) },
    COL(entropy_tcp_src, TPP_COL_REAL), COL(entropy_tcp_dst, TPP_COL_REAL),
    COL(entropy_udp_src, TPP_COL_REAL), COL(entropy_udp_dst, TPP_COL_REAL),
    COL(src_p24, TPP_COL_REAL), COL(dst_p24, TPP_COL_REAL), COL(src_p16, TPP_COL_REAL), COL(dst_p16, TPP_COL_REAL),
    COL(entropy_src_p24, TPP_COL_REAL), COL(entropy_dst_p24, TPP_COL_REAL),
    COL(flows, TPP_COL_REAL), COL(flows_new, TPP_COL_REAL), COL(fanout_max, TPP_COL_REAL),
    COL(new_src, TPP_COL_REAL), COL(new_dst, TPP_COL_REAL),
    COL(synack, TPP_COL_REAL), COL(rst, TPP_COL_REAL), COL(frag, TPP_COL_REAL),
    COL(ttl_mean, TPP_COL_REAL), COL(len_p50, TPP_COL_REAL), COL(len_p95, TPP_COL_REAL),
    COL(anomalous_pkts, TPP_COL_REAL), COL(suspicious_pkts, TPP_COL_REAL), COL(notice_pkts, TPP_COL_REAL),
    COL(anomalous_events, TPP_COL_REAL), COL(suspicious_events, TPP_COL_REAL), COL(notice_events, TPP_COL_REAL),
};
const size_t tpp_ncolumns = sizeof tpp_columns / sizeof tpp_columns[0];

#define STATE(name, field, type) { "state." name, type, offsetof(struct tpp_interval, field) }
const struct tpp_column tpp_state_fields[] = {
    STATE("first_ns", first_ns, TPP_COL_TIME), STATE("last_ns", last_ns, TPP_COL_TIME),
    STATE("icmp", icmp, TPP_COL_COUNT), STATE("tcp", tcp, TPP_COL_COUNT), STATE("udp", udp, TPP_COL_COUNT),
    STATE("iat_n", iat.n, TPP_COL_COUNT), STATE("iat_sum", iat.sum, TPP_COL_TIME),
    STATE("iat_mean", iat.mean, TPP_COL_REAL), STATE("iat_m2", iat.m2, TPP_COL_REAL),
    STATE("iat_m3", iat.m3, TPP_COL_REAL), STATE("iat_m4", iat.m4, TPP_COL_REAL),
    STATE("iat_lost", iat_lost, TPP_COL_COUNT), STATE("non_ip", non_ip, TPP_COL_COUNT),
    STATE("malformed", malformed, TPP_COL_COUNT), STATE("truncated", truncated, TPP_COL_COUNT),
    STATE("backwards", backwards, TPP_COL_COUNT), STATE("ttl_sum", ttl_sum, TPP_COL_COUNT),
    STATE("encapsulated", encapsulated, TPP_COL_COUNT),
};
#undef STATE
#undef COL
const size_t tpp_nstate_fields = sizeof tpp_state_fields / sizeof tpp_state_fields[0];

int64_t tpp_covered_ns(const struct tpp_interval *iv, int64_t seg_first, int64_t seg_last)
{
    int64_t from = iv->start_ns > seg_first ? iv->start_ns : seg_first;
    int64_t to = iv->end_ns < seg_last ? iv->end_ns : seg_last;
    int64_t d;
    return to <= from || __builtin_sub_overflow(to, from, &d) ? 0 : d;
}

const struct tpp_column *tpp_column_find(const char *name)
{
    for (size_t i = 0; i < tpp_ncolumns; i++)
        if (strcmp(tpp_columns[i].name, name) == 0) return &tpp_columns[i];
    return NULL;
}

double tpp_column_value(const struct tpp_column *c, const struct tpp_interval *iv, size_t index)
{
    const char *base = (const char *)iv + c->offset;
    switch (c->type) {
    case TPP_COL_INDEX: return (double)index;
    case TPP_COL_TIME: return (double)*(const int64_t *)base / 1e9;
    case TPP_COL_COUNT: return (double)*(const uint64_t *)base;
    case TPP_COL_REAL: return *(const double *)base;
    }
    return 0;
}

const char *const tpp_series_names[TPP_NSERIES] = { "tcp_src", "tcp_dst", "udp_src", "udp_dst" };

int tpp_series_find(const char *name)
{
    for (int s = 0; s < TPP_NSERIES; s++)
        if (strcmp(tpp_series_names[s], name) == 0) return s;
    return -1;
}

struct tpp_result *tpp_result_new(const struct tpp_options *opts, const char *source)
{
    struct tpp_result *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->opts = *opts;
    r->source = strdup(source ? source : "");
    int ok = r->source != NULL;
    for (int s = 0; s < TPP_NSERIES; s++) {
        r->ports[s].offsets = calloc(1, sizeof(uint64_t)); /* offsets[0] = 0 */
        r->ports[s].last = -1;
        ok = ok && r->ports[s].offsets;
    }
    r->hh_offsets = calloc(1, sizeof(uint64_t));
    ok = ok && r->hh_offsets;
    if (!ok) { tpp_result_free(r); return NULL; }
    r->complete = 1;
    r->pieces = 1;
    r->mergeable = 1;
    return r;
}

void tpp_result_free(struct tpp_result *r)
{
    if (!r) return;
    free(r->source);
    free(r->iv);
    for (size_t k = 0; k < r->ntables; k++) tpp_addr_counts_free(&r->tables[k]);
    free(r->tables);
    for (int s = 0; s < TPP_NSERIES; s++) {
        free(r->ports[s].bytes);
        free(r->ports[s].offsets);
    }
    free(r->hh);
    free(r->hh_offsets);
    free(r->seen[0]);
    free(r->seen[1]);
    free(r->flow_head);
    free(r->flow_tail);
    tpp_labels_free(r->labels);
    free(r);
}

void tpp_interval_set_labels(struct tpp_interval *iv, const double *pkts, const double *events)
{
    double *const p[TPP_LABEL_NTYPES] = { &iv->anomalous_pkts, &iv->suspicious_pkts, &iv->notice_pkts };
    double *const e[TPP_LABEL_NTYPES] = { &iv->anomalous_events, &iv->suspicious_events, &iv->notice_events };
    for (int t = 0; t < TPP_LABEL_NTYPES; t++) {
        *p[t] = pkts ? pkts[t] : NAN;
        *e[t] = events ? events[t] : NAN;
    }
}

size_t tpp_result_row_at(const struct tpp_result *r, int64_t ns)
{
    size_t lo = 0, hi = r->nintervals;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->iv[mid].start_ns <= ns) lo = mid + 1;
        else hi = mid;
    }
    return lo ? lo - 1 : 0;
}

void tpp_addr_counts_free(struct tpp_addr_counts *t)
{
    free(t->e);
    free(t->flows);
    free(t->lens);
    free(t->port_bytes[0]);
    free(t->port_bytes[1]);
    t->e = NULL;
    t->flows = NULL;
    t->lens = t->port_bytes[0] = t->port_bytes[1] = NULL;
}

/* Grow `*p` (of `*cap` elements of `size` bytes) to hold at least `need`; 0 on success. */
static int reserve(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* LEB128, the dump's varint (docs/dump-format.md). */
static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) p[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

/* The bytes were written by tpp_result_push_port or _push_hh (a dump's are checked before they are kept): trusted. */
static uint64_t get_varint(const uint8_t **p)
{
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
}

/* The bytes the varint of v takes. */
static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    for (; v >= 0x80; v >>= 7) n++;
    return n;
}

/* Close the heavy hitters of the interval being filled: its count goes before its entries, in the byte kept for
 * it (moving the entries in the rare case of 128 or more), or as a lone 0.  Room for 10 bytes was reserved. */
static void hh_close_interval(struct tpp_result *r)
{
    uint8_t *start = r->hh + r->hh_offsets[r->nintervals];
    size_t len = varint_len(r->hh_pending);
    if (r->hh_pending == 0) {
        r->hh_nbytes++; /* no placeholder was kept: the count 0 alone */
    } else if (len > 1) {
        memmove(start + len, start + 1, r->hh_nbytes - (size_t)r->hh_offsets[r->nintervals] - 1);
        r->hh_nbytes += len - 1;
    }
    put_varint(start, r->hh_pending);
    r->nhh += r->hh_pending;
    r->hh_pending = 0;
}

int tpp_result_push_interval(struct tpp_result *r, const struct tpp_interval *iv)
{
    if (reserve((void **)&r->hh, &r->hh_cap, r->hh_nbytes + 10, 1) != 0) return -1; /* the count's varint */
    if (r->nintervals + 1 > r->cap) {
        /* The port offsets arrays grow with the rows (both hold nintervals + 1 entries).  r->cap changes only once
         * every array has grown, so that a failed allocation leaves the result consistent (and the next push, at
         * tpp_agg_finish, within bounds). */
        size_t cap = r->cap ? r->cap * 2 : 16;
        for (int s = 0; s < TPP_NSERIES; s++) {
            uint64_t *o = realloc(r->ports[s].offsets, (cap + 1) * sizeof *o);
            if (!o) return -1;
            r->ports[s].offsets = o;
        }
        uint64_t *ho = realloc(r->hh_offsets, (cap + 1) * sizeof *ho);
        if (!ho) return -1;
        r->hh_offsets = ho;
        struct tpp_interval *rows = realloc(r->iv, cap * sizeof *rows);
        if (!rows) return -1;
        r->iv = rows;
        r->cap = cap;
    }
    for (int s = 0; s < TPP_NSERIES; s++) {
        r->ports[s].offsets[r->nintervals + 1] = r->ports[s].nbytes;
        r->ports[s].last = -1;
    }
    hh_close_interval(r);
    r->hh_offsets[r->nintervals + 1] = r->hh_nbytes;
    r->iv[r->nintervals++] = *iv;
    return 0;
}

/* Room for `more` bytes of entries of the interval being filled, after the byte kept for its count. */
static int hh_reserve(struct tpp_result *r, size_t more)
{
    if (reserve((void **)&r->hh, &r->hh_cap, r->hh_nbytes + 1 + more, 1) != 0) return -1;
    if (r->hh_pending == 0) r->hh[r->hh_nbytes++] = 0; /* the count's place, filled by hh_close_interval */
    return 0;
}

int tpp_result_push_hh(struct tpp_result *r, const struct tpp_hh *e)
{
    if (hh_reserve(r, TPP_HH_ENTRY_MAX) != 0) return -1;
    r->hh_nbytes += tpp_hh_encode(r->hh + r->hh_nbytes, e);
    r->hh_pending++;
    return 0;
}

int tpp_result_push_hh_of(struct tpp_result *r, const struct tpp_result *src, size_t i)
{
    struct tpp_hh_cursor c;
    size_t n = tpp_result_hh_open(src, i, &c);
    if (n == 0) return 0;
    size_t len = (size_t)(c.end - c.p);
    if (hh_reserve(r, len) != 0) return -1;
    memcpy(r->hh + r->hh_nbytes, c.p, len);
    r->hh_nbytes += len;
    r->hh_pending += n;
    return 0;
}

size_t tpp_result_hh_open(const struct tpp_result *r, size_t i, struct tpp_hh_cursor *c)
{
    static const uint8_t none[1];
    const uint8_t *base = r->hh ? r->hh : none; /* a result without heavy hitters may have no buffer */
    c->p = base + r->hh_offsets[i];
    c->end = base + r->hh_offsets[i + 1];
    return c->p < c->end ? (size_t)get_varint(&c->p) : 0; /* no bytes (a dump without them): none */
}

int tpp_hh_next(struct tpp_hh_cursor *c, struct tpp_hh *e)
{
    if (c->p >= c->end) return 0;
    const uint8_t *next = tpp_hh_decode(c->p, c->end, e);
    c->p = next ? next : c->end; /* NULL: not an entry, which the writers and the dump reader rule out */
    return next != NULL;
}

/* A varint of p[0 .. end - p) as put_varint writes it: NULL when cut short, overlong or beyond 64 bits. */
static const uint8_t *get_varint_checked(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
        uint8_t b = *p++;
        if (shift == 63 && b > 1) return NULL;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return b == 0 && shift > 0 ? NULL : p; /* a last byte of 0: overlong */
    }
    return NULL;
}

static int hh_dim_is_port(unsigned dim) { return dim == TPP_HH_TCP_DPORT || dim == TPP_HH_UDP_DPORT; }

size_t tpp_hh_encode(uint8_t *p, const struct tpp_hh *e)
{
    uint8_t *start = p;
    *p++ = e->dim;
    if (hh_dim_is_port(e->dim)) {
        p += put_varint(p, e->port);
    } else {
        size_t len = (size_t)(e->plen + 7) / 8, off = e->ipv == 4 ? 12 : 0;
        if (len > 16 - off) len = 16 - off;
        *p++ = e->ipv;
        *p++ = e->plen;
        memcpy(p, e->key + off, len);
        p += len;
    }
    p += put_varint(p, e->packets);
    p += put_varint(p, e->bytes);
    return (size_t)(p - start);
}

const uint8_t *tpp_hh_decode(const uint8_t *p, const uint8_t *end, struct tpp_hh *e)
{
    memset(e, 0, sizeof *e);
    if (p >= end || *p >= TPP_HH_NDIMS) return NULL;
    e->dim = *p++;
    if (hh_dim_is_port(e->dim)) {
        uint64_t port;
        if (!(p = get_varint_checked(p, end, &port)) || port > 65535) return NULL;
        e->port = (uint32_t)port;
    } else {
        if (end - p < 2 || (p[0] != 4 && p[0] != 6)) return NULL;
        e->ipv = p[0];
        e->plen = p[1];
        p += 2;
        size_t len = (size_t)(e->plen + 7) / 8, off = e->ipv == 4 ? 12 : 0;
        if (len > 16 - off || (size_t)(end - p) < len) return NULL;
        memcpy(e->key + off, p, len);
        p += len;
    }
    if (!(p = get_varint_checked(p, end, &e->packets))) return NULL;
    return get_varint_checked(p, end, &e->bytes);
}

double tpp_hh_share(const struct tpp_hh *e, const struct tpp_interval *iv)
{
    uint64_t total = e->dim == TPP_HH_TCP_DPORT ? iv->tcp_port_packets
                   : e->dim == TPP_HH_UDP_DPORT ? iv->udp_port_packets : iv->ip_packets;
    return total ? (double)e->packets / (double)total : NAN;
}

int tpp_result_push_port(struct tpp_result *r, int series, uint32_t port, uint32_t count)
{
    struct tpp_port_series *ps = &r->ports[series];
    if (reserve((void **)&ps->bytes, &ps->cap, ps->nbytes + 10, 1) != 0) return -1; /* two varints of <= 5 bytes */
    ps->nbytes += put_varint(ps->bytes + ps->nbytes, (uint64_t)((int64_t)port - ps->last - 1));
    ps->nbytes += put_varint(ps->bytes + ps->nbytes, count);
    ps->last = (int32_t)port;
    ps->nitems++;
    return 0;
}

void tpp_ports_open(const struct tpp_result *r, int series, size_t interval, struct tpp_port_cursor *c)
{
    static const uint8_t none[1];
    const struct tpp_port_series *ps = &r->ports[series];
    const uint8_t *base = ps->bytes ? ps->bytes : none; /* a series with no entry has no buffer */
    c->p = base + ps->offsets[interval];
    c->end = base + ps->offsets[interval + 1];
    c->port = -1;
}

int tpp_ports_next(struct tpp_port_cursor *c, uint32_t *port, uint32_t *count)
{
    if (c->p >= c->end) return 0;
    c->port += (int64_t)get_varint(&c->p) + 1;
    *port = (uint32_t)c->port;
    *count = (uint32_t)get_varint(&c->p);
    return 1;
}

size_t tpp_result_distinct_ports(const struct tpp_result *r, int series)
{
    size_t n = 0;
    for (size_t w = 0; w < 65536 / 64; w++) n += (size_t)__builtin_popcountll(r->seen_ports[series][w]);
    return n;
}

struct tpp_result *tpp_result_select(const struct tpp_result *r, const size_t *idx, size_t n)
{
    struct tpp_result *out = tpp_result_new(&r->opts, r->source);
    if (!out) return NULL;
    out->linktype = r->linktype;
    out->source_size = r->source_size;
    out->source_mtime_ns = r->source_mtime_ns;
    out->non_ip_packets = r->non_ip_packets;
    out->malformed_packets = r->malformed_packets;
    out->encapsulated_packets = r->encapsulated_packets;
    out->truncated_packets = r->truncated_packets;
    out->backwards_packets = r->backwards_packets;
    out->complete = r->complete;
    out->stopped_by_limit = r->stopped_by_limit;
    out->mergeable = 0; /* the rows of a selection are not a stretch of the trace: no tables, no segments' edges */
    out->pieces = r->pieces;
    memcpy(out->error, r->error, sizeof out->error);
    memcpy(out->warning, r->warning, sizeof out->warning);
    if (r->labels && !(out->labels = tpp_labels_clone(r->labels))) goto oom; /* the whole trace's findings */
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
        if (tpp_result_push_hh_of(out, r, idx[k]) != 0) goto oom;
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

int tpp_result_push_table(struct tpp_result *r, struct tpp_addr_counts *t)
{
    if (reserve((void **)&r->tables, &r->tables_cap, r->ntables + 1, sizeof *r->tables) != 0) {
        tpp_addr_counts_free(t);
        return -1;
    }
    r->tables[r->ntables++] = *t;
    memset(t, 0, sizeof *t);
    return 0;
}

const struct tpp_addr_counts *tpp_result_table(const struct tpp_result *r, size_t i)
{
    size_t lo = 0, hi = r->ntables;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->tables[mid].interval < i) lo = mid + 1;
        else hi = mid;
    }
    return lo < r->ntables && r->tables[lo].interval == i ? &r->tables[lo] : NULL;
}

void tpp_result_prune_tables(struct tpp_result *r)
{
    size_t kept = 0;
    for (size_t k = 0; k < r->ntables; k++) {
        uint64_t i = r->tables[k].interval;
        if (i == 0 || i + 1 == r->nintervals) r->tables[kept++] = r->tables[k];
        else tpp_addr_counts_free(&r->tables[k]);
    }
    r->ntables = kept;
}

void tpp_result_truncate(struct tpp_result *r, size_t n)
{
    if (n >= r->nintervals) return;
    for (int s = 0; s < TPP_NSERIES; s++) {
        struct tpp_port_series *ps = &r->ports[s];
        struct tpp_port_cursor c;
        uint32_t port, count;
        for (size_t i = n; i < r->nintervals; i++)
            for (tpp_ports_open(r, s, i, &c); tpp_ports_next(&c, &port, &count);) ps->nitems--;
        ps->nbytes = ps->offsets[n];
        ps->last = -1;
    }
    while (r->ntables > 0 && r->tables[r->ntables - 1].interval >= n) tpp_addr_counts_free(&r->tables[--r->ntables]);
    struct tpp_hh_cursor c;
    for (size_t i = n; i < r->nintervals; i++) r->nhh -= tpp_result_hh_open(r, i, &c);
    r->hh_nbytes = (size_t)r->hh_offsets[n];
    r->hh_pending = 0;
    r->nintervals = n;
}

size_t tpp_result_nsegments(const struct tpp_result *r)
{
    return r->nintervals ? (size_t)r->iv[r->nintervals - 1].segment + 1 : 0;
}

/* Segment numbers ascend with the rows: the first row of segment k by binary search. */
static size_t segment_start(const struct tpp_result *r, uint64_t k)
{
    size_t lo = 0, hi = r->nintervals;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->iv[mid].segment < k) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void tpp_result_segment(const struct tpp_result *r, size_t k, size_t *first, size_t *last)
{
    *first = segment_start(r, k);
    *last = segment_start(r, (uint64_t)k + 1) - 1;
}

int tpp_result_segment_extent(const struct tpp_result *r, size_t k, int64_t *first_ns, int64_t *last_ns)
{
    size_t first, last;
    tpp_result_segment(r, k, &first, &last);
    int any = 0;
    *first_ns = *last_ns = 0;
    for (size_t j = first; j <= last; j++) {
        if (r->iv[j].packets == 0) continue;
        if (!any || r->iv[j].first_ns < *first_ns) *first_ns = r->iv[j].first_ns;
        if (!any || r->iv[j].last_ns > *last_ns) *last_ns = r->iv[j].last_ns;
        any = 1;
    }
    return any;
}

void tpp_result_cover_segment(struct tpp_result *r, size_t k)
{
    size_t first, last;
    int64_t lo, hi;
    tpp_result_segment(r, k, &first, &last);
    int any = tpp_result_segment_extent(r, k, &lo, &hi);
    for (size_t j = first; j <= last; j++) r->iv[j].covered_ns = any ? tpp_covered_ns(&r->iv[j], lo, hi) : 0;
}
