/* addr_table.c — see addr_table.h. */
#include "addr_table.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_CAPACITY (1u << 13)

/* Keys need only be distinct, not in network order: load the bytes as they lie. */
static uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint32_t mix64(uint64_t h)
{
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* Fibonacci hashing: the high half of one multiplication spreads IPv4 addresses well. */
static uint32_t hash4(uint32_t key) { return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32); }
static uint32_t hash6(uint64_t hi, uint64_t lo) { return mix64(lo * 0x9E3779B97F4A7C15ull ^ hi); }

static uint32_t find4(const struct addr_slot4 *s, uint32_t mask, uint32_t key)
{
    uint32_t i = hash4(key) & mask;
    while (s[i].count && s[i].key != key) i = (i + 1) & mask;
    return i;
}

static uint32_t find6(const struct addr_slot6 *s, uint32_t mask, uint64_t hi, uint64_t lo)
{
    uint32_t i = hash6(hi, lo) & mask;
    while (s[i].count && (s[i].hi != hi || s[i].lo != lo)) i = (i + 1) & mask;
    return i;
}

int addr_table_init(struct addr_table *t, int with_bytes)
{
    memset(t, 0, sizeof *t);
    t->v4 = calloc(INITIAL_CAPACITY, sizeof *t->v4);
    if (with_bytes && !(t->bytes4 = calloc(INITIAL_CAPACITY, sizeof *t->bytes4))) { free(t->v4); return -1; }
    t->v6 = calloc(INITIAL_CAPACITY, sizeof *t->v6);
    t->used4 = malloc(INITIAL_CAPACITY / 2 * sizeof *t->used4);
    t->used6 = malloc(INITIAL_CAPACITY / 2 * sizeof *t->used6);
    t->mask4 = t->mask6 = INITIAL_CAPACITY - 1;
    if (!t->v4 || !t->v6 || !t->used4 || !t->used6) { addr_table_free(t); return -1; }
    return 0;
}

void addr_table_free(struct addr_table *t)
{
    free(t->v4); free(t->v6); free(t->used4); free(t->used6); free(t->bytes4);
    memset(t, 0, sizeof *t);
}

/* Double a table, re-placing its occupied slots (found through its used list).  0 on success. */
static int grow4(struct addr_table *t)
{
    uint32_t cap = (t->mask4 + 1) * 2;
    struct addr_slot4 *s = calloc(cap, sizeof *s);
    uint32_t *used = malloc((size_t)cap / 2 * sizeof *used);
    uint64_t *bytes = t->bytes4 ? calloc(cap, sizeof *bytes) : NULL;
    if (!s || !used || (t->bytes4 && !bytes)) { free(s); free(used); free(bytes); return -1; }
    for (uint32_t k = 0; k < t->nused4; k++) {
        const struct addr_slot4 *old = &t->v4[t->used4[k]];
        uint32_t i = find4(s, cap - 1, old->key);
        s[i] = *old;
        if (bytes) bytes[i] = t->bytes4[t->used4[k]];
        used[k] = i;
    }
    free(t->v4); free(t->used4); free(t->bytes4);
    t->v4 = s; t->used4 = used; t->mask4 = cap - 1; t->bytes4 = bytes;
    return 0;
}

static int grow6(struct addr_table *t)
{
    uint32_t cap = (t->mask6 + 1) * 2;
    struct addr_slot6 *s = calloc(cap, sizeof *s);
    uint32_t *used = malloc((size_t)cap / 2 * sizeof *used);
    if (!s || !used) { free(s); free(used); return -1; }
    for (uint32_t k = 0; k < t->nused6; k++) {
        const struct addr_slot6 *old = &t->v6[t->used6[k]];
        uint32_t i = find6(s, cap - 1, old->hi, old->lo);
        s[i] = *old;
        used[k] = i;
    }
    free(t->v6); free(t->used6);
    t->v6 = s; t->used6 = used; t->mask6 = cap - 1;
    return 0;
}

