/* pcap_records.c — see pcap_records.h. */
#include "pcap_records.h"
#include "file_order.h"

#include <stdio.h>
#include <string.h>

int pcap_records_open(struct pcap_records *r, const uint8_t h[PCAP_FILE_HEADER_SIZE])
{
    uint32_t magic = file_load32(h, 0);
    r->swapped = magic == __builtin_bswap32(PCAP_MAGIC_MICRO) || magic == __builtin_bswap32(PCAP_MAGIC_NANO);
    magic = file_load32(h, r->swapped);
    if (magic != PCAP_MAGIC_MICRO && magic != PCAP_MAGIC_NANO) return -1;
    if (file_load16(h + 4, r->swapped) != 2 || file_load16(h + 6, r->swapped) != 4) return -1;
    uint32_t linktype = file_load32(h + 20, r->swapped);
    if (linktype >> 26) return -1; /* FCS length or other extension bits */
    r->frac_ns = magic == PCAP_MAGIC_NANO ? 1 : 1000;
    r->snapshot = file_load32(h + 16, r->swapped);
    if (r->snapshot == 0 || r->snapshot > PCAP_MAX_SNAPLEN) r->snapshot = PCAP_MAX_SNAPLEN;
    r->linktype = (int)linktype;
    return 0;
}

int pcap_records_header(const struct pcap_records *r, const uint8_t h[PCAP_RECORD_HEADER_SIZE],
                        struct tpp_frame *f, uint32_t *stored, int *unlike_libpcap, char *err, size_t errlen)
{
    /* Both halves of the timestamp are unsigned 32-bit numbers, so seconds reach 2106.  libpcap (1.10) reads them
     * as signed in a file of this machine's byte order (a time at or after 2038 comes out before 1970). */
    uint32_t sec = file_load32(h, r->swapped), frac = file_load32(h + 4, r->swapped);
    *unlike_libpcap = !r->swapped && ((sec | frac) >> 31) != 0;
    uint32_t caplen = file_load32(h + 8, r->swapped);
    if (caplen > PCAP_MAX_SNAPLEN) {
        snprintf(err, errlen, "invalid packet capture length %u, bigger than the maximum of %u", caplen,
                 (unsigned)PCAP_MAX_SNAPLEN);
        return -1;
    }
    f->ts_ns = (int64_t)sec * 1000000000 + (int64_t)frac * r->frac_ns; /* cannot overflow from 32-bit parts */
    f->linktype = r->linktype;
    f->caplen = caplen < r->snapshot ? caplen : r->snapshot;
    f->wirelen = file_load32(h + 12, r->swapped);
    *stored = caplen;
    return 0;
}
