/* features_test.c — features_finish on tables built by hand, against answers worked out here: prefix counts,
 * entropies (their closed form), nearest-rank percentiles at the rank edges, fanout, every heavy-hitter dimension
 * with its ties, the hierarchical heavy hitters of a worked example, the groups switched off, and the same bits
 * whatever the order of the tables (and the same answers as a brute-force computation on random tables). */
#include "features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)
#define NEAR(a, b) (fabs((a) - (b)) < 1e-12)

static struct tpp_addr_count v4(int a, int b, int c, int d, uint64_t packets, uint64_t bytes)
{
    struct tpp_addr_count e = { .ipv = 4, .count = packets, .bytes = bytes };
    e.addr[12] = (uint8_t)a, e.addr[13] = (uint8_t)b, e.addr[14] = (uint8_t)c, e.addr[15] = (uint8_t)d;
    return e;
}

/* An IPv6 address from its eight 16-bit groups. */
static struct tpp_addr_count v6(const uint16_t g[8], uint64_t packets, uint64_t bytes)
{
    struct tpp_addr_count e = { .ipv = 6, .count = packets, .bytes = bytes };
    for (int k = 0; k < 8; k++) e.addr[2 * k] = (uint8_t)(g[k] >> 8), e.addr[2 * k + 1] = (uint8_t)g[k];
    return e;
}

static struct tpp_flow_key flow(int s, int d, int sport, int dport, int proto)
{
    struct tpp_flow_key f = { .proto = (uint8_t)proto, .ipv = 4 };
    f.src[10] = f.src[11] = f.dst[10] = f.dst[11] = 0xff; /* IPv4-mapped, as in tpp_packet */
    f.src[12] = 10, f.src[15] = (uint8_t)s;
    f.dst[12] = 10, f.dst[15] = (uint8_t)d;
    f.sport[0] = (uint8_t)(sport >> 8), f.sport[1] = (uint8_t)sport;
    f.dport[0] = (uint8_t)(dport >> 8), f.dport[1] = (uint8_t)dport;
    return f;
}

/* H/log2(d) of counts c[0..n), straight from the definition. */
static double closed_entropy(const double *c, int n)
{
    double total = 0, h = 0;
    for (int i = 0; i < n; i++) total += c[i];
    for (int i = 0; i < n; i++) h -= c[i] / total * log2(c[i] / total);
    return n > 1 ? h / log2(n) : 0;
}

static struct tpp_options options(unsigned features)
{
    struct tpp_options o = { .features = features, .hh_k = 10, .hhh_phi = 0.05 }; /* the defaults */
    return o;
}

static struct tpp_hh buf[4096];

/* Run features_finish on t with ip_packets set; the number of heavy hitters. */
static long run(struct tpp_interval *iv, const struct feature_tables *t, const struct tpp_options *o, int original)
{
    struct features_work *w = features_work_new();
    CHECK(w != NULL);
    CHECK(features_hh_max(o) <= sizeof buf / sizeof buf[0]);
    long n = features_finish(w, iv, t, o, original, buf);
    features_work_free(w);
    return n;
}

static void shuffle(void *base, size_t n, size_t size, unsigned *seed)
{
    unsigned char *p = base, tmp[64];
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rand_r(seed) % i;
        memcpy(tmp, p + (i - 1) * size, size);
        memcpy(p + (i - 1) * size, p + j * size, size);
        memcpy(p + j * size, tmp, size);
    }
}

static const struct tpp_hh *hh_of(const struct tpp_hh *h, long n, int dim, size_t *count)
{
    const struct tpp_hh *first = NULL;
    *count = 0;
    for (long i = 0; i < n; i++)
        if (h[i].dim == dim) {
            if (!first) first = &h[i];
            ++*count;
        }
    return first;
}

static int is_v4(const struct tpp_hh *h, int a, int b, int c, int d, int plen)
{
    static const uint8_t zero[12];
    return h->ipv == 4 && h->plen == plen && memcmp(h->key, zero, 12) == 0 && h->key[12] == a && h->key[13] == b &&
           h->key[14] == c && h->key[15] == d;
}

