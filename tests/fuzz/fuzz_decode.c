/* fuzz_decode.c — libFuzzer target: tpp_decode_as() on any bytes under any link type, in every decoding mode
 * (outer, inner: nested tunnels, truncated inner headers, depth bombs; compat).
 *
 * Input: byte 0 picks the link type (one of those tpp decodes, or an arbitrary one from bytes 0-1), the rest is
 * the frame, decoded in each mode.  The frame is copied into a heap block of exactly its length, so ASan reports a read one byte past
 * caplen.  The decoded fields are checked against what tpp_decode promises (tpp/packet.h).
 */
#include "tpp/packet.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int linktypes[] = {
    TPP_LINK_NULL, TPP_LINK_ETHERNET, TPP_LINK_RAW, TPP_LINK_LOOP, TPP_LINK_SLL, TPP_LINK_IPV4, TPP_LINK_IPV6,
    TPP_LINK_SLL2, TPP_LINK_DLT_RAW_ALT, TPP_LINK_DLT_RAW_ALT2,
};
enum { NLINK = sizeof linktypes / sizeof linktypes[0] };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int linktype = data[0] < 0xf0 ? linktypes[data[0] % NLINK] : (size > 1 ? data[1] : 0) | (data[0] & 0x0f) << 8;
    size_t skip = data[0] < 0xf0 ? 1 : 2;
    if (size < skip) return 0;
    uint32_t caplen = (uint32_t)(size - skip);
    uint8_t *frame = malloc(caplen ? caplen : 1);
    if (!frame) return 0;
    memcpy(frame, data + skip, caplen);

    for (int mode = TPP_DECODE_OUTER; mode <= TPP_DECODE_COMPAT; mode++) {
    struct tpp_packet p;
    memset(&p, 0xa5, sizeof p); /* tpp_decode must set every field it reports, whatever was there */
    tpp_decode_as((enum tpp_decode_mode)mode, linktype, frame, caplen, caplen, &p);
    if (!tpp_linktype_supported(linktype) && (p.ipv || p.flags)) abort();
    if (p.ipv != 0 && p.ipv != 4 && p.ipv != 6) abort();
    if (p.ip_len > caplen || (p.ipv == 0 && p.ip_len != 0)) abort(); /* the IP length never exceeds the frame */
    if (p.ipv == 0 && (p.flags & (TPP_PKT_L4 | TPP_PKT_TCP_FLAGS | TPP_PKT_FRAGMENT | TPP_PKT_FIRST_FRAGMENT |
                                  TPP_PKT_ATOMIC_FRAGMENT))) abort();
    if (p.ipv == 0 && p.ttl != 0) abort();
    /* a packet is at most one kind of fragment */
    if (__builtin_popcount(p.flags & (TPP_PKT_FRAGMENT | TPP_PKT_FIRST_FRAGMENT | TPP_PKT_ATOMIC_FRAGMENT)) > 1) abort();
    if ((p.flags & TPP_PKT_TCP_FLAGS) && !(p.flags & TPP_PKT_L4)) abort();
    /* outside compat, the ports are of the IP header's own transport; compat's may lie deeper (tpp/packet.h) */
    if (mode != TPP_DECODE_COMPAT && (p.flags & TPP_PKT_L4) && p.proto != ((p.flags & TPP_PKT_L4_UDP) ? 17 : 6)) abort();
    if (mode != TPP_DECODE_COMPAT && (p.flags & TPP_PKT_UDP_TOO)) abort();
    if ((p.flags & TPP_PKT_UDP_TOO) && (!(p.flags & TPP_PKT_L4) || (p.flags & TPP_PKT_L4_UDP))) abort();
    if ((p.flags & (TPP_PKT_L4_UDP | TPP_PKT_TCP_FLAGS)) == (TPP_PKT_L4_UDP | TPP_PKT_TCP_FLAGS)) abort();
    if ((p.flags & TPP_PKT_L4_UDP) && !(p.flags & TPP_PKT_L4)) abort();
    if (p.flags & ~(TPP_PKT_L4 | TPP_PKT_TCP_FLAGS | TPP_PKT_FRAGMENT | TPP_PKT_TRUNCATED | TPP_PKT_MALFORMED |
                    TPP_PKT_FIRST_FRAGMENT | TPP_PKT_ATOMIC_FRAGMENT | TPP_PKT_L4_UDP | TPP_PKT_UDP_TOO |
                    TPP_PKT_ENCAPSULATED)) abort();
    if (p.ipv == 0 && (p.flags & (TPP_PKT_ENCAPSULATED | TPP_PKT_UDP_TOO))) abort();
    if (p.ipv) {
        char buf[64];
        tpp_addr_format(p.src, buf, sizeof buf);
        if (!memchr(buf, 0, sizeof buf) || !buf[0]) abort();
        tpp_addr_format(p.dst, buf, sizeof buf);
        if (!memchr(buf, 0, sizeof buf) || !buf[0]) abort();
        char tiny[8]; /* a short buffer is cut, never overrun */
        tpp_addr_format(p.src, tiny, sizeof tiny);
    }
    }
    free(frame);
    return 0;
}
