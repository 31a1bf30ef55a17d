/* pcapng_records.h — the pcapng file format, as tpp reads it itself (capture.c).
 *
 * These functions parse one whole block that capture.c holds in its buffer; they never read outside the block
 * and never allocate.  What they accept follows libpcap's reader, so that both give the same frames on every
 * file libpcap reads, but more files are read: interfaces of different link types or snapshot lengths, and
 * sections of different byte orders.
 *
 * A block is type (4 bytes), total length (4), body, total length again (4); the length counts all of it and is
 * a multiple of 4.  A section starts with a Section Header Block (SHB) that gives the byte order of its blocks;
 * its Interface Description Blocks (IDB) number the interfaces 0, 1, ... in order, and each packet block names
 * its interface.  Packet blocks: Enhanced (EPB), Simple (SPB: no timestamp, no interface, no captured length)
 * and the obsolete Packet Block (PB).  Other blocks (name resolution, statistics, secrets, custom) are skipped.
 * An SPB belongs to interface 0 and holds min(wire length, interface 0's snapshot length) bytes; capture.c gives
 * it the time of the packet before it (libpcap gives it time 0, i.e. 1970 plus interface 0's if_tsoffset, which
 * tpp keeps only for an SPB that comes first).
 */
#ifndef TPP_PCAPNG_RECORDS_H
#define TPP_PCAPNG_RECORDS_H

#include <stddef.h>
#include <stdint.h>

enum {
    PCAPNG_SHB = 0x0A0D0D0A,
    PCAPNG_IDB = 1,
    PCAPNG_PB = 2,
    PCAPNG_SPB = 3,
    PCAPNG_EPB = 6,
    PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D,
    PCAPNG_BLOCK_MIN = 12,    /* type, length, trailing length */
    PCAPNG_SHB_MIN = 28,      /* + byte-order magic, version, section length */
    PCAPNG_SHB_MAX = 1 << 20, /* libpcap's limit for the first section header */
};

/* One interface of the current section. */
struct pcapng_iface {
    int linktype;        /* LINKTYPE_ number */
    uint32_t snaplen;    /* 0 or above the link type's maximum means the maximum */
    uint64_t tsresol;    /* timestamp units per second: 10^n or 2^n */
    int tsresol_binary;  /* a power of 2 */
    int64_t tsoffset;    /* seconds added to every timestamp */
    int filter;          /* capture.c: which compiled filter applies */
};

/* A packet block's fields: where its data is, and the raw timestamp in the interface's units. */
struct pcapng_packet {
    uint32_t iface;
    uint32_t caplen, wirelen;
    uint64_t ts;
    int has_ts;          /* an SPB has none */
    size_t data_offset;  /* from the start of the block */
    size_t room;         /* bytes the block has for the data (and options): caplen must fit */
};

/* libpcap's maximum snapshot length for a link type, and the snapshot length it uses for an IDB's. */
uint32_t pcapng_max_snaplen(int linktype);
uint32_t pcapng_snaplen(int linktype, uint32_t snaplen);
/* The largest block accepted once a link type has been seen (room for its largest packet and options). */
uint32_t pcapng_max_block(int linktype);

/* An SHB's byte order from its first 12 bytes: 0 as this machine, 1 swapped, -1 not an SHB. */
int pcapng_shb_byte_order(const uint8_t *block);
/* Check a whole SHB of `len` bytes; 0, or -1 with a message. */
int pcapng_shb(const uint8_t *block, uint32_t len, int swapped, char *err, size_t errlen);
/* Parse a whole IDB into *iface (all but filter); 0, or -1 with a message. */
int pcapng_idb(const uint8_t *block, uint32_t len, int swapped, struct pcapng_iface *iface, char *err,
               size_t errlen);
/* "enhanced packet block", ... for messages. */
const char *pcapng_block_name(uint32_t type);
/* Parse a whole EPB, SPB or PB; the caller checks the interface, then caplen against the interface's snapshot
 * length and the block's room, in libpcap's order.  An SPB takes its captured length from `spb_snaplen`
 * (interface 0's).  0, or -1 with a message. */
int pcapng_packet(const uint8_t *block, uint32_t len, uint32_t type, int swapped, uint32_t spb_snaplen,
                  struct pcapng_packet *pkt, char *err, size_t errlen);
/* The timestamp in nanoseconds since the epoch; -1 when beyond what an int64 holds.  *exact_only is set when
 * libpcap 1.10 computes this one differently (its power-of-2 fraction arithmetic overflows past 2^-34 s). */
int pcapng_timestamp(const struct pcapng_iface *iface, uint64_t ts, int64_t *ns, int *exact_only);

#endif
