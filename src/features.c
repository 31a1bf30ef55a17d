/* features.c — see features.h.
 *
 * Every result depends only on the tables' contents, never on their order: sums are integers (entropies through
 * addr_sums), groups are found by hashing, and every list written out is sorted by a total order.  The work space
 * only grows; each call touches memory in proportion to its own tables (a hash table's slots are sized from the
 * call's counts, not from the largest interval seen), so that a million tiny intervals cost what their packets do.
 */
#include "features.h"
#include "interval_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A prefix (or address above the first level of the hierarchy) with its packets and bytes. */
struct group {
    uint64_t key;              /* IPv4: the address's top plen bits; IPv6: the top plen bits of its first 64 */
    uint64_t packets, bytes;
    uint32_t ipv;
};

/* Groups found by open addressing: slot[h] holds a group's index + 1, 0 when empty. */
struct group_table {
    uint32_t *slot;
    size_t slot_cap, mask;
    struct group *g;
    size_t n, cap;
};

struct source_count {          /* fanout: a source (by the index of one of its flows) and its destinations */
    uint32_t flow, count;
};

struct features_work {
    struct group_table a, b;
    uint32_t *pair_slot, *src_slot;
    size_t pair_cap, src_cap;
    struct source_count *srcs;
    size_t srcs_cap;
    struct tpp_hh *heap;       /* top-k selection */
    size_t heap_cap;
    struct tpp_hh *hhh;        /* one side's hierarchical heavy hitters before sorting */
    size_t nhhh, hhh_cap;
    struct tpp_value_count *sorted[3]; /* copies of histograms that came unsorted */
    size_t sorted_cap[3];
};

/* Make *p hold at least `need` elements of `size` bytes (growing by doubling); 0 on success. */
static int grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = realloc(*(void **)p, c * size);
    if (!q) return -1;
    *(void **)p = q;
    *cap = c;
    return 0;
}

struct features_work *features_work_new(void) { return calloc(1, sizeof(struct features_work)); }

void features_work_free(struct features_work *w)
{
    if (!w) return;
    free(w->a.slot);
    free(w->a.g);
    free(w->b.slot);
    free(w->b.g);
    free(w->pair_slot);
    free(w->src_slot);
    free(w->srcs);
    free(w->heap);
    free(w->hhh);
    for (int k = 0; k < 3; k++) free(w->sorted[k]);
    free(w);
}

/* Per side at most one hierarchical heavy hitter per 1/phi of the packets: their residuals are disjoint and each
 * at least phi * ip_packets (one more for the rounding of that product). */
static size_t hhh_max(double phi)
{
    double m = phi > 0 ? floor(1 / phi) + 2 : 1e15;
    return m < 1e15 ? (size_t)m : (size_t)1e15;
}

size_t features_hh_max(const struct tpp_options *o)
{
    if (!(o->features & TPP_FEAT_HH)) return 0;
    return 6 * (size_t)o->hh_k + 2 * hhh_max(o->hhh_phi);
}

/* ---- hashing ---- */

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t hash_bytes(const uint8_t *p, size_t words)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < words; k++) h = (h ^ load64(p + 8 * k)) * 0x100000001b3ull + (h >> 29);
    return mix64(h);
}

/* Slots for n keys: a power of two at least 2n, of which the call clears only what it uses. */
static int slots_for(uint32_t **slot, size_t *cap, size_t n, size_t *mask)
{
    size_t want = 16;
    while (want < 2 * n) want *= 2;
    if (grow(slot, cap, want, sizeof **slot) != 0) return -1;
    memset(*slot, 0, want * sizeof **slot);
    *mask = want - 1;
    return 0;
}

/* Empty t for up to n groups. */
static int groups_begin(struct group_table *t, size_t n)
{
    t->n = 0;
    if (grow(&t->g, &t->cap, n ? n : 1, sizeof *t->g) != 0) return -1;
    return slots_for(&t->slot, &t->slot_cap, n, &t->mask);
}

