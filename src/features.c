/* features.c — see features.h.
 *
 * Every result depends only on the tables' contents, never on their order: sums are integers (entropies through
 * addr_sums), each side's addresses are put in address order (radix sort, unless they come sorted) and then read
 * once for all prefix levels, flows are grouped by hashing, and every list written out is sorted by a total order.
 * The work space only grows; each call touches memory in proportion to its own tables (hash slots are sized from
 * the call's counts, never from the largest interval seen), so that a million tiny intervals cost what their
 * packets do.
 */
#include "features.h"
#include "interval_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct v6_item {               /* an IPv6 address to sort: its two halves and its index in the table */
    uint64_t hi, lo;
    uint32_t idx;
};

struct source_count {          /* fanout over IPv6 flows: a source (by the index of one of its flows) */
    uint32_t flow, count;
};

struct features_work {
    uint64_t *keys, *tmp;      /* IPv4 addresses to radix-sort: address << 32 | index */
    size_t keys_cap, tmp_cap;
    struct v6_item *v6;
    size_t v6_cap;
    uint32_t *order;           /* one side's table in address order (indices) */
    size_t order_cap;
    uint64_t *pairs, *sources; /* fanout over IPv4 flows: ~(src << 32 | dst) and (src << 32 | count) */
    size_t pairs_cap, sources_cap;
    uint32_t *flows6, *pair_slot, *src_slot; /* fanout over IPv6 flows: their indices, and hash slots */
    size_t flows6_cap, pair_cap, src_cap;
    struct source_count *srcs;
    size_t srcs_cap;
    struct tpp_hh *heap;       /* top-k selections: four of hh_k at once (addresses and prefixes of each side) */
    size_t heap_cap;
    struct tpp_hh *hhh[2];     /* each side's hierarchical heavy hitters before sorting */
    size_t nhhh[2], hhh_cap[2];
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
    free(w->keys);
    free(w->tmp);
    free(w->v6);
    free(w->order);
    free(w->pairs);
    free(w->sources);
    free(w->flows6);
    free(w->pair_slot);
    free(w->src_slot);
    free(w->srcs);
    free(w->heap);
    for (int k = 0; k < 2; k++) free(w->hhh[k]);
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

/* ---- heavy-hitter entries and their order ---- */

/* The key of a prefix of `plen` bits (host bits zero; IPv4 in the last 4 bytes).  `key` holds the prefix's bits:
 * of the 32-bit address for IPv4, of the address's first 64 bits for IPv6. */
static void prefix_key(uint8_t out[16], int ipv, uint64_t key, int plen)
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

static void prefix_hh(struct tpp_hh *h, int dim, int ipv, uint64_t key, int plen, uint64_t packets, uint64_t bytes)
{
    memset(h, 0, sizeof *h);
    h->dim = (uint8_t)dim;
    h->ipv = (uint8_t)ipv;
    h->plen = (uint8_t)plen;
    prefix_key(h->key, ipv, key, plen);
    h->packets = packets;
    h->bytes = bytes;
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

/* Sort heavy hitters by cmp: by insertion when they are few (a top k, an interval's handful of hierarchical
 * heavy hitters), where qsort's set-up costs more than the sort. */
static void sort_hh(struct tpp_hh *h, size_t n, int (*cmp)(const void *, const void *))
{
    if (n > 32) {
        qsort(h, n, sizeof *h, cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct tpp_hh x = h[i];
        size_t j = i;
        for (; j > 0 && cmp(&h[j - 1], &x) > 0; j--) h[j] = h[j - 1];
        h[j] = x;
    }
}

/* ---- top k by a bounded heap whose root is the worst kept ---- */

struct topk {
    struct tpp_hh *h;
    size_t n, k;
};

static void topk_begin(struct topk *t, struct tpp_hh *heap, size_t k)
{
    t->h = heap;
    t->n = 0;
    t->k = k;
}

/* Whether a candidate with this many packets can enter (a cheap test before building it). */
static inline int topk_wants(const struct topk *t, uint64_t packets)
{
    return t->n < t->k || (t->k > 0 && packets >= t->h[0].packets);
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

/* Write the kept entries to out in rank order; their number. */
static size_t topk_emit(struct topk *t, struct tpp_hh *out)
{
    sort_hh(t->h, t->n, rank_qsort);
    for (size_t i = 0; i < t->n; i++) out[i] = t->h[i];
    return t->n;
}

/* ---- one side's addresses in address order ---- */

static inline uint32_t v4_of(const uint8_t *addr)
{
    return (uint32_t)addr[12] << 24 | (uint32_t)addr[13] << 16 | (uint32_t)addr[14] << 8 | addr[15];
}

static inline uint64_t be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

static int v6_item_cmp(const void *x, const void *y)
{
    const struct v6_item *a = x, *b = y;
    if (a->hi != b->hi) return a->hi < b->hi ? -1 : 1;
    return (a->lo > b->lo) - (a->lo < b->lo);
}

/* Below this many keys an insertion sort beats the radix sort's fixed cost (its 256 counters a pass). */
#define SMALL_SORT 48

/* v[0..n) ascending on bits 32..63: LSD radix, 8 bits a pass; bytes where all keys agree are skipped. */
static void radix_sort_high(uint64_t *v, uint64_t *tmp, size_t n)
{
    if (n < SMALL_SORT) {
        for (size_t i = 1; i < n; i++) {
            uint64_t x = v[i];
            size_t j = i;
            for (; j > 0 && v[j - 1] >> 32 > x >> 32; j--) v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    /* Three digits of 11 bits: every digit's counts in one read, then a pass per digit that does not agree. */
    static const int shift[3] = { 32, 43, 54 };
    uint32_t count[3][2048 + 1];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 3; d++) count[d][((v[i] >> shift[d]) & 0x7ff) + 1]++;
    uint64_t *from = v, *to = tmp;
    for (int d = 0; d < 3; d++) {
        uint32_t *c = count[d];
        if (c[((v[0] >> shift[d]) & 0x7ff) + 1] == n) continue;
        for (int b = 0; b < 2048; b++) c[b + 1] += c[b];
        for (size_t i = 0; i < n; i++) to[c[(from[i] >> shift[d]) & 0x7ff]++] = from[i];
        uint64_t *swap = from;
        from = to;
        to = swap;
    }
    if (from != v) memcpy(v, from, n * sizeof *v);
}

/* The same for IPv6 items on their first 64 bits, then each run of equal first halves by the second. */
static void radix_sort_v6(struct v6_item *v, struct v6_item *tmp, size_t n)
{
    if (n < SMALL_SORT) {
        qsort(v, n, sizeof *v, v6_item_cmp);
        return;
    }
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = { 0 };
        for (size_t i = 0; i < n; i++) count[((v[i].hi >> shift) & 0xff) + 1]++;
        if (count[((v[0].hi >> shift) & 0xff) + 1] == n) continue;
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++) tmp[count[(v[i].hi >> shift) & 0xff]++] = v[i];
        memcpy(v, tmp, n * sizeof *v);
    }
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && v[j].hi == v[i].hi;) j++;
        if (j - i > 1) qsort(v + i, j - i, sizeof *v, v6_item_cmp);
    }
}

/* The indices of e[0..n) in (ipv, address) order into w->order. */
static int address_order(struct features_work *w, const struct tpp_addr_count *e, size_t n)
{
    if (n >= UINT32_MAX || grow(&w->order, &w->order_cap, n, sizeof *w->order) != 0 ||
        grow(&w->keys, &w->keys_cap, n, sizeof *w->keys) != 0 || grow(&w->tmp, &w->tmp_cap, n, sizeof *w->tmp) != 0)
        return -1;
    size_t n4 = 0, n6 = 0, i;
    for (i = 0; i < n; i++) {
        if (e[i].ipv == 4) {
            w->keys[n4++] = (uint64_t)v4_of(e[i].addr) << 32 | i;
        } else {
            if (grow(&w->v6, &w->v6_cap, 2 * (n6 + 1), sizeof *w->v6) != 0) return -1; /* and room to sort */
            w->v6[n6++] = (struct v6_item){ be64(e[i].addr), be64(e[i].addr + 8), (uint32_t)i };
        }
    }
    if (n6) radix_sort_v6(w->v6, w->v6 + n6, n6);
    if (n4) radix_sort_high(w->keys, w->tmp, n4);
    for (i = 0; i < n4; i++) w->order[i] = (uint32_t)w->keys[i];
    for (i = 0; i < n6; i++) w->order[n4 + i] = w->v6[i].idx;
    return 0;
}

/* ---- one pass over a side: top addresses, prefixes and hierarchical heavy hitters ---- */

/* Levels of the hierarchy: 0 the address, then IPv4 /24, /16, /8 and IPv6 /64, /48, /32.  The /24 of the prefix
 * columns is level 1 for IPv4 and the /48 level 2 for IPv6; their /16 (/32) one level up. */
static const int plen4[4] = { 32, 24, 16, 8 }, plen6[4] = { 128, 64, 48, 32 };

struct side_scan {
    int hhh, dim;              /* hhh: find the hierarchical heavy hitters (of dimension dim) */
    double phi, n;             /* their residual share and the interval's IP packets */
    struct topk *top, *top24;  /* the top addresses and /24 (/48) prefixes, or NULL */
    int dim_top, dim24;
    int ipv;                   /* the current address's family and prefixes at levels 1..3 */
    uint64_t key[4];
    uint64_t res_packets[4], res_bytes[4]; /* residuals at levels 1..3 of the current prefixes */
    uint64_t g_packets, g_bytes; /* the current /24 (/48) prefix's traffic */
    uint64_t p24, p16, total;
    struct addr_sums sums;     /* packets per /24 (/48) prefix */
};

static int hhh_push(struct features_work *w, int side, const struct tpp_hh *h)
{
    if (grow(&w->hhh[side], &w->hhh_cap[side], w->nhhh[side] + 1, sizeof *w->hhh[side]) != 0) return -1;
    w->hhh[side][w->nhhh[side]++] = *h;
    return 0;
}

/* Whether a residual of p packets is a share of at least phi: compared as a share, so that a residual of exactly
 * phi·n (7 of 100 at 0.07, where 0.07 * 100 rounds above 7) is reported, as the share the hh file prints. */
static inline int hhh_reaches(const struct side_scan *s, uint64_t p)
{
    return (double)p / s->n >= s->phi;
}

/* The current /24 (/48) prefix is complete. */
static inline void close_prefix(struct side_scan *s)
{
    addr_sums_add(&s->sums, s->g_packets);
    s->total += s->g_packets;
    if (s->top24 && topk_wants(s->top24, s->g_packets)) {
        struct tpp_hh h;
        prefix_hh(&h, s->dim24, s->ipv, s->key[s->ipv == 4 ? 1 : 2], s->ipv == 4 ? 24 : 48, s->g_packets,
                  s->g_bytes);
        topk_offer(s->top24, &h);
    }
    s->g_packets = s->g_bytes = 0;
}

/* The current prefix of `level` is complete: reported when its residual reaches the threshold, else its residual
 * goes up one level. */
static inline int close_level(struct features_work *w, int side, struct side_scan *s, int level)
{
    uint64_t p = s->res_packets[level], b = s->res_bytes[level];
    if (p == 0) return 0;
    s->res_packets[level] = s->res_bytes[level] = 0;
    if (hhh_reaches(s, p)) {
        struct tpp_hh h;
        prefix_hh(&h, s->dim, s->ipv, s->key[level], s->ipv == 4 ? plen4[level] : plen6[level], p, b);
        return hhh_push(w, side, &h);
    }
    if (level < 3) {
        s->res_packets[level + 1] += p;
        s->res_bytes[level + 1] += b;
    }
    return 0;
}

/* Read e once in (ipv, address) order, through `order` when not NULL: offer the addresses to s->top, count the
 * /24 and /16 prefixes (IPv6 /48 and /32), sum their entropy, offer the /24s to s->top24, and climb the hierarchy
 * bottom up (the residuals of shorter prefixes close as the order leaves them).  Without `order`, 1 as soon as e
 * turns out not to be in that order; else 0, or -1 when out of memory. */
static int scan_side(struct features_work *w, int side, const struct tpp_addr_count *e, const uint32_t *order,
                     size_t n, struct side_scan *s)
{
    int have = 0;
    uint64_t last_lo = 0, last_addr = 0;
    w->nhhh[side] = 0;
    for (size_t j = 0; j < n; j++) {
        const struct tpp_addr_count *x = &e[j];
        if (order) {
            if (j + 16 < n) __builtin_prefetch(&e[order[j + 16]]); /* a gather: hide its cache misses */
            x = &e[order[j]];
        }
        if (x->count == 0) continue;
        int ipv = x->ipv == 4 ? 4 : 6;
        uint64_t k[4], addr, lo = 0;
        if (ipv == 4) {
            uint32_t a = v4_of(x->addr);
            addr = a, k[1] = a >> 8, k[2] = a >> 16, k[3] = a >> 24;
        } else {
            uint64_t hi = be64(x->addr);
            lo = be64(x->addr + 8);
            addr = hi, k[1] = hi, k[2] = hi >> 16, k[3] = hi >> 32;
        }
        if (!order && have &&
            (ipv < s->ipv || (ipv == s->ipv && (addr < last_addr || (addr == last_addr && lo < last_lo)))))
            return 1;
        last_addr = addr, last_lo = lo;
        if (s->top && topk_wants(s->top, x->count)) {
            struct tpp_hh h;
            addr_hh(&h, s->dim_top, x);
            topk_offer(s->top, &h);
        }
        int changed = 3; /* the longest-lived level whose prefix changed */
        if (have && ipv == s->ipv) changed = k[3] != s->key[3] ? 3 : k[2] != s->key[2] ? 2 : k[1] != s->key[1] ? 1 : 0;
        int l24 = ipv == 4 ? 1 : 2;
        if (have && changed) {
            if (changed >= (s->ipv == 4 ? 1 : 2)) close_prefix(s);
            for (int level = 1; level <= changed; level++)
                if (close_level(w, side, s, level) != 0) return -1;
        }
        if (!have || changed >= l24) s->p24++;
        if (!have || changed >= l24 + 1) s->p16++;
        s->ipv = ipv;
        s->key[1] = k[1], s->key[2] = k[2], s->key[3] = k[3];
        have = 1;
        s->g_packets += x->count;
        s->g_bytes += x->bytes;
        if (!s->hhh) continue;
        if (hhh_reaches(s, x->count)) {
            struct tpp_hh h;
            addr_hh(&h, s->dim, x);
            if (hhh_push(w, side, &h) != 0) return -1;
        } else {
            s->res_packets[1] += x->count;
            s->res_bytes[1] += x->bytes;
        }
    }
    if (have) {
        close_prefix(s);
        for (int level = 1; level <= 3; level++)
            if (close_level(w, side, s, level) != 0) return -1;
    }
    sort_hh(w->hhh[side], w->nhhh[side], hhh_qsort);
    return 0;
}

/* ---- histograms ---- */

static int by_value(const void *x, const void *y)
{
    const struct tpp_value_count *a = x, *b = y;
    return (a->value > b->value) - (a->value < b->value);
}

/* h[0..n) ascending by value: h itself when it is, else a sorted copy in scratch buffer `which` (NULL when out of
 * memory). */
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

/* The smallest length L with #(len <= L) >= rank (1-based, at most the total), lens ascending. */
static double length_at_rank(const struct tpp_value_count *lens, size_t n, uint64_t rank)
{
    uint64_t below = 0;
    for (size_t i = 0; i < n; i++) {
        below += lens[i].count;
        if (below >= rank) return (double)lens[i].value;
    }
    return NAN;
}

/* The top k destination ports of a protocol: packets from `packets`, bytes from `bytes` (both ascending). */
static size_t top_ports(struct features_work *w, const struct tpp_value_count *packets, size_t n,
                        const struct tpp_value_count *bytes, size_t nbytes, int dim, size_t k, struct tpp_hh *out)
{
    struct topk t;
    topk_begin(&t, w->heap, k);
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

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static inline uint64_t hash_bytes(const uint8_t *p, size_t words)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < words; k++) {
        uint64_t v;
        memcpy(&v, p + 8 * k, 8);
        h = mix64(h ^ v);
    }
    return h;
}

