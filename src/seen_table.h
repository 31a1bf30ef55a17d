/* seen_table.h — every address of the capture with the interval it was first seen in (the novelty group).
 *
 * Probed once per distinct address per interval, when the interval closes (not per packet); open addressing with
 * keys inline, 8-byte slots for IPv4 and 24-byte ones for IPv6, doubling when half full.
 */
#ifndef TPP_SEEN_TABLE_H
#define TPP_SEEN_TABLE_H

#include "tpp/result.h"

#include <stddef.h>
#include <stdint.h>

struct seen_slot4 { uint32_t key, first1; };                 /* first1: first interval + 1; 0 = empty */
struct seen_slot6 { uint64_t hi, lo; uint32_t first1, pad; };

struct seen_table {
    struct seen_slot4 *v4;
    struct seen_slot6 *v6;
    uint64_t mask4, mask6, n4, n6;
};

int seen_table_init(struct seen_table *t);
void seen_table_free(struct seen_table *t);
/* Note that `addr` (as in tpp/result.h's tables: IPv4 in the last 4 bytes) was seen in `interval`: 1 when it is
 * new, 0 when it was seen before, -1 when out of memory. */
int seen_table_add(struct seen_table *t, const uint8_t addr[16], int ipv, uint32_t interval);
/* Start loading the slot of `addr`: it is about to be added. */
void seen_table_prefetch(const struct seen_table *t, const uint8_t addr[16], int ipv);
/* Every address with its first interval, sorted by (ipv, addr), in a new array (*out NULL when empty); 0 on
 * success. */
int seen_table_export(const struct seen_table *t, struct tpp_seen **out, size_t *n);

#endif
