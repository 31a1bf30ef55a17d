/* addr_table.c — see addr_table.h. */
#include "addr_table.h"

#include <stdlib.h>
#include <string.h>

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static uint32_t slot_hash(uint64_t hi, uint64_t lo)
{
    uint64_t h = lo * 0x9E3779B97F4A7C15ull ^ hi;
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

int addr_table_init(struct addr_table *t, uint32_t cap)
{
    t->slots = calloc(cap, sizeof *t->slots);
    t->used = malloc((size_t)cap / 2 * sizeof *t->used);
    t->nused = 0;
    t->mask = cap - 1;
    if (!t->slots || !t->used) { addr_table_free(t); return -1; }
    return 0;
}

void addr_table_free(struct addr_table *t)
{
    free(t->slots);
    free(t->used);
    t->slots = NULL;
    t->used = NULL;
}

static uint32_t find_slot(const struct addr_slot *slots, uint32_t mask, uint64_t hi, uint64_t lo)
{
    uint32_t i = slot_hash(hi, lo) & mask;
    while (slots[i].count && (slots[i].hi != hi || slots[i].lo != lo)) i = (i + 1) & mask;
    return i;
}

/* Double the capacity, re-placing the occupied slots (found through the used list). */
static int grow(struct addr_table *t)
{
    uint32_t cap = (t->mask + 1) * 2;
    struct addr_slot *slots = calloc(cap, sizeof *slots);
    uint32_t *used = malloc((size_t)cap / 2 * sizeof *used);
    if (!slots || !used) { free(slots); free(used); return -1; }
    for (uint32_t k = 0; k < t->nused; k++) {
        const struct addr_slot *s = &t->slots[t->used[k]];
        uint32_t i = find_slot(slots, cap - 1, s->hi, s->lo);
        slots[i] = *s;
        used[k] = i;
    }
    free(t->slots);
    free(t->used);
    t->slots = slots;
    t->used = used;
    t->mask = cap - 1;
    return 0;
}

int addr_table_add(struct addr_table *t, const uint8_t addr[16])
{
    uint64_t hi = load_be64(addr), lo = load_be64(addr + 8);
    uint32_t i = find_slot(t->slots, t->mask, hi, lo);
    if (t->slots[i].count) { t->slots[i].count++; return 0; }
    if (t->nused + 1 > (t->mask + 1) / 2) {
        if (grow(t) != 0) return -1;
        i = find_slot(t->slots, t->mask, hi, lo);
    }
    t->slots[i] = (struct addr_slot){ hi, lo, 1 };
    t->used[t->nused++] = i;
    return 0;
}

void addr_table_clear(struct addr_table *t)
{
    for (uint32_t k = 0; k < t->nused; k++) t->slots[t->used[k]].count = 0;
    t->nused = 0;
}
