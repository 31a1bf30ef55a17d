/* flow_table.h — every 5-tuple of the capture still alive: its last packet's time and the interval of that packet.
 *
 * One probe per IP packet answers both questions the flows group asks: is this the flow's first packet in the
 * interval (it joins the interval's flow list) and is the flow new (no packet within flow_timeout before).
 * Backbone traces have about as many flows as packets, so the entries are small: 24 bytes for IPv4 (exact key,
 * nanosecond time, a 24-bit interval generation), 48 for IPv6 in a table of their own.  Entries whose last
 * packet is older than flow_timeout are swept before a table grows, never per packet; growing is the only
 * allocation.
 */
#ifndef TPP_FLOW_TABLE_H
#define TPP_FLOW_TABLE_H

#include "tpp/packet.h"
#include "tpp/result.h"

#include <stdint.h>

/* Addresses as raw bytes (IPv4: one 32-bit word; IPv6: two words each), `rest` = sport | dport << 16 |
 * proto << 32 | generation << 40 (generation 0: the slot is empty). */
struct flow_slot4 { uint64_t addrs, rest; int64_t last_ns; };
struct flow_slot6 { uint64_t src[2], dst[2], rest; int64_t last_ns; };

struct flow_table {
    struct flow_slot4 *v4;
    struct flow_slot6 *v6;
    uint64_t mask4, mask6, n4, n6;
    uint64_t gen;              /* the current interval's generation, 1 .. FLOW_GENERATIONS */
    uint64_t base;             /* the interval index of generation 1 */
    int64_t timeout;           /* flow_timeout, ns */
};

int flow_table_init(struct flow_table *t, int64_t timeout_ns);
void flow_table_free(struct flow_table *t);

/* What flow_table_touch() found. */
enum flow_seen { FLOW_AGAIN, FLOW_FIRST_IN_INTERVAL, FLOW_UNKNOWN, FLOW_NO_MEMORY = -1 };

/* Record packet p (of an IPv4 or IPv6 flow) in the current interval: FLOW_AGAIN when its flow already had a packet
 * in this interval; FLOW_FIRST_IN_INTERVAL with *prev_ns the flow's previous packet (an earlier interval);
 * FLOW_UNKNOWN when the flow had no packet before (or none within flow_timeout of a sweep). */
enum flow_seen flow_table_touch(struct flow_table *t, const struct tpp_packet *p, int64_t *prev_ns);
void flow_table_prefetch(const struct flow_table *t, const struct tpp_packet *p);
/* The interval after the current one begins (interval indices ascend by one). */
void flow_table_next_interval(struct flow_table *t);

/* The 5-tuple of p as a result stores it (tpp/result.h). */
void flow_key_of_packet(const struct tpp_packet *p, struct tpp_flow_key *k);

/* Call fn for each flow: its key, last packet time, and the interval of that packet (UINT32_MAX when it is more
 * than 2^24 intervals back: the generation no longer tells). */
void flow_table_each(const struct flow_table *t,
                     void (*fn)(const struct tpp_flow_key *k, int64_t last_ns, uint32_t interval, void *ud), void *ud);

/* The same walk, freeing the table as it goes (flow_table_free() is done). */
void flow_table_drain(struct flow_table *t,
                      void (*fn)(const struct tpp_flow_key *k, int64_t last_ns, uint32_t interval, void *ud), void *ud);

#endif