/* Zeroed hash slots for n keys: a power of two at least 2n (only what this call uses is cleared). */
static int slots_for(void *slot, size_t *cap, size_t n, size_t size, size_t *mask)
{
    size_t want = 16;
    while (want < 2 * n) want *= 2;
    if (grow(slot, cap, want, size) != 0) return -1;
    memset(*(void **)slot, 0, want * size);
    *mask = want - 1;
    return 0;
}

/* Add IPv4 pair src -> dst to the sets: a new pair counts one more destination for src.  *most grows to the
 * largest count.  Pairs are stored as ~(src << 32 | dst) so that 0 means empty (the pair 255.255.255.255 to
 * itself, whose complement is 0, is flagged apart). */
static void fanout_add4(struct features_work *w, size_t pmask, size_t smask, uint32_t src, uint32_t dst,
                        int *max_pair_seen, uint64_t *most)
{
    uint64_t pair = ~((uint64_t)src << 32 | dst);
    if (pair == 0) {
        if (*max_pair_seen) return;
        *max_pair_seen = 1;
    } else {
        size_t h = (size_t)mix64(pair) & pmask;
        for (; w->pairs[h] != 0; h = (h + 1) & pmask)
            if (w->pairs[h] == pair) return;
        w->pairs[h] = pair;
    }
    size_t h = (size_t)mix64(src) & smask; /* sources: src << 32 | count, never 0 since count >= 1 */
    for (; w->sources[h] != 0; h = (h + 1) & smask)
        if (w->sources[h] >> 32 == src) {
            uint64_t c = (w->sources[h] & 0xffffffffu) + 1;
            w->sources[h] = (uint64_t)src << 32 | c;
            if (c > *most) *most = c;
            return;
        }
    w->sources[h] = (uint64_t)src << 32 | 1;
    if (*most < 1) *most = 1;
}

