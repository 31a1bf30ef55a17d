/* packet.c — decode one frame: link layer and framing (VLAN, PPPoE, MPLS), the IPv4/IPv6 header, TCP/UDP, and
 * the tunnels of tpp/packet.h's modes.
 *
 * Every read is bounds-checked against caplen through the small cursor below; a header that does not fit marks
 * the packet truncated and decoding stops there, keeping what was already found.  The outer mode's path for plain
 * Ethernet/VLAN + IP is a straight line: framing and tunnels are looked at only behind the ethertypes and
 * protocols that carry them.
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

enum { ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd, ETH_VLAN = 0x8100, ETH_QINQ = 0x88a8, ETH_QINQ_OLD = 0x9100,
       ETH_PPPOE = 0x8864, ETH_MPLS = 0x8847, ETH_MPLS_MC = 0x8848, ETH_TEB = 0x6558 };

/* The decoders of the network layer return where the transport header of a decoded IP packet that may be a
 * tunnel starts and where its datagram ends (the IP length, cut to the frame), packed in one word that stays in a
 * register; 0 for any other packet. */
static inline uint64_t tunnel_at(uint32_t off, uint32_t end) { return (uint64_t)end << 32 | off; }
#define AT_OFF(at) ((uint32_t)(at))
#define AT_END(at) ((uint32_t)((at) >> 32))

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

/* UDP destination ports of the tunnels tpp opens (IANA; 8472 is Linux's VXLAN default), and Teredo's (either
 * port: its server answers from it). */
enum { PORT_VXLAN = 4789, PORT_VXLAN_LINUX = 8472, PORT_GENEVE = 6081, PORT_GTPU = 2152, PORT_TEREDO = 3544 };

static inline int tunnel_port(unsigned sport, unsigned dport)
{
    return dport == PORT_VXLAN || dport == PORT_VXLAN_LINUX || dport == PORT_GENEVE || dport == PORT_GTPU ||
           dport == PORT_TEREDO || sport == PORT_TEREDO;
}

/* Transport header at data[off..]: ports for TCP/UDP, flags for TCP.  `end` is where the IP datagram ends by its
 * own length: bytes past it (Ethernet padding, a trailer) are not its transport header, so a header cut there is
 * not decoded (the packet is still IP), while one cut by the capture (caplen) marks the packet truncated.  Returns
 * 1 when the packet may be a tunnel (IP in IP, GRE, UDP to a tunnel's port), for follow_tunnels to look at; ICMP
 * never is: an error quotes a header, it does not carry one. */
