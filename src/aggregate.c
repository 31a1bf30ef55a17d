/* aggregate.c — the one-pass aggregator: decoded packets in, rows, port histograms and heavy hitters out.
 *
 * Per interval it keeps plain counters, two address tables, four 65536-entry port histograms reset through
 * their touched-port bitmaps, and streaming central moments of the inter-arrival times; for the research
 * features (the groups of options.features, each skipped entirely when off) an IP length histogram, bytes per
 * destination port, the interval's list of flows, and across intervals the flow table (flow_table.h) and the
 * addresses seen so far (seen_table.h).  At an interval's close the tables go to features_finish (features.h).
 * All of it is allocated in tpp_agg_new() or grows by doubling; adding a packet never allocates otherwise.
 */
#include "tpp/aggregate.h"
#include "tpp/labels.h"
#include "addr_table.h"
#include "features.h"
#include "flow_sort.h"
#include "flow_table.h"
#include "interval_stats.h"
#include "seen_table.h"
#include "radix_sort.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Timestamps come from the file and may be anything: differences and interval ends saturate instead of
 * overflowing (a crafted pcapng can put packets near both ends of the int64 range). */
static int64_t span(int64_t from, int64_t to)
{
    int64_t d;
    if (!__builtin_sub_overflow(to, from, &d)) return d;
    return to > from ? INT64_MAX : INT64_MIN;
}

static int64_t later(int64_t t, int64_t d)
{
    int64_t s;
    return __builtin_add_overflow(t, d, &s) ? INT64_MAX : s;
}

/* A port histogram remembers which ports it touched in a bitmap, and which words of it in a summary: reading it
 * out in port order and resetting it cost the touched ports plus 16 words, not a scan of 1024 (which at 1 ms
 * intervals was a second of every 300 s of trace). */
struct port_hist {
    uint32_t count[65536];
    uint64_t touched[65536 / 64];
    uint64_t summary[65536 / 64 / 64];
    uint32_t ntouched;         /* distinct ports: the size of the interval's list */
};

/* IP lengths: dense up to LEN_DENSE (every IPv4 length and IPv6 ones up to 40 + 65535 with room), the rare
 * longer ones (jumbograms, segmentation offload) in a sorted list.  The touched words are marked in a summary
 * too: reading out an interval of a few packets then costs its packets, not 2048 words (a million 1 ms
 * intervals would otherwise spend seconds there). */
#define LEN_DENSE (1u << 17)
struct len_hist {
    uint32_t count[LEN_DENSE];
    uint64_t touched[LEN_DENSE / 64];
    uint64_t summary[LEN_DENSE / 64 / 64];
    uint32_t ntouched;
    struct tpp_value_count *big;
    size_t nbig, big_cap;
};

/* Growable arrays reused from interval to interval. */
#define BUF(T) struct { T *v; size_t n, cap; }

struct tpp_agg {
    struct tpp_result *r;
    int started, stopped;
    int64_t delta, start;  /* current interval: [start, start + delta) when aligned */
    int64_t prev_ts;
    int64_t seg_first, seg_last; /* earliest and latest packet of the current segment */
    int64_t seg_first_used;      /* the earliest packet when the segment's first row was closed: a later packet
                                  * stamped before it (the clock stepping back) means covering again at the end */
    struct tpp_interval cur;
    struct addr_table src, dst;
    struct port_hist ports[TPP_NSERIES];

    unsigned feat;               /* options.features */
    int keep_state;              /* the result keeps the merge state (not in the packet mode: it never merges) */
    uint64_t synack, rst, frag, flows_new; /* the current interval's counts */
    struct len_hist *lens;       /* TPP_FEAT_HEADERS */
    uint64_t (*port_bytes)[65536]; /* TPP_FEAT_HH: bytes per TCP [0] / UDP [1] destination port */
    struct flow_table flows;     /* TPP_FEAT_FLOWS */
    BUF(struct tpp_flow_key) flow_list; /* the current interval's flows, in the order first seen */
    int64_t head_until;          /* flows first seen up to this time are the result's head */
    struct seen_table seen[2];   /* TPP_FEAT_NOVELTY: sources, destinations */
    struct features_work *work;
    struct tpp_hh *hh;           /* features_hh_max() heavy hitters */
    /* an interval's tables for features_finish, rebuilt at each close */
    BUF(struct tpp_addr_count) addrs; /* sources, then destinations */
    BUF(struct tpp_value_count) port_counts[TPP_NSERIES];
    BUF(struct tpp_value_count) port_byte_counts[2];
    BUF(struct tpp_value_count) len_counts;
    BUF(uint64_t) sort_keys;
    BUF(uint64_t) sort_tmp;
    BUF(struct tpp_flow_mark) head;
    struct tpp_label_index *labels; /* the result's labels, indexed; NULL without */
    const uint32_t *label_items; /* the label items of the packet being added, when looked up (ahead, by the */
    int label_nitems;            /* reader thread), else -1: count_packet looks it up */
    unsigned label_types;        /* then the types it matches */
    uint64_t label_pkts[TPP_LABEL_NTYPES]; /* the current interval's IP packets matching each type */
};

