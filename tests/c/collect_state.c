/* collect_state.c — the one pass's looking-back state (src/flow_table.c, the aggregator's finish).
 *
 * 1. The flow table against a model kept in plain arrays: random packets of a few thousand IPv4 and IPv6 flows,
 *    time rising by random steps, intervals advancing at random; every probe's answer (again in this interval,
 *    first in it with the previous packet's time, unknown) must be what the model says, through many sweeps and
 *    growths.  A flow may come back unknown only when its silence exceeded the timeout (it was swept).
 * 2. The generations wrap after 2^24 - 2 intervals without a flow seeming to be of the current interval.
 * 3. flow_sort's order is memcmp's (then interval, time) on keys of every kind: IPv4, IPv6 below and above the
 *    IPv4-mapped range, IPv6 packets with mapped addresses, many sharing addresses.
 * 4. tpp_parse on a capture written here: the seen addresses with their first intervals, the flow head and tail
 *    at their edges (exactly flow_timeout from the first / last packet is in, 1 ns more is out).
 */
#include "tpp/parse.h"
#include "tpp/result.h"
#include "flow_sort.h"
#include "flow_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

/* Flow `id` as a packet: IPv4 for even ids, IPv6 for odd; addresses and ports from the id. */
static void flow_packet(uint32_t id, int64_t ts, struct tpp_packet *p)
{
    memset(p, 0, sizeof *p);
    p->ts_ns = ts;
    p->ipv = id & 1 ? 6 : 4;
    p->proto = id % 3 == 0 ? 6 : 17;
    p->sport = (uint16_t)(id * 7);
    p->dport = (uint16_t)(id % 5);
    if (p->ipv == 4) {
        p->src[10] = p->src[11] = p->dst[10] = p->dst[11] = 0xff;
        p->src[12] = 10; p->src[13] = (uint8_t)(id >> 16); p->src[14] = (uint8_t)(id >> 8); p->src[15] = (uint8_t)id;
        p->dst[12] = 192; p->dst[15] = (uint8_t)(id % 3);
    } else {
        p->src[0] = 0x20; p->src[1] = 0x01; p->src[13] = (uint8_t)(id >> 16); p->src[14] = (uint8_t)(id >> 8);
        p->src[15] = (uint8_t)id;
        p->dst[0] = 0x20; p->dst[1] = 0x01; p->dst[15] = (uint8_t)(id % 7);
    }
}

enum { NFLOWS = 30000 };

static void check_against_model(void)
{
    static int64_t last[NFLOWS];
    static int64_t interval_of[NFLOWS];
    const int64_t timeout = 20000;
    struct flow_table t;
    CHECK(flow_table_init(&t, timeout) == 0);
    for (int i = 0; i < NFLOWS; i++) interval_of[i] = -1;
    int64_t ts = 0, interval = 0;
    uint64_t swept = 0, first = 0;
    for (int k = 0; k < 400000; k++) {
        ts += (int64_t)(rng() % 4);                      /* several packets share a time stamp */
        if (rng() % 5000 == 0) { flow_table_next_interval(&t); interval++; }
        /* a working set drifting over the ids, so that flows go silent, and now and then any flow: some come back
         * within the timeout, some after it, swept or not yet */
        uint32_t id = (uint32_t)(rng() % 10 ? (k / 20 + rng() % 8000) % NFLOWS : rng() % NFLOWS);
        struct tpp_packet p;
        flow_packet(id, ts, &p);
        int64_t prev = -1;
        enum flow_seen seen = flow_table_touch(&t, &p, &prev);
        if (interval_of[id] < 0) {
            CHECK(seen == FLOW_UNKNOWN);
        } else if (interval_of[id] == interval) {
            CHECK(seen == FLOW_AGAIN);
        } else if (seen == FLOW_FIRST_IN_INTERVAL) {
            CHECK(prev == last[id]);
            first++;
        } else {
            CHECK(seen == FLOW_UNKNOWN && ts - last[id] > timeout); /* swept only when expired */
            swept++;
        }
        last[id] = ts;
        interval_of[id] = interval;
    }
    if (!(swept > 1000 && first > 1000)) fprintf(stderr, "swept %llu, first %llu\n", (unsigned long long)swept,
                                                 (unsigned long long)first);
    CHECK(swept > 1000 && first > 1000);               /* both paths were taken */
    CHECK(t.mask4 + 1 > 4096 && t.mask6 + 1 > 1024);   /* and the tables grew */
    flow_table_free(&t);
}

