/* tpp/packet.h — decoding one captured frame into the fields tpp aggregates.
 *
 * tpp_decode() is a pure function: it reads at most `caplen` bytes of `data`, never allocates, and fills a
 * caller-owned struct tpp_packet.  Only the outermost IP header is analysed.
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
};

struct tpp_packet {
    int64_t ts_ns;      /* capture timestamp, nanoseconds since the epoch */
    uint32_t caplen;    /* bytes captured */
    uint32_t wirelen;   /* bytes on the wire */
    uint32_t ip_len;    /* IPv4 total length, IPv6 40 + payload length, at most what the frame holds from the IP
                           header on (its wire length); 0 when not IP */
    uint16_t sport, dport;
    uint8_t ipv;        /* 4, 6, or 0 for a non-IP packet */
    uint8_t proto;      /* transport protocol number (IPv6: after extension headers) */
    uint8_t tcp_flags;  /* valid when flags & TPP_PKT_TCP_FLAGS */
    uint8_t flags;      /* TPP_PKT_* */
    uint8_t ttl;        /* IPv4 TTL / IPv6 hop limit */
    uint8_t src[16];    /* IPv4 addresses as IPv4-mapped IPv6 (::ffff:a.b.c.d) */
    uint8_t dst[16];
};

/* Is `linktype` one tpp decodes?  Packets of other link types are counted as non-IP. */
int tpp_linktype_supported(int linktype);

/* Decode one frame of `caplen` captured bytes of `wirelen` on the wire (a wirelen below caplen counts as caplen).
 * The caller sets ts_ns, caplen and wirelen beforehand or afterwards; this fills the rest. */
void tpp_decode(int linktype, const uint8_t *data, uint32_t caplen, uint32_t wirelen, struct tpp_packet *out);

/* Format an address from a decoded packet as text (dotted quad for IPv4-mapped, RFC 5952 for IPv6). */
void tpp_addr_format(const uint8_t addr[16], char *buf, unsigned buflen);

#endif