/* Make room for `need` elements in a BUF; 0 on success. */
#define RESERVE(b, need) ((need) <= (b).cap ? 0 : reserve((void **)&(b).v, &(b).cap, (need), sizeof *(b).v))
static int reserve(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* An empty row of segment `segment`: the earliest and latest packet start out of range, so that each packet's
 * min and max need no test for the first one. */
static void reset_row(struct tpp_interval *iv, uint64_t segment)
{
    memset(iv, 0, sizeof *iv);
    iv->segment = segment;
    iv->first_ns = INT64_MAX;
    iv->last_ns = INT64_MIN;
}

struct tpp_agg *tpp_agg_new(struct tpp_result *r)
{
    struct tpp_agg *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->r = r;
    a->delta = r->opts.delta_ns;
    a->feat = r->opts.features & TPP_FEAT_ALL;
    a->keep_state = r->opts.boundary != TPP_BOUNDARY_PACKET;
    reset_row(&a->cur, 0);
    int hh = (a->feat & TPP_FEAT_HH) != 0, ok = 1;
    ok = addr_table_init(&a->src, hh) == 0 && ok;
    ok = addr_table_init(&a->dst, hh) == 0 && ok;
    ok = (a->work = features_work_new()) != NULL && ok;
    ok = (a->hh = malloc((features_hh_max(&r->opts) + 1) * sizeof *a->hh)) != NULL && ok;
    if (a->feat & TPP_FEAT_HEADERS) ok = (a->lens = calloc(1, sizeof *a->lens)) != NULL && ok;
    if (hh) ok = (a->port_bytes = calloc(2, sizeof *a->port_bytes)) != NULL && ok;
    if (a->feat & TPP_FEAT_FLOWS) ok = flow_table_init(&a->flows, r->opts.flow_timeout_ns) == 0 && ok;
    if (a->feat & TPP_FEAT_NOVELTY) ok = seen_table_init(&a->seen[0]) == 0 && seen_table_init(&a->seen[1]) == 0 && ok;
    if (r->labels) ok = (a->labels = tpp_label_index_new(r->labels)) != NULL && ok;
    if (!ok) {
        tpp_agg_free(a);
        return NULL;
    }
    return a;
}

void tpp_agg_free(struct tpp_agg *a)
{
    if (!a) return;
    addr_table_free(&a->src);
    addr_table_free(&a->dst);
    features_work_free(a->work);
    free(a->hh);
    if (a->lens) free(a->lens->big);
    free(a->lens);
    free(a->port_bytes);
    if (a->flows.v4) flow_table_free(&a->flows);
    free(a->flow_list.v);
    for (int k = 0; k < 2; k++)
        if (a->seen[k].v4) seen_table_free(&a->seen[k]);
    free(a->addrs.v);
    for (int s = 0; s < TPP_NSERIES; s++) free(a->port_counts[s].v);
    free(a->port_byte_counts[0].v);
    free(a->port_byte_counts[1].v);
    free(a->len_counts.v);
    free(a->sort_keys.v);
    free(a->sort_tmp.v);
    free(a->head.v);
    tpp_label_index_free(a->labels);
    free(a);
}

static void add_count(uint64_t count, void *sums) { addr_sums_add(sums, count); }

/* The interval's addresses, sources then destinations, in the tables' order (IPv4 ones first on each side). */
static void add_address(const uint8_t addr[16], int ipv, uint64_t count, uint64_t bytes, void *ud)
{
    struct tpp_agg *a = ud;
    struct tpp_addr_count *e = &a->addrs.v[a->addrs.n++];
    memcpy(e->addr, addr, 16);
    e->ipv = (uint64_t)ipv;
    e->count = count;
    e->bytes = a->feat & TPP_FEAT_HH ? bytes : 0; /* IPv6 slots sum their bytes anyway */
}

static int snapshot_addresses(struct tpp_agg *a)
{
    a->addrs.n = 0;
    if (RESERVE(a->addrs, (size_t)addr_table_size(&a->src) + addr_table_size(&a->dst)) != 0) return -1;
    addr_table_each_address(&a->src, add_address, a);
    addr_table_each_address(&a->dst, add_address, a);
    return 0;
}

/* Sorting the tables of the edge intervals is most of their cost on a backbone trace (hundreds of thousands of
 * addresses): IPv4 addresses, nearly all of them, are radix-sorted on their 32-bit value. */
static int by_address(const void *x, const void *y)
{
    const struct tpp_addr_count *a = x, *b = y;
    return memcmp(a->addr, b->addr, 16);
}

/* One side's entries e[0..n) (IPv4 ones first, as snapshot_addresses gives them) sorted by (family, address)
 * into out. */
static int sort_side(struct tpp_agg *a, const struct tpp_addr_count *e, size_t n, struct tpp_addr_count *out)
{
    size_t n4 = 0;
    while (n4 < n && e[n4].ipv == 4) n4++;
    if (RESERVE(a->sort_keys, n4 + 1) != 0 || RESERVE(a->sort_tmp, n4 + 1) != 0) return -1;
    for (size_t i = 0; i < n4; i++) {
        const uint8_t *x = e[i].addr + 12;
        uint64_t key = (uint64_t)x[0] << 24 | (uint64_t)x[1] << 16 | (uint64_t)x[2] << 8 | x[3];
        a->sort_keys.v[i] = key << 32 | i;  /* an interval holds fewer than 2^32 addresses per side */
    }
    radix_sort_high32(a->sort_keys.v, a->sort_tmp.v, n4); /* an even number of passes: the result is back in keys */
    for (size_t i = 0; i < n4; i++) out[i] = e[(uint32_t)a->sort_keys.v[i]];
    memcpy(out + n4, e + n4, (n - n4) * sizeof *e);
    qsort(out + n4, n - n4, sizeof *out, by_address);
    return 0;
}

/* A copy of n elements of `size` bytes (NULL for none); *failed set when out of memory. */
static void *copy_of(const void *p, size_t n, size_t size, int *failed)
{
    if (n == 0) return NULL;
    void *q = malloc(n * size);
    if (q) memcpy(q, p, n * size);
    else *failed = 1;
    return q;
}

/* Keep the full tables of the interval being closed (it will be row `interval`) in the result: the addresses
 * with packets and bytes, the flows, the lengths, the destination ports' bytes, each sorted. */
static int keep_tables(struct tpp_agg *a, size_t interval, const struct feature_tables *ft)
{
    struct tpp_addr_counts t = { .interval = interval, .nsrc = (uint32_t)ft->nsrc, .ndst = (uint32_t)ft->ndst };
    int failed = 0;
    t.e = malloc((ft->nsrc + ft->ndst + 1) * sizeof *t.e);
    if (!t.e || sort_side(a, ft->src, ft->nsrc, t.e) != 0 || sort_side(a, ft->dst, ft->ndst, t.e + ft->nsrc) != 0)
        failed = 1;
    if (a->feat & TPP_FEAT_FLOWS) {
        t.nflows = (uint32_t)ft->nflows;
        t.flows = ft->nflows ? malloc(ft->nflows * sizeof *t.flows) : NULL;
        if (ft->nflows && (!t.flows || flow_sort_keys(ft->flows, ft->nflows, t.flows) != 0)) failed = 1;
    }
    if (a->feat & TPP_FEAT_HEADERS) {
        t.nlens = (uint32_t)ft->nlens;
        t.lens = copy_of(ft->lens, ft->nlens, sizeof *ft->lens, &failed);
    }
    if (a->feat & TPP_FEAT_HH)
        for (int k = 0; k < 2; k++) {
            t.nport_bytes[k] = (uint32_t)ft->nport_bytes[k];
            t.port_bytes[k] = copy_of(ft->port_bytes[k], ft->nport_bytes[k], sizeof *ft->port_bytes[k], &failed);
        }
    if (failed) {
        tpp_addr_counts_free(&t);
        return -1;
    }
    return tpp_result_push_table(a->r, &t);
}

/* Add the ports the current interval touched to the whole-trace port sets. */
static void mark_seen_ports(struct tpp_agg *a)
{
    for (int s = 0; s < TPP_NSERIES; s++)
        for (uint32_t k = 0; k < 65536 / 64 / 64; k++)
            for (uint64_t words = a->ports[s].summary[k]; words; words &= words - 1) {
                uint32_t w = k * 64 + (uint32_t)__builtin_ctzll(words);
                a->r->seen_ports[s][w] |= a->ports[s].touched[w];
            }
}

/* Move one port histogram into the result, ports ascending, and reset it; also into port_counts when a feature
 * group wants it, and a destination series' bytes into port_byte_counts.  Its ports join the whole-trace port
 * set on the way (as mark_seen_ports does, without another scan). */
static int flush_ports(struct tpp_agg *a, int series)
{
    struct port_hist *h = &a->ports[series];
    int counts = (a->feat & (TPP_FEAT_PORTS | TPP_FEAT_HH)) != 0;
    int b = a->port_bytes && (series == TPP_TCP_DST || series == TPP_UDP_DST) ? series == TPP_UDP_DST : -1;
    uint64_t *bytes = b >= 0 ? a->port_bytes[b] : NULL;
    size_t touched = h->ntouched;
    h->ntouched = 0;
    a->port_counts[series].n = 0;
    if (b >= 0) a->port_byte_counts[b].n = 0;
    if ((counts && RESERVE(a->port_counts[series], touched) != 0) ||
        (bytes && RESERVE(a->port_byte_counts[b], touched) != 0))
        return -1;
    int rc = 0;
    for (uint32_t k = 0; k < 65536 / 64 / 64; k++) {
        uint64_t words = h->summary[k];
        h->summary[k] = 0;
        for (; words; words &= words - 1) {
            uint32_t w = k * 64 + (uint32_t)__builtin_ctzll(words);
            uint64_t bits = h->touched[w];
            h->touched[w] = 0;
            a->r->seen_ports[series][w] |= bits; /* mark_seen_ports' work, done in this pass */
            for (; bits; bits &= bits - 1) {
                uint32_t port = w * 64 + (uint32_t)__builtin_ctzll(bits);
                rc |= tpp_result_push_port(a->r, series, port, h->count[port]);
                if (counts) {
                    struct tpp_value_count *v = &a->port_counts[series].v[a->port_counts[series].n++];
                    *v = (struct tpp_value_count){ port, h->count[port] };
                }
                if (bytes) {
                    struct tpp_value_count *v = &a->port_byte_counts[b].v[a->port_byte_counts[b].n++];
                    *v = (struct tpp_value_count){ port, bytes[port] };
                    bytes[port] = 0;
                }
                h->count[port] = 0;
            }
        }
    }
    return rc;
}

/* The length histogram as ascending (length, packets) into len_counts, and reset. */
static int flush_lens(struct tpp_agg *a)
{
    struct len_hist *h = a->lens;
    a->len_counts.n = 0;
    if (RESERVE(a->len_counts, (size_t)h->ntouched + h->nbig) != 0) return -1;
    h->ntouched = 0;
    for (uint32_t s = 0; s < LEN_DENSE / 64 / 64; s++) {
        uint64_t words = h->summary[s];
        h->summary[s] = 0;
        while (words) {
            uint32_t w = s * 64 + (uint32_t)__builtin_ctzll(words);
            words &= words - 1;
            uint64_t bits = h->touched[w];
            h->touched[w] = 0;
            while (bits) {
                uint32_t len = w * 64 + (uint32_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                a->len_counts.v[a->len_counts.n++] = (struct tpp_value_count){ len, h->count[len] };
                h->count[len] = 0;
            }
        }
    }
    if (h->nbig) memcpy(a->len_counts.v + a->len_counts.n, h->big, h->nbig * sizeof *h->big); /* all above LEN_DENSE */
    a->len_counts.n += h->nbig;
    h->nbig = 0;
    return 0;
}

/* A length beyond the dense histogram: found or inserted in the sorted list (rare: jumbograms). */
static int add_big_len(struct len_hist *h, uint32_t len)
{
    size_t lo = 0, hi = h->nbig;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->big[mid].value < len) lo = mid + 1;
        else hi = mid;
    }
    if (lo < h->nbig && h->big[lo].value == len) { h->big[lo].count++; return 0; }
    if (reserve((void **)&h->big, &h->big_cap, h->nbig + 1, sizeof *h->big) != 0) return -1;
    memmove(h->big + lo + 1, h->big + lo, (h->nbig - lo) * sizeof *h->big);
    h->big[lo] = (struct tpp_value_count){ len, 1 };
    h->nbig++;
    return 0;
}

