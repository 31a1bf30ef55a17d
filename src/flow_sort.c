/* flow_sort.c — see flow_sort.h. */
#include "flow_sort.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Big-endian loads (the host is little-endian, as features.c assumes too): one instruction each, where a loop of
 * shifts was most of a comparison's cost. */
static uint64_t be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

static uint32_t be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}

/* memcmp's order of two keys: the addresses as big-endian words decide nearly always. */
static int key_cmp(const struct tpp_flow_key *a, const struct tpp_flow_key *b)
{
    const uint8_t *x = a->src, *y = b->src;   /* src[16] and dst[16] are the first 32 bytes */
    for (int i = 0; i < 32; i += 8) {
        uint64_t u = be64(x + i), v = be64(y + i);
        if (u != v) return u < v ? -1 : 1;
    }
    uint32_t u = be32(a->sport), v = be32(b->sport);   /* the ports, then proto and ipv */
    if (u != v) return u < v ? -1 : 1;
    if (a->proto != b->proto) return a->proto < b->proto ? -1 : 1;
    return (a->ipv > b->ipv) - (a->ipv < b->ipv);
}

static int mark_cmp(const struct tpp_flow_mark *a, const struct tpp_flow_mark *b)
{
    int c = key_cmp(&a->key, &b->key);
    if (c) return c;
    if (a->interval != b->interval) return a->interval < b->interval ? -1 : 1;
    return (a->ns > b->ns) - (a->ns < b->ns);
}

/* A 64-bit rank that never decreases along memcmp's order of keys, exact for the source of an IPv4 flow and
 * nearly so for its destination: sorting the ranks (radix, 8 passes) orders nearly everything; the runs of equal
 * ranks (the same addresses) are then sorted by the full comparison. */

/* memcmp(a, ::ffff:0:0/96's 12 bytes, 12) as -1, 0, 1, without a call: a rank makes two. */
static int vs_mapped(const uint8_t *a)
{
    if (be64(a) != 0) return 1;
    uint32_t mid = be32(a + 8);
    return mid < 0xffff ? -1 : mid > 0xffff;
}

static uint64_t rank_of(const struct tpp_flow_key *k)
{
    int s = vs_mapped(k->src);
    if (s != 0) /* an IPv6 source below or above the mapped ones: its first 62 bits, the rest to the full order */
        return (uint64_t)(s < 0 ? 0 : 2) << 62 | be64(k->src) >> 2;
    int d = vs_mapped(k->dst);
    uint64_t dst = d == 0 ? 1ull << 28 | be32(k->dst + 12) >> 4 : d < 0 ? be32(k->dst) >> 4 : 2ull << 28 | be32(k->dst) >> 4;
    return 1ull << 62 | (uint64_t)be32(k->src + 12) << 30 | dst;
}

struct ref {
    uint64_t rank;
    size_t idx;
};

struct elements {
    const unsigned char *base;
    size_t size;
    int (*cmp)(const void *, const void *);
};

static int by_element(const void *x, const void *y, void *ud)
{
    const struct ref *a = x, *b = y;
    const struct elements *e = ud;
    return e->cmp(e->base + a->idx * e->size, e->base + b->idx * e->size);
}

static int key_cmp_any(const void *a, const void *b) { return key_cmp(a, b); }
static int mark_cmp_any(const void *a, const void *b) { return mark_cmp(a, b); }

/* LSD radix sort of r[0..n) on rank: six digits of 11 bits, all counted in one read; a digit that is the same in
 * every rank is skipped.  Sorts between r and tmp; returns the one holding the result. */
enum { DIGIT = 11, DIGITS = 6, BUCKETS = 1 << DIGIT };
static struct ref *radix_sort(struct ref *r, struct ref *tmp, size_t n, size_t (*count)[BUCKETS])
{
    memset(count, 0, DIGITS * sizeof *count);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < DIGITS; d++) count[d][(r[i].rank >> (d * DIGIT)) & (BUCKETS - 1)]++;
    for (int d = 0; d < DIGITS; d++) {
        int shift = d * DIGIT;
        if (count[d][(r[0].rank >> shift) & (BUCKETS - 1)] == n) continue;
        size_t sum = 0;
        for (int b = 0; b < BUCKETS; b++) {
            size_t c = count[d][b];
            count[d][b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) tmp[count[d][(r[i].rank >> shift) & (BUCKETS - 1)]++] = r[i];
        struct ref *swap = r;
        r = tmp;
        tmp = swap;
    }
    return r;
}

