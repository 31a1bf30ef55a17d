/* decode_bounds.c — tpp_decode never reads past the captured length.
 *
 * Built with ASan: every packet is copied into a heap block of exactly its captured length, so one byte read
 * too far is a reported error.  Each sample frame is decoded at every truncation length, and a deterministic
 * stream of random frames (with plausible headers, to get past the first checks) is decoded under every
 * supported link type, in every decoding mode (outer, inner, compat), tunnels and framing included.  Also checks a
 * few decoded fields, so the test fails if decoding itself breaks.
 */
#include "tpp/packet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static enum tpp_decode_mode mode = TPP_DECODE_OUTER; /* of decode_wire */

/* Decode the first `len` bytes of a frame that was `wirelen` bytes on the wire (0: as long as it is captured). */
static void decode_wire(int linktype, const uint8_t *frame, uint32_t len, uint32_t wirelen, struct tpp_packet *p)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, frame, len);
    tpp_decode_as(mode, linktype, copy, len, wirelen ? wirelen : len, p);
    free(copy);
}

static void decode_exact(int linktype, const uint8_t *frame, uint32_t len, struct tpp_packet *p)
{
    decode_wire(linktype, frame, len, 0, p);
}

/* Ethernet + 802.1Q + IPv4 (with 4 bytes of options) + TCP SYN from port 1234 to 80. */
static const uint8_t eth_vlan_tcp[] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00,
    0x46, 0, 0, 44, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 1, 1, 1, 0,
    0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0,
};

/* Raw IPv6 with hop-by-hop and fragment (first fragment) headers, then UDP 53 -> 5353. */
static const uint8_t raw_ipv6_udp[] = {
    0x60, 0, 0, 0, 0, 32, 0, 64,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    44, 0, 1, 4, 0, 0, 0, 0,          /* hop-by-hop: next = fragment */
    17, 0, 0, 1, 0, 0, 0, 7,          /* fragment, offset 0, more fragments */
    0, 53, 0x14, 0xe9, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
};

/* Linux cooked SLL2 carrying IPv4 ICMP. */
static const uint8_t sll2_icmp[] = {
    0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0, 1, 2, 3, 4, 5, 0, 0,
    0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 192, 168, 0, 1, 192, 168, 0, 2, 8, 0, 0, 0, 0, 1, 0, 1,
};

