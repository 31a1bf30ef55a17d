/* pcapng_records.c — see pcapng_records.h. */
#include "pcapng_records.h"
#include "file_order.h"

#include <stdio.h>
#include <string.h>

enum {
    OPT_ENDOFOPT = 0,
    IF_TSRESOL = 9,
    IF_TSOFFSET = 14,
    MAX_SNAPLEN = 262144,             /* libpcap's maximum for most link types */
    MAX_BLOCK = 16 * 1024 * 1024,     /* libpcap's starting limit on a block's size */
    MAX_OPTIONS = 131072,             /* room it allows for a packet block's options */
    LINKTYPE_DBUS = 231,
    LINKTYPE_USBPCAP = 249,
    LINKTYPE_EBHSCR = 279,
};

uint32_t pcapng_max_snaplen(int linktype)
{
    switch (linktype) {
    case LINKTYPE_DBUS: return 128 * 1024 * 1024;
    case LINKTYPE_EBHSCR: return 8 * 1024 * 1024;
    case LINKTYPE_USBPCAP: return 1024 * 1024;
    default: return MAX_SNAPLEN;
    }
}

uint32_t pcapng_snaplen(int linktype, uint32_t snaplen)
{
    uint32_t max = pcapng_max_snaplen(linktype);
    return snaplen == 0 || snaplen > max ? max : snaplen;
}

uint32_t pcapng_max_block(int linktype)
{
    uint32_t need = 8 + 20 + pcapng_max_snaplen(linktype) + MAX_OPTIONS + 4;
    return need > MAX_BLOCK ? need : MAX_BLOCK;
}

int pcapng_shb_byte_order(const uint8_t *b)
{
    uint32_t magic = file_load32(b + 8, 0);
    if (file_load32(b, 0) != PCAPNG_SHB) return -1;
    if (magic == PCAPNG_BYTE_ORDER_MAGIC) return 0;
    if (magic == __builtin_bswap32(PCAPNG_BYTE_ORDER_MAGIC)) return 1;
    return -1;
}

int pcapng_shb(const uint8_t *b, uint32_t len, int swapped, char *err, size_t errlen)
{
    if (len < PCAPNG_SHB_MIN) {
        snprintf(err, errlen, "section header block of %u bytes, shorter than its %d-byte minimum", len,
                 PCAPNG_SHB_MIN);
        return -1;
    }
    unsigned major = file_load16(b + 12, swapped), minor = file_load16(b + 14, swapped);
    if (major != 1) {
        snprintf(err, errlen, "unsupported pcapng version %u.%u", major, minor);
        return -1;
    }
    return 0;
}

/* The options of an IDB, from `p` to `end`: if_tsresol and if_tsoffset, checked as libpcap checks them. */
static int idb_options(const uint8_t *p, const uint8_t *end, int swapped, struct pcapng_iface *i, char *err,
                       size_t errlen)
{
    int saw_tsresol = 0, saw_tsoffset = 0;
    while (p < end) {
        if (end - p < 4) {
            snprintf(err, errlen, "interface description block: an option header is cut short");
            return -1;
        }
        unsigned code = file_load16(p, swapped), olen = file_load16(p + 2, swapped);
        size_t padded = (olen + 3u) & ~3u;
        p += 4;
        if ((size_t)(end - p) < padded) {
            snprintf(err, errlen, "interface description block: option %u of %u bytes goes past the block", code,
                     olen);
            return -1;
        }
        const char *bad = NULL;
        if (code == OPT_ENDOFOPT) {
            if (olen != 0) bad = "opt_endofopt with a length";
            else return 0;
        } else if (code == IF_TSRESOL) {
            if (olen != 1) bad = "if_tsresol not 1 byte long";
            else if (saw_tsresol++) bad = "more than one if_tsresol";
            else if (p[0] & 0x80) {
                unsigned shift = p[0] & 0x7f;
                if (shift > 63) bad = "if_tsresol finer than 2^-63 s";
                else i->tsresol = (uint64_t)1 << shift, i->tsresol_binary = 1;
            } else if (p[0] > 19) {
                bad = "if_tsresol finer than 10^-19 s";
            } else {
                i->tsresol = 1;
                for (unsigned k = 0; k < p[0]; k++) i->tsresol *= 10;
                i->tsresol_binary = 0;
            }
        } else if (code == IF_TSOFFSET) {
            if (olen != 8) bad = "if_tsoffset not 8 bytes long";
            else if (saw_tsoffset++) bad = "more than one if_tsoffset";
            else {
                uint64_t v;
                memcpy(&v, p, 8);
                i->tsoffset = (int64_t)(swapped ? __builtin_bswap64(v) : v);
            }
        }
        if (bad) {
            snprintf(err, errlen, "interface description block: %s", bad);
            return -1;
        }
        p += padded;
    }
    return 0;
}

