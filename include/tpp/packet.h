/* tpp/packet.h — decoding one captured frame into the fields tpp aggregates.
 *
 * tpp_decode() is a pure function: it reads at most `caplen` bytes of `data`, never allocates, and fills a
 * caller-owned struct tpp_packet.  PPPoE sessions and MPLS label stacks are framing: the IP header after them is
 * the packet's.  What happens at a tunnel (GRE, IP in IP, VXLAN, Geneve, GTP-U, Teredo) depends on the mode:
 * TPP_DECODE_OUTER analyses the outermost IP header (and only notes the tunnel), TPP_DECODE_INNER the innermost,
 * TPP_DECODE_COMPAT classifies as scapy 2.5's default dissection does (the original tool's `--compat` numbers).
 */
#ifndef TPP_PACKET_H
#define TPP_PACKET_H

#include <stddef.h>
#include <stdint.h>

/* Link types tpp decodes (values are LINKTYPE_* numbers as stored in pcap files). */
enum {
    TPP_LINK_NULL = 0,       /* BSD loopback, host byte order family */
    TPP_LINK_ETHERNET = 1,
    TPP_LINK_RAW = 101,      /* raw IPv4 or IPv6 */
    TPP_LINK_LOOP = 108,     /* OpenBSD loopback, network byte order family */
    TPP_LINK_SLL = 113,
    TPP_LINK_IPV4 = 228,
    TPP_LINK_IPV6 = 229,
    TPP_LINK_SLL2 = 276,
    TPP_LINK_DLT_RAW_ALT = 12, /* DLT_RAW as some systems number it */
    TPP_LINK_DLT_RAW_ALT2 = 14,
};

/* Flags in tpp_packet.flags. */
enum {
    TPP_PKT_L4 = 1 << 0,        /* transport ports decoded (TCP or UDP header present up to its ports) */
    TPP_PKT_TCP_FLAGS = 1 << 1, /* TCP flags byte captured */
    TPP_PKT_FRAGMENT = 1 << 2,  /* non-first fragment: no transport header */
    TPP_PKT_TRUNCATED = 1 << 3, /* capture ended inside a header tpp wanted to read */
    TPP_PKT_MALFORMED = 1 << 4, /* an IPv4 header that cannot be (IHL < 5, total length < header): not IP */
    TPP_PKT_FIRST_FRAGMENT = 1 << 5, /* first fragment of a fragmented datagram (more fragments, offset 0) */
    TPP_PKT_ATOMIC_FRAGMENT = 1 << 6, /* IPv6 Fragment header with offset 0 and no more fragments (RFC 6946) */
    TPP_PKT_L4_UDP = 1 << 7,    /* the ports in sport/dport are a UDP header's (else a TCP header's) */
    TPP_PKT_UDP_TOO = 1 << 8,   /* compat: a UDP header besides the TCP one, its ports in udp_sport/udp_dport */
    TPP_PKT_ENCAPSULATED = 1 << 9, /* a tunnel with an IP header inside it was found (whatever the mode analysed) */
};

/* How tunnels are decoded (see the top of this file). */
enum tpp_decode_mode { TPP_DECODE_OUTER, TPP_DECODE_INNER, TPP_DECODE_COMPAT };

/* Tunnels crossed at most: a deeper packet is analysed at this depth. */
enum { TPP_MAX_TUNNELS = 8 };

struct tpp_packet {
    int64_t ts_ns;      /* capture timestamp, nanoseconds since the epoch (set by the caller) */
    uint32_t ip_len;    /* IPv4 total length, IPv6 40 + payload length, at most what the frame holds from the IP
                           header on (its wire length); 0 when not IP */
    uint16_t sport, dport;  /* valid when flags & TPP_PKT_L4 (TPP_PKT_L4_UDP says of which transport) */
    uint16_t udp_sport, udp_dport; /* valid when flags & TPP_PKT_UDP_TOO */
    uint16_t flags;     /* TPP_PKT_* */
    uint8_t ipv;        /* 4, 6, or 0 for a non-IP packet */
    uint8_t proto;      /* transport protocol number (IPv6: after extension headers); in compat mode the first
                           IPv4 header's, while the ports and TCP flags are of the first TCP / UDP header anywhere */
    uint8_t tcp_flags;  /* valid when flags & TPP_PKT_TCP_FLAGS */
    uint8_t ttl;        /* IPv4 TTL / IPv6 hop limit */
    uint8_t src[16];    /* IPv4 addresses as IPv4-mapped IPv6 (::ffff:a.b.c.d) */
    uint8_t dst[16];
};

/* Is `linktype` one tpp decodes?  Packets of other link types are counted as non-IP. */
int tpp_linktype_supported(int linktype);

/* Decode one frame of `caplen` captured bytes of `wirelen` on the wire (a wirelen below caplen counts as caplen).
 * The caller sets ts_ns beforehand or afterwards; this fills the rest (64 bytes a packet: the parse ring holds
 * thousands, and the frame's own lengths stay in its struct tpp_frame).  tpp_decode is
 * tpp_decode_as(TPP_DECODE_OUTER, ...). */
void tpp_decode(int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen, struct tpp_packet *out);
void tpp_decode_as(enum tpp_decode_mode mode, int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                   struct tpp_packet *out);

/* Format an address from a decoded packet as text (dotted quad for IPv4-mapped, RFC 5952 for IPv6). */
void tpp_addr_format(const uint8_t addr[16], char *buf, unsigned buflen);

#endif