static void test_prefixes(void)
{
    static const uint16_t a[8] = { 0x2001, 0xdb8, 0, 1, 0, 0, 0, 1 }, b[8] = { 0x2001, 0xdb8, 0, 2, 0, 0, 0, 1 },
                          c[8] = { 0x2001, 0xdb8, 1, 0, 0, 0, 0, 1 }, d[8] = { 0x2001, 0xdb9, 0, 0, 0, 0, 0, 1 };
    /* /24: 10.0.0, 10.0.1, 10.1.0, 192.168.1; /16: 10.0, 10.1, 192.168; /48: 2001:db8:0 (two), 2001:db8:1,
     * 2001:db9:0; /32: 2001:db8, 2001:db9. */
    struct tpp_addr_count src[] = { v4(10, 0, 0, 1, 3, 0), v4(10, 0, 0, 2, 1, 0), v4(10, 0, 1, 1, 2, 0),
                                    v4(10, 1, 0, 1, 5, 0), v4(192, 168, 1, 1, 1, 0), v6(a, 2, 0), v6(b, 2, 0),
                                    v6(c, 7, 0), v6(d, 1, 0), v4(172, 16, 0, 1, 0, 0) /* no packet: ignored */ };
    struct tpp_addr_count dst[] = { v4(10, 0, 0, 9, 24, 0) };
    struct feature_tables t = { .src = src, .nsrc = 10, .dst = dst, .ndst = 1 };
    struct tpp_interval iv = { .ip_packets = 24 };
    struct tpp_options o = options(TPP_FEAT_PREFIXES);
    CHECK(run(&iv, &t, &o, 0) == 0);
    CHECK(iv.src_p24 == 7 && iv.src_p16 == 5);
    CHECK(iv.dst_p24 == 1 && iv.dst_p16 == 1);
    double per24[] = { 4, 2, 5, 1, 4, 7, 1 };
    CHECK(NEAR(iv.entropy_src_p24, closed_entropy(per24, 7)));
    CHECK(iv.entropy_dst_p24 == 0); /* one prefix */
    CHECK(isnan(iv.entropy_tcp_src) && isnan(iv.flows) && isnan(iv.len_p50)); /* groups off */

    struct feature_tables empty = { 0 };
    iv = (struct tpp_interval){ 0 };
    CHECK(run(&iv, &empty, &o, 0) == 0);
    CHECK(iv.src_p24 == 0 && iv.dst_p16 == 0 && isnan(iv.entropy_src_p24) && isnan(iv.entropy_dst_p24));
    CHECK(run(&iv, &empty, &o, 1) == 0);
    CHECK(iv.entropy_src_p24 == 0 && iv.entropy_dst_p24 == 0); /* the packet mode's 0 */
}

static void test_ports(void)
{
    struct tpp_value_count tcp_src[] = { { 22, 1 }, { 80, 5 }, { 443, 5 } }, tcp_dst[] = { { 80, 9 } },
                           udp_src[] = { { 53, 2 }, { 123, 2 }, { 5353, 2 }, { 9999, 2 } };
    struct feature_tables t = { .ports = { tcp_src, tcp_dst, udp_src, NULL }, .nports = { 3, 1, 4, 0 } };
    struct tpp_interval iv = { .ip_packets = 20 };
    struct tpp_options o = options(TPP_FEAT_PORTS);
    CHECK(run(&iv, &t, &o, 0) == 0);
    double c[] = { 1, 5, 5 };
    CHECK(NEAR(iv.entropy_tcp_src, closed_entropy(c, 3)));
    CHECK(iv.entropy_tcp_dst == 0);             /* one port */
    CHECK(NEAR(iv.entropy_udp_src, 1));         /* uniform */
    CHECK(isnan(iv.entropy_udp_dst));           /* no UDP packet with ports */
    CHECK(isnan(iv.src_p24) && isnan(iv.fanout_max) && isnan(iv.len_p95));
    CHECK(run(&iv, &t, &o, 1) == 0);
    CHECK(iv.entropy_udp_dst == 0 && iv.src_p24 == 0);

    /* Ports out of order give the same bits. */
    struct tpp_value_count rev[] = { { 443, 5 }, { 22, 1 }, { 80, 5 } };
    struct tpp_interval again = { .ip_packets = 20 };
    t.ports[0] = rev;
    CHECK(run(&again, &t, &o, 0) == 0);
    iv = (struct tpp_interval){ .ip_packets = 20 };
    t.ports[0] = tcp_src;
    run(&iv, &t, &o, 0);
    CHECK(memcmp(&iv.entropy_tcp_src, &again.entropy_tcp_src, sizeof(double)) == 0);
}