/* new_src / new_dst: the interval's addresses (sources from, destinations after nsrc) never seen before on their
 * side, remembered from now on. */
static int count_novel(struct tpp_agg *a, size_t nsrc, uint64_t novel[2])
{
    uint32_t interval = (uint32_t)a->r->nintervals;
    novel[0] = novel[1] = 0;
    enum { AHEAD = 8 }; /* the seen tables are probed at random: their slots are fetched a few addresses ahead */
    for (size_t i = 0; i < a->addrs.n; i++) {
        if (i + AHEAD < a->addrs.n)
            seen_table_prefetch(&a->seen[i + AHEAD >= nsrc], a->addrs.v[i + AHEAD].addr, (int)a->addrs.v[i + AHEAD].ipv);
        int side = i >= nsrc;
        int rc = seen_table_add(&a->seen[side], a->addrs.v[i].addr, (int)a->addrs.v[i].ipv, interval);
        if (rc < 0) return -1;
        novel[side] += (uint64_t)rc;
    }
    return 0;
}

/* The research feature columns of the closing row and its heavy hitters (pushed into the result); its tables
 * are kept when `keep`.  Empty intervals (no IP packet) have empty tables. */
static int finish_features(struct tpp_agg *a, int keep, int original)
{
    struct tpp_interval *iv = &a->cur;
    struct tpp_result *r = a->r;
    struct feature_tables ft = { 0 };
    int has_ip = iv->ip_packets > 0, rc = 0;
    double none = original ? 0 : NAN;
    uint64_t novel[2] = { 0, 0 };
    if (has_ip && ((a->feat & (TPP_FEAT_PREFIXES | TPP_FEAT_HH | TPP_FEAT_NOVELTY)) || keep)) {
        if (snapshot_addresses(a) != 0) return -1;
        ft.src = a->addrs.v;
        ft.nsrc = addr_table_size(&a->src);
        ft.dst = a->addrs.v + ft.nsrc;
        ft.ndst = addr_table_size(&a->dst);
        if ((a->feat & TPP_FEAT_NOVELTY) && count_novel(a, ft.nsrc, novel) != 0) return -1;
    }
    if (has_ip && (a->feat & (TPP_FEAT_PORTS | TPP_FEAT_HH)))
        for (int s = 0; s < TPP_NSERIES; s++) {
            ft.ports[s] = a->port_counts[s].v;
            ft.nports[s] = a->port_counts[s].n;
        }
    if (has_ip && (a->feat & TPP_FEAT_HH))
        for (int k = 0; k < 2; k++) {
            ft.port_bytes[k] = a->port_byte_counts[k].v;
            ft.nport_bytes[k] = a->port_byte_counts[k].n;
        }
    if (a->feat & TPP_FEAT_HEADERS) {
        if (flush_lens(a) != 0) return -1;
        ft.lens = a->len_counts.v;
        ft.nlens = a->len_counts.n;
    }
    if (a->feat & TPP_FEAT_FLOWS) {
        ft.flows = a->flow_list.v;
        ft.nflows = a->flow_list.n;
    }
    long nhh = features_finish(a->work, iv, &ft, &r->opts, original, a->hh);
    if (nhh < 0) return -1;
    for (long k = 0; k < nhh; k++) rc |= tpp_result_push_hh(r, &a->hh[k]);

    double dn = (double)iv->ip_packets;
    iv->flows_new = a->feat & TPP_FEAT_FLOWS ? (double)a->flows_new : none;
    iv->new_src = a->feat & TPP_FEAT_NOVELTY ? (double)novel[0] : none;
    iv->new_dst = a->feat & TPP_FEAT_NOVELTY ? (double)novel[1] : none;
    iv->synack = iv->rst = iv->frag = iv->ttl_mean = none;
    if (a->feat & TPP_FEAT_HEADERS) {
        iv->synack = (double)a->synack;
        iv->rst = (double)a->rst;
        iv->frag = (double)a->frag;
        if (has_ip) iv->ttl_mean = (double)iv->ttl_sum / dn;
    }
    if (has_ip && keep) rc |= keep_tables(a, r->nintervals, &ft);
    a->synack = a->rst = a->frag = a->flows_new = 0;
    a->flow_list.n = 0;
    if (a->feat & TPP_FEAT_FLOWS) flow_table_next_interval(&a->flows);
    return rc;
}

