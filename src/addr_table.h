/* addr_table.h — per-interval counts of addresses: open addressing, 16-byte keys inline.
 *
 * Slots that were used are remembered in a list, so reading the counts and clearing the table cost only as
 * much as the interval's distinct addresses, not the table's capacity.  The table doubles when half full;
 * that is the only allocation after init.
 */
#ifndef TPP_ADDR_TABLE_H
#define TPP_ADDR_TABLE_H

#include <stdint.h>

struct addr_slot {
    uint64_t hi, lo;   /* the address as two big-endian halves */
    uint64_t count;    /* 0 = empty */
};

struct addr_table {
    struct addr_slot *slots;
    uint32_t *used;    /* indices of occupied slots, in insertion order */
    uint32_t nused, mask;
};

int addr_table_init(struct addr_table *t, uint32_t capacity_pow2);
void addr_table_free(struct addr_table *t);
/* Count one occurrence of `addr`; 0 on success, -1 when growing failed. */
int addr_table_add(struct addr_table *t, const uint8_t addr[16]);
/* Forget every count (cost proportional to the addresses counted since the last clear). */
void addr_table_clear(struct addr_table *t);

#endif
