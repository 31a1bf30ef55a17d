/* pcap_records.c — see pcap_records.h. */
#include "pcap_records.h"

#include <stdio.h>
#include <string.h>

enum {
    MAGIC_MICRO = 0xa1b2c3d4,
    MAGIC_NANO = 0xa1b23c4d,
};

static uint32_t load32(const uint8_t *p, int swapped)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

static uint16_t load16(const uint8_t *p, int swapped)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return swapped ? __builtin_bswap16(v) : v;
}

int pcap_records_open(struct pcap_records *r, const uint8_t h[PCAP_FILE_HEADER_SIZE])
{
    uint32_t magic = load32(h, 0);
    r->swapped = magic == __builtin_bswap32(MAGIC_MICRO) || magic == __builtin_bswap32(MAGIC_NANO);
    magic = load32(h, r->swapped);
    if (magic != MAGIC_MICRO && magic != MAGIC_NANO) return -1;
    if (load16(h + 4, r->swapped) != 2 || load16(h + 6, r->swapped) != 4) return -1;
    uint32_t linktype = load32(h + 20, r->swapped);
    if (linktype >> 26) return -1; /* FCS length or other extension bits */
    r->frac_ns = magic == MAGIC_NANO ? 1 : 1000;
    r->snapshot = load32(h + 16, r->swapped);
    if (r->snapshot == 0 || r->snapshot > PCAP_MAX_SNAPLEN) r->snapshot = PCAP_MAX_SNAPLEN;
    r->linktype = (int)linktype;
    return 0;
}

int pcap_records_header(const struct pcap_records *r, const uint8_t h[PCAP_RECORD_HEADER_SIZE],
                        struct tpp_frame *f, uint32_t *stored, char *err, size_t errlen)
{
    /* libpcap (1.10) reads the timestamp's two halves as signed numbers in a file of this machine's byte order
     * but as unsigned ones in a swapped file; only damaged files tell the difference, and they get libpcap's
     * values. */
    uint32_t sec_bits = load32(h, r->swapped), frac_bits = load32(h + 4, r->swapped);
    int64_t sec = r->swapped ? (int64_t)sec_bits : (int64_t)(int32_t)sec_bits;
    int64_t frac = r->swapped ? (int64_t)frac_bits : (int64_t)(int32_t)frac_bits;
    uint32_t caplen = load32(h + 8, r->swapped);
    if (caplen > PCAP_MAX_SNAPLEN) {
        snprintf(err, errlen, "invalid packet capture length %u, bigger than the maximum of %u", caplen,
                 (unsigned)PCAP_MAX_SNAPLEN);
        return -1;
    }
    f->ts_ns = sec * 1000000000 + frac * r->frac_ns; /* cannot overflow from 32-bit parts */
    f->caplen = caplen < r->snapshot ? caplen : r->snapshot;
    f->wirelen = load32(h + 12, r->swapped);
    *stored = caplen;
    return 0;
}