/* The references of b[0..n) (n >= 2) in sorted order, in a new array (NULL when out of memory). */
static struct ref *sorted_refs(const unsigned char *b, size_t n, size_t size, uint64_t (*rank)(const void *),
                               int (*cmp)(const void *, const void *))
{
    struct ref *r = malloc(n * sizeof *r), *tmp = malloc(n * sizeof *tmp);
    size_t (*count)[BUCKETS] = malloc(DIGITS * sizeof *count);
    if (!r || !tmp || !count) { free(r); free(tmp); free(count); return NULL; }
    for (size_t i = 0; i < n; i++) r[i] = (struct ref){ rank(b + i * size), i };
    struct ref *sorted = radix_sort(r, tmp, n, count);
    free(count);
    free(sorted == r ? tmp : r);
    struct elements e = { b, size, cmp };
    for (size_t i = 0, j; i < n; i = j) { /* runs of equal ranks */
        for (j = i + 1; j < n && sorted[j].rank == sorted[i].rank; j++) {}
        if (j - i > 1) qsort_r(sorted + i, j - i, sizeof *sorted, by_element, &e);
    }
    return sorted;
}

/* out[0..n) := in[0..n) sorted; in and out do not overlap. */
static int sort_by_rank(const void *in, size_t n, size_t size, void *out, uint64_t (*rank)(const void *),
                        int (*cmp)(const void *, const void *))
{
    const unsigned char *b = in;
    unsigned char *o = out;
    if (n < 2) {
        if (n) memcpy(out, in, size);
        return 0;
    }
    struct ref *sorted = sorted_refs(b, n, size, rank, cmp);
    if (!sorted) return -1;
    /* gather: the loads are independent, and the ones a few places ahead are already on their way */
    enum { AHEAD = 8 };
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n) __builtin_prefetch(b + sorted[i + AHEAD].idx * size);
        memcpy(o + i * size, b + sorted[i].idx * size, size);
    }
    free(sorted);
    return 0;
}

static uint64_t key_rank(const void *k) { return rank_of(k); }
static uint64_t mark_rank(const void *m) { return rank_of(&((const struct tpp_flow_mark *)m)->key); }

int flow_sort_keys(const struct tpp_flow_key *in, size_t n, struct tpp_flow_key *out)
{
    return sort_by_rank(in, n, sizeof *in, out, key_rank, key_cmp_any);
}

int flow_sort_marks(const struct tpp_flow_mark *in, size_t n, struct tpp_flow_mark *out)
{
    return sort_by_rank(in, n, sizeof *in, out, mark_rank, mark_cmp_any);
}

/* In place: an MSD radix sort on the rank, one byte a level (the American flag sort: each bucket's elements are
 * swapped into place, the buckets filled from their starts), with the small buckets and the runs of equal ranks
 * finished by the full comparison.  Each bucket is written in sequence, so its next place is fetched ahead. */
enum { SMALL = 32 };

static unsigned digit_of(const struct tpp_flow_mark *m, int level)
{
    return (unsigned)(rank_of(&m->key) >> (56 - 8 * level)) & 0xff;
}

static void insertion_sort(struct tpp_flow_mark *m, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct tpp_flow_mark x = m[i];
        size_t j = i;
        for (; j > 0 && mark_cmp(&m[j - 1], &x) > 0; j--) m[j] = m[j - 1];
        m[j] = x;
    }
}

static void flag_sort(struct tpp_flow_mark *m, size_t n, int level)
{
    if (n <= SMALL) {
        insertion_sort(m, n);
        return;
    }
    if (level == 8) { /* equal ranks */
        qsort(m, n, sizeof *m, mark_cmp_any);
        return;
    }
    size_t count[256] = { 0 }, next[256], end[256];
    for (size_t i = 0; i < n; i++) count[digit_of(&m[i], level)]++;
    if (count[digit_of(&m[0], level)] == n) { /* one bucket (addresses of one /8, say): nothing moves */
        flag_sort(m, n, level + 1);
        return;
    }
    size_t sum = 0;
    for (int b = 0; b < 256; b++) {
        next[b] = sum;
        sum += count[b];
        end[b] = sum;
    }
    for (unsigned b = 0; b < 256; b++) {
        while (next[b] < end[b]) {
            struct tpp_flow_mark v = m[next[b]];
            unsigned d = digit_of(&v, level);
            while (d != b) { /* v belongs in bucket d: put it there, and carry on with the mark it displaces */
                size_t at = next[d]++;
                if (at + 2 < end[d]) __builtin_prefetch(&m[at + 2], 1);
                struct tpp_flow_mark t = m[at];
                m[at] = v;
                v = t;
                d = digit_of(&v, level);
            }
            m[next[b]++] = v;
        }
    }
    for (size_t b = 0, from = 0; b < 256; from = end[b], b++)
        if (end[b] - from > 1) flag_sort(m + from, end[b] - from, level + 1);
}

int flow_sort_marks_in_place(struct tpp_flow_mark *m, size_t n)
{
    flag_sort(m, n, 0);
    return 0;
}