/* Finish the current interval's row, append it and its port histograms to the result, and reset.
 * `ends_segment`: no packet of this segment comes after this interval (its covered part stops at the segment's
 * last packet); `last`: this is the result's final interval (its tables are an edge). */
static int close_interval(struct tpp_agg *a, int64_t end, int ends_segment, int last)
{
    struct tpp_interval *iv = &a->cur;
    struct tpp_result *r = a->r;
    iv->start_ns = a->start;
    iv->end_ns = end;
    int original = r->opts.boundary == TPP_BOUNDARY_PACKET;
    struct addr_sums src = { 0 }, dst = { 0 };
    addr_table_each(&a->src, add_count, &src);
    addr_table_each(&a->dst, add_count, &dst);
    interval_finish(iv, &src, &dst, original);
    if (iv->packets == 0) {
        iv->first_ns = iv->last_ns = 0; /* "none", for dumps and merges */
    } else {
        if (iv->first_ns < a->seg_first) a->seg_first = iv->first_ns;
        if (iv->last_ns > a->seg_last) a->seg_last = iv->last_ns;
    }
    iv->covered_ns = a->seg_first <= a->seg_last
                   ? tpp_covered_ns(iv, a->seg_first, ends_segment ? a->seg_last : INT64_MAX) : 0;
    if (a->seg_first_used == INT64_MAX) a->seg_first_used = a->seg_first; /* what the segment's first row used */
    int recover = ends_segment && a->seg_first < a->seg_first_used;
    int rc = 0;
    if (iv->ip_packets > 0) { /* ports are counted only for IP packets: an empty interval (a gap) skips the scans */
        for (int s = 0; s < TPP_NSERIES; s++) rc |= flush_ports(a, s);
    }
    int keep = !original && (r->opts.keep_tables == TPP_TABLES_ALL || r->nintervals == 0 || last);
    rc |= finish_features(a, keep, original);
    if (a->labels) {
        double pkts[TPP_LABEL_NTYPES], events[TPP_LABEL_NTYPES];
        for (int t = 0; t < TPP_LABEL_NTYPES; t++) pkts[t] = (double)a->label_pkts[t], a->label_pkts[t] = 0;
        tpp_label_events(a->labels, iv->start_ns, iv->end_ns, events);
        tpp_interval_set_labels(iv, pkts, events);
    } else {
        tpp_interval_set_labels(iv, NULL, NULL);
    }
    rc |= tpp_result_push_interval(r, iv); /* also closes the port and heavy-hitter lists pushed above */
    /* covered is of the segment's earliest packet, wherever it came: as a merge of pieces computes it */
    if (recover && rc == 0) tpp_result_cover_segment(r, (size_t)iv->segment);

    reset_row(iv, iv->segment);
    addr_table_clear(&a->src);
    addr_table_clear(&a->dst);
    return rc ? -1 : 0;
}

