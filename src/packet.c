/* packet.c — decode one frame: link layer, the outermost IPv4/IPv6 header, and TCP/UDP/ICMP.
 *
 * Every read is bounds-checked against caplen through the small cursor below; a header that does not fit marks
 * the packet truncated and decoding stops there, keeping what was already found.
 */
#include "tpp/packet.h"

#include <stdio.h>
#include <string.h>

/* Bytes [off, off+n) are inside the capture. */
#define HAVE(n) (off <= caplen && (uint32_t)(n) <= caplen - off)

/* An IP header's own length field, cut to what the frame holds from the header at `off` on: a header may claim
 * more than was ever on the wire (it is data like any other), but not more than the frame. */
static uint32_t ip_length(uint32_t claimed, uint32_t framelen, uint32_t off)
{
    uint32_t room = off < framelen ? framelen - off : 0;
    return claimed < room ? claimed : room;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

enum { ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd, ETH_VLAN = 0x8100, ETH_QINQ = 0x88a8, ETH_QINQ_OLD = 0x9100 };

int tpp_linktype_supported(int linktype)
{
    switch (linktype) {
    case TPP_LINK_NULL: case TPP_LINK_ETHERNET: case TPP_LINK_RAW: case TPP_LINK_LOOP: case TPP_LINK_SLL:
    case TPP_LINK_IPV4: case TPP_LINK_IPV6: case TPP_LINK_SLL2: case TPP_LINK_DLT_RAW_ALT:
    case TPP_LINK_DLT_RAW_ALT2:
        return 1;
    }
    return 0;
}

/* Transport header at data[off..]: ports for TCP/UDP, flags for TCP.  `end` is where the IP datagram ends by its
 * own length: bytes past it (Ethernet padding, a trailer) are not its transport header, so a header cut there is
 * not decoded (the packet is still IP), while one cut by the capture (caplen) marks the packet truncated. */
static void decode_transport(const uint8_t *data, uint32_t caplen, uint32_t end, uint32_t off, struct tpp_packet *p)
{
#define IN_DATAGRAM(n) (off <= end && (uint32_t)(n) <= end - off)
    switch (p->proto) {
    case 6: /* TCP */
        if (!IN_DATAGRAM(4)) return;
        if (!HAVE(4)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        p->sport = get16(data + off);
        p->dport = get16(data + off + 2);
        p->flags |= TPP_PKT_L4;
        if (!IN_DATAGRAM(14)) return;
        if (!HAVE(14)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        p->tcp_flags = data[off + 13];
        p->flags |= TPP_PKT_TCP_FLAGS;
        return;
    case 17: /* UDP */
        if (!IN_DATAGRAM(4)) return;
        if (!HAVE(4)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        p->sport = get16(data + off);
        p->dport = get16(data + off + 2);
        p->flags |= TPP_PKT_L4;
        return;
    }
#undef IN_DATAGRAM
}

static void decode_ipv4(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off, struct tpp_packet *p)
{
    if (!HAVE(20)) { p->flags |= TPP_PKT_TRUNCATED; return; }
    const uint8_t *h = data + off;
    if (h[0] >> 4 != 4) return;
    uint32_t ihl = (uint32_t)(h[0] & 0x0f) * 4, total = get16(h + 2);
    /* A total length of 0 is a segmentation offload's packet (Linux BIG TCP writes 0 above 64 KiB), captured on
     * its sender: its length is the frame's, as tcpdump and Wireshark take it. */
    if (total == 0) total = framelen > off ? framelen - off : 0;
    /* No IPv4 packet has a header under 20 bytes or a total length shorter than its header: this one is noise or
     * an attack, and counting it as IP would put its "protocol" and "addresses" among the real ones. */
    if (ihl < 20 || total < ihl) { p->flags |= TPP_PKT_MALFORMED; return; }
    p->ipv = 4;
    p->ip_len = ip_length(total, framelen, off);
    p->proto = h[9];
    memset(p->src, 0, 10); p->src[10] = p->src[11] = 0xff; memcpy(p->src + 12, h + 12, 4);
    memset(p->dst, 0, 10); p->dst[10] = p->dst[11] = 0xff; memcpy(p->dst + 12, h + 16, 4);
    p->ttl = h[8];
    unsigned frag = get16(h + 6);
    if (frag & 0x1fff) { p->flags |= TPP_PKT_FRAGMENT; return; }
    if (frag & 0x2000) p->flags |= TPP_PKT_FIRST_FRAGMENT; /* MF at offset 0: it carries the transport header */
    decode_transport(data, caplen, off + total, off + ihl, p);
}

/* The payload length of an IPv6 header at `off` whose payload length field is 0 although a payload follows: a
 * jumbogram's is in the Jumbo Payload option of its hop-by-hop header (RFC 2675: it counts everything after the
 * IPv6 header); without one (a segmentation offload's packet as captured on its sender) it is what the frame
 * holds.  Never more than the frame holds, which also keeps `off` + 40 + the length within 32 bits. */
static uint32_t ipv6_unstated_payload(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off)
{
    uint32_t from_frame = framelen > off + 40 ? framelen - off - 40 : 0;
    if (data[off + 6] != 0) return from_frame;
    off += 40;
    if (!HAVE(2)) return from_frame;
    uint32_t opt = off + 2, hbh_end = off + 8u + (uint32_t)data[off + 1] * 8;
    while (opt < hbh_end && opt < caplen) {
        if (data[opt] == 0) { opt++; continue; } /* Pad1 */
        if (opt + 2 > caplen) break;
        uint32_t len = data[opt + 1];
        if (data[opt] == 0xc2 && len == 4 && opt + 6 <= caplen && opt + 6 <= hbh_end) {
            uint32_t jumbo = (uint32_t)data[opt + 2] << 24 | (uint32_t)data[opt + 3] << 16 |
                             (uint32_t)data[opt + 4] << 8 | data[opt + 5];
            return jumbo < from_frame ? jumbo : from_frame;
        }
        opt += 2 + len;
    }
    return from_frame;
}

/* IPv6: walk extension headers to the transport header. */
static void decode_ipv6(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off, struct tpp_packet *p)
{
    if (!HAVE(40)) { p->flags |= TPP_PKT_TRUNCATED; return; }
    const uint8_t *h = data + off;
    if (h[0] >> 4 != 6) return;
    p->ipv = 6;
    p->ttl = h[7];
    uint32_t total = 40u + get16(h + 4);
    if (total == 40 && h[6] != 59) total = 40u + ipv6_unstated_payload(data, caplen, framelen, off);
    p->ip_len = ip_length(total, framelen, off);
    uint32_t end = off + total;
    memcpy(p->src, h + 8, 16);
    memcpy(p->dst, h + 24, 16);
    uint8_t next = h[6];
    off += 40;
    for (int hops = 0; hops < 16; hops++) {
        switch (next) {
        case 0: case 43: case 60: case 135: case 139: case 140: /* hop-by-hop, routing, dest opts, mobility, HIP, shim6 */
            if (!HAVE(2)) { p->proto = next; p->flags |= TPP_PKT_TRUNCATED; return; }
            next = data[off];
            off += 8u + (uint32_t)data[off + 1] * 8;
            continue;
        case 51: /* AH: length in 4-byte units, minus 2 */
            if (!HAVE(2)) { p->proto = next; p->flags |= TPP_PKT_TRUNCATED; return; }
            next = data[off];
            off += ((uint32_t)data[off + 1] + 2) * 4;
            continue;
        case 44: /* fragment */
            if (!HAVE(8)) { p->proto = next; p->flags |= TPP_PKT_TRUNCATED; return; }
            p->proto = data[off];
            if (get16(data + off + 2) & 0xfff8) { p->flags |= TPP_PKT_FRAGMENT; return; }
            /* offset 0: the first fragment (M set), or a whole datagram that still has a Fragment header */
            p->flags |= data[off + 3] & 1 ? TPP_PKT_FIRST_FRAGMENT : TPP_PKT_ATOMIC_FRAGMENT;
            next = data[off];
            off += 8;
            continue;
        }
        break;
    }
    p->proto = next;
    decode_transport(data, caplen, end, off, p);
}

static void decode_ip(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off, unsigned ethertype,
                      struct tpp_packet *p)
{
    if (ethertype == ETH_IPV4) decode_ipv4(data, caplen, framelen, off, p);
    else if (ethertype == ETH_IPV6) decode_ipv6(data, caplen, framelen, off, p);
}

/* Raw IP: the version nibble says which. */
static void decode_raw(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off, struct tpp_packet *p)
{
    if (!HAVE(1)) { p->flags |= TPP_PKT_TRUNCATED; return; }
    unsigned v = data[off] >> 4;
    decode_ip(data, caplen, framelen, off, v == 4 ? ETH_IPV4 : v == 6 ? ETH_IPV6 : 0, p);
}

void tpp_decode(int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen, struct tpp_packet *p)
{
    uint32_t framelen = wirelen > caplen ? wirelen : caplen;
    p->ip_len = 0;
    p->sport = p->dport = 0;
    p->ipv = p->proto = p->tcp_flags = p->flags = p->ttl = 0;
    uint32_t off = 0;
    unsigned type;

    switch (linktype) {
    case TPP_LINK_ETHERNET:
        if (!HAVE(14)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        type = get16(data + 12);
        off = 14;
        while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
            if (!HAVE(4)) { p->flags |= TPP_PKT_TRUNCATED; return; }
            type = get16(data + off + 2);
            off += 4;
        }
        decode_ip(data, caplen, framelen, off, type, p);
        return;
    case TPP_LINK_SLL:
        if (!HAVE(16)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        decode_ip(data, caplen, framelen, 16, get16(data + 14), p);
        return;
    case TPP_LINK_SLL2:
        if (!HAVE(20)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        decode_ip(data, caplen, framelen, 20, get16(data), p);
        return;
    case TPP_LINK_NULL: case TPP_LINK_LOOP: {
        if (!HAVE(4)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        /* The family is in the writer's byte order (NULL) or network order (LOOP): accept either. */
        uint32_t le = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
        uint32_t be = (uint32_t)data[3] | (uint32_t)data[2] << 8 | (uint32_t)data[1] << 16 | (uint32_t)data[0] << 24;
        uint32_t fam = le < 256 ? le : be;
        if (fam == 2) decode_ip(data, caplen, framelen, 4, ETH_IPV4, p);
        else if (fam == 24 || fam == 28 || fam == 30) decode_ip(data, caplen, framelen, 4, ETH_IPV6, p);
        return;
    }
    case TPP_LINK_RAW: case TPP_LINK_DLT_RAW_ALT: case TPP_LINK_DLT_RAW_ALT2:
        decode_raw(data, caplen, framelen, 0, p);
        return;
    case TPP_LINK_IPV4:
        decode_ip(data, caplen, framelen, 0, ETH_IPV4, p);
        return;
    case TPP_LINK_IPV6:
        decode_ip(data, caplen, framelen, 0, ETH_IPV6, p);
        return;
    }
}

void tpp_addr_format(const uint8_t a[16], char *buf, unsigned buflen)
{
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (buflen == 0) return;
    if (memcmp(a, v4mapped, 12) == 0) {
        snprintf(buf, buflen, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
        return;
    }
    /* RFC 5952: the longest run (>= 2) of zero groups becomes "::", lowercase hex, no leading zeros. */
    unsigned g[8];
    for (int i = 0; i < 8; i++) g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    int best = -1, bestlen = 0;
    for (int i = 0; i < 8;) {
        if (g[i]) { i++; continue; }
        int j = i;
        while (j < 8 && !g[j]) j++;
        if (j - i > bestlen && j - i >= 2) { best = i; bestlen = j - i; }
        i = j;
    }
    /* Groups before the run joined by ':', then "::", then the groups after it. */
    int n = 0;
    buf[0] = 0;
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + bestlen) {
            if (i == best) n += snprintf(buf + n, buflen - (unsigned)n, "::");
        } else {
            int sep = i > 0 && i != best + bestlen;
            n += snprintf(buf + n, buflen - (unsigned)n, "%s%x", sep ? ":" : "", g[i]);
        }
        if ((unsigned)n >= buflen) return; /* cut: buf holds what fitted */
    }
}
