/* aggregate.c — the one-pass aggregator: decoded packets in, rows and port histograms out.
 *
 * Per interval it keeps plain counters, two address tables, four 65536-entry port histograms reset through
 * their touched-port bitmaps, and streaming central moments of the inter-arrival times.  All of it is allocated in
 * tpp_agg_new(); adding a packet never allocates (the address tables may double, rarely).
 */
#include "tpp/aggregate.h"
#include "addr_table.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A gap of more empty intervals than this is treated as a broken timestamp, not as silence. */
#define MAX_EMPTY_RUN 1000000

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

/* Streaming central moments (Pébay's update), over IATs in nanoseconds. */
struct moments {
    uint64_t n;
    int64_t sum;       /* exact sum, for the mean (saturating) */
    double mean, m2, m3, m4;
};

/* t rounded down to a multiple of d (d > 0), towards minus infinity also for negative t; saturates at INT64_MIN. */
static int64_t floor_multiple(int64_t t, int64_t d)
{
    int64_t q = t / d, m;
    if (t % d < 0) q--;
    return __builtin_mul_overflow(q, d, &m) ? INT64_MIN : m;
}

static int64_t add_saturating(int64_t a, int64_t b)
{
    int64_t s;
    if (!__builtin_add_overflow(a, b, &s)) return s;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

struct tpp_agg {
    struct tpp_result *r;
    int started, stopped;
    int64_t delta, start;  /* current interval: [start, start + delta) when aligned */
    int64_t prev_ts;
    struct tpp_interval cur;
    uint64_t icmp, tcp, udp;
    struct moments iat;
    struct addr_table src, dst;
    struct port_hist ports[TPP_NSERIES];
};

/* c·log2(c) for small counts, which are most of them: closing an interval then takes no logarithms. */
#define CLOGC_TABLE 4096
static double clogc_table[CLOGC_TABLE];

static void init_clogc_table(void)
{
    for (int c = 1; c < CLOGC_TABLE; c++) clogc_table[c] = c * log2((double)c);
}

struct tpp_agg *tpp_agg_new(struct tpp_result *r)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_clogc_table);
    struct tpp_agg *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->r = r;
    a->delta = r->opts.delta_ns;
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

static void moments_add(struct moments *m, double x)
{
    double n1 = (double)m->n, n = n1 + 1;
    double delta = x - m->mean, dn = delta / n, dn2 = dn * dn, term1 = delta * dn * n1;
    m->mean += dn;
    m->m4 += term1 * dn2 * (n * n - 3 * n + 3) + 6 * dn2 * m->m2 - 4 * dn * m->m3;
    m->m3 += term1 * dn * (n - 2) - 3 * dn * m->m2;
    m->m2 += term1;
    m->n++;
}

struct count_sums { double sumsq, sum_clogc; };

static void add_count(uint64_t count, void *ud)
{
    struct count_sums *cs = ud;
    double c = (double)count;
    cs->sumsq += c * c;
    cs->sum_clogc += count < CLOGC_TABLE ? clogc_table[count] : c * log2(c);
}

/* Σc² / n² and the normalised entropy of the address counts in a table; `none` for both when n is 0.  The entropy
 * of one distinct address is 0: the distribution is as concentrated as it can be. */