static void check_samples(void)
{
    struct tpp_packet p;
    decode_exact(TPP_LINK_ETHERNET, eth_vlan_tcp, sizeof eth_vlan_tcp, &p);
    CHECK(p.ipv == 4 && p.proto == 6 && p.sport == 1234 && p.dport == 80 && p.ip_len == 44);
    CHECK((p.flags & TPP_PKT_TCP_FLAGS) && p.tcp_flags == 0x02 && !(p.flags & TPP_PKT_TRUNCATED));

    decode_exact(TPP_LINK_RAW, raw_ipv6_udp, sizeof raw_ipv6_udp, &p);
    CHECK(p.ipv == 6 && p.proto == 17 && p.sport == 53 && p.dport == 5353 && p.ip_len == 72);

    decode_exact(TPP_LINK_SLL2, sll2_icmp, sizeof sll2_icmp, &p);
    CHECK(p.ipv == 4 && p.proto == 1 && !(p.flags & TPP_PKT_L4));

    /* Cut after the TCP ports but before the flags: ports known, flags not, marked truncated. */
    decode_exact(TPP_LINK_ETHERNET, eth_vlan_tcp, 18 + 24 + 6, &p);
    CHECK(p.ipv == 4 && (p.flags & TPP_PKT_L4) && !(p.flags & TPP_PKT_TCP_FLAGS) && (p.flags & TPP_PKT_TRUNCATED));

    /* The IP length fields are data: a total length beyond the frame is cut to it (to the wire length when the
     * capture was cut by a snap length), and an impossible IPv4 header is malformed, not IP. */
    uint8_t bad[sizeof eth_vlan_tcp];
    memcpy(bad, eth_vlan_tcp, sizeof bad);
    bad[18 + 2] = 0xff; bad[18 + 3] = 0xff;           /* IPv4 total length 65535 in a 62-byte frame */
    decode_exact(TPP_LINK_ETHERNET, bad, sizeof bad, &p);
    CHECK(p.ipv == 4 && p.ip_len == sizeof bad - 18 && p.proto == 6 && !(p.flags & TPP_PKT_MALFORMED));
    decode_wire(TPP_LINK_ETHERNET, bad, 40, 1000, &p); /* snapped at 40 of 1000 bytes: the wire bounds it */
    CHECK(p.ipv == 4 && p.ip_len == 1000 - 18);
    decode_wire(TPP_LINK_ETHERNET, eth_vlan_tcp, 40, 1000, &p); /* a true total length within the wire stays */
    CHECK(p.ipv == 4 && p.ip_len == 44);
    bad[18 + 2] = 0; bad[18 + 3] = 20;                /* total length 20 < IHL 6 x 4 = 24 */
    decode_exact(TPP_LINK_ETHERNET, bad, sizeof bad, &p);
    CHECK(p.ipv == 0 && (p.flags & TPP_PKT_MALFORMED) && !(p.flags & TPP_PKT_L4) && p.ip_len == 0);
    memcpy(bad, eth_vlan_tcp, sizeof bad);
    bad[18] = 0x44;                                   /* IHL 4: a 16-byte header */
    decode_exact(TPP_LINK_ETHERNET, bad, sizeof bad, &p);
    CHECK(p.ipv == 0 && (p.flags & TPP_PKT_MALFORMED) && !(p.flags & TPP_PKT_L4));
    uint8_t bad6[sizeof raw_ipv6_udp];
    memcpy(bad6, raw_ipv6_udp, sizeof bad6);
    bad6[4] = 0xff; bad6[5] = 0xff;                   /* IPv6 payload length 65535 in a 72-byte packet */
    decode_exact(TPP_LINK_RAW, bad6, sizeof bad6, &p);
    CHECK(p.ipv == 6 && p.ip_len == sizeof bad6 && p.sport == 53);

    /* Every truncation of every sample, under every link type. */
    const struct { const uint8_t *f; uint32_t len; } samples[] = {
        { eth_vlan_tcp, sizeof eth_vlan_tcp }, { raw_ipv6_udp, sizeof raw_ipv6_udp }, { sll2_icmp, sizeof sll2_icmp },
    };
    const int linktypes[] = { TPP_LINK_NULL, TPP_LINK_ETHERNET, TPP_LINK_RAW, TPP_LINK_LOOP, TPP_LINK_SLL,
                              TPP_LINK_IPV4, TPP_LINK_IPV6, TPP_LINK_SLL2 };
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++)
        for (size_t l = 0; l < sizeof linktypes / sizeof linktypes[0]; l++)
            for (uint32_t len = 0; len <= samples[s].len; len++) decode_exact(linktypes[l], samples[s].f, len, &p);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

/* Random frames whose first bytes are made plausible, so decoding goes deep. */
/* TTL / hop limit and the fragment flags: IPv4 MF at offset 0 is a first fragment (ports decoded), an offset a
 * later one; IPv6 the same by its Fragment header, and a Fragment header at offset 0 without M an atomic one. */