int addr_table_add(struct addr_table *t, const uint8_t addr[16], int ipv, uint32_t bytes)
{
    if (ipv == 4) {
        uint32_t key = load32(addr + 12);
        uint32_t i = find4(t->v4, t->mask4, key);
        if (t->v4[i].count) {
            t->v4[i].count++;
            if (t->bytes4) t->bytes4[i] += bytes;
            return 0;
        }
        if (t->nused4 + 1 > (t->mask4 + 1) / 2) {
            if (grow4(t) != 0) return -1;
            i = find4(t->v4, t->mask4, key);
        }
        t->v4[i] = (struct addr_slot4){ key, 1 };
        if (t->bytes4) t->bytes4[i] = bytes;
        t->used4[t->nused4++] = i;
        return 0;
    }
    uint64_t hi = load64(addr), lo = load64(addr + 8);
    uint32_t i = find6(t->v6, t->mask6, hi, lo);
    if (t->v6[i].count) { t->v6[i].count++; t->v6[i].bytes += bytes; return 0; }
    if (t->nused6 + 1 > (t->mask6 + 1) / 2) {
        if (grow6(t) != 0) return -1;
        i = find6(t->v6, t->mask6, hi, lo);
    }
    t->v6[i] = (struct addr_slot6){ hi, lo, 1, bytes };
    t->used6[t->nused6++] = i;
    return 0;
}

void addr_table_prefetch(const struct addr_table *t, const uint8_t addr[16], int ipv)
{
    if (ipv == 4) __builtin_prefetch(&t->v4[hash4(load32(addr + 12)) & t->mask4], 1);
    else __builtin_prefetch(&t->v6[hash6(load64(addr), load64(addr + 8)) & t->mask6], 1);
}

/* A table more than an eighth full is read and cleared by one sequential pass over its slots, which costs less
 * than jumping to each used slot through the list (a cache miss each when the table is large). */
static int dense(uint32_t nused, uint32_t mask) { return nused > (mask + 1) / 8; }

void addr_table_each(const struct addr_table *t, void (*fn)(uint64_t count, void *ud), void *ud)
{
    if (dense(t->nused4, t->mask4)) {
        for (uint32_t i = 0; i <= t->mask4; i++)
            if (t->v4[i].count) fn(t->v4[i].count, ud);
    } else {
        for (uint32_t k = 0; k < t->nused4; k++) fn(t->v4[t->used4[k]].count, ud);
    }
    if (dense(t->nused6, t->mask6)) {
        for (uint32_t i = 0; i <= t->mask6; i++)
            if (t->v6[i].count) fn(t->v6[i].count, ud);
    } else {
        for (uint32_t k = 0; k < t->nused6; k++) fn(t->v6[t->used6[k]].count, ud);
    }
}

void addr_table_each_address(const struct addr_table *t,
                             void (*fn)(const uint8_t addr[16], int ipv, uint64_t count, uint64_t bytes, void *ud),
                             void *ud)
{
    uint8_t addr[16] = { 0 };
    for (uint32_t k = 0; k < t->nused4; k++) {
        const struct addr_slot4 *s = &t->v4[t->used4[k]];
        memcpy(addr + 12, &s->key, 4);
        fn(addr, 4, s->count, t->bytes4 ? t->bytes4[t->used4[k]] : 0, ud);
    }
    for (uint32_t k = 0; k < t->nused6; k++) {
        const struct addr_slot6 *s = &t->v6[t->used6[k]];
        memcpy(addr, &s->hi, 8);
        memcpy(addr + 8, &s->lo, 8);
        fn(addr, 6, s->count, s->bytes, ud);
    }
}

void addr_table_clear(struct addr_table *t)
{
    if (dense(t->nused4, t->mask4)) memset(t->v4, 0, ((size_t)t->mask4 + 1) * sizeof *t->v4);
    else for (uint32_t k = 0; k < t->nused4; k++) t->v4[t->used4[k]].count = 0;
    if (dense(t->nused6, t->mask6)) memset(t->v6, 0, ((size_t)t->mask6 + 1) * sizeof *t->v6);
    else for (uint32_t k = 0; k < t->nused6; k++) t->v6[t->used6[k]].count = 0;
    t->nused4 = t->nused6 = 0;
}