static void address_stats(const struct addr_table *t, uint64_t n, double none, double *f2, double *entropy)
{
    *f2 = none;
    *entropy = none;
    if (n == 0) return;
    *entropy = 0;
    struct count_sums cs = { 0, 0 };
    addr_table_each(t, add_count, &cs);
    double dn = (double)n;
    *f2 = cs.sumsq / (dn * dn);
    uint32_t distinct = addr_table_size(t);
    if (distinct > 1) *entropy = (log2(dn) - cs.sum_clogc / dn) / log2((double)distinct);
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

/* The inter-arrival-time moments of an interval.  tpp's own mode (aligned) writes NaN where a statistic is
 * undefined: the mean of no IAT; the standard deviation, skewness and kurtosis of fewer than two IATs or of a zero
 * variance (scipy's test), as the issue and the aligned parity files define them.  The packet mode keeps the
 * original tool's conventions: 0 for all four up to one IAT, and at a zero variance the standard deviation as
 * computed (0) with NaN skewness and kurtosis. */
static void iat_stats(struct tpp_interval *iv, const struct moments *m, int original)
{
    double undefined = original ? 0 : NAN, k = (double)m->n;
    iv->iat_mean = iv->iat_std = iv->iat_skew = iv->iat_kurt = undefined;
    if (m->n == 0) return;
    /* Moments are of nanosecond values; the mean comes from the exact integer sum. */
    double mean = (double)m->sum / k;
    iv->iat_mean = mean / 1e9;
    if (m->n == 1) return;
    iv->iat_std = sqrt(m->m2 / (k - 1)) / 1e9;
    double m2 = m->m2 / k, m3 = m->m3 / k, m4 = m->m4 / k;
    if (m2 <= (1e-15 * mean) * (1e-15 * mean)) { /* scipy's test for a zero variance */
        if (!original) iv->iat_std = NAN;
        iv->iat_skew = iv->iat_kurt = NAN;
    } else {
        iv->iat_skew = m3 / pow(m2, 1.5);
        iv->iat_kurt = m4 / (m2 * m2) - 3.0;
    }
}

/* Finish the current interval's row, append it and its port histograms to the result, and reset. */
static int close_interval(struct tpp_agg *a, int64_t end)
{
    struct tpp_interval *iv = &a->cur;
    iv->start_ns = a->start;
    iv->end_ns = end;
    uint64_t n = iv->ip_packets;
    int original = a->r->opts.boundary == TPP_BOUNDARY_PACKET;
    double none = original ? 0 : NAN; /* a share or mean over no IP packet */
    iv->src_ips = addr_table_size(&a->src);
    iv->dst_ips = addr_table_size(&a->dst);
    address_stats(&a->src, n, none, &iv->f2_src, &iv->entropy_src);
    address_stats(&a->dst, n, none, &iv->f2_dst, &iv->entropy_dst);
    double dn = (double)n;
    iv->avg_len = iv->icmp_frac = iv->tcp_frac = iv->udp_frac = none;
    if (n > 0) {
        iv->avg_len = (double)iv->ip_bytes / dn;
        iv->icmp_frac = (double)a->icmp / dn;
        iv->tcp_frac = (double)a->tcp / dn;
        iv->udp_frac = (double)a->udp / dn;
    }
    iat_stats(iv, &a->iat, original);
    int rc = 0;
    if (n > 0) { /* ports are counted only for IP packets: an empty interval (a gap) skips the 8 KB scans */
        mark_seen_ports(a);
        for (int s = 0; s < TPP_NSERIES; s++) rc |= flush_ports(a, s);
    }
    rc |= tpp_result_push_interval(a->r, iv); /* also closes the port lists pushed above */

    memset(iv, 0, sizeof *iv);
    a->icmp = a->tcp = a->udp = 0;
    memset(&a->iat, 0, sizeof a->iat);
    addr_table_clear(&a->src);
    addr_table_clear(&a->dst);
    return rc ? -1 : 0;
}

/* Count packet `p` into the current interval; `iat` is its inter-arrival time, counted when has_iat. */
static void count_packet(struct tpp_agg *a, const struct tpp_packet *p, int64_t iat, int has_iat)
{
    struct tpp_interval *iv = &a->cur;
    struct tpp_result *r = a->r;
    iv->packets++;
    r->packets++;
    if (p->ipv == 0) {
        r->non_ip_packets++;
        r->malformed_packets += (p->flags & TPP_PKT_MALFORMED) != 0;
        return;
    }
    if ((r->opts.ip == TPP_IP_V4 && p->ipv != 4) || (r->opts.ip == TPP_IP_V6 && p->ipv != 6)) return;

    r->ip_packets++;
    iv->ip_packets++;
    iv->ip_bytes += p->ip_len;
    if (has_iat) {
        moments_add(&a->iat, (double)iat);
        a->iat.sum = add_saturating(a->iat.sum, iat);
    }
    if (addr_table_add(&a->src, p->src, p->ipv) != 0 || addr_table_add(&a->dst, p->dst, p->ipv) != 0) a->stopped = -1;

    int series = -1;
    switch (p->proto) {
    case 1: case 58: a->icmp++; break;
    case 6:
        a->tcp++;
        if (p->flags & TPP_PKT_TCP_FLAGS) {
            iv->syn += (p->tcp_flags & 0x02) != 0;
            iv->fin += (p->tcp_flags & 0x01) != 0;
        }
        if (p->flags & TPP_PKT_L4) { iv->tcp_port_packets++; series = TPP_TCP_SRC; }
        break;
    case 17:
        a->udp++;
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

/* Aligned mode: close intervals until `ts` falls inside the current one, emitting empty ones on the way. */
static int advance_aligned(struct tpp_agg *a, int64_t ts)
{
    if (span(a->start, ts) < a->delta) return 0;
    if (close_interval(a, later(a->start, a->delta)) != 0) return -1;
    a->start = later(a->start, a->delta);
    if (limit_reached(a)) return 1;
    int64_t skip = span(a->start, ts) / a->delta;
    if (skip > MAX_EMPTY_RUN) {
        snprintf(a->r->error, sizeof a->r->error,
                 "timestamp jumps forward by %.9g s, more than %d empty intervals of %.9g s: the capture's clock is "
                 "broken, or delta_t is too small for it", (double)span(a->start, ts) / 1e9, MAX_EMPTY_RUN,
                 (double)a->delta / 1e9);
        return -2;
    }
    for (int64_t k = 0; k < skip; k++) {
        if (close_interval(a, later(a->start, a->delta)) != 0) return -1;
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
        a->start = aligned && r->opts.anchor == TPP_ANCHOR_EPOCH ? floor_multiple(ts, a->delta) : ts;
        a->prev_ts = ts;
        r->first_ns = ts;
    }
    int64_t iat = span(a->prev_ts, ts);
    if (iat < 0) { /* a clock stepping back: tpp's mode counts no time; the original tool kept the negative IAT */
        r->backwards_packets++;
        if (aligned) iat = 0;
    }
    if (p->flags & TPP_PKT_TRUNCATED) r->truncated_packets++;

    int rc = 0;
    if (aligned) {
        rc = advance_aligned(a, ts);
        if (rc != 0) {
            a->stopped = rc == 1 ? 1 : -1;
            if (rc == 1) r->stopped_by_limit = 1;
            return rc == 1 ? 1 : -1;
        }
        count_packet(a, p, iat, has_iat);
    } else {
        count_packet(a, p, iat, has_iat);
        if (span(a->start, ts) >= a->delta) { /* this packet closes the interval it belongs to */
            if (close_interval(a, ts) != 0) a->stopped = -1;
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
    return close_interval(a, later(a->start, a->delta));
}