static void check_fragments(void)
{
    struct tpp_packet p;
    decode_exact(TPP_LINK_ETHERNET, eth_vlan_tcp, sizeof eth_vlan_tcp, &p);
    CHECK(p.ttl == 64 && !(p.flags & (TPP_PKT_FRAGMENT | TPP_PKT_FIRST_FRAGMENT | TPP_PKT_ATOMIC_FRAGMENT)));
    uint8_t f4[sizeof eth_vlan_tcp];
    memcpy(f4, eth_vlan_tcp, sizeof f4);
    f4[18 + 8] = 7;                                   /* TTL */
    f4[18 + 6] = 0x20;                                /* MF, offset 0 */
    decode_exact(TPP_LINK_ETHERNET, f4, sizeof f4, &p);
    CHECK(p.ttl == 7 && (p.flags & TPP_PKT_FIRST_FRAGMENT) && !(p.flags & TPP_PKT_FRAGMENT));
    CHECK((p.flags & TPP_PKT_L4) && p.sport == 1234 && p.dport == 80);
    f4[18 + 6] = 0x20; f4[18 + 7] = 0xb9;             /* MF, offset 185 x 8 */
    decode_exact(TPP_LINK_ETHERNET, f4, sizeof f4, &p);
    CHECK((p.flags & TPP_PKT_FRAGMENT) && !(p.flags & (TPP_PKT_FIRST_FRAGMENT | TPP_PKT_L4)) && p.sport == 0);
    f4[18 + 6] = 0x00; f4[18 + 7] = 0x01;             /* the last fragment: no MF, offset 8 */
    decode_exact(TPP_LINK_ETHERNET, f4, sizeof f4, &p);
    CHECK((p.flags & TPP_PKT_FRAGMENT) && !(p.flags & TPP_PKT_FIRST_FRAGMENT) && p.ttl == 7);
    f4[18 + 6] = 0x40; f4[18 + 7] = 0;                /* DF only: not a fragment */
    decode_exact(TPP_LINK_ETHERNET, f4, sizeof f4, &p);
    CHECK(!(p.flags & (TPP_PKT_FRAGMENT | TPP_PKT_FIRST_FRAGMENT | TPP_PKT_ATOMIC_FRAGMENT)));
    decode_exact(TPP_LINK_ETHERNET, f4, 18 + 8, &p);  /* cut before the TTL: truncated, nothing read */
    CHECK(p.ipv == 0 && p.ttl == 0 && (p.flags & TPP_PKT_TRUNCATED));

    decode_exact(TPP_LINK_RAW, raw_ipv6_udp, sizeof raw_ipv6_udp, &p);
    CHECK(p.ttl == 64 && (p.flags & TPP_PKT_FIRST_FRAGMENT) && !(p.flags & TPP_PKT_FRAGMENT));
    uint8_t f6[sizeof raw_ipv6_udp];
    memcpy(f6, raw_ipv6_udp, sizeof f6);
    f6[7] = 255;                                      /* hop limit */
    f6[48 + 3] = 0;                                   /* offset 0, no M: atomic */
    decode_exact(TPP_LINK_RAW, f6, sizeof f6, &p);
    CHECK(p.ttl == 255 && (p.flags & TPP_PKT_ATOMIC_FRAGMENT) && !(p.flags & (TPP_PKT_FIRST_FRAGMENT | TPP_PKT_FRAGMENT)));
    CHECK(p.sport == 53 && (p.flags & TPP_PKT_L4));
    f6[48 + 2] = 0x05; f6[48 + 3] = 0x01;             /* offset 160, M */
    decode_exact(TPP_LINK_RAW, f6, sizeof f6, &p);
    CHECK((p.flags & TPP_PKT_FRAGMENT) && !(p.flags & (TPP_PKT_FIRST_FRAGMENT | TPP_PKT_L4)) && p.proto == 17);
    decode_exact(TPP_LINK_RAW, raw_ipv6_udp, 48 + 4, &p); /* the Fragment header cut: no flag from it */
    CHECK((p.flags & TPP_PKT_TRUNCATED) && !(p.flags & (TPP_PKT_FIRST_FRAGMENT | TPP_PKT_ATOMIC_FRAGMENT)));
}

