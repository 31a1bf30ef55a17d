/* aggregate.c — the one-pass aggregator: decoded packets in, rows and port histograms out.
 *
 * Per interval it keeps plain counters, two address tables, four 65536-entry port histograms reset through
 * their touched-port bitmaps, and streaming central moments of the inter-arrival times.  All of it is allocated in
 * tpp_agg_new(); adding a packet never allocates (the address tables may double, rarely).
 */
#include "tpp/aggregate.h"
#include "addr_table.h"
#include "interval_stats.h"

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

/* A port histogram remembers which ports it touched in a bitmap: reading it out in port order and resetting it
 * cost the touched ports plus a scan of 1024 words, whether the interval saw ten ports or sixty thousand. */
struct port_hist {
    uint32_t count[65536];
    uint64_t touched[65536 / 64];
};

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
};

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
    reset_row(&a->cur, 0);
    if (addr_table_init(&a->src) != 0 || addr_table_init(&a->dst) != 0) {
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
    free(a);
}

static void add_count(uint64_t count, void *sums) { addr_sums_add(sums, count); }

/* Sorting the tables of the edge intervals is most of their cost on a backbone trace (hundreds of thousands of
 * addresses): IPv4 addresses, nearly all of them, are radix-sorted on their 32-bit value. */
static int by_address(const void *x, const void *y)
{
    const struct tpp_addr_count *a = x, *b = y;
    return memcmp(a->addr, b->addr, 16);
}

struct snapshot {
    uint64_t *v4, *tmp;        /* (address as a big-endian number) << 32 | count */
    struct tpp_addr_count *v6;
    uint32_t n4, n6;
};

static void add_entry(const uint8_t addr[16], int ipv, uint64_t count, void *ud)
{
    struct snapshot *s = ud;
    if (ipv == 4) {
        uint32_t key = (uint32_t)addr[12] << 24 | (uint32_t)addr[13] << 16 | (uint32_t)addr[14] << 8 | addr[15];
        s->v4[s->n4++] = (uint64_t)key << 32 | count; /* an IPv4 slot's count is 32 bits */
        return;
    }
    struct tpp_addr_count *e = &s->v6[s->n6++];
    memcpy(e->addr, addr, 16);
    e->ipv = 6;
    e->count = count;
}

