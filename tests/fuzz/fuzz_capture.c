/* fuzz_capture.c — libFuzzer target: a capture file's bytes through tpp_capture_open/next, tpp_decode and the
 * aggregator (tpp_agg), as tpp_parse would run them but on one thread.
 *
 * Input: the whole file — pcap, pcapng, or either gzip-compressed (recognised by its magic bytes, as always).
 * It is put in a memfd and opened by its /proc/self/fd path, so tpp_capture_open sees a regular file.  Each frame
 * is decoded under its own link type (a pcapng capture may mix them) and counted by two aggregators, one per boundary mode, limited to a
 * thousand intervals so that a broken clock cannot make one input run for minutes.  Checks: a failing read
 * says why, the result's rows and histograms are consistent, and tpp's own pcap and pcapng readers give the
 * frames libpcap gives (readers_agree.h).
 */
#include "tpp/capture.h"
#include "tpp/aggregate.h"
#include "tpp/packet.h"
#include "tpp/result.h"
#include "tpp/result_export.h"
#include "check_ports.h"
#include "readers_agree.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int memfd = -1;
static char path[64];

static void check_result(const struct tpp_result *r)
{
    uint64_t packets = 0;
    for (size_t i = 0; i < r->nintervals; i++) packets += r->iv[i].packets;
    if (packets > r->packets || r->ip_packets > r->packets) abort();
    check_port_histograms(r);
    FILE *devnull = r->nintervals <= 64 ? fopen("/dev/null", "w") : NULL; /* formatting costs: only small ones */
    if (devnull) {
        if (tpp_result_write_tsv(r, devnull) != 0) abort();
        fclose(devnull);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz_capture", 0);
        if (memfd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    }
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size) abort();

    long frames = 0;
    char why[2 * TPP_ERRBUF_SIZE + 64];
    if (readers_agree(path, "", &frames, why, sizeof why) != 0) {
        fprintf(stderr, "tpp's readers and libpcap disagree: %s\n", why);
        abort();
    }

    char err[TPP_ERRBUF_SIZE];
    struct tpp_capture *cap = tpp_capture_open(path, NULL, err, sizeof err);
    if (!cap) {
        if (!err[0]) abort(); /* a refusal always says why */
        return 0;
    }

    struct tpp_options o;
    tpp_options_default(&o);
    o.delta_ns = 1000000; /* 1 ms: small captures still span several intervals */
    o.max_intervals = 1024;
    struct tpp_result *r[2];
    struct tpp_agg *a[2];
    int stopped[2] = { 0, 0 };
    for (int m = 0; m < 2; m++) {
        o.boundary = m ? TPP_BOUNDARY_PACKET : TPP_BOUNDARY_ALIGNED;
        r[m] = tpp_result_new(&o, path);
        a[m] = r[m] ? tpp_agg_new(r[m]) : NULL;
        if (!a[m]) abort();
    }

    struct tpp_frame f;
    int rc;
    while ((rc = tpp_capture_next(cap, &f)) == 1) {
        struct tpp_packet p;
        memset(&p, 0, sizeof p);
        if (tpp_linktype_supported(f.linktype)) tpp_decode(f.linktype, f.data, f.caplen, f.wirelen, &p);
        p.ts_ns = f.ts_ns;
        for (int m = 0; m < 2; m++)
            if (!stopped[m]) stopped[m] = tpp_agg_add(a[m], &p);
        if (stopped[0] && stopped[1]) break;
    }
    if (rc < 0 && !tpp_capture_error(cap)[0]) abort(); /* a failed read always says why */
    (void)tpp_capture_bytes_read(cap);
    for (int m = 0; m < 2; m++) {
        if (stopped[m] < 0 && !r[m]->error[0]) abort(); /* only "clock broken" stops without a limit */
        if (tpp_agg_finish(a[m]) != 0) abort();
        check_result(r[m]);
        tpp_agg_free(a[m]);
        tpp_result_free(r[m]);
    }
    tpp_capture_close(cap);
    return 0;
}