static void check_random(void)
{
    const int linktypes[] = { TPP_LINK_NULL, TPP_LINK_ETHERNET, TPP_LINK_RAW, TPP_LINK_SLL, TPP_LINK_IPV6, TPP_LINK_SLL2 };
    uint8_t frame[160];
    struct tpp_packet p;
    for (int iter = 0; iter < 200000; iter++) {
        for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)rng();
        int lt = linktypes[rng() % (sizeof linktypes / sizeof linktypes[0])];
        uint32_t off = lt == TPP_LINK_ETHERNET ? 14 : lt == TPP_LINK_SLL ? 16 : lt == TPP_LINK_SLL2 ? 20 :
                       lt == TPP_LINK_NULL ? 4 : 0;
        int v6 = rng() & 1;
        if (lt == TPP_LINK_ETHERNET) { frame[12] = v6 ? 0x86 : 0x08; frame[13] = v6 ? 0xdd : 0x00; }
        if (lt == TPP_LINK_SLL) { frame[14] = v6 ? 0x86 : 0x08; frame[15] = v6 ? 0xdd : 0x00; }
        if (lt == TPP_LINK_SLL2) { frame[0] = v6 ? 0x86 : 0x08; frame[1] = v6 ? 0xdd : 0x00; }
        if (lt == TPP_LINK_NULL) { frame[0] = v6 ? 24 : 2; frame[1] = frame[2] = frame[3] = 0; }
        if (lt == TPP_LINK_IPV6) v6 = 1;
        frame[off] = (uint8_t)((v6 ? 0x60 : 0x40) | (frame[off] & 0x0f));
        if (v6) frame[off + 6] = (uint8_t[]){ 0, 6, 17, 43, 44, 51, 58, 60 }[rng() % 8];
        else { frame[off + 9] = (uint8_t[]){ 1, 6, 17, 47, 4, 41 }[rng() % 6]; frame[off + 6] &= (rng() & 1) ? 0xff : 0x40; frame[off + 7] = 0; }
        if (!v6 && frame[off + 9] == 17) { /* a tunnel's UDP port, then a plausible tunnel header */
            uint32_t u = off + (uint32_t)(frame[off] & 0x0f) * 4;
            uint16_t port = (uint16_t[]){ 4789, 6081, 2152, 3544, 1701, 8472 }[rng() % 6];
            if (u + 12 < sizeof frame) { frame[u + 2] = (uint8_t)(port >> 8); frame[u + 3] = (uint8_t)port; frame[u + 8] = (uint8_t[]){ 0x08, 0x00, 0x34, 0x60 }[rng() % 4]; }
        }
        mode = (enum tpp_decode_mode)(rng() % 3);
        uint32_t len = (uint32_t)(rng() % (sizeof frame + 1));
        uint32_t wire = (rng() & 1) ? len : len + (uint32_t)(rng() % 2000);
        decode_wire(lt, frame, len, wire, &p);
        CHECK(p.ipv == 0 || p.ipv == 4 || p.ipv == 6);
        CHECK(p.ip_len <= wire && (p.ipv != 0 || p.ip_len == 0));
    }
    mode = TPP_DECODE_OUTER;
}

/* Build a frame: Ethernet, then `n` bytes of `body`. */
static uint32_t ether(uint8_t *f, unsigned type, const uint8_t *body, uint32_t n)
{
    memset(f, 0, 12);
    f[12] = (uint8_t)(type >> 8); f[13] = (uint8_t)type;
    memcpy(f + 14, body, n);
    return 14 + n;
}

/* An IPv4 header of protocol `proto` from 10.0.0.`a` to 10.0.0.`b` with `payload` bytes after it, at f. */
static uint32_t ipv4(uint8_t *f, uint8_t proto, uint8_t a, uint8_t b, uint32_t payload)
{
    const uint8_t h[20] = { 0x45, 0, (uint8_t)((20 + payload) >> 8), (uint8_t)(20 + payload), 0, 0, 0, 0, 64, proto,
                            0, 0, 10, 0, 0, a, 10, 0, 0, b };
    memcpy(f, h, 20);
    return 20;
}