/* LSD radix sort of v[0..n) on bits 32..63, four passes of 8 bits. */
static void radix_sort_keys(uint64_t *v, uint64_t *tmp, uint32_t n)
{
    for (int shift = 32; shift < 64; shift += 8) {
        uint32_t count[257] = { 0 };
        for (uint32_t i = 0; i < n; i++) count[((v[i] >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (uint32_t i = 0; i < n; i++) tmp[count[(v[i] >> shift) & 0xff]++] = v[i];
        uint64_t *swap = v;
        v = tmp;
        tmp = swap;
    }
}

/* One side's table as sorted entries at out (IPv4 first, then IPv6, each in address order). */
static void snapshot_side(const struct addr_table *t, struct snapshot *s, struct tpp_addr_count *out)
{
    s->n4 = s->n6 = 0;
    s->v6 = out + t->nused4;
    addr_table_each_address(t, add_entry, s);
    radix_sort_keys(s->v4, s->tmp, s->n4); /* an even number of passes: the result is back in v4 */
    qsort(s->v6, s->n6, sizeof *s->v6, by_address);
    for (uint32_t i = 0; i < s->n4; i++) {
        struct tpp_addr_count *e = &out[i];
        uint32_t key = (uint32_t)(s->v4[i] >> 32);
        memset(e->addr, 0, 12);
        e->addr[12] = (uint8_t)(key >> 24);
        e->addr[13] = (uint8_t)(key >> 16);
        e->addr[14] = (uint8_t)(key >> 8);
        e->addr[15] = (uint8_t)key;
        e->ipv = 4;
        e->count = (uint32_t)s->v4[i];
    }
}

/* Keep the address counts of the interval being closed (it will be row `interval`) in the result. */
static int keep_tables(struct tpp_agg *a, size_t interval)
{
    uint32_t nsrc = addr_table_size(&a->src), ndst = addr_table_size(&a->dst);
    uint32_t most4 = a->src.nused4 > a->dst.nused4 ? a->src.nused4 : a->dst.nused4;
    struct tpp_addr_counts t = { .interval = interval, .nsrc = nsrc, .ndst = ndst,
                                 .e = malloc(((size_t)nsrc + ndst) * sizeof *t.e) };
    struct snapshot s = { malloc(((size_t)most4 + 1) * 8), malloc(((size_t)most4 + 1) * 8), NULL, 0, 0 };
    int rc = -1;
    if (t.e && s.v4 && s.tmp) {
        snapshot_side(&a->src, &s, t.e);
        snapshot_side(&a->dst, &s, t.e + nsrc);
        rc = tpp_result_push_table(a->r, &t);
    } else {
        free(t.e);
    }
    free(s.v4);
    free(s.tmp);
    return rc;
}

/* Add the ports the current interval touched to the whole-trace port sets. */
static void mark_seen_ports(struct tpp_agg *a)
{
    for (int s = 0; s < TPP_NSERIES; s++)
        for (uint32_t w = 0; w < 65536 / 64; w++) a->r->seen_ports[s][w] |= a->ports[s].touched[w];
}

/* Move one port histogram into the result, ports ascending, and reset it. */
static int flush_ports(struct tpp_agg *a, int series)
{
    struct port_hist *h = &a->ports[series];
    int rc = 0;
    for (uint32_t w = 0; w < 65536 / 64; w++) {
        uint64_t bits = h->touched[w];
        if (!bits) continue;
        h->touched[w] = 0;
        while (bits) {
            uint32_t port = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            rc |= tpp_result_push_port(a->r, series, port, h->count[port]);
            h->count[port] = 0;
        }
    }
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
        mark_seen_ports(a);
        for (int s = 0; s < TPP_NSERIES; s++) rc |= flush_ports(a, s);
        if (!original && (r->opts.keep_tables == TPP_TABLES_ALL || r->nintervals == 0 || last))
            rc |= keep_tables(a, r->nintervals);
    }
    rc |= tpp_result_push_interval(r, iv); /* also closes the port lists pushed above */
    /* covered is of the segment's earliest packet, wherever it came: as a merge of pieces computes it */
    if (recover && rc == 0) tpp_result_cover_segment(r, (size_t)iv->segment);

    reset_row(iv, iv->segment);
    addr_table_clear(&a->src);
    addr_table_clear(&a->dst);
    return rc ? -1 : 0;
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
    if (addr_table_add(&a->src, p->src, p->ipv) != 0 || addr_table_add(&a->dst, p->dst, p->ipv) != 0) a->stopped = -1;

    int series = -1;
    switch (p->proto) {
    case 1: case 58: iv->icmp++; break;
    case 6:
        iv->tcp++;
        if (p->flags & TPP_PKT_TCP_FLAGS) {
            iv->syn += (p->tcp_flags & 0x02) != 0;
            iv->fin += (p->tcp_flags & 0x01) != 0;
        }
        if (p->flags & TPP_PKT_L4) { iv->tcp_port_packets++; series = TPP_TCP_SRC; }
        break;
    case 17:
        iv->udp++;
        if (p->flags & TPP_PKT_L4) { iv->udp_port_packets++; series = TPP_UDP_SRC; }
        break;
    }
    if (series >= 0) { /* series + 1 is the matching destination series */
        const uint16_t port[2] = { p->sport, p->dport };
        for (int k = 0; k < 2; k++) {
            struct port_hist *h = &a->ports[series + k];
            if (h->count[port[k]]++ == 0) h->touched[port[k] >> 6] |= 1ull << (port[k] & 63);
        }
    }
}

void tpp_agg_prefetch(const struct tpp_agg *a, const struct tpp_packet *p)
{
    if (p->ipv == 0) return;
    addr_table_prefetch(&a->src, p->src, p->ipv);
    addr_table_prefetch(&a->dst, p->dst, p->ipv);
    if (!(p->flags & TPP_PKT_L4)) return;
    int series = p->proto == 6 ? TPP_TCP_SRC : TPP_UDP_SRC;
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

int tpp_agg_add(struct tpp_agg *a, const struct tpp_packet *p)
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

int tpp_agg_finish(struct tpp_agg *a)
{
    if (!a->started) return 0;
    if (a->r->opts.boundary == TPP_BOUNDARY_PACKET) {
        mark_seen_ports(a); /* the partial interval is dropped, but its ports were seen in the trace */
        return 0;
    }
    if (a->stopped == 1 && limit_reached(a)) return 0; /* max_intervals: the partial one is not wanted */
    return close_interval(a, later(a->start, a->delta), 1, 1);
}