/* The same for IPv6 flows f[idx[0..n)], by hashing their 32-byte (src, dst). */
static int fanout6(struct features_work *w, const struct tpp_flow_key *f, const uint32_t *idx, size_t n,
                   uint64_t *most)
{
    size_t pmask, smask, nsrcs = 0;
    if (slots_for(&w->pair_slot, &w->pair_cap, n, sizeof *w->pair_slot, &pmask) != 0 ||
        slots_for(&w->src_slot, &w->src_cap, n, sizeof *w->src_slot, &smask) != 0 ||
        grow(&w->srcs, &w->srcs_cap, n, sizeof *w->srcs) != 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        uint32_t i = idx[k];
        size_t h = (size_t)hash_bytes(f[i].src, 4) & pmask;
        int seen = 0;
        for (; w->pair_slot[h] != 0; h = (h + 1) & pmask)
            if (memcmp(f[w->pair_slot[h] - 1].src, f[i].src, 32) == 0) { seen = 1; break; }
        if (seen) continue;
        w->pair_slot[h] = i + 1;
        for (h = (size_t)hash_bytes(f[i].src, 2) & smask;; h = (h + 1) & smask) {
            uint32_t s = w->src_slot[h];
            if (s == 0) {
                w->srcs[nsrcs] = (struct source_count){ i, 1 };
                w->src_slot[h] = (uint32_t)++nsrcs;
                if (*most < 1) *most = 1;
                break;
            }
            struct source_count *c = &w->srcs[s - 1];
            if (memcmp(f[c->flow].src, f[i].src, 16) == 0) {
                if (++c->count > *most) *most = c->count;
                break;
            }
        }
    }
    return 0;
}