static void groups_add(struct group_table *t, uint32_t ipv, uint64_t key, uint64_t packets, uint64_t bytes)
{
    size_t h = (size_t)mix64(key ^ (uint64_t)ipv << 56 ^ (uint64_t)ipv) & t->mask;
    for (;; h = (h + 1) & t->mask) {
        uint32_t s = t->slot[h];
        if (s == 0) {
            t->g[t->n] = (struct group){ key, packets, bytes, ipv };
            t->slot[h] = (uint32_t)++t->n;
            return;
        }
        struct group *g = &t->g[s - 1];
        if (g->key == key && g->ipv == ipv) {
            g->packets += packets;
            g->bytes += bytes;
            return;
        }
    }
}

/* ---- addresses and prefixes ---- */

static inline uint32_t v4_of(const struct tpp_addr_count *e)
{
    return (uint32_t)e->addr[12] << 24 | (uint32_t)e->addr[13] << 16 | (uint32_t)e->addr[14] << 8 | e->addr[15];
}

static inline uint64_t v6_high(const struct tpp_addr_count *e)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v = v << 8 | e->addr[k];
    return v;
}

/* The key of a prefix of `plen` bits as a heavy hitter's key (host bits zero; IPv4 in the last 4 bytes). */
static void prefix_key(uint8_t out[16], uint32_t ipv, uint64_t key, int plen)
{
    memset(out, 0, 16);
    if (ipv == 4) {
        uint32_t v = plen ? (uint32_t)(key << (32 - plen)) : 0;
        for (int k = 0; k < 4; k++) out[12 + k] = (uint8_t)(v >> (24 - 8 * k));
    } else {
        uint64_t v = plen ? key << (64 - plen) : 0;
        for (int k = 0; k < 8; k++) out[k] = (uint8_t)(v >> (56 - 8 * k));
    }
}

/* The order of heavy hitters within a dimension: packets descending, bytes descending, then the key ascending
 * (ipv, address bytes, port).  Negative when a ranks before b. */
static int rank_cmp(const struct tpp_hh *a, const struct tpp_hh *b)
{
    if (a->packets != b->packets) return a->packets > b->packets ? -1 : 1;
    if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
    if (a->ipv != b->ipv) return a->ipv < b->ipv ? -1 : 1;
    int c = memcmp(a->key, b->key, 16);
    if (c) return c;
    if (a->plen != b->plen) return a->plen > b->plen ? -1 : 1;
    return (a->port > b->port) - (a->port < b->port);
}

static int rank_qsort(const void *a, const void *b) { return rank_cmp(a, b); }

/* Hierarchical heavy hitters: the longest prefix first, then by rank. */
static int hhh_qsort(const void *x, const void *y)
{
    const struct tpp_hh *a = x, *b = y;
    if (a->plen != b->plen) return a->plen > b->plen ? -1 : 1;
    return rank_cmp(a, b);
}

/* ---- top k by a bounded heap whose root is the worst kept ---- */

struct topk {
    struct tpp_hh *h;
    size_t n, k;
};

/* Whether a candidate with this many packets can enter (a cheap test before building it). */
static inline int topk_wants(const struct topk *t, uint64_t packets)
{
    return t->n < t->k || packets >= t->h[0].packets;
}

static void topk_offer(struct topk *t, const struct tpp_hh *c)
{
    struct tpp_hh *h = t->h;
    size_t i;
    if (t->n < t->k) {
        for (i = t->n++; i > 0 && rank_cmp(&h[(i - 1) / 2], c) < 0; i = (i - 1) / 2) h[i] = h[(i - 1) / 2];
        h[i] = *c;
        return;
    }
    if (t->k == 0 || rank_cmp(c, &h[0]) >= 0) return;
    for (i = 0;;) {
        size_t l = 2 * i + 1, worst = i;
        const struct tpp_hh *wv = c;
        if (l < t->n && rank_cmp(&h[l], wv) > 0) worst = l, wv = &h[l];
        if (l + 1 < t->n && rank_cmp(&h[l + 1], wv) > 0) worst = l + 1;
        if (worst == i) break;
        h[i] = h[worst];
        i = worst;
    }
    h[i] = *c;
}