static void count_flow(const struct tpp_flow_key *k, int64_t last_ns, uint32_t interval, void *ud)
{
    uint32_t *out = ud;
    (void)last_ns;
    out[k->src[15]] = interval;
}

static void check_wrap(void)
{
    const uint32_t cycle = (1u << 24) - 2;
    struct flow_table t;
    CHECK(flow_table_init(&t, 1000000) == 0);
    struct tpp_packet x, y, z;
    flow_packet(2, 0, &x);                              /* src[15] 2 */
    flow_packet(4, 0, &y);                              /* 4 */
    flow_packet(8, 0, &z);                              /* 8 */
    int64_t prev;
    CHECK(flow_table_touch(&t, &x, &prev) == FLOW_UNKNOWN);      /* interval 0, generation 1 */
    for (uint32_t i = 1; i < cycle - 1; i++) flow_table_next_interval(&t);
    CHECK(flow_table_touch(&t, &y, &prev) == FLOW_UNKNOWN);      /* interval cycle - 2 */
    flow_table_next_interval(&t);                                 /* cycle - 1: the cycle's last generation */
    CHECK(flow_table_touch(&t, &y, &prev) == FLOW_FIRST_IN_INTERVAL);
    flow_table_next_interval(&t);                                 /* interval `cycle`: generation 1 again */
    CHECK(flow_table_touch(&t, &y, &prev) == FLOW_FIRST_IN_INTERVAL);
    CHECK(flow_table_touch(&t, &y, &prev) == FLOW_AGAIN);
    CHECK(flow_table_touch(&t, &z, &prev) == FLOW_UNKNOWN);
    uint32_t seen[16] = { 0 };
    flow_table_each(&t, count_flow, seen);
    CHECK(seen[2] == UINT32_MAX);                                 /* its generation no longer tells */
    CHECK(seen[4] == cycle && seen[8] == cycle);
    CHECK(flow_table_touch(&t, &x, &prev) == FLOW_FIRST_IN_INTERVAL && prev == 0);
    flow_table_free(&t);
}

static int mark_order(const void *x, const void *y)
{
    const struct tpp_flow_mark *a = x, *b = y;
    int c = memcmp(&a->key, &b->key, sizeof a->key);
    if (c) return c;
    if (a->interval != b->interval) return a->interval < b->interval ? -1 : 1;
    return (a->ns > b->ns) - (a->ns < b->ns);
}

static void random_address(uint8_t a[16], int kind)
{
    static const uint8_t prefixes[4][12] = {
        { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff },   /* IPv4-mapped */
        { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe },   /* just below */
        { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff },
        { 0x20, 0x01, 0x0d, 0xb8 },                     /* above */
    };
    memcpy(a, prefixes[kind], 12);
    if (kind == 3) a[4] = (uint8_t)(rng() % 3);
    uint32_t low = (uint32_t)(rng() % 3 == 0 ? rng() % 4 : rng() % 300); /* few values: many ties */
    if (rng() % 4 == 0) low |= (uint32_t)(rng() % 3) << 24;
    a[12] = (uint8_t)(low >> 24);
    a[13] = 0;
    a[14] = (uint8_t)(low >> 8);
    a[15] = (uint8_t)low;
}

static void check_sort(void)
{
    enum { N = 20000 };
    static struct tpp_flow_mark in[N], out[N], ref[N];
    static struct tpp_flow_key kin[N], kout[N];
    for (int i = 0; i < N; i++) {
        struct tpp_flow_mark *m = &in[i];
        memset(m, 0, sizeof *m);
        int v4 = rng() % 2;
        random_address(m->key.src, v4 ? 0 : (int)(rng() % 4));
        random_address(m->key.dst, v4 ? 0 : (int)(rng() % 4));
        m->key.sport[1] = (uint8_t)(rng() % 3);
        m->key.dport[0] = (uint8_t)(rng() % 2);
        m->key.proto = rng() % 2 ? 6 : 17;
        m->key.ipv = v4 ? 4 : 6;
        m->interval = (uint32_t)(rng() % 3);
        m->ns = (int64_t)(rng() % 5) - 2;
        kin[i] = m->key;
    }
    memcpy(ref, in, sizeof ref);
    qsort(ref, N, sizeof *ref, mark_order);
    CHECK(flow_sort_marks(in, N, out) == 0);
    CHECK(memcmp(out, ref, sizeof ref) == 0);
    CHECK(flow_sort_keys(kin, N, kout) == 0);
    for (int i = 0; i < N; i++) CHECK(memcmp(&kout[i], &ref[i].key, sizeof kout[i]) == 0);
    CHECK(flow_sort_marks(in, 1, out) == 0 && memcmp(out, in, sizeof *out) == 0);
    memcpy(out, in, sizeof out); /* the same order without a second copy */
    CHECK(flow_sort_marks_in_place(out, N) == 0);
    CHECK(memcmp(out, ref, sizeof ref) == 0);
}