/* The flows group's part of a packet: one probe of the flow table says whether the flow is already in the
 * interval's list, and whether it is new (no packet within flow_timeout before; strictly more is new). */
static void count_flow(struct tpp_agg *a, const struct tpp_packet *p)
{
    int64_t prev = 0;
    enum flow_seen seen = flow_table_touch(&a->flows, p, &prev);
    if (seen == FLOW_AGAIN) return;
    if (seen == FLOW_NO_MEMORY || RESERVE(a->flow_list, a->flow_list.n + 1) != 0) { a->stopped = -1; return; }
    struct tpp_flow_key *k = &a->flow_list.v[a->flow_list.n++];
    flow_key_of_packet(p, k);
    if (seen == FLOW_UNKNOWN || span(prev, p->ts_ns) > a->r->opts.flow_timeout_ns) a->flows_new++;
    /* The result's head: flows whose first packet is within flow_timeout of the first packet, or in interval 0
     * (a flow swept from the table and seen again in interval 0 comes twice: tpp_agg_finish keeps the first). */
    if (seen == FLOW_UNKNOWN && a->keep_state && (a->r->nintervals == 0 || p->ts_ns <= a->head_until)) {
        if (RESERVE(a->head, a->head.n + 1) != 0) { a->stopped = -1; return; }
        a->head.v[a->head.n++] = (struct tpp_flow_mark){ *k, (uint32_t)a->r->nintervals, p->ts_ns };
    }
}

