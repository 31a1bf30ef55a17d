/* fuzz_dump.c — libFuzzer target: tpp_dump_read() on any file, and a write/read round trip of what it accepts.
 *
 * Input: byte 0 is a mode, the rest is the file.  Mode bit 0 set: the last 4 bytes are replaced by the right
 * CRC-32 of everything before them, so that mutations get past the checksum and reach the section parsers
 * (otherwise nearly every mutation is refused at the CRC).  The file goes into a memfd opened by its
 * /proc/self/fd path.  A dump that loads must be consistent, write as TSV, and survive tpp_dump_write +
 * tpp_dump_read unchanged, merge state (tables, heavy hitters, addresses seen, flow marks) included.
 */
#include "tpp/dump.h"
#include "tpp/result.h"
#include "tpp/result_export.h"
#include "check_ports.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

static int memfd = -1;
static char path[64], dir[64] = "/dev/shm/tpp-fuzz-dump-XXXXXX", again_path[128];

static void check_result(const struct tpp_result *r)
{
    if (r->opts.delta_ns <= 0) abort();
    check_port_histograms(r);
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull) {
        if (tpp_result_write_tsv(r, devnull) != 0 || tpp_result_write_hh(r, TPP_EXPORT_TSV, devnull) != 0) abort();
        fclose(devnull);
    }
}

static int same_bytes(const void *a, const void *b, size_t n) { return n == 0 || memcmp(a, b, n) == 0; }

/* The merge state of format 4: the full tables, heavy hitters, addresses seen and flow marks. */
static void same_state(const struct tpp_result *a, const struct tpp_result *b)
{
    if (a->opts.features != b->opts.features || a->opts.flow_timeout_ns != b->opts.flow_timeout_ns ||
        a->opts.hh_k != b->opts.hh_k || a->opts.hhh_phi != b->opts.hhh_phi || a->mergeable != b->mergeable)
        abort();
    if (a->ntables != b->ntables) abort();
    for (size_t k = 0; k < a->ntables; k++) {
        const struct tpp_addr_counts *x = &a->tables[k], *y = &b->tables[k];
        if (x->interval != y->interval || x->nsrc != y->nsrc || x->ndst != y->ndst || x->nflows != y->nflows ||
            x->nlens != y->nlens || x->nport_bytes[0] != y->nport_bytes[0] || x->nport_bytes[1] != y->nport_bytes[1])
            abort();
        if (!same_bytes(x->e, y->e, ((size_t)x->nsrc + x->ndst) * sizeof *x->e) ||
            !same_bytes(x->flows, y->flows, x->nflows * sizeof *x->flows) ||
            !same_bytes(x->lens, y->lens, x->nlens * sizeof *x->lens) ||
            !same_bytes(x->port_bytes[0], y->port_bytes[0], x->nport_bytes[0] * sizeof *x->port_bytes[0]) ||
            !same_bytes(x->port_bytes[1], y->port_bytes[1], x->nport_bytes[1] * sizeof *x->port_bytes[1]))
            abort();
    }
    if (a->nhh != b->nhh || a->hh_nbytes != b->hh_nbytes || !same_bytes(a->hh, b->hh, a->hh_nbytes) ||
        !same_bytes(a->hh_offsets, b->hh_offsets, (a->nintervals + 1) * sizeof *a->hh_offsets))
        abort();
    for (int side = 0; side < 2; side++)
        if (a->nseen[side] != b->nseen[side] || !same_bytes(a->seen[side], b->seen[side], a->nseen[side] * sizeof *a->seen[side]))
            abort();
    if (a->nflow_head != b->nflow_head || !same_bytes(a->flow_head, b->flow_head, a->nflow_head * sizeof *a->flow_head) ||
        a->nflow_tail != b->nflow_tail || !same_bytes(a->flow_tail, b->flow_tail, a->nflow_tail * sizeof *a->flow_tail))
        abort();
}

static void same_result(const struct tpp_result *a, const struct tpp_result *b)
{
    if (a->nintervals != b->nintervals) abort();
    if (a->nintervals && memcmp(a->iv, b->iv, a->nintervals * sizeof *a->iv) != 0) abort();
    if (strcmp(a->source, b->source) != 0 || strcmp(a->opts.filter, b->opts.filter) != 0) abort(); /* C strings */
    if (a->opts.delta_ns != b->opts.delta_ns || a->opts.boundary != b->opts.boundary || a->opts.ip != b->opts.ip ||
        a->opts.anchor != b->opts.anchor || a->opts.max_packets != b->opts.max_packets ||
        a->opts.max_intervals != b->opts.max_intervals)
        abort();
    if (a->packets != b->packets || a->first_ns != b->first_ns || a->last_ns != b->last_ns) abort();
    if (a->malformed_packets != b->malformed_packets) abort();
    if (a->complete != b->complete || strcmp(a->error, b->error) != 0 || strcmp(a->warning, b->warning) != 0) abort();
    if (memcmp(a->seen_ports, b->seen_ports, sizeof a->seen_ports) != 0) abort();
    for (int s = 0; s < TPP_NSERIES; s++) {
        if (a->ports[s].nitems != b->ports[s].nitems || a->ports[s].nbytes != b->ports[s].nbytes) abort();
        if (a->ports[s].nbytes && memcmp(a->ports[s].bytes, b->ports[s].bytes, a->ports[s].nbytes) != 0) abort();
        if (memcmp(a->ports[s].offsets, b->ports[s].offsets, (a->nintervals + 1) * sizeof(uint64_t)) != 0) abort();
    }
    same_state(a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz_dump", 0);
        if (memfd < 0 || !mkdtemp(dir)) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
        snprintf(again_path, sizeof again_path, "%s/again.tpd", dir);
    }
    if (size < 1) return 0;
    int fix_crc = data[0] & 1;
    data++, size--;
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size) abort();
    if (fix_crc && size >= 4) {
        uint32_t crc = (uint32_t)crc32(0L, data, (uInt)(size - 4));
        uint8_t le[4] = { (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24) };
        if (pwrite(memfd, le, 4, (off_t)size - 4) != 4) abort();
    }

    char err[1200] = "";
    struct tpp_result *r = tpp_dump_read(path, err, sizeof err);
    if (!r) {
        if (strncmp(err, path, strlen(path)) != 0) abort(); /* every refusal names the file */
        return 0;
    }
    check_result(r);
    if (tpp_dump_write(r, again_path, "fuzz", err, sizeof err) != 0) abort();
    struct tpp_result *again = tpp_dump_read(again_path, err, sizeof err);
    if (!again) abort();
    same_result(r, again);
    unlink(again_path);
    tpp_result_free(again);
    tpp_result_free(r);
    return 0;
}
