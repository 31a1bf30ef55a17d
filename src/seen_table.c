/* seen_table.c — see seen_table.h. */
#include "seen_table.h"
#include "radix_sort.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL (1u << 12)

static uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint64_t hash4(uint32_t key) { return (key * 0x9E3779B97F4A7C15ull) >> 32; }
static uint64_t hash6(uint64_t hi, uint64_t lo)
{
    uint64_t h = lo * 0x9E3779B97F4A7C15ull ^ hi;
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ h >> 32;
}

static uint64_t find4(const struct seen_slot4 *s, uint64_t mask, uint32_t key)
{
    uint64_t i = hash4(key) & mask;
    while (s[i].first1 && s[i].key != key) i = (i + 1) & mask;
    return i;
}

static uint64_t find6(const struct seen_slot6 *s, uint64_t mask, uint64_t hi, uint64_t lo)
{
    uint64_t i = hash6(hi, lo) & mask;
    while (s[i].first1 && (s[i].hi != hi || s[i].lo != lo)) i = (i + 1) & mask;
    return i;
}

int seen_table_init(struct seen_table *t)
{
    memset(t, 0, sizeof *t);
    t->v4 = calloc(INITIAL, sizeof *t->v4);
    t->v6 = calloc(INITIAL, sizeof *t->v6);
    t->mask4 = t->mask6 = INITIAL - 1;
    if (!t->v4 || !t->v6) { seen_table_free(t); return -1; }
    return 0;
}

void seen_table_free(struct seen_table *t)
{
    free(t->v4);
    free(t->v6);
    memset(t, 0, sizeof *t);
}

static int grow4(struct seen_table *t)
{
    uint64_t cap = (t->mask4 + 1) * 2;
    struct seen_slot4 *s = calloc(cap, sizeof *s);
    if (!s) return -1;
    for (uint64_t i = 0; i <= t->mask4; i++)
        if (t->v4[i].first1) s[find4(s, cap - 1, t->v4[i].key)] = t->v4[i];
    free(t->v4);
    t->v4 = s;
    t->mask4 = cap - 1;
    return 0;
}

static int grow6(struct seen_table *t)
{
    uint64_t cap = (t->mask6 + 1) * 2;
    struct seen_slot6 *s = calloc(cap, sizeof *s);
    if (!s) return -1;
    for (uint64_t i = 0; i <= t->mask6; i++)
        if (t->v6[i].first1) s[find6(s, cap - 1, t->v6[i].hi, t->v6[i].lo)] = t->v6[i];
    free(t->v6);
    t->v6 = s;
    t->mask6 = cap - 1;
    return 0;
}

int seen_table_add(struct seen_table *t, const uint8_t addr[16], int ipv, uint32_t interval)
{
    if (ipv == 4) {
        uint32_t key = load32(addr + 12);
        uint64_t i = find4(t->v4, t->mask4, key);
        if (t->v4[i].first1) return 0;
        if (t->n4 + 1 > (t->mask4 + 1) / 2) {
            if (grow4(t) != 0) return -1;
            i = find4(t->v4, t->mask4, key);
        }
        t->v4[i] = (struct seen_slot4){ key, interval + 1 };
        t->n4++;
        return 1;
    }
    uint64_t hi = load64(addr), lo = load64(addr + 8);
    uint64_t i = find6(t->v6, t->mask6, hi, lo);
    if (t->v6[i].first1) return 0;
    if (t->n6 + 1 > (t->mask6 + 1) / 2) {
        if (grow6(t) != 0) return -1;
        i = find6(t->v6, t->mask6, hi, lo);
    }
    t->v6[i] = (struct seen_slot6){ hi, lo, interval + 1, 0 };
    t->n6++;
    return 1;
}

void seen_table_prefetch(const struct seen_table *t, const uint8_t addr[16], int ipv)
{
    if (ipv == 4) __builtin_prefetch(&t->v4[hash4(load32(addr + 12)) & t->mask4], 1);
    else __builtin_prefetch(&t->v6[hash6(load64(addr), load64(addr + 8)) & t->mask6], 1);
}

static int by_address(const void *x, const void *y)
{
    const struct tpp_seen *a = x, *b = y;
    return memcmp(a->addr, b->addr, 16);
}

/* IPv4 addresses first (ipv 4 < 6), radix-sorted as (address << 32 | first interval); then IPv6 ones, sorted by
 * comparison (few of them on most traces). */
int seen_table_export(const struct seen_table *t, struct tpp_seen **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t total = (size_t)(t->n4 + t->n6), k = 0;
    if (total == 0) return 0;
    struct tpp_seen *e = malloc(total * sizeof *e);
    uint64_t *v = malloc((t->n4 + 1) * sizeof *v), *tmp = malloc((t->n4 + 1) * sizeof *tmp);
    if (!e || !v || !tmp) { free(e); free(v); free(tmp); return -1; }
    for (uint64_t i = 0; i <= t->mask4; i++) {
        if (!t->v4[i].first1) continue;
        const uint8_t *a = (const uint8_t *)&t->v4[i].key;
        uint64_t key = (uint64_t)a[0] << 24 | (uint64_t)a[1] << 16 | (uint64_t)a[2] << 8 | a[3];
        v[k++] = key << 32 | (t->v4[i].first1 - 1);
    }
    radix_sort_high32(v, tmp, k);
    for (size_t i = 0; i < k; i++) {
        struct tpp_seen *x = &e[i];
        uint32_t key = (uint32_t)(v[i] >> 32);
        memset(x->addr, 0, 12);
        x->addr[12] = (uint8_t)(key >> 24);
        x->addr[13] = (uint8_t)(key >> 16);
        x->addr[14] = (uint8_t)(key >> 8);
        x->addr[15] = (uint8_t)key;
        x->ipv = 4;
        x->first = (uint32_t)v[i];
    }
    free(v);
    free(tmp);
    for (uint64_t i = 0; i <= t->mask6; i++) {
        if (!t->v6[i].first1) continue;
        struct tpp_seen *x = &e[k++];
        memcpy(x->addr, &t->v6[i].hi, 8);
        memcpy(x->addr + 8, &t->v6[i].lo, 8);
        x->ipv = 6;
        x->first = t->v6[i].first1 - 1;
    }
    qsort(e + t->n4, (size_t)t->n6, sizeof *e, by_address);
    *out = e;
    *n = total;
    return 0;
}