/* One packet's ports in a source series and the destination series after it. */
static inline void count_ports(struct tpp_agg *a, int series, uint16_t sport, uint16_t dport, uint32_t ip_len)
{
    const uint16_t port[2] = { sport, dport };
    for (int k = 0; k < 2; k++) {
        struct port_hist *h = &a->ports[series + k];
        if (h->count[port[k]]++ == 0) {
            h->touched[port[k] >> 6] |= 1ull << (port[k] & 63);
            h->summary[port[k] >> 12] |= 1ull << ((port[k] >> 6) & 63);
            h->ntouched++;
        }
    }
    if (a->port_bytes) a->port_bytes[series == TPP_UDP_SRC][dport] += ip_len;
}

/* Count packet `p` into the current interval; `iat` is its inter-arrival time, counted when has_iat.  The
 * oddities are counted per interval too, so that a merge cut at an interval limit can count them. */
static void count_packet(struct tpp_agg *a, const struct tpp_packet *p, int64_t iat, int has_iat, int backwards)
{
    struct tpp_interval *iv = &a->cur;
    struct tpp_result *r = a->r;
    int64_t ts = p->ts_ns;
    iv->first_ns = ts < iv->first_ns ? ts : iv->first_ns; /* both start out of range (reset_row) */
    iv->last_ns = ts > iv->last_ns ? ts : iv->last_ns;
    iv->packets++;
    r->packets++;
    if (backwards) { iv->backwards++; r->backwards_packets++; }
    if (p->flags & TPP_PKT_TRUNCATED) { iv->truncated++; r->truncated_packets++; }
    if (p->flags & TPP_PKT_ENCAPSULATED) { iv->encapsulated++; r->encapsulated_packets++; }
    if (p->ipv == 0) {
        int malformed = (p->flags & TPP_PKT_MALFORMED) != 0;
        iv->non_ip++;
        r->non_ip_packets++;
        iv->malformed += malformed;
        r->malformed_packets += malformed;
        return;
    }
    if ((r->opts.ip == TPP_IP_V4 && p->ipv != 4) || (r->opts.ip == TPP_IP_V6 && p->ipv != 6)) return;

    r->ip_packets++;
    iv->ip_packets++;
    iv->ip_bytes += p->ip_len;
    if (has_iat) moments_add(&iv->iat, iat);
    else r->first_is_ip = 1;
    if (addr_table_add(&a->src, p->src, p->ipv, p->ip_len) != 0 || addr_table_add(&a->dst, p->dst, p->ipv, p->ip_len) != 0)
        a->stopped = -1;
    if (a->labels) {
        unsigned types = a->label_types;
        if (a->label_nitems < 0) types = tpp_label_match(a->labels, p);
        else tpp_label_count(a->labels, p, a->label_items, (unsigned)a->label_nitems);
        for (; types; types &= types - 1) a->label_pkts[__builtin_ctz(types)]++;
    }

    /* The shares follow the IP header's protocol; flags and ports the transport header the decoder found, which in
     * compat mode may lie deeper than that header (and be both a TCP and a UDP one, tpp/packet.h). */
    switch (p->proto) {
    case 1: case 58: iv->icmp++; break;
    case 6: iv->tcp++; break;
    case 17: iv->udp++; break;
    }
    if (p->flags & TPP_PKT_TCP_FLAGS) {
        iv->syn += (p->tcp_flags & 0x02) != 0;
        iv->fin += (p->tcp_flags & 0x01) != 0;
        if (a->lens) { /* the headers group */
            a->synack += (p->tcp_flags & 0x12) == 0x12;
            a->rst += (p->tcp_flags & 0x04) != 0;
        }
    }
    if (p->flags & TPP_PKT_L4) {
        int udp = (p->flags & TPP_PKT_L4_UDP) != 0;
        if (udp) iv->udp_port_packets++;
        else iv->tcp_port_packets++;
        count_ports(a, udp ? TPP_UDP_SRC : TPP_TCP_SRC, p->sport, p->dport, p->ip_len);
    }
    if (p->flags & TPP_PKT_UDP_TOO) {
        iv->udp_port_packets++;
        count_ports(a, TPP_UDP_SRC, p->udp_sport, p->udp_dport, p->ip_len);
    }
    if (a->lens) {
        struct len_hist *h = a->lens;
        uint32_t len = p->ip_len;
        iv->ttl_sum += p->ttl;
        a->frag += (p->flags & (TPP_PKT_FRAGMENT | TPP_PKT_FIRST_FRAGMENT | TPP_PKT_ATOMIC_FRAGMENT)) != 0;
        if (len < LEN_DENSE) {
            if (h->count[len]++ == 0) {
                h->touched[len >> 6] |= 1ull << (len & 63);
                h->summary[len >> 12] |= 1ull << ((len >> 6) & 63);
                h->ntouched++;
            }
        } else if (add_big_len(h, len) != 0) {
            a->stopped = -1;
        }
    }
    if (a->feat & TPP_FEAT_FLOWS) count_flow(a, p);
}

void tpp_agg_prefetch(const struct tpp_agg *a, const struct tpp_packet *p)
{
    if (p->ipv == 0) return;
    addr_table_prefetch(&a->src, p->src, p->ipv);
    addr_table_prefetch(&a->dst, p->dst, p->ipv);
    if (a->feat & TPP_FEAT_FLOWS) flow_table_prefetch(&a->flows, p);
    if (!(p->flags & TPP_PKT_L4)) return;
    int series = p->flags & TPP_PKT_L4_UDP ? TPP_UDP_SRC : TPP_TCP_SRC;
    __builtin_prefetch(&a->ports[series].count[p->sport], 1);
    __builtin_prefetch(&a->ports[series + 1].count[p->dport], 1);
}

