/* capture_readers.c — tpp's own pcap reader gives exactly the frames libpcap gives.
 *
 * Usage: capture_readers FILE...  Each file is read twice, once as tpp reads it (its own reader for classic
 * pcap, libpcap for the rest) and once by libpcap alone, without and with a BPF filter; the link type, every
 * frame (timestamp, lengths, bytes) and the way reading ends (the end, or an error) must be the same.  Files
 * libpcap cannot open are skipped when tpp cannot open them either.  Built with ASan, so the own reader is also
 * checked never to read outside its buffer.
 */
#include "tpp/capture.h"

#include <stdio.h>
#include <string.h>

static int failures;

static int same_frame(const struct tpp_frame *a, const struct tpp_frame *b)
{
    return a->ts_ns == b->ts_ns && a->caplen == b->caplen && a->wirelen == b->wirelen &&
           memcmp(a->data, b->data, a->caplen) == 0;
}

/* Compare the two readers on one file; returns the number of frames compared. */
static long compare(const char *path, const char *filter)
{
    char err_own[TPP_ERRBUF_SIZE] = "", err_lib[TPP_ERRBUF_SIZE] = "";
    struct tpp_capture *own = tpp_capture_open_with(path, filter, TPP_CAPTURE_AUTO, err_own);
    struct tpp_capture *lib = tpp_capture_open_with(path, filter, TPP_CAPTURE_LIBPCAP, err_lib);
    long frames = 0;
    if (!own || !lib) {
        if (own || lib) {
            fprintf(stderr, "%s [%s]: opens with one reader only (%s | %s)\n", path, filter, err_own, err_lib);
            failures++;
        }
    } else if (tpp_capture_linktype(own) != tpp_capture_linktype(lib)) {
        fprintf(stderr, "%s: link type %d against libpcap's %d\n", path, tpp_capture_linktype(own),
                tpp_capture_linktype(lib));
        failures++;
    } else {
        for (;;) {
            /* libpcap's frame is copied: both readers' data pointers are valid only until their next call */
            static unsigned char copy[1 << 18];
            struct tpp_frame a, b;
            int rb = tpp_capture_next(lib, &b);
            if (rb == 1) { memcpy(copy, b.data, b.caplen); b.data = copy; }
            int ra = tpp_capture_next(own, &a);
            if (ra != rb) {
                fprintf(stderr, "%s [%s]: frame %ld: status %d (%s) against libpcap's %d (%s)\n", path, filter,
                        frames + 1, ra, tpp_capture_error(own), rb, tpp_capture_error(lib));
                failures++;
                break;
            }
            if (ra != 1) break;
            frames++;
            if (!same_frame(&a, &b)) {
                fprintf(stderr, "%s [%s]: frame %ld differs (ts %lld/%lld caplen %u/%u wirelen %u/%u)\n", path,
                        filter, frames, (long long)a.ts_ns, (long long)b.ts_ns, a.caplen, b.caplen, a.wirelen,
                        b.wirelen);
                failures++;
                break;
            }
        }
    }
    tpp_capture_close(own);
    tpp_capture_close(lib);
    return frames;
}

int main(int argc, char **argv)
{
    long frames = 0;
    for (int i = 1; i < argc; i++) {
        frames += compare(argv[i], "");
        frames += compare(argv[i], "tcp or udp port 53");
    }
    printf("capture_readers: %d files, %ld frames compared, %d differences\n", argc - 1, frames, failures);
    return failures != 0;
}