/* len_p50 and len_p95 of a histogram. */
static void percentiles(const struct tpp_value_count *lens, size_t n, double *p50, double *p95)
{
    struct feature_tables t = { .lens = lens, .nlens = n };
    struct tpp_interval iv = { .ip_packets = 1 };
    struct tpp_options o = options(TPP_FEAT_HEADERS);
    CHECK(run(&iv, &t, &o, 0) == 0);
    *p50 = iv.len_p50;
    *p95 = iv.len_p95;
}

static void test_percentiles(void)
{
    double p50, p95;
    struct tpp_value_count one[] = { { 100, 1 } }, two[] = { { 40, 1 }, { 1500, 1 } }, many[21];
    percentiles(one, 1, &p50, &p95);
    CHECK(p50 == 100 && p95 == 100);
    percentiles(two, 2, &p50, &p95); /* ranks ceil(1) = 1 and ceil(1.9) = 2 */
    CHECK(p50 == 40 && p95 == 1500);
    for (int k = 0; k < 21; k++) many[k] = (struct tpp_value_count){ (uint64_t)(k + 1) * 10, 1 };
    percentiles(many, 20, &p50, &p95); /* n = 20: ranks 10 and 19 */
    CHECK(p50 == 100 && p95 == 190);
    percentiles(many, 21, &p50, &p95); /* n = 21: ranks ceil(10.5) = 11 and ceil(19.95) = 20 */
    CHECK(p50 == 110 && p95 == 200);
    struct tpp_value_count pairs[] = { { 60, 10 }, { 1500, 10 } }; /* n = 20: rank 10 is the last 60 */
    percentiles(pairs, 2, &p50, &p95);
    CHECK(p50 == 60 && p95 == 1500);
    struct tpp_value_count shuffled[] = { { 1500, 10 }, { 60, 10 } };
    percentiles(shuffled, 2, &p50, &p95);
    CHECK(p50 == 60 && p95 == 1500);
    struct tpp_value_count tail[] = { { 60, 19 }, { 1500, 1 } }; /* rank 19 of 20 is still 60 */
    percentiles(tail, 2, &p50, &p95);
    CHECK(p50 == 60 && p95 == 60);

    struct feature_tables none = { 0 };
    struct tpp_interval iv = { 0 };
    struct tpp_options o = options(TPP_FEAT_HEADERS);
    CHECK(run(&iv, &none, &o, 0) == 0);
    CHECK(isnan(iv.len_p50) && isnan(iv.len_p95));
}

static void test_fanout(void)
{
    /* 10.0.0.1 -> .2 (two flows), .3, .4; 10.0.0.5 -> .2, .3; 10.0.0.6 -> .1: fanout 3, 6 flows. */
    struct tpp_flow_key f[] = { flow(1, 2, 1000, 80, 6), flow(1, 2, 1001, 80, 6), flow(1, 3, 53, 53, 17),
                                flow(1, 4, 0, 0, 1),     flow(5, 2, 9, 9, 6),     flow(5, 3, 9, 9, 6),
                                flow(6, 1, 0, 0, 1) };
    struct tpp_options o = options(TPP_FEAT_FLOWS);
    unsigned seed = 7;
    for (int round = 0; round < 20; round++) {
        struct feature_tables t = { .flows = f, .nflows = 7 };
        struct tpp_interval iv = { .ip_packets = 9 };
        CHECK(run(&iv, &t, &o, 0) == 0);
        CHECK(iv.flows == 7 && iv.fanout_max == 3);
        CHECK(isnan(iv.entropy_tcp_dst) && isnan(iv.src_p24));
        shuffle(f, 7, sizeof f[0], &seed);
    }
    struct feature_tables none = { 0 };
    struct tpp_interval iv = { 0 };
    CHECK(run(&iv, &none, &o, 0) == 0);
    CHECK(iv.flows == 0 && isnan(iv.fanout_max));
    CHECK(run(&iv, &none, &o, 1) == 0);
    CHECK(iv.flows == 0 && iv.fanout_max == 0);
}