/* Tunnels and framing: the fields of each mode, every truncation in every mode, and a depth bomb. */
static void check_tunnels(void)
{
    struct tpp_packet p;
    uint8_t body[600], f[700];
    /* GRE in GRE: 10.0.0.1 -> 2 GRE, 10.0.0.3 -> 4 GRE (key), 10.0.0.5 -> 6 UDP 520 -> 520 */
    uint32_t n = 0;
    n += ipv4(body + n, 47, 1, 2, 4 + 20 + 8 + 20 + 8);
    memcpy(body + n, "\x00\x00\x08\x00", 4); n += 4;
    n += ipv4(body + n, 47, 3, 4, 8 + 20 + 8);
    memcpy(body + n, "\x20\x00\x08\x00\x00\x00\x00\x07", 8); n += 8;
    n += ipv4(body + n, 17, 5, 6, 8);
    memcpy(body + n, "\x02\x08\x02\x08\x00\x08\x00\x00", 8); n += 8;
    uint32_t len = ether(f, 0x0800, body, n);
    mode = TPP_DECODE_OUTER;
    decode_exact(TPP_LINK_ETHERNET, f, len, &p);
    CHECK(p.ipv == 4 && p.proto == 47 && p.src[15] == 1 && (p.flags & TPP_PKT_ENCAPSULATED) && !(p.flags & TPP_PKT_L4));
    mode = TPP_DECODE_INNER;
    decode_exact(TPP_LINK_ETHERNET, f, len, &p);
    CHECK(p.ipv == 4 && p.proto == 17 && p.src[15] == 5 && p.sport == 520 && (p.flags & TPP_PKT_ENCAPSULATED));
    CHECK(p.ip_len == 28 && (p.flags & TPP_PKT_L4_UDP));
    mode = TPP_DECODE_COMPAT;
    decode_exact(TPP_LINK_ETHERNET, f, len, &p);
    CHECK(p.ipv == 4 && p.proto == 47 && p.src[15] == 1 && p.dport == 520 && (p.flags & TPP_PKT_L4_UDP));
    for (int m = 0; m < 3; m++) {
        mode = (enum tpp_decode_mode)m;
        for (uint32_t cut = 0; cut <= len; cut++) decode_exact(TPP_LINK_ETHERNET, f, cut, &p);
        /* snapped in the middle header: the outer stays, truncated only where the inner header was wanted */
        decode_wire(TPP_LINK_ETHERNET, f, 14 + 20 + 4 + 15, len, &p);
        CHECK(p.ipv == 4 && p.src[15] == 1 && !(p.flags & TPP_PKT_ENCAPSULATED));
        CHECK(!(p.flags & TPP_PKT_TRUNCATED) == (m == TPP_DECODE_OUTER));
    }

    /* QinQ, PPPoE session, PPP IPv4 (two-byte protocol), TCP: IP in every mode */
    n = 0;
    memcpy(body, "\x0e\x78\x81\x00\x09\xaa\x88\x64\x11\x00\x0f\x07\x00\x1c\x00\x21", 16); n = 16;
    n += ipv4(body + n, 6, 1, 2, 20);
    memcpy(body + n, "\x03\xfb\x01\xbb\0\0\0\0\0\0\0\0\x50\x02\0\0\0\0\0\0", 20); n += 20;
    len = ether(f, 0x8100, body, n);
    for (int m = 0; m < 3; m++) {
        mode = (enum tpp_decode_mode)m;
        decode_exact(TPP_LINK_ETHERNET, f, len, &p);
        CHECK(p.ipv == 4 && p.proto == 6 && p.sport == 1019 && p.dport == 443 && p.tcp_flags == 2);
        CHECK(!(p.flags & TPP_PKT_ENCAPSULATED));
        for (uint32_t cut = 0; cut <= len; cut++) decode_exact(TPP_LINK_ETHERNET, f, cut, &p);
    }

    /* MPLS, two labels, then IPv4 UDP: framing for tpp, opaque to the original */
    memcpy(body, "\x00\x06\x40\xff\x00\x06\x51\xff", 8); n = 8;
    n += ipv4(body + n, 17, 1, 2, 8);
    memcpy(body + n, "\x00\x35\x00\x35\x00\x08\x00\x00", 8); n += 8;
    len = ether(f, 0x8847, body, n);
    for (int m = 0; m < 3; m++) {
        mode = (enum tpp_decode_mode)m;
        decode_exact(TPP_LINK_ETHERNET, f, len, &p);
        CHECK(m == TPP_DECODE_COMPAT ? p.ipv == 0 : (p.ipv == 4 && p.sport == 53));
        for (uint32_t cut = 0; cut <= len; cut++) decode_exact(TPP_LINK_ETHERNET, f, cut, &p);
    }

    /* VXLAN carrying Ethernet, IPv4, TCP: inner mode sees the TCP; compat both TCP and UDP */
    n = ipv4(body, 17, 1, 2, 8 + 8 + 14 + 20 + 20);
    memcpy(body + n, "\xc0\x00\x12\xb5\x00\x4a\x00\x00\x08\x00\x00\x00\x00\x00\x2a\x00", 16); n += 16;
    memset(body + n, 0, 12); body[n + 12] = 0x08; body[n + 13] = 0; n += 14;
    n += ipv4(body + n, 6, 3, 4, 20);
    memcpy(body + n, "\x0f\xa0\x00\x50\0\0\0\0\0\0\0\0\x50\x12\0\0\0\0\0\0", 20); n += 20;
    len = ether(f, 0x0800, body, n);
    mode = TPP_DECODE_INNER;
    decode_exact(TPP_LINK_ETHERNET, f, len, &p);
    CHECK(p.ipv == 4 && p.src[15] == 3 && p.sport == 4000 && !(p.flags & TPP_PKT_L4_UDP) && (p.flags & TPP_PKT_ENCAPSULATED));
    mode = TPP_DECODE_COMPAT;
    decode_exact(TPP_LINK_ETHERNET, f, len, &p);
    CHECK(p.ipv == 4 && p.src[15] == 1 && p.sport == 4000 && (p.flags & TPP_PKT_UDP_TOO) && p.udp_dport == 4789);
    for (int m = 0; m < 3; m++) {
        mode = (enum tpp_decode_mode)m;
        for (uint32_t cut = 0; cut <= len; cut++) decode_exact(TPP_LINK_ETHERNET, f, cut, &p);
    }

    /* A depth bomb: 20 nested IPv4-in-IPv4 headers.  The inner mode stops after TPP_MAX_TUNNELS of them. */
    n = 0;
    for (int k = 0; k < 20; k++) n += ipv4(body + n, k < 19 ? 4 : 6, (uint8_t)(k + 1), 200, (uint32_t)(19 - k) * 20 + 20);
    memcpy(body + n, "\x0f\xa0\x00\x50\0\0\0\0\0\0\0\0\x50\x02\0\0\0\0\0\0", 20); n += 20;
    len = ether(f, 0x0800, body, n);
    mode = TPP_DECODE_INNER;
    decode_exact(TPP_LINK_ETHERNET, f, len, &p);
    CHECK(p.ipv == 4 && p.src[15] == TPP_MAX_TUNNELS + 1 && p.proto == 4 && (p.flags & TPP_PKT_ENCAPSULATED));
    for (int m = 0; m < 3; m++) {
        mode = (enum tpp_decode_mode)m;
        for (uint32_t cut = 0; cut <= len; cut++) decode_exact(TPP_LINK_ETHERNET, f, cut, &p);
    }
    mode = TPP_DECODE_OUTER;
}

static void check_format(void)
{
    char buf[64];
    uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };
    a[15] = 1;
    tpp_addr_format(a, buf, sizeof buf);
    CHECK(strcmp(buf, "2001:db8::1") == 0);
    memset(a, 0, 16);
    tpp_addr_format(a, buf, sizeof buf);
    CHECK(strcmp(buf, "::") == 0);
    a[0] = 0x20; a[1] = 0x01;
    tpp_addr_format(a, buf, sizeof buf);
    CHECK(strcmp(buf, "2001::") == 0);
    uint8_t m[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1 };
    tpp_addr_format(m, buf, sizeof buf);
    CHECK(strcmp(buf, "192.0.2.1") == 0);
}

int main(void)
{
    check_samples();
    check_fragments();
    check_tunnels();
    check_random();
    check_format();
    if (failures) { fprintf(stderr, "decode_bounds: %d failures\n", failures); return 1; }
    printf("decode_bounds: ok\n");
    return 0;
}