/* Append the kept entries to out in rank order; their number. */
static size_t topk_emit(struct topk *t, struct tpp_hh *out)
{
    qsort(t->h, t->n, sizeof *t->h, rank_qsort);
    memcpy(out, t->h, t->n * sizeof *t->h);
    return t->n;
}

static void topk_begin(struct topk *t, struct features_work *w, size_t k)
{
    t->h = w->heap;
    t->n = 0;
    t->k = k;
}

static void addr_hh(struct tpp_hh *h, int dim, const struct tpp_addr_count *e)
{
    memset(h, 0, sizeof *h);
    h->dim = (uint8_t)dim;
    h->ipv = (uint8_t)e->ipv;
    h->plen = e->ipv == 4 ? 32 : 128;
    if (e->ipv == 4) memcpy(h->key + 12, e->addr + 12, 4);
    else memcpy(h->key, e->addr, 16);
    h->packets = e->count;
    h->bytes = e->bytes;
}

static void group_hh(struct tpp_hh *h, int dim, const struct group *g, int plen)
{
    memset(h, 0, sizeof *h);
    h->dim = (uint8_t)dim;
    h->ipv = (uint8_t)g->ipv;
    h->plen = (uint8_t)plen;
    prefix_key(h->key, g->ipv, g->key, plen);
    h->packets = g->packets;
    h->bytes = g->bytes;
}

/* The top k addresses of one side. */
static size_t top_addresses(struct features_work *w, const struct tpp_addr_count *e, size_t n, int dim, size_t k,
                            struct tpp_hh *out)
{
    struct topk t;
    topk_begin(&t, w, k);
    for (size_t i = 0; i < n; i++) {
        if (e[i].count == 0 || !topk_wants(&t, e[i].count)) continue;
        struct tpp_hh h;
        addr_hh(&h, dim, &e[i]);
        topk_offer(&t, &h);
    }
    return topk_emit(&t, out);
}

/* One side's /24 (IPv6 /48) prefixes into w->a, and when `wide`, their /16 (/32) into w->b. */
static int side_prefixes(struct features_work *w, const struct tpp_addr_count *e, size_t n, int wide)
{
    if (groups_begin(&w->a, n) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (e[i].count == 0) continue;
        if (e[i].ipv == 4) groups_add(&w->a, 4, v4_of(&e[i]) >> 8, e[i].count, e[i].bytes);
        else groups_add(&w->a, 6, v6_high(&e[i]) >> 16, e[i].count, e[i].bytes);
    }
    if (!wide) return 0;
    if (groups_begin(&w->b, w->a.n) != 0) return -1;
    for (size_t i = 0; i < w->a.n; i++) {
        const struct group *g = &w->a.g[i];
        groups_add(&w->b, g->ipv, g->ipv == 4 ? g->key >> 8 : g->key >> 16, 0, 0);
    }
    return 0;
}

/* The top k of the prefixes in w->a. */
static size_t top_prefixes(struct features_work *w, int dim, size_t k, struct tpp_hh *out)
{
    struct topk t;
    topk_begin(&t, w, k);
    for (size_t i = 0; i < w->a.n; i++) {
        const struct group *g = &w->a.g[i];
        if (!topk_wants(&t, g->packets)) continue;
        struct tpp_hh h;
        group_hh(&h, dim, g, g->ipv == 4 ? 24 : 48);
        topk_offer(&t, &h);
    }
    return topk_emit(&t, out);
}

static int hhh_push(struct features_work *w, const struct tpp_hh *h)
{
    if (grow(&w->hhh, &w->hhh_cap, w->nhhh + 1, sizeof *w->hhh) != 0) return -1;
    w->hhh[w->nhhh++] = *h;
    return 0;
}

/* One side's hierarchical heavy hitters, bottom up over the levels IPv4 32, 24, 16, 8 and IPv6 128, 64, 48, 32:
 * a prefix whose residual (its packets not under a longer prefix already reported) reaches thr is reported and
 * passes nothing up.  Appended to out in their order; their number, or -1 when out of memory. */