static void test_heavy_hitters(void)
{
    static const uint16_t a6[8] = { 0x2001, 0xdb8, 0, 0, 0, 0, 0, 1 };
    /* Sources: 10.0.0.1 x9; three with 5 packets: 10.0.0.3 (500 bytes), 10.0.0.2 (400), 2001:db8::1 (400);
     * 10.0.1.7 x4.  k = 3: 10.0.0.1, then 10.0.0.3 by bytes, then 10.0.0.2 (IPv4 before IPv6). */
    struct tpp_addr_count src[] = { v6(a6, 5, 400), v4(10, 0, 1, 7, 4, 100), v4(10, 0, 0, 2, 5, 400),
                                    v4(10, 0, 0, 1, 9, 900), v4(10, 0, 0, 3, 5, 500) };
    struct tpp_addr_count dst[] = { v4(192, 0, 2, 1, 14, 1400), v4(192, 0, 2, 2, 14, 1000) };
    struct tpp_value_count tcp_dst[] = { { 22, 4 }, { 80, 4 }, { 443, 4 }, { 8080, 1 } },
                           tcp_bytes[] = { { 22, 10 }, { 80, 90 }, { 443, 90 }, { 8080, 1 } },
                           udp_dst[] = { { 53, 3 } }, udp_bytes[] = { { 53, 300 } };
    struct feature_tables t = { .src = src, .nsrc = 5, .dst = dst, .ndst = 2,
                                .ports = { NULL, tcp_dst, NULL, udp_dst }, .nports = { 0, 4, 0, 1 },
                                .port_bytes = { tcp_bytes, udp_bytes }, .nport_bytes = { 4, 1 } };
    struct tpp_interval iv = { .ip_packets = 28 };
    struct tpp_options o = options(TPP_FEAT_HH);
    o.hh_k = 3;
    o.hhh_phi = 0.5;
    long n = run(&iv, &t, &o, 0);
    size_t c;
    const struct tpp_hh *h = hh_of(buf, n, TPP_HH_SRC, &c);
    CHECK(c == 3 && h == buf);
    if (c == 3) {
        CHECK(is_v4(&h[0], 10, 0, 0, 1, 32) && h[0].packets == 9 && h[0].bytes == 900);
        CHECK(is_v4(&h[1], 10, 0, 0, 3, 32) && h[1].packets == 5 && h[1].bytes == 500);
        CHECK(is_v4(&h[2], 10, 0, 0, 2, 32) && h[2].packets == 5 && h[2].bytes == 400);
    }
    h = hh_of(buf, n, TPP_HH_DST, &c);
    CHECK(c == 2 && h == buf + 3);
    if (c == 2) CHECK(is_v4(&h[0], 192, 0, 2, 1, 32) && is_v4(&h[1], 192, 0, 2, 2, 32));
    h = hh_of(buf, n, TPP_HH_SRC_P24, &c); /* 10.0.0.0/24 x19, 2001:db8::/48 x5, 10.0.1.0/24 x4 */
    CHECK(c == 3 && h == buf + 5);
    if (c == 3) {
        CHECK(is_v4(&h[0], 10, 0, 0, 0, 24) && h[0].packets == 19 && h[0].bytes == 1800);
        CHECK(h[1].ipv == 6 && h[1].plen == 48 && h[1].packets == 5 && h[1].key[0] == 0x20 && h[1].key[3] == 0xb8 &&
              h[1].key[15] == 0);
        CHECK(is_v4(&h[2], 10, 0, 1, 0, 24) && h[2].packets == 4 && h[2].bytes == 100);
    }
    h = hh_of(buf, n, TPP_HH_DST_P24, &c);
    CHECK(c == 1 && h == buf + 8);
    if (c == 1) CHECK(is_v4(&h[0], 192, 0, 2, 0, 24) && h[0].packets == 28 && h[0].bytes == 2400);
    h = hh_of(buf, n, TPP_HH_TCP_DPORT, &c); /* 4 packets each: 80 and 443 by bytes, then port order */
    CHECK(c == 3 && h == buf + 9);
    if (c == 3) {
        CHECK(h[0].port == 80 && h[0].bytes == 90 && h[0].ipv == 0 && h[0].plen == 0);
        CHECK(h[1].port == 443 && h[1].bytes == 90);
        CHECK(h[2].port == 22 && h[2].packets == 4 && h[2].bytes == 10);
    }
    h = hh_of(buf, n, TPP_HH_UDP_DPORT, &c);
    CHECK(c == 1 && h == buf + 12 && h && h->port == 53 && h->packets == 3 && h->bytes == 300);
    /* phi 0.5 of 28 packets: 14.  Sources: no address; 10.0.0.0/24 (19) at /24; the rest (9) never.
     * Destinations: both addresses at /32, nothing left above. */
    h = hh_of(buf, n, TPP_HH_SRC_HHH, &c);
    CHECK(c == 1 && h == buf + 13 && h && is_v4(h, 10, 0, 0, 0, 24) && h->packets == 19);
    h = hh_of(buf, n, TPP_HH_DST_HHH, &c);
    CHECK(c == 2 && h == buf + 14);
    if (c == 2) CHECK(is_v4(&h[0], 192, 0, 2, 1, 32) && is_v4(&h[1], 192, 0, 2, 2, 32) && h[0].bytes == 1400);
    CHECK(n == 16);
    CHECK(isnan(iv.src_p24) && isnan(iv.flows) && isnan(iv.entropy_tcp_dst)); /* only hh on */

    o.features = TPP_FEAT_ALL & ~TPP_FEAT_HH;
    CHECK(run(&iv, &t, &o, 0) == 0); /* hh off: none */
    CHECK(features_hh_max(&o) == 0);
    o.features = TPP_FEAT_ALL;
    CHECK(features_hh_max(&o) == 6 * 3 + 2 * (2 + 2));
}

