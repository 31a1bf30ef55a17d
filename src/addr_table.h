/* addr_table.h — per-interval counts of addresses: open addressing with keys inline.
 *
 * IPv4 addresses live in a table of 8-byte slots, IPv6 addresses in
 * one of 32-byte slots: on backbone traces the tables are hit at random for every packet, so keeping them small
 * keeps them in cache.  Slots that were used are remembered in lists, so reading the counts and clearing the
 * table cost as much as the interval's distinct addresses, not the table's capacity.  Each table doubles when
 * half full; that is the only allocation after init.
 */
#ifndef TPP_ADDR_TABLE_H
#define TPP_ADDR_TABLE_H

#include <stdint.h>

struct addr_slot4 { uint32_t key, count; };              /* count 0 = empty */
struct addr_slot6 { uint64_t hi, lo; uint64_t count, bytes; }; /* hi, lo: the address bytes as two words */

struct addr_table {
    struct addr_slot4 *v4;
    struct addr_slot6 *v6;
    uint64_t *bytes4;         /* Σ IP length per IPv4 slot, beside the slots (NULL when bytes are not counted:
                               * the heavy hitters are off and the 8-byte slots stay as small as they were) */
    uint32_t *used4, *used6;  /* indices of occupied slots */
    uint32_t nused4, nused6, mask4, mask6;
};

/* with_bytes: also sum the IP lengths per address. */
int addr_table_init(struct addr_table *t, int with_bytes);
void addr_table_free(struct addr_table *t);
/* Count one occurrence of `addr` from an IPv`ipv` header (4: the last 4 bytes are the address) in a packet of
 * `bytes` IP bytes; 0 on success, -1 when growing failed. */
int addr_table_add(struct addr_table *t, const uint8_t addr[16], int ipv, uint32_t bytes);
/* Start loading the slot of `addr` into the cache: it is about to be added. */
void addr_table_prefetch(const struct addr_table *t, const uint8_t addr[16], int ipv);
/* Number of distinct addresses counted. */
static inline uint32_t addr_table_size(const struct addr_table *t) { return t->nused4 + t->nused6; }
/* Call fn(count, ud) for each distinct address. */
void addr_table_each(const struct addr_table *t, void (*fn)(uint64_t count, void *ud), void *ud);
/* Call fn(addr, ipv, count, bytes, ud) for each distinct address (addr as given to addr_table_add, with the last 4
 * bytes of an IPv4 address after 12 zero bytes; bytes 0 when not counted). */
void addr_table_each_address(const struct addr_table *t,
                             void (*fn)(const uint8_t addr[16], int ipv, uint64_t count, uint64_t bytes, void *ud),
                             void *ud);
/* Forget every count. */
void addr_table_clear(struct addr_table *t);

#endif