/* The most distinct destinations of one source among the flows (an address is its family and its bytes: the last
 * 4 of an IPv4-mapped one).  UINT64_MAX when out of memory. */
static uint64_t fanout_max(struct features_work *w, const struct tpp_flow_key *f, size_t n)
{
    uint64_t most = 0;
    size_t i = 1;
    /* In memcmp order, as the tables keep them, each source's flows are one run by destination. */
    while (i < n && memcmp(f[i - 1].src, f[i].src, 32) <= 0) i++;
    if (i >= n) {
        uint64_t count[2] = { 0, 0 }; /* IPv4, IPv6: a v4-mapped IPv6 address is another address */
        const struct tpp_flow_key *last[2] = { NULL, NULL };
        for (i = 0; i < n; i++) {
            int fam = f[i].ipv == 4 ? 0 : 1;
            const struct tpp_flow_key *p = last[fam];
            if (!p || memcmp(p->src, f[i].src, 16) != 0) count[fam] = 1;
            else if (memcmp(p->dst, f[i].dst, 16) != 0) count[fam]++;
            last[fam] = &f[i];
            if (count[fam] > most) most = count[fam];
        }
        return most;
    }
    if (n >= UINT32_MAX / 2) return UINT64_MAX;
    size_t pmask, smask, n6 = 0;
    int max_pair_seen = 0;
    if (slots_for(&w->pairs, &w->pairs_cap, n, sizeof *w->pairs, &pmask) != 0 ||
        slots_for(&w->sources, &w->sources_cap, n, sizeof *w->sources, &smask) != 0)
        return UINT64_MAX;
    for (i = 0; i < n; i++) {
        if (i + 8 < n && f[i + 8].ipv == 4) { /* a table larger than the caches: fetch the slots ahead */
            uint32_t s = v4_of(f[i + 8].src), d = v4_of(f[i + 8].dst);
            __builtin_prefetch(&w->pairs[(size_t)mix64(~((uint64_t)s << 32 | d)) & pmask], 1);
            __builtin_prefetch(&w->sources[(size_t)mix64(s) & smask], 1);
        }
        if (f[i].ipv == 4) {
            fanout_add4(w, pmask, smask, v4_of(f[i].src), v4_of(f[i].dst), &max_pair_seen, &most);
        } else {
            if (grow(&w->flows6, &w->flows6_cap, n6 + 1, sizeof *w->flows6) != 0) return UINT64_MAX;
            w->flows6[n6++] = (uint32_t)i;
        }
    }
    if (n6 && fanout6(w, f, w->flows6, n6, &most) != 0) return UINT64_MAX;
    return most;
}