/* The worked example: 10.0.0.1 x30, 10.0.0.2..11 x5, 10.0.1.1..10 x1, 10.1.2.3 x6, 10.2.0.1 x4: 100 packets,
 * phi 0.1, so a residual of 10 is enough.  /32: 10.0.0.1 (30).  /24: 10.0.0.0 (residual 50) and 10.0.1.0 (10,
 * just); 10.1.2.0 (6) and 10.2.0.0 (4) stay below.  /16: 10.1 6 and 10.2 4: none.  /8: 10.0.0.0/8 with the 10
 * left. */
static void test_hhh(void)
{
    struct tpp_addr_count src[32], dst[1] = { v4(1, 1, 1, 1, 100, 1) };
    size_t n = 0;
    src[n++] = v4(10, 0, 0, 1, 30, 3000);
    for (int k = 2; k <= 11; k++) src[n++] = v4(10, 0, 0, k, 5, 500);
    for (int k = 1; k <= 10; k++) src[n++] = v4(10, 0, 1, k, 1, 100);
    src[n++] = v4(10, 1, 2, 3, 6, 600);
    src[n++] = v4(10, 2, 0, 1, 4, 401);
    struct tpp_options o = options(TPP_FEAT_HH);
    o.hhh_phi = 0.1;
    unsigned seed = 3;
    for (int round = 0; round < 10; round++) {
        struct feature_tables t = { .src = src, .nsrc = n, .dst = dst, .ndst = 1 };
        struct tpp_interval iv = { .ip_packets = 100 };
        long m = run(&iv, &t, &o, 0);
        size_t c;
        const struct tpp_hh *h = hh_of(buf, m, TPP_HH_SRC_HHH, &c);
        CHECK(c == 4);
        if (c == 4) {
            CHECK(is_v4(&h[0], 10, 0, 0, 1, 32) && h[0].packets == 30 && h[0].bytes == 3000);
            CHECK(is_v4(&h[1], 10, 0, 0, 0, 24) && h[1].packets == 50 && h[1].bytes == 5000);
            CHECK(is_v4(&h[2], 10, 0, 1, 0, 24) && h[2].packets == 10 && h[2].bytes == 1000);
            CHECK(is_v4(&h[3], 10, 0, 0, 0, 8) && h[3].packets == 10 && h[3].bytes == 600 + 401);
        }
        h = hh_of(buf, m, TPP_HH_DST_HHH, &c);
        CHECK(c == 1 && h && is_v4(h, 1, 1, 1, 1, 32) && h->packets == 100);
        shuffle(src, n, sizeof src[0], &seed);
    }

    /* IPv6 levels 128, 64, 48, 32: 2001:db8:0:1::1 x6 (address), 2001:db8:0:1::2..3 x2 and 2001:db8:0:2::1 x2
     * (2001:db8::/48 with 6, since 2001:db8:0:1::/64 holds 4), 2001:db8:5::1 x2 with nothing above. */
    static const uint16_t a[8] = { 0x2001, 0xdb8, 0, 1, 0, 0, 0, 1 }, b[8] = { 0x2001, 0xdb8, 0, 1, 0, 0, 0, 2 },
                          c[8] = { 0x2001, 0xdb8, 0, 1, 0, 0, 0, 3 }, d[8] = { 0x2001, 0xdb8, 0, 2, 0, 0, 0, 1 },
                          e[8] = { 0x2001, 0xdb8, 5, 0, 0, 0, 0, 1 };
    struct tpp_addr_count s6[] = { v6(e, 2, 2), v6(a, 6, 6), v6(b, 2, 2), v6(c, 2, 2), v6(d, 2, 2) };
    struct feature_tables t = { .src = s6, .nsrc = 5 };
    struct tpp_interval iv = { .ip_packets = 14 };
    o.hhh_phi = 5.0 / 14;
    long m = run(&iv, &t, &o, 0);
    size_t count;
    const struct tpp_hh *h = hh_of(buf, m, TPP_HH_SRC_HHH, &count);
    CHECK(count == 2);
    if (count == 2) {
        CHECK(h[0].ipv == 6 && h[0].plen == 128 && h[0].packets == 6 && memcmp(h[0].key, s6[1].addr, 16) == 0);
        static const uint8_t p48[16] = { 0x20, 0x01, 0x0d, 0xb8 };
        CHECK(h[1].ipv == 6 && h[1].plen == 48 && h[1].packets == 6 && memcmp(h[1].key, p48, 16) == 0);
    }
}