int pcapng_idb(const uint8_t *b, uint32_t len, int swapped, struct pcapng_iface *i, char *err, size_t errlen)
{
    if (len < PCAPNG_BLOCK_MIN + 8) {
        snprintf(err, errlen, "interface description block of %u bytes, shorter than its 20-byte minimum", len);
        return -1;
    }
    i->linktype = file_load16(b + 8, swapped);
    i->snaplen = file_load32(b + 12, swapped);
    i->tsresol = 1000000; /* microseconds unless if_tsresol says otherwise */
    i->tsresol_binary = 0;
    i->tsoffset = 0;
    return idb_options(b + 16, b + len - 4, swapped, i, err, errlen);
}

const char *pcapng_block_name(uint32_t type)
{
    return type == PCAPNG_EPB ? "enhanced packet block" : type == PCAPNG_SPB ? "simple packet block" :
           type == PCAPNG_PB ? "packet block" : type == PCAPNG_IDB ? "interface description block" :
           type == PCAPNG_SHB ? "section header block" : "block";
}

int pcapng_packet(const uint8_t *b, uint32_t len, uint32_t type, int swapped, uint32_t spb_snaplen,
                  struct pcapng_packet *pkt, char *err, size_t errlen)
{
    size_t fixed = type == PCAPNG_SPB ? 4 : 20;
    const char *name = pcapng_block_name(type);
    if (len < PCAPNG_BLOCK_MIN + fixed) {
        snprintf(err, errlen, "%s of %u bytes, shorter than its %zu-byte minimum", name, len,
                 PCAPNG_BLOCK_MIN + fixed);
        return -1;
    }
    const uint8_t *p = b + 8;
    if (type == PCAPNG_SPB) {
        pkt->iface = 0;
        pkt->wirelen = file_load32(p, swapped);
        pkt->caplen = pkt->wirelen < spb_snaplen ? pkt->wirelen : spb_snaplen;
        pkt->ts = 0;
        pkt->has_ts = 0;
    } else {
        pkt->iface = type == PCAPNG_PB ? file_load16(p, swapped) : file_load32(p, swapped);
        pkt->ts = (uint64_t)file_load32(p + 4, swapped) << 32 | file_load32(p + 8, swapped);
        pkt->caplen = file_load32(p + 12, swapped);
        pkt->wirelen = file_load32(p + 16, swapped);
        pkt->has_ts = 1;
    }
    pkt->data_offset = 8 + fixed;
    pkt->room = len - PCAPNG_BLOCK_MIN - fixed;
    return 0;
}

int pcapng_timestamp(const struct pcapng_iface *i, uint64_t ts, int64_t *ns, int *exact_only)
{
    const uint64_t NS = 1000000000;
    uint64_t sec = ts / i->tsresol, frac = ts % i->tsresol, frac_ns;
    *exact_only = 0;
    if (i->tsresol_binary) { /* tsresol is 2^n: divide by shifting */
        frac_ns = (uint64_t)(((unsigned __int128)frac * NS) >> __builtin_ctzll(i->tsresol));
        *exact_only = frac > UINT64_MAX / NS;
    } else if (i->tsresol <= NS) {
        frac_ns = frac * (NS / i->tsresol);
    } else {
        frac_ns = frac / (i->tsresol / NS);
    }
    __int128 t = ((__int128)sec + i->tsoffset) * (__int128)NS + frac_ns;
    if (t > INT64_MAX || t < INT64_MIN) return -1;
    *ns = (int64_t)t;
    return 0;
}