static int limit_reached(const struct tpp_agg *a)
{
    uint64_t max = a->r->opts.max_intervals;
    return max && a->r->nintervals >= max;
}

/* Start a new segment with the interval of `ts`. */
static void start_segment(struct tpp_agg *a, int64_t ts)
{
    a->start = a->r->opts.anchor == TPP_ANCHOR_EPOCH ? tpp_floor_multiple(ts, a->delta)
             : later(a->start, span(a->start, ts) / a->delta * a->delta); /* the grid of the first packet */
    a->seg_first = a->seg_first_used = INT64_MAX;
    a->seg_last = INT64_MIN;
}

/* Aligned mode: close intervals until `ts` falls inside the current one, emitting the empty ones of a short gap;
 * a gap of more than max_gap of empty intervals ends the segment instead. */
static int advance_aligned(struct tpp_agg *a, int64_t ts)
{
    if (span(a->start, ts) < a->delta) return 0;
    int64_t skip = span(a->start, ts) / a->delta - 1; /* empty intervals between */
    int new_segment = tpp_gap_ends_segment(skip, &a->r->opts);
    if (close_interval(a, later(a->start, a->delta), new_segment, 0) != 0) return -1;
    if (limit_reached(a)) return 1;
    if (new_segment) {
        a->cur.segment++;
        start_segment(a, ts);
        return 0;
    }
    a->start = later(a->start, a->delta);
    for (int64_t k = 0; k < skip; k++) {
        if (close_interval(a, later(a->start, a->delta), 0, 0) != 0) return -1;
        a->start = later(a->start, a->delta);
        if (limit_reached(a)) return 1;
    }
    return 0;
}

const struct tpp_label_index *tpp_agg_label_index(const struct tpp_agg *a) { return a->labels; }

static inline int add_packet(struct tpp_agg *a, const struct tpp_packet *p);

int tpp_agg_add_looked_up(struct tpp_agg *a, const struct tpp_packet *p, const uint32_t *label_items, int n,
                          unsigned label_types)
{
    a->label_items = label_items;
    a->label_nitems = n;
    a->label_types = label_types;
    return add_packet(a, p);
}

int tpp_agg_add(struct tpp_agg *a, const struct tpp_packet *p)
{
    a->label_nitems = -1;
    return add_packet(a, p);
}

static inline int add_packet(struct tpp_agg *a, const struct tpp_packet *p)
{
    struct tpp_result *r = a->r;
    if (a->stopped) return a->stopped < 0 ? -1 : 1;
    int64_t ts = p->ts_ns;
    int aligned = r->opts.boundary == TPP_BOUNDARY_ALIGNED;
    /* The IAT is the time since the packet before, of any kind.  The capture's first packet has none, except in
     * the packet mode, where the original tool counted an IAT of 0 for it. */
    int has_iat = a->started || !aligned;
    if (!a->started) {
        a->started = 1;
        if (aligned && r->opts.has_prev) { /* a chunk of a split capture: the record before it is the previous */
            has_iat = 1;
            a->prev_ts = r->opts.prev_ns;
        } else {
            a->prev_ts = ts;
        }
        a->start = aligned && r->opts.anchor == TPP_ANCHOR_EPOCH ? tpp_floor_multiple(ts, a->delta) : ts;
        a->seg_first = a->seg_first_used = INT64_MAX;
        a->seg_last = INT64_MIN;
        r->first_ns = ts;
        a->head_until = later(ts, r->opts.flow_timeout_ns);
    }
    int64_t iat = span(a->prev_ts, ts);
    int backwards = iat < 0;
    if (backwards && aligned) iat = 0; /* a clock stepping back: tpp's mode counts no time; the original tool kept
                                        * the negative IAT */

    int rc = 0;
    if (aligned) {
        rc = advance_aligned(a, ts);
        if (rc != 0) {
            a->stopped = rc == 1 ? 1 : -1;
            if (rc == 1) r->stopped_by_limit = 1;
            return rc == 1 ? 1 : -1;
        }
        count_packet(a, p, iat, has_iat, backwards);
    } else {
        count_packet(a, p, iat, has_iat, backwards);
        if (span(a->start, ts) >= a->delta) { /* this packet closes the interval it belongs to */
            if (close_interval(a, ts, 0, 0) != 0) a->stopped = -1;
            a->start = ts;
            if (limit_reached(a)) { a->stopped = 1; r->stopped_by_limit = 1; }
        }
    }
    a->prev_ts = ts;
    r->last_ns = ts;
    if (!a->stopped && r->opts.max_packets && r->packets >= r->opts.max_packets) {
        a->stopped = 1;
        r->stopped_by_limit = 1;
    }
    return a->stopped < 0 ? -1 : a->stopped;
}

/* The row whose packets include time ns (the last one starting at or before it), for a flow whose generation no
 * longer tells its interval. */