static long side_hhh(struct features_work *w, const struct tpp_addr_count *e, size_t n, double thr, int dim,
                     struct tpp_hh *out)
{
    static const int plen4[4] = { 32, 24, 16, 8 }, plen6[4] = { 128, 64, 48, 32 };
    struct tpp_hh h;
    w->nhhh = 0;
    if (groups_begin(&w->a, n) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (e[i].count == 0) continue;
        if ((double)e[i].count >= thr) {
            addr_hh(&h, dim, &e[i]);
            if (hhh_push(w, &h) != 0) return -1;
        } else if (e[i].ipv == 4) {
            groups_add(&w->a, 4, v4_of(&e[i]) >> 8, e[i].count, e[i].bytes);
        } else {
            groups_add(&w->a, 6, v6_high(&e[i]), e[i].count, e[i].bytes);
        }
    }
    struct group_table *cur = &w->a, *next = &w->b;
    for (int level = 1; level < 4; level++) {
        if (level < 3 && groups_begin(next, cur->n) != 0) return -1;
        for (size_t i = 0; i < cur->n; i++) {
            const struct group *g = &cur->g[i];
            if ((double)g->packets >= thr) {
                group_hh(&h, dim, g, g->ipv == 4 ? plen4[level] : plen6[level]);
                if (hhh_push(w, &h) != 0) return -1;
            } else if (level < 3) {
                groups_add(next, g->ipv, g->ipv == 4 ? g->key >> 8 : g->key >> 16, g->packets, g->bytes);
            }
        }
        struct group_table *swap = cur;
        cur = next;
        next = swap;
    }
    qsort(w->hhh, w->nhhh, sizeof *w->hhh, hhh_qsort);
    memcpy(out, w->hhh, w->nhhh * sizeof *w->hhh);
    return (long)w->nhhh;
}

/* ---- histograms ---- */

/* h[0..n) ascending by value: h itself when it is, else a sorted copy in scratch buffer `which`. */
static int by_value(const void *x, const void *y)
{
    const struct tpp_value_count *a = x, *b = y;
    return (a->value > b->value) - (a->value < b->value);
}

static const struct tpp_value_count *ascending(struct features_work *w, int which, const struct tpp_value_count *h,
                                               size_t n)
{
    size_t i = 1;
    while (i < n && h[i - 1].value <= h[i].value) i++;
    if (i >= n) return h;
    if (grow(&w->sorted[which], &w->sorted_cap[which], n, sizeof *h) != 0) return NULL;
    memcpy(w->sorted[which], h, n * sizeof *h);
    qsort(w->sorted[which], n, sizeof *h, by_value);
    return w->sorted[which];
}

/* Normalised entropy of a histogram's counts; `none` when it is empty. */
static double histogram_entropy(const struct tpp_value_count *h, size_t n, double none)
{
    struct addr_sums s = { 0 };
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].count == 0) continue;
        addr_sums_add(&s, h[i].count);
        total += h[i].count;
    }
    return total ? addr_sums_entropy(&s, total) : none;
}

/* The smallest length L with #(len <= L) >= rank (1-based), lens ascending. */
static double length_at_rank(const struct tpp_value_count *lens, size_t n, uint64_t rank)
{
    uint64_t below = 0;
    for (size_t i = 0; i < n; i++) {
        below += lens[i].count;
        if (below >= rank) return (double)lens[i].value;
    }
    return NAN; /* not reached: rank <= total */
}

/* The top k destination ports of a protocol: packets from `packets`, bytes from `bytes` (both ascending). */
static size_t top_ports(struct features_work *w, const struct tpp_value_count *packets, size_t n,
                        const struct tpp_value_count *bytes, size_t nbytes, int dim, size_t k, struct tpp_hh *out)
{
    struct topk t;
    topk_begin(&t, w, k);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (packets[i].count == 0 || !topk_wants(&t, packets[i].count)) continue;
        while (j < nbytes && bytes[j].value < packets[i].value) j++;
        struct tpp_hh h;
        memset(&h, 0, sizeof h);
        h.dim = (uint8_t)dim;
        h.port = (uint32_t)packets[i].value;
        h.packets = packets[i].count;
        h.bytes = j < nbytes && bytes[j].value == packets[i].value ? bytes[j].count : 0;
        topk_offer(&t, &h);
    }
    return topk_emit(&t, out);
}