/* ---- random tables: the same bits in any order, and the answers of a brute-force computation ---- */

static int rank_before(const struct tpp_hh *a, const struct tpp_hh *b)
{
    if (a->packets != b->packets) return a->packets > b->packets;
    if (a->bytes != b->bytes) return a->bytes > b->bytes;
    if (a->ipv != b->ipv) return a->ipv < b->ipv;
    int c = memcmp(a->key, b->key, 16);
    if (c) return c < 0;
    return a->port < b->port;
}

/* The brute-force top k of candidates c[0..n): k rounds of picking the best not yet taken. */
static size_t brute_top(struct tpp_hh *c, size_t n, size_t k, struct tpp_hh *out)
{
    size_t m = 0;
    for (; m < k && m < n; m++) {
        size_t best = m;
        for (size_t i = m + 1; i < n; i++)
            if (rank_before(&c[i], &c[best])) best = i;
        struct tpp_hh tmp = c[m];
        c[m] = c[best];
        c[best] = tmp;
        out[m] = c[m];
    }
    return m;
}

/* The /plen prefixes of e[0..n), summed, as candidates (O(n^2)). */
static size_t brute_prefixes(const struct tpp_addr_count *e, size_t n, int plen4, int plen6, struct tpp_hh *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct tpp_hh h = { .ipv = (uint8_t)e[i].ipv };
        int plen = e[i].ipv == 4 ? plen4 : plen6, from = e[i].ipv == 4 ? 12 : 0;
        h.plen = (uint8_t)plen;
        memcpy(h.key + from, e[i].addr + from, (size_t)plen / 8);
        size_t j = 0;
        while (j < m && !(out[j].ipv == h.ipv && memcmp(out[j].key, h.key, 16) == 0)) j++;
        if (j == m) out[m++] = h;
        out[j].packets += e[i].count;
        out[j].bytes += e[i].bytes;
    }
    return m;
}

static int by_address(const void *x, const void *y)
{
    const struct tpp_addr_count *a = x, *b = y;
    if (a->ipv != b->ipv) return a->ipv < b->ipv ? -1 : 1;
    return memcmp(a->addr, b->addr, 16);
}

static int by_flow(const void *x, const void *y) { return memcmp(x, y, sizeof(struct tpp_flow_key)); }

static int by_value(const void *x, const void *y)
{
    const struct tpp_value_count *a = x, *b = y;
    return (a->value > b->value) - (a->value < b->value);
}