/* ---- the interval ---- */

long features_finish(struct features_work *w, struct tpp_interval *iv, const struct feature_tables *t,
                     const struct tpp_options *o, int original, struct tpp_hh *hh)
{
    unsigned on = o->features;
    double none = original ? 0 : NAN; /* undefined, and the columns of a group switched off */
    int want_hh = (on & TPP_FEAT_HH) != 0;

    iv->entropy_tcp_src = iv->entropy_tcp_dst = iv->entropy_udp_src = iv->entropy_udp_dst = none;
    if (on & TPP_FEAT_PORTS) {
        double *col[TPP_NSERIES] = { &iv->entropy_tcp_src, &iv->entropy_tcp_dst, &iv->entropy_udp_src,
                                     &iv->entropy_udp_dst };
        for (int s = 0; s < TPP_NSERIES; s++) *col[s] = histogram_entropy(t->ports[s], t->nports[s], none);
    }

    size_t nhh = 0, k = o->hh_k;
    if (want_hh && grow(&w->heap, &w->heap_cap, 4 * (k ? k : 1), sizeof *w->heap) != 0) return -1;

    iv->src_p24 = iv->dst_p24 = iv->src_p16 = iv->dst_p16 = iv->entropy_src_p24 = iv->entropy_dst_p24 = none;
    if (on & (TPP_FEAT_PREFIXES | TPP_FEAT_HH)) {
        const struct tpp_addr_count *side[2] = { t->src, t->dst };
        size_t nside[2] = { t->nsrc, t->ndst };
        double *p24[2] = { &iv->src_p24, &iv->dst_p24 }, *p16[2] = { &iv->src_p16, &iv->dst_p16 };
        double *ent[2] = { &iv->entropy_src_p24, &iv->entropy_dst_p24 };
        struct topk top[2], top24[2];
        for (int d = 0; d < 2; d++) {
            struct side_scan s;
            int rc;
            const uint32_t *order = NULL;
            do { /* in the order given when it is address order (the tables' own), else sorted */
                topk_begin(&top[d], w->heap + d * k, k);
                topk_begin(&top24[d], w->heap + (2 + d) * k, k);
                s = (struct side_scan){ .hhh = want_hh, .dim = d ? TPP_HH_DST_HHH : TPP_HH_SRC_HHH,
                                        .phi = o->hhh_phi, .n = (double)iv->ip_packets,
                                        .top = want_hh ? &top[d] : NULL, .dim_top = d ? TPP_HH_DST : TPP_HH_SRC,
                                        .top24 = want_hh ? &top24[d] : NULL,
                                        .dim24 = d ? TPP_HH_DST_P24 : TPP_HH_SRC_P24 };
                rc = scan_side(w, d, side[d], order, nside[d], &s);
                if (rc == 1) {
                    if (address_order(w, side[d], nside[d]) != 0) return -1;
                    order = w->order;
                }
            } while (rc == 1);
            if (rc != 0) return -1;
            if (on & TPP_FEAT_PREFIXES) {
                *p24[d] = (double)s.p24;
                *p16[d] = (double)s.p16;
                *ent[d] = s.total ? addr_sums_entropy(&s.sums, s.total) : none;
            }
        }
        if (want_hh) /* src, dst, src_p24, dst_p24 */
            for (int d = 0; d < 2; d++) nhh += topk_emit(&top[d], hh + nhh);
        if (want_hh)
            for (int d = 0; d < 2; d++) nhh += topk_emit(&top24[d], hh + nhh);
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
        if (n > 0) { /* nearest ranks ceil(n / 2) and ceil(95 n / 100) */
            iv->len_p50 = length_at_rank(lens, t->nlens, n / 2 + n % 2);
            iv->len_p95 = length_at_rank(lens, t->nlens, (uint64_t)(((unsigned __int128)n * 95 + 99) / 100));
        }
    }

    if (want_hh) {
        static const int series[2] = { TPP_TCP_DST, TPP_UDP_DST };
        for (int d = 0; d < 2; d++) {
            size_t np = t->nports[series[d]], nb = t->nport_bytes[d];
            const struct tpp_value_count *p = ascending(w, 1, t->ports[series[d]], np);
            const struct tpp_value_count *b = ascending(w, 2, t->port_bytes[d], nb);
            if ((!p && np) || (!b && nb)) return -1;
            nhh += top_ports(w, p, np, b, nb, d ? TPP_HH_UDP_DPORT : TPP_HH_TCP_DPORT, k, hh + nhh);
        }
        for (int d = 0; d < 2; d++)
            for (size_t i = 0; i < w->nhhh[d]; i++) hh[nhh++] = w->hhh[d][i];
    }
    return (long)nhh;
}