/* A nanosecond pcap of raw IPv4 UDP packets. */
static void put32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); }

static void write_udp(FILE *f, int64_t ts, uint8_t src, uint8_t dst, uint16_t sport)
{
    uint8_t ip[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, src, 10, 0, 0, dst,
                       (uint8_t)(sport >> 8), (uint8_t)sport, 0, 53, 0, 8, 0, 0 };
    put32(f, (uint32_t)(ts / 1000000000));
    put32(f, (uint32_t)(ts % 1000000000));
    put32(f, sizeof ip);
    put32(f, sizeof ip);
    fwrite(ip, sizeof ip, 1, f);
}

static const struct tpp_flow_mark *find_mark(const struct tpp_flow_mark *m, size_t n, uint8_t src, uint16_t sport)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].key.src[15] == src && m[i].key.sport[0] == sport >> 8 && m[i].key.sport[1] == (uint8_t)sport)
            return &m[i];
    return NULL;
}

static void check_parse_state(void)
{
    char path[] = "/tmp/collect_state_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    put32(f, 0xa1b23c4d);                               /* nanosecond pcap */
    uint16_t v[2] = { 2, 4 };
    fwrite(v, 2, 2, f);
    put32(f, 0); put32(f, 0); put32(f, 65535); put32(f, 101);
    const int64_t s = 1000000000, t0 = 1700000000 * s; /* intervals of 2 s on the epoch grid: t0 starts one */
    /* flow (src, sport): the head is every flow first seen up to t0 + 5 s (flow_timeout) or in interval 0 */
    write_udp(f, t0, 1, 2, 100);                        /* A: interval 0, head; again at the end */
    write_udp(f, t0 + 3 * s, 3, 4, 300);                /* B: interval 1, head (3 s) */
    write_udp(f, t0 + 5 * s, 1, 4, 500);                /* C: exactly 5 s: head; destination 4 seen before */
    write_udp(f, t0 + 5 * s + 1, 5, 2, 501);            /* D: 1 ns later: not head, not tail */
    write_udp(f, t0 + 26 * s - 1, 6, 2, 600);           /* G: 1 ns before last - 5 s: not tail */
    write_udp(f, t0 + 26 * s, 7, 2, 700);               /* F: exactly last - 5 s: tail (interval 13) */
    write_udp(f, t0 + 30 * s, 1, 2, 100);               /* A: the last packet (interval 15) */
    write_udp(f, t0 + 31 * s, 3, 4, 301);               /* H: last interval [30, 32): tail */
    fclose(f);

    struct tpp_options o;
    tpp_options_default(&o);
    o.delta_ns = 2 * s;
    o.flow_timeout_ns = 5 * s;
    char err[256];
    /* with every group off: no state, tables of addresses only, no heavy hitters */
    o.features = 0;
    struct tpp_result *r = tpp_parse(path, &o, NULL, err, sizeof err);
    CHECK(r && r->nflow_head == 0 && r->nflow_tail == 0 && r->nseen[0] == 0 && r->nseen[1] == 0 && r->nhh == 0);
    const struct tpp_addr_counts *none0 = r ? tpp_result_table(r, 0) : NULL;
    CHECK(none0 && none0->nsrc == 1 && none0->e[0].bytes == 0 && none0->nflows == 0 && none0->nlens == 0 &&
          none0->nport_bytes[1] == 0);
    tpp_result_free(r);
    o.features = TPP_FEAT_ALL;
    r = tpp_parse(path, &o, NULL, err, sizeof err);
    unlink(path);
    CHECK(r && r->complete && r->nintervals == 16);
    if (!r) return;
    CHECK(r->nflow_head == 3);
    const struct tpp_flow_mark *a = find_mark(r->flow_head, r->nflow_head, 1, 100);
    const struct tpp_flow_mark *b = find_mark(r->flow_head, r->nflow_head, 3, 300);
    const struct tpp_flow_mark *c = find_mark(r->flow_head, r->nflow_head, 1, 500);
    CHECK(a && a->interval == 0 && a->ns == t0);
    CHECK(b && b->interval == 1 && b->ns == t0 + 3 * s);
    CHECK(c && c->interval == 2 && c->ns == t0 + 5 * s);
    for (size_t i = 1; i < r->nflow_head; i++)
        CHECK(memcmp(&r->flow_head[i - 1].key, &r->flow_head[i].key, sizeof r->flow_head[i].key) < 0);
    /* tail: last_ns - 5 s = 26 s: F (26 s, interval 13), A (30 s, interval 15), H (31 s, 15); G is out */
    CHECK(r->nflow_tail == 3);
    a = find_mark(r->flow_tail, r->nflow_tail, 1, 100);
    const struct tpp_flow_mark *h = find_mark(r->flow_tail, r->nflow_tail, 3, 301);
    const struct tpp_flow_mark *ff = find_mark(r->flow_tail, r->nflow_tail, 7, 700);
    CHECK(a && a->interval == 15 && a->ns == t0 + 30 * s);
    CHECK(h && h->interval == 15 && h->ns == t0 + 31 * s);
    CHECK(ff && ff->interval == 13 && ff->ns == t0 + 26 * s);
    for (size_t i = 1; i < r->nflow_tail; i++)
        CHECK(memcmp(&r->flow_tail[i - 1].key, &r->flow_tail[i].key, sizeof r->flow_tail[i].key) < 0);
    CHECK(r->iv[0].flows_new == 1 && r->iv[15].flows_new == 2 && r->iv[12].flows_new == 1 && r->iv[13].flows_new == 1);
    /* seen: sources 1 (0), 3 (1), 5 (2), 6 (12), 7 (13); destinations 2 (0), 4 (1) */
    static const uint8_t src_addr[5] = { 1, 3, 5, 6, 7 }, src_first[5] = { 0, 1, 2, 12, 13 };
    CHECK(r->nseen[0] == 5 && r->nseen[1] == 2);
    for (size_t i = 0; i < r->nseen[0] && i < 5; i++)
        CHECK(r->seen[0][i].ipv == 4 && r->seen[0][i].addr[15] == src_addr[i] && r->seen[0][i].first == src_first[i]);
    CHECK(r->nseen[1] == 2 && r->seen[1][0].addr[15] == 2 && r->seen[1][0].first == 0 &&
          r->seen[1][1].addr[15] == 4 && r->seen[1][1].first == 1);
    /* the edges' tables hold the flows, sorted */
    const struct tpp_addr_counts *first = tpp_result_table(r, 0), *last = tpp_result_table(r, 15);
    CHECK(first && first->nflows == 1 && last && last->nflows == 2 &&
          memcmp(&last->flows[0], &last->flows[1], sizeof last->flows[0]) < 0);
    CHECK(first && first->nlens == 1 && first->lens[0].value == 28 && first->lens[0].count == 1);
    CHECK(last && last->nport_bytes[1] == 1 && last->port_bytes[1][0].value == 53 && last->port_bytes[1][0].count == 56);
    CHECK(last && last->nsrc == 2 && last->e[0].bytes == 28 && last->e[1].bytes == 28);
    /* the heavy hitters get the bytes per address and per destination port: the last interval's two packets
     * (10.0.0.1 and 10.0.0.3 to 10.0.0.2 and 10.0.0.4, UDP port 53, 28 bytes each) */
    struct tpp_hh_cursor cur;
    struct tpp_hh hh;
    size_t nhh = tpp_result_hh_open(r, 15, &cur), seen = 0;
    int src = 0, dst = 0, port = 0;
    for (; tpp_hh_next(&cur, &hh); seen++) {
        if (hh.dim == TPP_HH_SRC) src += hh.packets == 1 && hh.bytes == 28;
        if (hh.dim == TPP_HH_DST) dst += hh.packets == 1 && hh.bytes == 28;
        if (hh.dim == TPP_HH_UDP_DPORT) port += hh.port == 53 && hh.packets == 2 && hh.bytes == 56;
        CHECK(hh.dim != TPP_HH_TCP_DPORT);
    }
    CHECK(seen == nhh && src == 2 && dst == 2 && port == 1);
    tpp_result_free(r);
}

int main(void)
{
    check_against_model();
    check_wrap();
    check_sort();
    check_parse_state();
    if (failures) { fprintf(stderr, "collect_state: %d failures\n", failures); return 1; }
    printf("collect_state: ok\n");
    return 0;
}
