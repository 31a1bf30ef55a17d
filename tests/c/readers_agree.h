/* readers_agree.h — do tpp's own pcap and pcapng readers give exactly the frames libpcap gives?
 *
 * Shared by tests/c/capture_readers.c (the test captures and the corpus) and the capture fuzz target.  The file
 * is read twice, as tpp reads it (its own readers for classic pcap and pcapng, libpcap for the rest) and by
 * libpcap alone; the link type, every frame (timestamp, lengths, bytes) and the way reading ends (the end, or an
 * error) must be the same, and a file tpp refuses must be one libpcap refuses too.  tpp reads more than libpcap,
 * and where libpcap is known to be wrong tpp is right instead; these differences, and only these, are allowed:
 *  - libpcap refuses the file, or stops at a pcapng block it refuses (interfaces of different link types or
 *    snapshot lengths, sections of different byte orders), while tpp reads on;
 *  - a frame whose timestamp tpp_capture_ts_unlike_libpcap() flags: libpcap reads a native-order pcap's
 *    timestamps as signed (after 2038 they come out before 1970), overflows on power-of-2 pcapng resolutions
 *    finer than 2^-34 s, and dates a simple packet block to 1970;
 *  - a timestamp beyond what 64-bit nanoseconds hold, which libpcap wraps around and tpp refuses;
 *  - the link type number of a link type tpp does not decode (libpcap reports this system's DLT_ number, and
 *    the LINKTYPE_ 12 of raw IP as DLT_RAW), and the bytes and wire length of such frames and of Linux cooked
 *    CAN frames, whose pseudo-headers libpcap rewrites.
 */
#ifndef TPP_READERS_AGREE_H
#define TPP_READERS_AGREE_H

#include "tpp/capture.h"
#include "tpp/packet.h"

#include <stdio.h>
#include <string.h>

static int agree_same_linktype(int own, int lib)
{
    if (own == lib) return 1;
    if (own == TPP_LINK_DLT_RAW_ALT && lib == TPP_LINK_RAW) return 1;
    return !tpp_linktype_supported(own) && !tpp_linktype_supported(lib);
}

/* Does libpcap rewrite this frame's pseudo-header or wire length? */
static int agree_rewritten(const struct tpp_frame *f)
{
    if (!tpp_linktype_supported(f->linktype)) return 1;
    size_t at = f->linktype == TPP_LINK_SLL ? 14 : f->linktype == TPP_LINK_SLL2 ? 0 : (size_t)-1;
    if (at == (size_t)-1 || f->caplen < at + 2) return 0;
    unsigned protocol = (unsigned)f->data[at] << 8 | f->data[at + 1];
    return protocol >= 0x000c && protocol <= 0x000e; /* CAN, CAN FD, CAN XL */
}

/* libpcap stops at what tpp reads on.  A section of the other byte order looks to libpcap like a block of a
 * huge length (it reads the length in the old order); tpp's limit on a block's size is never below libpcap's. */
static int agree_libpcap_refusal(const char *msg)
{
    return strstr(msg, "different from the type of the first interface") ||
           strstr(msg, "snapshot length") || strstr(msg, "different byte orders") ||
           strstr(msg, "pcapng block size");
}

/* 0 when the readers agree on `path` under `filter`, else -1 with the difference in `why`.  *frames counts the
 * frames compared. */
static int readers_agree(const char *path, const char *filter, long *frames, char *why, size_t whylen)
{
    char err_own[TPP_ERRBUF_SIZE] = "", err_lib[TPP_ERRBUF_SIZE] = "";
    struct tpp_capture *own = tpp_capture_open_with(path, filter, TPP_CAPTURE_AUTO, err_own, sizeof err_own);
    struct tpp_capture *lib = tpp_capture_open_with(path, filter, TPP_CAPTURE_LIBPCAP, err_lib, sizeof err_lib);
    int rc = 0;
    struct tpp_frame a, b;
    if (!own || !lib) {
        if (lib) {
            snprintf(why, whylen, "tpp refuses what libpcap opens (%s)", err_own);
            rc = -1;
        }
    } else if (!agree_same_linktype(tpp_capture_linktype(own), tpp_capture_linktype(lib))) {
        snprintf(why, whylen, "link type %d against libpcap's %d", tpp_capture_linktype(own),
                 tpp_capture_linktype(lib));
        rc = -1;
    } else {
        for (long n = 1;; n++) {
            /* each frame stays valid until its own capture's next call: both can be compared in place */
            int rb = tpp_capture_next(lib, &b);
            int ra = tpp_capture_next(own, &a);
            if (ra != rb) {
                if ((rb < 0 && agree_libpcap_refusal(tpp_capture_error(lib))) ||
                    (ra < 0 && strstr(tpp_capture_error(own), "timestamp out of range")))
                    break;
                snprintf(why, whylen, "frame %ld: status %d (%s) against libpcap's %d (%s)", n, ra,
                         tpp_capture_error(own), rb, tpp_capture_error(lib));
                rc = -1;
            } else if (ra == 1) {
                int rewritten = agree_rewritten(&a);
                if ((a.ts_ns != b.ts_ns && !tpp_capture_ts_unlike_libpcap(own)) || a.caplen != b.caplen ||
                    !agree_same_linktype(a.linktype, b.linktype) ||
                    (!rewritten && (a.wirelen != b.wirelen || memcmp(a.data, b.data, a.caplen) != 0))) {
                    snprintf(why, whylen, "frame %ld differs (ts %lld/%lld caplen %u/%u wirelen %u/%u link type %d/%d)",
                             n, (long long)a.ts_ns, (long long)b.ts_ns, a.caplen, b.caplen, a.wirelen, b.wirelen,
                             a.linktype, b.linktype);
                    rc = -1;
                }
            }
            if (rc != 0 || ra != 1) break;
            ++*frames;
        }
    }
    /* What tpp reads beyond libpcap is still read to its end, under the sanitizers. */
    while (rc == 0 && own && tpp_capture_next(own, &a) == 1) {}
    tpp_capture_close(own);
    tpp_capture_close(lib);
    return rc;
}

#endif