/* ---- fanout ---- */

/* The most distinct destinations of one source among the flows (addresses compared as their 16 bytes: IPv4 is
 * IPv4-mapped).  UINT64_MAX when out of memory. */
static uint64_t fanout_max(struct features_work *w, const struct tpp_flow_key *f, size_t n)
{
    uint64_t most = 0;
    size_t i = 1;
    while (i < n && memcmp(f[i - 1].src, f[i].src, 32) <= 0) i++;
    if (i >= n) { /* sorted by (src, dst), as the tables keep them: count runs */
        uint64_t count = 0;
        for (i = 0; i < n; i++) {
            if (i == 0 || memcmp(f[i - 1].src, f[i].src, 16) != 0) count = 1;
            else if (memcmp(f[i - 1].dst, f[i].dst, 16) != 0) count++;
            if (count > most) most = count;
        }
        return most;
    }
    if (n >= UINT32_MAX / 2) return UINT64_MAX;
    size_t pmask, smask, nsrcs = 0;
    if (slots_for(&w->pair_slot, &w->pair_cap, n, &pmask) != 0 || slots_for(&w->src_slot, &w->src_cap, n, &smask) != 0 ||
        grow(&w->srcs, &w->srcs_cap, n, sizeof *w->srcs) != 0)
        return UINT64_MAX;
    for (i = 0; i < n; i++) {
        size_t h = (size_t)hash_bytes(f[i].src, 4) & pmask;
        for (;; h = (h + 1) & pmask) {
            uint32_t s = w->pair_slot[h];
            if (s == 0) break;
            if (memcmp(f[s - 1].src, f[i].src, 32) == 0) goto next; /* this pair was counted */
        }
        w->pair_slot[h] = (uint32_t)i + 1;
        for (h = (size_t)hash_bytes(f[i].src, 2) & smask;; h = (h + 1) & smask) {
            uint32_t s = w->src_slot[h];
            if (s == 0) {
                w->srcs[nsrcs] = (struct source_count){ (uint32_t)i, 1 };
                w->src_slot[h] = (uint32_t)++nsrcs;
                if (most < 1) most = 1;
                break;
            }
            struct source_count *c = &w->srcs[s - 1];
            if (memcmp(f[c->flow].src, f[i].src, 16) == 0) {
                if (++c->count > most) most = c->count;
                break;
            }
        }
    next:;
    }
    return most;
}

/* ---- the interval ---- */