static void test_random(void)
{
    enum { NA = 600, NF = 900 };
    static struct tpp_addr_count src[NA], dst[NA];
    static struct tpp_flow_key fl[NF];
    static struct tpp_value_count ports[TPP_NSERIES][200], pbytes[2][200], lens[300];
    static struct tpp_hh cand[NA], want[64], first[4096];
    unsigned seed = 11;
    struct feature_tables t = { 0 };
    uint64_t ip_packets = 0;
    /* Distinct addresses from a small space (many shared prefixes), some IPv6; counts with many ties. */
    for (int side = 0; side < 2; side++) {
        struct tpp_addr_count *e = side ? dst : src;
        size_t n = 0;
        while (n < NA) {
            struct tpp_addr_count x;
            if (rand_r(&seed) % 5 == 0) {
                uint16_t g[8] = { 0x2001, 0xdb8, (uint16_t)(rand_r(&seed) % 3), (uint16_t)(rand_r(&seed) % 4), 0, 0, 0,
                                  (uint16_t)(rand_r(&seed) % 50) };
                x = v6(g, 0, 0);
            } else {
                x = v4(10, rand_r(&seed) % 3, rand_r(&seed) % 8, rand_r(&seed) % 40, 0, 0);
            }
            x.count = 1 + (uint64_t)(rand_r(&seed) % 6) * (rand_r(&seed) % 4 ? 1 : 20);
            x.bytes = x.count * 40 + (uint64_t)(rand_r(&seed) % 3) * 100;
            size_t j = 0;
            while (j < n && !(e[j].ipv == x.ipv && memcmp(e[j].addr, x.addr, 16) == 0)) j++;
            if (j == n) e[n++] = x;
        }
    }
    for (size_t i = 0; i < NA; i++) ip_packets += src[i].count;
    for (size_t i = 0; i < NF;) {
        fl[i] = flow(rand_r(&seed) % 30, rand_r(&seed) % 30, rand_r(&seed) % 3, 80, 6);
        size_t j = 0;
        while (j < i && memcmp(&fl[j], &fl[i], sizeof fl[i]) != 0) j++;
        if (j == i) i++;
        if (i == 60) break; /* small fan-outs too: keep the rest distinct by port */
    }
    for (size_t i = 60; i < NF; i++) fl[i] = flow(rand_r(&seed) % 40, rand_r(&seed) % 200, 1000 + (int)i, 80, 17);
    for (int s = 0; s < TPP_NSERIES; s++)
        for (int p = 0; p < 200; p++) ports[s][p] = (struct tpp_value_count){ (uint64_t)p * 7 + 1, 1 + rand_r(&seed) % 9 };
    for (int k = 0; k < 2; k++)
        for (int p = 0; p < 200; p++) pbytes[k][p] = (struct tpp_value_count){ (uint64_t)p * 7 + 1, (uint64_t)(rand_r(&seed) % 5) * 60 };
    for (int l = 0; l < 300; l++) lens[l] = (struct tpp_value_count){ (uint64_t)l * 5 + 20, 1 + rand_r(&seed) % 30 };
    t = (struct feature_tables){ .src = src, .nsrc = NA, .dst = dst, .ndst = NA, .flows = fl, .nflows = NF,
                                 .lens = lens, .nlens = 300, .port_bytes = { pbytes[0], pbytes[1] },
                                 .nport_bytes = { 200, 200 } };
    for (int s = 0; s < TPP_NSERIES; s++) t.ports[s] = ports[s], t.nports[s] = 200;

    struct tpp_options o = options(TPP_FEAT_ALL);
    o.hh_k = 7;
    o.hhh_phi = 0.02;
    struct tpp_interval iv0 = { .ip_packets = ip_packets };
    struct features_work *w = features_work_new();
    long n0 = features_finish(w, &iv0, &t, &o, 0, first);
    CHECK(n0 > 0 && (size_t)n0 <= features_hh_max(&o));

    /* Brute force: the flat dimensions and the prefix counts. */
    size_t c;
    const struct tpp_hh *h;
    for (int side = 0; side < 2; side++) {
        const struct tpp_addr_count *e = side ? dst : src;
        for (size_t i = 0; i < NA; i++) {
            int plen = e[i].ipv == 4 ? 32 : 128, from = e[i].ipv == 4 ? 12 : 0;
            cand[i] = (struct tpp_hh){ .ipv = (uint8_t)e[i].ipv, .plen = (uint8_t)plen, .packets = e[i].count,
                                       .bytes = e[i].bytes };
            memcpy(cand[i].key + from, e[i].addr + from, 16 - (size_t)from);
        }
        size_t m = brute_top(cand, NA, 7, want);
        h = hh_of(first, n0, side ? TPP_HH_DST : TPP_HH_SRC, &c);
        CHECK(c == m);
        for (size_t i = 0; h && i < c && i < m; i++)
            CHECK(h[i].packets == want[i].packets && h[i].bytes == want[i].bytes && h[i].ipv == want[i].ipv &&
                  memcmp(h[i].key, want[i].key, 16) == 0 && h[i].plen == want[i].plen);
        size_t np = brute_prefixes(e, NA, 24, 48, cand);
        CHECK((side ? iv0.dst_p24 : iv0.src_p24) == (double)np);
        m = brute_top(cand, np, 7, want);
        h = hh_of(first, n0, side ? TPP_HH_DST_P24 : TPP_HH_SRC_P24, &c);
        CHECK(c == m);
        for (size_t i = 0; h && i < c && i < m; i++)
            CHECK(h[i].packets == want[i].packets && h[i].bytes == want[i].bytes &&
                  memcmp(h[i].key, want[i].key, 16) == 0 && h[i].plen == want[i].plen);
        np = brute_prefixes(e, NA, 16, 32, cand);
        CHECK((side ? iv0.dst_p16 : iv0.src_p16) == (double)np);
    }
    /* fanout by brute force: distinct destinations per source */
    uint64_t most = 0;
    for (size_t i = 0; i < NF; i++) {
        uint64_t d = 0;
        for (size_t j = 0; j < NF; j++) {
            if (memcmp(fl[j].src, fl[i].src, 16) != 0) continue;
            size_t k = 0;
            while (k < j && !(memcmp(fl[k].src, fl[i].src, 16) == 0 && memcmp(fl[k].dst, fl[j].dst, 16) == 0)) k++;
            d += k == j;
        }
        if (d > most) most = d;
    }
    CHECK(iv0.fanout_max == (double)most && iv0.flows == NF);

    /* Shuffled tables, a work space reused after other calls: the same bits. */
    for (int round = 0; round < 5; round++) {
        shuffle(src, NA, sizeof src[0], &seed);
        shuffle(dst, NA, sizeof dst[0], &seed);
        shuffle(fl, NF, sizeof fl[0], &seed);
        shuffle(lens, 300, sizeof lens[0], &seed);
        for (int s = 0; s < TPP_NSERIES; s++) shuffle(ports[s], 200, sizeof ports[s][0], &seed);
        for (int k = 0; k < 2; k++) shuffle(pbytes[k], 200, sizeof pbytes[k][0], &seed);
        struct tpp_interval small = { .ip_packets = 1 };
        struct tpp_addr_count one = v4(1, 2, 3, 4, 1, 1);
        struct feature_tables tiny = { .src = &one, .nsrc = 1, .dst = &one, .ndst = 1 };
        features_finish(w, &small, &tiny, &o, 0, buf);
        struct tpp_interval iv = { .ip_packets = ip_packets };
        long n = features_finish(w, &iv, &t, &o, 0, buf);
        CHECK(n == n0 && memcmp(buf, first, (size_t)n0 * sizeof *buf) == 0);
        CHECK(memcmp(&iv, &iv0, sizeof iv) == 0);
    }
    /* The tables' own order (address order, flows by memcmp, histograms ascending): the same bits again. */
    qsort(src, NA, sizeof src[0], by_address);
    qsort(dst, NA, sizeof dst[0], by_address);
    qsort(fl, NF, sizeof fl[0], by_flow);
    qsort(lens, 300, sizeof lens[0], by_value);
    for (int s = 0; s < TPP_NSERIES; s++) qsort(ports[s], 200, sizeof ports[s][0], by_value);
    for (int k = 0; k < 2; k++) qsort(pbytes[k], 200, sizeof pbytes[k][0], by_value);
    struct tpp_interval iv = { .ip_packets = ip_packets };
    long n = features_finish(w, &iv, &t, &o, 0, buf);
    CHECK(n == n0 && memcmp(buf, first, (size_t)n0 * sizeof *buf) == 0);
    CHECK(memcmp(&iv, &iv0, sizeof iv) == 0);
    features_work_free(w);
}

int main(void)
{
    test_prefixes();
    test_ports();
    test_percentiles();
    test_fanout();
    test_heavy_hitters();
    test_hhh();
    test_random();
    if (failures) fprintf(stderr, "features_test: %d failure(s)\n", failures);
    else printf("features_test: ok\n");
    return failures != 0;
}