static uint32_t row_at(const struct tpp_result *r, int64_t ns)
{
    size_t lo = 0, hi = r->nintervals;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->iv[mid].start_ns <= ns) lo = mid + 1;
        else hi = mid;
    }
    return (uint32_t)(lo ? lo - 1 : 0);
}

struct tail_walk {
    struct tpp_agg *a;
    int64_t since;             /* last_ns - flow_timeout */
    uint32_t last;             /* the last interval */
    struct tpp_flow_mark *out; /* NULL: only count */
    size_t n;
};

static void add_to_tail(const struct tpp_flow_key *k, int64_t last_ns, uint32_t interval, void *ud)
{
    struct tail_walk *w = ud;
    if (last_ns < w->since && interval != w->last) return;
    if (w->out)
        w->out[w->n] = (struct tpp_flow_mark){ *k, interval == UINT32_MAX ? row_at(w->a->r, last_ns) : interval,
                                               last_ns };
    w->n++;
}

/* The marks m[0..n) sorted in place into *out (NULL when none), shrunk to fit; with `first_only`, a flow's first
 * mark alone.  m is then the caller's no more (freed on failure too).  0 on success. */
static int sorted_marks(struct tpp_flow_mark *m, size_t n, int first_only, struct tpp_flow_mark **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    struct tpp_flow_mark *fit = n ? realloc(m, n * sizeof *m) : NULL; /* the room to grow goes before sorting */
    if (fit) m = fit;
    if (n == 0 || flow_sort_marks_in_place(m, n) != 0) {
        free(m);
        return n == 0 ? 0 : -1;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) /* by key, then interval and time: a flow's first mark is its earliest */
        if (!first_only || kept == 0 || memcmp(&m[kept - 1].key, &m[i].key, sizeof m[i].key) != 0) m[kept++] = m[i];
    fit = realloc(m, kept * sizeof *m);
    *out = fit ? fit : m;
    *nout = kept;
    return 0;
}

/* Once the last interval is closed, the buffers of one interval and the features' scratch go before the state is
 * sorted (the peak of memory is there). */
static void release_interval_buffers(struct tpp_agg *a)
{
    addr_table_free(&a->src);
    addr_table_free(&a->dst);
    free(a->flow_list.v);
    free(a->addrs.v);
    free(a->len_counts.v);
    free(a->sort_keys.v);
    free(a->sort_tmp.v);
    features_work_free(a->work);
    a->work = NULL;
    a->flow_list.v = NULL;
    a->addrs.v = NULL;
    a->len_counts.v = NULL;
    a->sort_keys.v = NULL;
    a->sort_tmp.v = NULL;
    a->flow_list.n = a->flow_list.cap = a->addrs.n = a->addrs.cap = a->len_counts.n = a->len_counts.cap = 0;
    a->sort_keys.n = a->sort_keys.cap = a->sort_tmp.n = a->sort_tmp.cap = 0;
}

/* The looking-back state a merge needs (tpp/result.h): the addresses seen with their first interval, the flows
 * of the head (each at its first packet) and of the tail (at its last packet), sorted. */
static int finish_state(struct tpp_agg *a)
{
    struct tpp_result *r = a->r;
    int rc = 0;
    if (a->feat & TPP_FEAT_NOVELTY)
        for (int k = 0; k < 2; k++) {
            rc |= seen_table_export(&a->seen[k], &r->seen[k], &r->nseen[k]);
            seen_table_free(&a->seen[k]); /* before the flows' state is sorted */
        }
    if (!(a->feat & TPP_FEAT_FLOWS) || r->nintervals == 0) return rc;
    /* The head's marks came in as the flows appeared; they are sorted where they are.  The tail is counted, then
     * read into an array of its exact size while the table is freed as it is read (memory: the head, the tail and
     * the table can each hold a million flows). */
    struct tpp_flow_mark *head = a->head.v;
    size_t nhead = a->head.n;
    a->head.v = NULL;
    a->head.n = a->head.cap = 0;
    if (sorted_marks(head, nhead, 1, &r->flow_head, &r->nflow_head) != 0) return -1;
    struct tail_walk w = { a, 0, (uint32_t)(r->nintervals - 1), NULL, 0 };
    if (__builtin_sub_overflow(r->last_ns, r->opts.flow_timeout_ns, &w.since)) w.since = INT64_MIN;
    flow_table_each(&a->flows, add_to_tail, &w);
    struct tpp_flow_mark *tail = w.n ? malloc(w.n * sizeof *tail) : NULL;
    if (w.n && !tail) return -1;
    w.out = tail;
    w.n = 0;
    flow_table_drain(&a->flows, add_to_tail, &w);
    if (sorted_marks(tail, w.n, 0, &r->flow_tail, &r->nflow_tail) != 0) return -1;
    return rc;
}

int tpp_agg_finish(struct tpp_agg *a)
{
    if (a->labels) tpp_label_index_finish(a->labels);
    if (!a->started) return 0;
    if (a->r->opts.boundary == TPP_BOUNDARY_PACKET) {
        mark_seen_ports(a); /* the partial interval is dropped, but its ports were seen in the trace */
        return 0;
    }
    int rc = 0;
    if (!(a->stopped == 1 && limit_reached(a))) /* max_intervals: the partial one is not wanted */
        rc = close_interval(a, later(a->start, a->delta), 1, 1);
    release_interval_buffers(a);
    return finish_state(a) != 0 ? -1 : rc;
}