long features_finish(struct features_work *w, struct tpp_interval *iv, const struct feature_tables *t,
                     const struct tpp_options *o, int original, struct tpp_hh *hh)
{
    unsigned on = o->features;
    double none = original ? 0 : NAN; /* undefined, and the columns of a group switched off */

    iv->entropy_tcp_src = iv->entropy_tcp_dst = iv->entropy_udp_src = iv->entropy_udp_dst = none;
    if (on & TPP_FEAT_PORTS) {
        double *col[TPP_NSERIES] = { &iv->entropy_tcp_src, &iv->entropy_tcp_dst, &iv->entropy_udp_src,
                                     &iv->entropy_udp_dst };
        for (int s = 0; s < TPP_NSERIES; s++) *col[s] = histogram_entropy(t->ports[s], t->nports[s], none);
    }

    size_t nhh = 0;
    if ((on & TPP_FEAT_HH) && grow(&w->heap, &w->heap_cap, o->hh_k ? o->hh_k : 1, sizeof *w->heap) != 0) return -1;

    iv->src_p24 = iv->dst_p24 = iv->src_p16 = iv->dst_p16 = iv->entropy_src_p24 = iv->entropy_dst_p24 = none;
    if (on & (TPP_FEAT_PREFIXES | TPP_FEAT_HH)) {
        const struct tpp_addr_count *side[2] = { t->src, t->dst };
        size_t nside[2] = { t->nsrc, t->ndst };
        double *p24[2] = { &iv->src_p24, &iv->dst_p24 }, *p16[2] = { &iv->src_p16, &iv->dst_p16 };
        double *ent[2] = { &iv->entropy_src_p24, &iv->entropy_dst_p24 };
        struct tpp_hh *prefix_hh = NULL;
        size_t nprefix_hh = 0;
        if (on & TPP_FEAT_HH) { /* src, dst, then the prefixes below them */
            nhh += top_addresses(w, t->src, t->nsrc, TPP_HH_SRC, o->hh_k, hh + nhh);
            nhh += top_addresses(w, t->dst, t->ndst, TPP_HH_DST, o->hh_k, hh + nhh);
            prefix_hh = hh + nhh;
        }
        for (int k = 0; k < 2; k++) {
            if (side_prefixes(w, side[k], nside[k], (on & TPP_FEAT_PREFIXES) != 0) != 0) return -1;
            if (on & TPP_FEAT_PREFIXES) {
                struct addr_sums s = { 0 };
                uint64_t total = 0;
                for (size_t i = 0; i < w->a.n; i++) {
                    addr_sums_add(&s, w->a.g[i].packets);
                    total += w->a.g[i].packets;
                }
                *p24[k] = (double)w->a.n;
                *p16[k] = (double)w->b.n;
                *ent[k] = total ? addr_sums_entropy(&s, total) : none;
            }
            if (prefix_hh)
                nprefix_hh += top_prefixes(w, k ? TPP_HH_DST_P24 : TPP_HH_SRC_P24, o->hh_k, prefix_hh + nprefix_hh);
        }
        nhh += nprefix_hh;
    }

    iv->flows = iv->fanout_max = none;
    if (on & TPP_FEAT_FLOWS) {
        iv->flows = (double)t->nflows;
        uint64_t most = fanout_max(w, t->flows, t->nflows);
        if (most == UINT64_MAX) return -1;
        iv->fanout_max = iv->ip_packets ? (double)most : none;
    }

    iv->len_p50 = iv->len_p95 = none;
    if (on & TPP_FEAT_HEADERS) {
        const struct tpp_value_count *lens = ascending(w, 0, t->lens, t->nlens);
        if (!lens && t->nlens) return -1;
        uint64_t n = 0;
        for (size_t i = 0; i < t->nlens; i++) n += lens[i].count;
        if (n > 0) {
            iv->len_p50 = length_at_rank(lens, t->nlens, n / 2 + n % 2);
            iv->len_p95 = length_at_rank(lens, t->nlens, (uint64_t)(((unsigned __int128)n * 95 + 99) / 100));
        }
    }

    if (on & TPP_FEAT_HH) {
        static const int series[2] = { TPP_TCP_DST, TPP_UDP_DST };
        for (int k = 0; k < 2; k++) {
            const struct tpp_value_count *p = ascending(w, 1, t->ports[series[k]], t->nports[series[k]]);
            const struct tpp_value_count *b = ascending(w, 2, t->port_bytes[k], t->nport_bytes[k]);
            if ((!p && t->nports[series[k]]) || (!b && t->nport_bytes[k])) return -1;
            nhh += top_ports(w, p, t->nports[series[k]], b, t->nport_bytes[k], k ? TPP_HH_UDP_DPORT : TPP_HH_TCP_DPORT,
                             o->hh_k, hh + nhh);
        }
        double thr = o->hhh_phi * (double)iv->ip_packets;
        long n = side_hhh(w, t->src, t->nsrc, thr, TPP_HH_SRC_HHH, hh + nhh);
        if (n < 0) return -1;
        nhh += (size_t)n;
        n = side_hhh(w, t->dst, t->ndst, thr, TPP_HH_DST_HHH, hh + nhh);
        if (n < 0) return -1;
        nhh += (size_t)n;
    }
    return (long)nhh;
}