static int decode_transport(const uint8_t *data, uint32_t caplen, uint32_t end, uint32_t off, struct tpp_packet *p)
{
#define IN_DATAGRAM(n) (off <= end && (uint32_t)(n) <= end - off)
    if (p->proto == 6) { /* TCP, the most of most traces: first */
        if (!IN_DATAGRAM(4)) return 0;
        if (!HAVE(4)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
        p->sport = get16(data + off);
        p->dport = get16(data + off + 2);
        p->flags |= TPP_PKT_L4;
        if (!IN_DATAGRAM(14)) return 0;
        if (!HAVE(14)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
        p->tcp_flags = data[off + 13];
        p->flags |= TPP_PKT_TCP_FLAGS;
        return 0;
    }
    if (p->proto == 17) { /* UDP */
        if (!IN_DATAGRAM(4)) return 0;
        if (!HAVE(4)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
        p->sport = get16(data + off);
        p->dport = get16(data + off + 2);
        p->flags |= TPP_PKT_L4 | TPP_PKT_L4_UDP;
        return tunnel_port(p->sport, p->dport);
    }
    return p->proto == 4 || p->proto == 41 || p->proto == 47; /* IPv4 in IP, IPv6 in IP, GRE */
#undef IN_DATAGRAM
}

static uint64_t decode_ipv4(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off, struct tpp_packet *p)
{
    if (!HAVE(20)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
    const uint8_t *h = data + off;
    if (h[0] >> 4 != 4) return 0;
    uint32_t ihl = (uint32_t)(h[0] & 0x0f) * 4, total = get16(h + 2);
    /* A total length of 0 is a segmentation offload's packet (Linux BIG TCP writes 0 above 64 KiB), captured on
     * its sender: its length is the frame's, as tcpdump and Wireshark take it. */
    if (total == 0) total = framelen > off ? framelen - off : 0;
    /* No IPv4 packet has a header under 20 bytes or a total length shorter than its header: this one is noise or
     * an attack, and counting it as IP would put its "protocol" and "addresses" among the real ones. */
    if (ihl < 20 || total < ihl) { p->flags |= TPP_PKT_MALFORMED; return 0; }
    p->ipv = 4;
    p->ip_len = ip_length(total, framelen, off);
    p->proto = h[9];
    memset(p->src, 0, 10); p->src[10] = p->src[11] = 0xff; memcpy(p->src + 12, h + 12, 4);
    memset(p->dst, 0, 10); p->dst[10] = p->dst[11] = 0xff; memcpy(p->dst + 12, h + 16, 4);
    p->ttl = h[8];
    unsigned frag = get16(h + 6);
    if (frag & 0x1fff) { p->flags |= TPP_PKT_FRAGMENT; return 0; }
    if (frag & 0x2000) p->flags |= TPP_PKT_FIRST_FRAGMENT; /* MF at offset 0: it carries the transport header */
    return decode_transport(data, caplen, off + total, off + ihl, p) ? tunnel_at(off + ihl, off + p->ip_len) : 0;
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
static uint64_t decode_ipv6(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off, struct tpp_packet *p)
{
    if (!HAVE(40)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
    const uint8_t *h = data + off;
    if (h[0] >> 4 != 6) return 0;
    p->ipv = 6;
    p->ttl = h[7];
    uint32_t total = 40u + get16(h + 4);
    if (total == 40 && h[6] != 59) total = 40u + ipv6_unstated_payload(data, caplen, framelen, off);
    p->ip_len = ip_length(total, framelen, off);
    uint32_t end = off + total, start = off;
    memcpy(p->src, h + 8, 16);
    memcpy(p->dst, h + 24, 16);
    uint8_t next = h[6];
    off += 40;
    for (int hops = 0; hops < 16; hops++) {
        switch (next) {
        case 0: case 43: case 60: case 135: case 139: case 140: /* hop-by-hop, routing, dest opts, mobility, HIP, shim6 */
            if (!HAVE(2)) { p->proto = next; p->flags |= TPP_PKT_TRUNCATED; return 0; }
            next = data[off];
            off += 8u + (uint32_t)data[off + 1] * 8;
            continue;
        case 51: /* AH: length in 4-byte units, minus 2 */
            if (!HAVE(2)) { p->proto = next; p->flags |= TPP_PKT_TRUNCATED; return 0; }
            next = data[off];
            off += ((uint32_t)data[off + 1] + 2) * 4;
            continue;
        case 44: /* fragment */
            if (!HAVE(8)) { p->proto = next; p->flags |= TPP_PKT_TRUNCATED; return 0; }
            p->proto = data[off];
            /* a second Fragment header (which no sender writes) says it again: the last one tells */
            p->flags &= (uint16_t)~(TPP_PKT_FIRST_FRAGMENT | TPP_PKT_ATOMIC_FRAGMENT);
            if (get16(data + off + 2) & 0xfff8) { p->flags |= TPP_PKT_FRAGMENT; return 0; }
            /* offset 0: the first fragment (M set), or a whole datagram that still has a Fragment header */
            p->flags |= data[off + 3] & 1 ? TPP_PKT_FIRST_FRAGMENT : TPP_PKT_ATOMIC_FRAGMENT;
            next = data[off];
            off += 8;
            continue;
        }
        break;
    }
    p->proto = next;
    return decode_transport(data, caplen, end, off, p) ? tunnel_at(off, start + p->ip_len) : 0;
}

static uint64_t decode_framing(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off, unsigned type,
                               struct tpp_packet *p);

/* The network layer after an ethertype: IP at once; PPPoE and MPLS, framing that carries IP, out of line. */
static inline uint64_t decode_ethertype(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off,
                                        unsigned type, struct tpp_packet *p)
{
    if (type == ETH_IPV4) return decode_ipv4(data, caplen, framelen, off, p);
    else if (type == ETH_IPV6) return decode_ipv6(data, caplen, framelen, off, p);
    else if (type == ETH_PPPOE || type == ETH_MPLS || type == ETH_MPLS_MC)
        return decode_framing(data, caplen, framelen, off, type, p);
    return 0;
}

/* Raw IP: the version nibble says which. */
static uint64_t decode_raw(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off, struct tpp_packet *p)
{
    if (!HAVE(1)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
    unsigned v = data[off] >> 4;
    if (v == 4) return decode_ipv4(data, caplen, framelen, off, p);
    else if (v == 6) return decode_ipv6(data, caplen, framelen, off, p);
    return 0;
}

/* PPP protocol numbers of IPv4 and IPv6 (RFC 1332, RFC 5072). */
enum { PPP_IPV4 = 0x0021, PPP_IPV6 = 0x0057 };

/* A PPP frame as PPPoE or a tunnel (PPTP) carries it: an optional HDLC address and control (ff 03), a protocol
 * field of one byte when odd (RFC 1661 compression) or two. */
static uint64_t decode_ppp(const uint8_t *data, uint32_t caplen, uint32_t framelen, uint32_t off, struct tpp_packet *p)
{
    if (!HAVE(2)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
    if (data[off] == 0xff && data[off + 1] == 0x03) off += 2;
    if (!HAVE(1)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
    unsigned proto = data[off];
    if (proto & 1) off += 1;
    else if (!HAVE(2)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
    else { proto = get16(data + off); off += 2; }
    if (proto == PPP_IPV4) return decode_ipv4(data, caplen, framelen, off, p);
    else if (proto == PPP_IPV6) return decode_ipv6(data, caplen, framelen, off, p);
    return 0;
}

/* PPPoE session data (RFC 2516: version 1, type 1, code 0, then a PPP protocol) and MPLS label stacks (RFC 3032:
 * labels until the bottom of the stack, then IPv4 or IPv6 by the version nibble; a pseudowire's control word, whose
 * first nibble is 0, is not IP).  Framing, not tunnels: the IP packet inside is the packet. */
__attribute__((noinline)) static uint64_t decode_framing(const uint8_t *data, uint32_t caplen, uint32_t framelen,
                                                         uint32_t off, unsigned type, struct tpp_packet *p)
{
    if (type == ETH_PPPOE) {
        if (!HAVE(6)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
        if (data[off] != 0x11 || data[off + 1] != 0) return 0; /* not session data */
        return decode_ppp(data, caplen, framelen, off + 6, p);
    }
    for (int bottom = 0; !bottom;) {
        if (!HAVE(4)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
        bottom = data[off + 2] & 1;
        off += 4;
    }
    return decode_raw(data, caplen, framelen, off, p);
}

/* An Ethernet frame at `off`: its VLAN tags, then the ethertype's network layer. */
static inline __attribute__((always_inline)) uint64_t decode_ether(const uint8_t *data, uint32_t caplen,
                                                                   uint32_t framelen, uint32_t off,
                                                                   struct tpp_packet *p)
{
    if (!HAVE(14)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
    unsigned type = get16(data + off + 12);
    off += 14;
    while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
        if (!HAVE(4)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
        type = get16(data + off + 2);
        off += 4;
    }
    return decode_ethertype(data, caplen, framelen, off, type, p);
}

static inline __attribute__((always_inline)) uint64_t decode_link(int linktype, const uint8_t *data, uint32_t caplen,
                                                              uint32_t framelen, struct tpp_packet *p)
{
    uint32_t off = 0;
    switch (linktype) {
    case TPP_LINK_ETHERNET:
        return decode_ether(data, caplen, framelen, 0, p);
    case TPP_LINK_SLL:
        if (!HAVE(16)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
        return decode_ethertype(data, caplen, framelen, 16, get16(data + 14), p);
    case TPP_LINK_SLL2:
        if (!HAVE(20)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
        return decode_ethertype(data, caplen, framelen, 20, get16(data), p);
    case TPP_LINK_NULL: case TPP_LINK_LOOP: {
        if (!HAVE(4)) { p->flags |= TPP_PKT_TRUNCATED; return 0; }
        /* The family is in the writer's byte order (NULL) or network order (LOOP): accept either. */
        uint32_t le = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
        uint32_t be = (uint32_t)data[3] | (uint32_t)data[2] << 8 | (uint32_t)data[1] << 16 | (uint32_t)data[0] << 24;
        uint32_t fam = le < 256 ? le : be;
        if (fam == 2) return decode_ipv4(data, caplen, framelen, 4, p);
        else if (fam == 24 || fam == 28 || fam == 30) return decode_ipv6(data, caplen, framelen, 4, p);
        return 0;
    }
    case TPP_LINK_RAW: case TPP_LINK_DLT_RAW_ALT: case TPP_LINK_DLT_RAW_ALT2:
        return decode_raw(data, caplen, framelen, 0, p);
    case TPP_LINK_IPV4:
        return decode_ipv4(data, caplen, framelen, 0, p);
    case TPP_LINK_IPV6:
        return decode_ipv6(data, caplen, framelen, 0, p);
    }
    return 0;
}

/* ---- Tunnels (outer and inner modes) ---- */

/* What a tunnel carries. */
enum inner { INNER_NONE, INNER_IPV4, INNER_IPV6, INNER_IP, INNER_ETHER, INNER_MPLS, INNER_PPP };

/* The ethertype-like protocol of a GRE or Geneve payload as an inner kind. */
static int inner_of_type(unsigned type)
{
    switch (type) {
    case ETH_IPV4: return INNER_IPV4;
    case ETH_IPV6: return INNER_IPV6;
    case ETH_TEB: return INNER_ETHER;
    case ETH_MPLS: case ETH_MPLS_MC: return INNER_MPLS;
    }
    return INNER_NONE;
}

/* Bytes [off, off+n) are inside the readable part of a tunnel's datagram, [.., end). */
#define FITS(n) (off <= end && (uint32_t)(n) <= end - off)

/* GTP-U (3GPP TS 29.281) G-PDU at data[off..end): the offset of its IP packet, or 0. */
static uint32_t gtpu_payload(const uint8_t *data, uint32_t off, uint32_t end)
{
    if (!FITS(8) || data[off] >> 5 != 1 || !(data[off] & 0x10) || data[off + 1] != 0xff) return 0;
    if (!(data[off] & 0x07)) return off + 8;
    if (!FITS(12)) return 0;
    unsigned next = data[off + 11];
    off += 12;
    for (int n = 0; next && n < 16; n++) { /* extension headers: a length in 4-byte units, the next type last */
        if (!FITS(1) || data[off] == 0 || !FITS((uint32_t)data[off] * 4)) return 0;
        off += (uint32_t)data[off] * 4;
        next = data[off - 1];
    }
    return next ? 0 : off;
}

/* Teredo (RFC 4380) at data[off..end): an IPv6 packet, perhaps after an authentication and an origin indication;
 * the offset of the IPv6 header when one that fits the datagram is there, else 0. */
static uint32_t teredo_payload(const uint8_t *data, uint32_t off, uint32_t end)
{
    if (FITS(4) && get16(data + off) == 1) off += 4u + 9u + data[off + 2] + data[off + 3];
    if (FITS(8) && get16(data + off) == 0) off += 8;
    if (!FITS(40) || data[off] >> 4 != 6 || !FITS(40u + get16(data + off + 4))) return 0;
    return off;
}

/* The payload of the tunnel that the decoded IP packet p is (its transport header at AT_OFF(at)): its kind, and its
 * offset in *inner.  Only what the captured datagram holds is read. */
static int tunnel_payload(const uint8_t *data, uint32_t caplen, const struct tpp_packet *p, uint64_t at,
                          uint32_t *inner)
{
    uint32_t off = AT_OFF(at), end = AT_END(at) < caplen ? AT_END(at) : caplen;
    switch (p->proto) {
    case 4: *inner = off; return INNER_IPV4;
    case 41: *inner = off; return INNER_IPV6;
    case 47: { /* GRE (RFC 2784/2890): checksum, key and sequence number words as flagged; PPTP's (RFC 2637) */
        if (!FITS(4)) return INNER_NONE;
        unsigned fl = get16(data + off), type = get16(data + off + 2);
        if (fl & 0x4000) return INNER_NONE; /* RFC 1701 source routing: not followed */
        if ((fl & 7) == 1 && type == 0x880b) { /* PPTP: payload length and call id, sequence and ack as flagged */
            *inner = off + 8 + (fl & 0x1000 ? 4 : 0) + (fl & 0x0080 ? 4 : 0);
            return INNER_PPP;
        }
        if ((fl & 7) != 0) return INNER_NONE;
        *inner = off + 4 + (fl & 0x8000 ? 4 : 0) + (fl & 0x2000 ? 4 : 0) + (fl & 0x1000 ? 4 : 0);
        return inner_of_type(type);
    }
    case 17:
        off += 8;
        if (p->sport == PORT_TEREDO || p->dport == PORT_TEREDO)
            return (*inner = teredo_payload(data, off, end)) ? INNER_IPV6 : INNER_NONE;
        if (!FITS(8)) return INNER_NONE;
        switch (p->dport) {
        case PORT_VXLAN: case PORT_VXLAN_LINUX: /* the I flag: a VNI, then an Ethernet frame */
            *inner = off + 8;
            return data[off] & 0x08 ? INNER_ETHER : INNER_NONE;
        case PORT_GENEVE: /* version 0, options in 4-byte units, an ethertype */
            if (data[off] >> 6 != 0) return INNER_NONE;
            *inner = off + 8 + (uint32_t)(data[off] & 0x3f) * 4;
            return inner_of_type(get16(data + off + 2));
        case PORT_GTPU:
            return (*inner = gtpu_payload(data, off, end)) ? INNER_IP : INNER_NONE;
        }
    }
    return INNER_NONE;
}
#undef FITS

static void reset_packet(struct tpp_packet *p)
{
    p->ip_len = 0;
    p->sport = p->dport = p->udp_sport = p->udp_dport = 0;
    p->flags = 0;
    p->ipv = p->proto = p->tcp_flags = p->ttl = 0;
}

/* Decode the tunnels' IP packets: in the outer mode only to note that p carries one; in the inner mode the
 * innermost one's analysis replaces p's, up to TPP_MAX_TUNNELS deep.  A tunnel's packet lives in its datagram:
 * the bytes past that datagram's end are not its. */
__attribute__((noinline)) static void follow_tunnels(enum tpp_decode_mode mode, const uint8_t *data, uint32_t caplen,
                                                     struct tpp_packet *p, uint64_t at)
{
    for (int depth = 0; depth < TPP_MAX_TUNNELS && at; depth++) {
        uint32_t off = 0, end = AT_END(at);
        int kind = tunnel_payload(data, caplen, p, at, &off);
        if (kind == INNER_NONE) return;
        struct tpp_packet q;
        uint64_t next = 0;
        uint32_t lim = end < caplen ? end : caplen;
        reset_packet(&q);
        switch (kind) {
        case INNER_IPV4: next = decode_ipv4(data, lim, end, off, &q); break;
        case INNER_IPV6: next = decode_ipv6(data, lim, end, off, &q); break;
        case INNER_IP: next = decode_raw(data, lim, end, off, &q); break;
        case INNER_ETHER: next = decode_ether(data, lim, end, off, &q); break;
        case INNER_MPLS: next = decode_framing(data, lim, end, off, ETH_MPLS, &q); break;
        case INNER_PPP: next = decode_ppp(data, lim, end, off, &q); break;
        }
        if (q.ipv == 0) { /* not a tunnel after all, or (in the inner mode: truncated) its packet was cut short */
            if (mode == TPP_DECODE_INNER && (q.flags & TPP_PKT_TRUNCATED) && end > caplen)
                p->flags |= TPP_PKT_TRUNCATED;
            return;
        }
        p->flags |= TPP_PKT_ENCAPSULATED;
        if (mode != TPP_DECODE_INNER) return;
        q.ts_ns = p->ts_ns;
        q.flags |= TPP_PKT_ENCAPSULATED;
        *p = q;
        at = next;
    }
}

/* ---- Compat: scapy 2.5's default dissection, which the original tool classified packets by ----
 *
 * "IP in packet" is an IPv4 header anywhere, "packet[IP]" the first one (addresses, length, protocol), "TCP in
 * packet" / "UDP in packet" a TCP / UDP header anywhere (the first gives the ports and flags).  Headers quoted by
 * an ICMP error are other classes (IPerror, TCPerror, UDPerror) and count as nothing, but scapy goes on below them
 * as below any header, so a tunnel quoted there is dissected for real.  What scapy does not bind by default (MPLS,
 * 802.1Q with ethertype 0x9100, Geneve, GTP-U, Teredo, a GRE routing header) stays opaque.  The header rules of the
 * outer mode hold (an IP header must be whole, an IPv4 header sane), and scapy cuts each datagram at its own
 * length, as here. */

enum layer {
    S_DONE, S_ETHER, S_LLC, S_ETHERTYPE, S_PPPOE, S_PPP, S_IPV4, S_IPV6, S_ICMP, S_ICMPV6, S_TCP, S_UDP, S_GRE,
    S_VXLAN, S_L2TP
};

/* UDP ports that scapy binds to something else before L2TP (1701) or VXLAN: DNS, Kerberos, BOOTP, DHCPv6, HSRP,
 * IPsec NAT traversal, ISAKMP, then (between the two) CLDAP, LLMNR, MGCP, Mobile IP, NetBIOS, NetFlow/sFlow, NTP,
 * RADIUS, RIP, SNMP, TFTP.  A datagram with one of them on either side is that protocol's, not a tunnel. */
static int scapy_udp_before_l2tp(unsigned port)
{
    switch (port) {
    case 5353: case 53: case 88: case 67: case 68: case 547: case 546: case 1985: case 2029: case 4500: case 500:
        return 1;
    }
    return 0;
}

static int scapy_udp_before_vxlan(unsigned port)
{
    switch (port) {
    case 389: case 5355: case 2727: case 434: case 137: case 138: case 2055: case 2056: case 9995: case 9996:
    case 6343: case 123: case 1812: case 1813: case 3799: case 520: case 161: case 162: case 69:
        return 1;
    }
    return scapy_udp_before_l2tp(port);
}

static int scapy_vxlan_port(unsigned port)
{
    return port == 4789 || port == 4790 || port == 6633 || port == 8472 || port == 48879;
}

/* The first transport headers found, put into the packet at the end. */
struct scapy_l4 {
    int tcp, tcp_flags, udp;
    uint16_t tcp_ports[2], udp_ports[2];
    uint8_t flags;
};

__attribute__((noinline)) static void decode_compat(int linktype, const uint8_t *data, uint32_t caplen,
                                                    uint32_t framelen, struct tpp_packet *p)
{
    uint32_t off = 0, end = framelen; /* the current header, and the end of the datagram that holds it */
    unsigned type = 0;
    enum layer layer = S_DONE;
    int quoted = 0, tunnel = 0, encapsulated = 0, have_v4 = 0;
    struct scapy_l4 l4 = { 0 };

    switch (linktype) {
    case TPP_LINK_ETHERNET: layer = S_ETHER; break;
    case TPP_LINK_SLL:
        if (!HAVE(16)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        type = get16(data + 14); off = 16; layer = S_ETHERTYPE;
        break;
    case TPP_LINK_SLL2:
        if (!HAVE(20)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        type = get16(data); off = 20; layer = S_ETHERTYPE;
        break;
    case TPP_LINK_NULL: case TPP_LINK_LOOP: {
        if (!HAVE(4)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        uint32_t le = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
        uint32_t be = (uint32_t)data[3] | (uint32_t)data[2] << 8 | (uint32_t)data[1] << 16 | (uint32_t)data[0] << 24;
        uint32_t fam = le < 256 ? le : be;
        off = 4;
        layer = fam == 2 ? S_IPV4 : fam == 24 || fam == 28 || fam == 30 ? S_IPV6 : S_DONE;
        break;
    }
    case TPP_LINK_RAW: case TPP_LINK_DLT_RAW_ALT: case TPP_LINK_DLT_RAW_ALT2:
        if (!HAVE(1)) { p->flags |= TPP_PKT_TRUNCATED; return; }
        layer = data[0] >> 4 == 4 ? S_IPV4 : data[0] >> 4 == 6 ? S_IPV6 : S_DONE;
        break;
    case TPP_LINK_IPV4: layer = S_IPV4; break;
    case TPP_LINK_IPV6: layer = S_IPV6; break;
    }

/* Bytes [off, off+n) are in the current datagram and captured; a header cut by the capture marks the packet. */
#define NEED(n) (off <= end && (uint32_t)(n) <= end - off && (HAVE(n) || (p->flags |= TPP_PKT_TRUNCATED, 0)))
    /* Each step reads one header and moves on; the bound stops a stack of tags or tunnels that would not end. */
    for (int steps = 0; layer != S_DONE && steps < 64; steps++) {
        switch (layer) {
        case S_DONE:
            break;
        case S_ETHER:
            if (!NEED(14)) { layer = S_DONE; break; }
            type = get16(data + off + 12);
            off += 14;
            layer = type <= 1500 || type == 0x8870 ? S_LLC : S_ETHERTYPE; /* 802.3 length, or jumbo LLC */
            break;
        case S_LLC: /* SNAP (aa aa 03, OUI) and the ethertypes scapy binds below it */
            if (!NEED(8) || data[off] != 0xaa || data[off + 1] != 0xaa || data[off + 2] != 3) { layer = S_DONE; break; }
            type = get16(data + off + 6);
            off += 8;
            layer = type == ETH_IPV4 || type == ETH_IPV6 || type == ETH_VLAN || type == ETH_QINQ ? S_ETHERTYPE : S_DONE;
            break;
        case S_ETHERTYPE:
            if (type == ETH_VLAN || type == ETH_QINQ) { /* Dot1Q, Dot1AD: scapy knows no 0x9100 */
                if (!NEED(4)) { layer = S_DONE; break; }
                type = get16(data + off + 2);
                off += 4;
                break;
            }
            layer = type == ETH_IPV4 ? S_IPV4 : type == ETH_IPV6 ? S_IPV6 : type == ETH_PPPOE ? S_PPPOE : S_DONE;
            break;
        case S_PPPOE: /* session data (code 0) is PPP */
            layer = NEED(6) && data[off + 1] == 0 ? S_PPP : S_DONE;
            off += 6;
            break;
        case S_PPP: { /* HDLC address and control, then a protocol of one byte when odd */
            if (!NEED(1)) { layer = S_DONE; break; }
            if (data[off] == 0xff) {
                if (!NEED(3)) { layer = S_DONE; break; }
                off += 2;
            }
            unsigned proto = data[off];
            if (proto & 1) off += 1;
            else if (!NEED(2)) { layer = S_DONE; break; }
            else { proto = get16(data + off); off += 2; }
            layer = proto == PPP_IPV4 ? S_IPV4 : proto == PPP_IPV6 ? S_IPV6 : S_DONE;
            break;
        }
        case S_IPV4: {
            layer = S_DONE;
            if (!NEED(20) || data[off] >> 4 != 4) break;
            const uint8_t *h = data + off;
            uint32_t ihl = (uint32_t)(h[0] & 0x0f) * 4, total = get16(h + 2);
            if (total == 0) total = end > off ? end - off : 0;
            if (ihl < 20 || total < ihl) {
                if (p->ipv == 0 && !quoted) p->flags |= TPP_PKT_MALFORMED;
                break;
            }
            uint32_t len = ip_length(total, end, off);
            unsigned frag = get16(h + 6), proto = h[9];
            if (!quoted) {
                encapsulated |= tunnel;
                if (!have_v4) { /* packet[IP] */
                    have_v4 = 1;
                    p->ipv = 4;
                    p->ip_len = len;
                    p->proto = (uint8_t)proto;
                    p->ttl = h[8];
                    memset(p->src, 0, 10); p->src[10] = p->src[11] = 0xff; memcpy(p->src + 12, h + 12, 4);
                    memset(p->dst, 0, 10); p->dst[10] = p->dst[11] = 0xff; memcpy(p->dst + 12, h + 16, 4);
                    p->flags &= (uint16_t)~(TPP_PKT_FRAGMENT | TPP_PKT_FIRST_FRAGMENT | TPP_PKT_ATOMIC_FRAGMENT);
                    if (frag & 0x1fff) p->flags |= TPP_PKT_FRAGMENT;
                    else if (frag & 0x2000) p->flags |= TPP_PKT_FIRST_FRAGMENT;
                }
            }
            end = off + len;
            off += ihl;
            if (proto == 41) { layer = S_IPV6; tunnel = 1; quoted = 0; break; } /* bound whatever the offset */
            if (frag & 0x1fff) break;
            switch (proto) {
            case 4: layer = S_IPV4; tunnel |= !quoted; break; /* under a quote, IPerror again */
            case 1: layer = quoted ? S_DONE : S_ICMP; break;
            case 6: layer = quoted ? S_DONE : S_TCP; break;
            case 17: layer = S_UDP; break;
            case 47: layer = S_GRE; break;
            }
            break;
        }
        case S_IPV6: {
            layer = S_DONE;
            if (!NEED(40) || data[off] >> 4 != 6) break;
            const uint8_t *h = data + off;
            uint32_t len = ip_length(40u + get16(h + 4), end, off);
            int record = !quoted && p->ipv == 0;
            if (!quoted) encapsulated |= tunnel;
            if (record) {
                p->ipv = 6;
                p->ip_len = len;
                p->ttl = h[7];
                memcpy(p->src, h + 8, 16);
                memcpy(p->dst, h + 24, 16);
            }
            unsigned next = h[6];
            end = off + len;
            off += 40;
            for (int hops = 0; hops < 16 && layer == S_DONE; hops++) {
                if (next == 0 || next == 43 || next == 60) { /* hop-by-hop, routing, destination options */
                    if (!NEED(2)) { next = 256; break; }
                    next = data[off];
                    off += 8u + (uint32_t)data[off + 1] * 8;
                } else if (next == 44) { /* fragment: only the first one's payload is dissected */
                    if (!NEED(8)) { next = 256; break; }
                    int later = (get16(data + off + 2) & 0xfff8) != 0;
                    if (record) {
                        p->flags &= (uint16_t)~(TPP_PKT_FIRST_FRAGMENT | TPP_PKT_ATOMIC_FRAGMENT);
                        p->flags |= later ? TPP_PKT_FRAGMENT : data[off + 3] & 1 ? TPP_PKT_FIRST_FRAGMENT
                                                                              : TPP_PKT_ATOMIC_FRAGMENT;
                    }
                    next = later ? 256 : data[off];
                    off += 8;
                    if (later) break;
                } else {
                    break;
                }
            }
            if (record && next < 256) p->proto = (uint8_t)next;
            switch (next) {
            case 6: layer = quoted ? S_DONE : S_TCP; break;
            case 17: layer = S_UDP; break;
            case 4: layer = S_IPV4; tunnel = 1; quoted = 0; break;
            case 41: layer = S_IPV6; tunnel = 1; quoted = 0; break;
            case 47: layer = S_GRE; break;
            case 58: layer = quoted ? S_DONE : S_ICMPV6; break;
            }
            break;
        }
        case S_ICMP: /* the errors quote an IP header: IPerror */
            layer = S_DONE;
            if (!NEED(8)) break;
            switch (data[off]) {
            case 3: case 4: case 5: case 11: case 12: layer = S_IPV4; quoted = 1; off += 8; break;
            }
            break;
        case S_ICMPV6: /* destination unreachable, packet too big, time exceeded, parameter problem: IPerror6 */
            layer = NEED(8) && data[off] >= 1 && data[off] <= 4 ? S_IPV6 : S_DONE;
            quoted = 1;
            off += 8;
            break;
        case S_TCP:
            layer = S_DONE;
            if (l4.tcp || !NEED(4)) break;
            l4.tcp = 1;
            l4.tcp_ports[0] = get16(data + off);
            l4.tcp_ports[1] = get16(data + off + 2);
            if (NEED(14)) { l4.tcp_flags = 1; l4.flags = data[off + 13]; }
            break;
        case S_UDP: {
            layer = S_DONE;
            if (!NEED(4)) break;
            unsigned sport = get16(data + off), dport = get16(data + off + 2);
            if (!quoted && !l4.udp) {
                l4.udp = 1;
                l4.udp_ports[0] = (uint16_t)sport;
                l4.udp_ports[1] = (uint16_t)dport;
            }
            if (!NEED(8)) break;
            uint32_t ulen = get16(data + off + 4);
            if (ulen >= 8 && ulen < end - off) end = off + ulen;
            off += 8;
            if (scapy_udp_before_l2tp(sport) || scapy_udp_before_l2tp(dport)) break;
            if (sport == 1701 || dport == 1701) layer = S_L2TP;
            else if (!scapy_udp_before_vxlan(sport) && !scapy_udp_before_vxlan(dport) &&
                     (scapy_vxlan_port(sport) || scapy_vxlan_port(dport))) layer = S_VXLAN;
            break;
        }
        case S_L2TP: { /* version 2 header: length, tunnel and session, sequence numbers as flagged; then PPP */
            layer = S_DONE;
            if (!NEED(2)) break;
            unsigned fl = get16(data + off);
            uint32_t hlen = 6u + (fl & 0x4000 ? 2 : 0) + (fl & 0x0800 ? 4 : 0);
            if ((fl & 0x0200) || !NEED(hlen)) break; /* an offset field: not followed */
            off += hlen;
            layer = S_PPP; tunnel = 1; quoted = 0;
            break;
        }
        case S_VXLAN: { /* 8 bytes; with the NextProtocol flag (VXLAN-GPE) byte 3 says what follows, else Ethernet */
            layer = S_DONE;
            if (!NEED(8)) break;
            unsigned np = data[off + 3];
            layer = !(data[off] & 0x04) || np == 0 || np == 3 ? S_ETHER : np == 1 ? S_IPV4 : np == 2 ? S_IPV6 : S_DONE;
            off += 8; tunnel = 1; quoted = 0;
            break;
        }
        case S_GRE: { /* version 1 is PPTP's (RFC 2637), others RFC 2784/2890 with optional words */
            layer = S_DONE;
            if (!NEED(4)) break;
            unsigned fl = get16(data + off);
            type = get16(data + off + 2);
            uint32_t hlen = (fl & 7) == 1 ? 8u + (fl & 0x1000 ? 4 : 0) + (fl & 0x0080 ? 4 : 0)
                          : 4u + (fl & 0xc000 ? 4 : 0) + (fl & 0x2000 ? 4 : 0) + (fl & 0x1000 ? 4 : 0);
            if (((fl & 7) != 1 && (fl & 0x4000)) || !NEED(hlen)) break; /* a routing header: GRErouting */
            off += hlen; tunnel = 1; quoted = 0;
            if (type == ETH_IPV4 || type == ETH_IPV6 || type == ETH_VLAN || type == ETH_QINQ) layer = S_ETHERTYPE;
            else if (type == ETH_TEB) layer = S_ETHER;
            else if (type == 0x880b && (fl & 7) == 1) layer = S_PPP;
            break;
        }
        }
    }
#undef NEED
    if (p->ipv == 0) return; /* IP headers only under a quote do not make a packet IP */
    if (l4.tcp) {
        p->sport = l4.tcp_ports[0];
        p->dport = l4.tcp_ports[1];
        p->flags |= TPP_PKT_L4;
        if (l4.tcp_flags) { p->tcp_flags = l4.flags; p->flags |= TPP_PKT_TCP_FLAGS; }
    }
    if (l4.udp && l4.tcp) {
        p->udp_sport = l4.udp_ports[0];
        p->udp_dport = l4.udp_ports[1];
        p->flags |= TPP_PKT_UDP_TOO;
    } else if (l4.udp) {
        p->sport = l4.udp_ports[0];
        p->dport = l4.udp_ports[1];
        p->flags |= TPP_PKT_L4 | TPP_PKT_L4_UDP;
    }
    if (encapsulated) p->flags |= TPP_PKT_ENCAPSULATED;
}

/* The outer and inner modes: the link, its framing and IP, then the tunnels when the protocol may be one. */
static inline __attribute__((always_inline)) void decode_frame(enum tpp_decode_mode mode, int linktype,
                                                               const uint8_t *data, uint32_t caplen,
                                                               uint32_t framelen, struct tpp_packet *p)
{
    uint64_t at = decode_link(linktype, data, caplen, framelen, p);
    if (at) follow_tunnels(mode, data, caplen, p, at);
}

void tpp_decode_as(enum tpp_decode_mode mode, int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                   struct tpp_packet *p)
{
    uint32_t framelen = wirelen > caplen ? wirelen : caplen;
    reset_packet(p);
    if (mode == TPP_DECODE_COMPAT) decode_compat(linktype, data, caplen, framelen, p);
    else decode_frame(mode, linktype, data, caplen, framelen, p);
}

void tpp_decode(int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen, struct tpp_packet *p)
{
    uint32_t framelen = wirelen > caplen ? wirelen : caplen;
    reset_packet(p);
    decode_frame(TPP_DECODE_OUTER, linktype, data, caplen, framelen, p);
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
