/* readers_agree.h — does tpp's own pcap reader give exactly the frames libpcap gives?
 *
 * Shared by tests/c/capture_readers.c (the test captures and the corpus) and the capture fuzz target.  The file
 * is read twice, as tpp reads it (its own reader for classic pcap, libpcap for the rest) and by libpcap alone;
 * the link type, every frame (timestamp, lengths, bytes) and the way reading ends (the end, or an error) must be
 * the same, and so must the refusal of a file either cannot open.
 */
#ifndef TPP_READERS_AGREE_H
#define TPP_READERS_AGREE_H

#include "tpp/capture.h"

#include <stdio.h>
#include <string.h>

/* 0 when the readers agree on `path` under `filter`, else -1 with the difference in `why`.  *frames counts the
 * frames compared. */
static int readers_agree(const char *path, const char *filter, long *frames, char *why, size_t whylen)
{
    char err_own[TPP_ERRBUF_SIZE] = "", err_lib[TPP_ERRBUF_SIZE] = "";
    struct tpp_capture *own = tpp_capture_open_with(path, filter, TPP_CAPTURE_AUTO, err_own);
    struct tpp_capture *lib = tpp_capture_open_with(path, filter, TPP_CAPTURE_LIBPCAP, err_lib);
    int rc = 0;
    if (!own || !lib) {
        if (own || lib) {
            snprintf(why, whylen, "opens with one reader only (%s | %s)", err_own, err_lib);
            rc = -1;
        }
    } else if (tpp_capture_linktype(own) != tpp_capture_linktype(lib)) {
        snprintf(why, whylen, "link type %d against libpcap's %d", tpp_capture_linktype(own),
                 tpp_capture_linktype(lib));
        rc = -1;
    } else {
        for (long n = 1;; n++) {
            /* each frame stays valid until its own capture's next call: both can be compared in place */
            struct tpp_frame a, b;
            int rb = tpp_capture_next(lib, &b);
            int ra = tpp_capture_next(own, &a);
            if (ra != rb) {
                snprintf(why, whylen, "frame %ld: status %d (%s) against libpcap's %d (%s)", n, ra,
                         tpp_capture_error(own), rb, tpp_capture_error(lib));
                rc = -1;
            } else if (ra == 1 && (a.ts_ns != b.ts_ns || a.caplen != b.caplen || a.wirelen != b.wirelen ||
                                   memcmp(a.data, b.data, a.caplen) != 0)) {
                snprintf(why, whylen, "frame %ld differs (ts %lld/%lld caplen %u/%u wirelen %u/%u)", n,
                         (long long)a.ts_ns, (long long)b.ts_ns, a.caplen, b.caplen, a.wirelen, b.wirelen);
                rc = -1;
            }
            if (rc != 0 || ra != 1) break;
            ++*frames;
        }
    }
    tpp_capture_close(own);
    tpp_capture_close(lib);
    return rc;
}

#endif
