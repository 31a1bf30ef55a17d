/* writer.c — write pcap or pcapng captures, optionally gzip-compressed, atomically.
 *
 * Everything goes through zlib's gzFile ("T" mode writes uncompressed), into an atomic output file
 * (tpp/outfile.h) that replaces the target only when tpp_writer_close() succeeds.
 */
#include "tpp/writer.h"
#include "tpp/outfile.h"
#include "pcap_records.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

struct tpp_writer {
    gzFile gz;
    struct tpp_writer_options opts;
    int failed;
    struct tpp_outfile out;
};

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* host order, as pcap files are written */
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

static void emit(struct tpp_writer *w, const void *data, size_t n)
{
    if (n && !w->failed && gzwrite(w->gz, data, (unsigned)n) != (int)n) w->failed = 1;
}

static void write_headers(struct tpp_writer *w, int linktype)
{
    uint8_t h[64];
    if (w->opts.format == TPP_WRITE_PCAP) {
        put32(h, w->opts.nanosecond ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO);
        put16(h + 4, 2); put16(h + 6, 4);
        put32(h + 8, 0); put32(h + 12, 0);
        put32(h + 16, w->opts.snaplen);
        put32(h + 20, (uint32_t)linktype);
        emit(w, h, 24);
        return;
    }
    /* Section header block, then one interface description block with nanosecond resolution. */
    put32(h, 0x0A0D0D0A); put32(h + 4, 28); put32(h + 8, 0x1A2B3C4D);
    put16(h + 12, 1); put16(h + 14, 0);
    put32(h + 16, 0xffffffff); put32(h + 20, 0xffffffff); /* section length unknown */
    put32(h + 24, 28);
    emit(w, h, 28);
    put32(h, 1); put32(h + 4, 32);
    put16(h + 8, (uint16_t)linktype); put16(h + 10, 0);
    put32(h + 12, w->opts.snaplen);
    put16(h + 16, 9); put16(h + 18, 1); h[20] = 9; h[21] = h[22] = h[23] = 0; /* if_tsresol = 10^-9 */
    put32(h + 24, 0);                                                       /* opt_endofopt */
    put32(h + 28, 32);
    emit(w, h, 32);
}

struct tpp_writer *tpp_writer_open(const char *path, int linktype, const struct tpp_writer_options *opts,
                                   char *err, size_t errlen)
{
    struct tpp_writer *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "%s: out of memory", path); return NULL; }
    if (tpp_outfile_open(&w->out, path, err, errlen) != 0) { free(w); return NULL; }
    w->opts = *opts;
    if (!w->opts.snaplen) w->opts.snaplen = 262144;
    int fd = dup(w->out.fd); /* the gzFile owns the dup; the outfile keeps its own descriptor to fsync */
    w->gz = fd >= 0 ? gzdopen(fd, opts->gzip ? "wb6" : "wbT") : NULL;
    if (!w->gz) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        tpp_outfile_abort(&w->out);
        free(w);
        return NULL;
    }
    gzbuffer(w->gz, 1u << 16);
    write_headers(w, linktype);
    return w;
}

int tpp_writer_write(struct tpp_writer *w, int64_t ts_ns, const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
    if (caplen > w->opts.snaplen) caplen = w->opts.snaplen;
    if (wirelen < caplen) wirelen = caplen;
    uint8_t h[28];
    if (w->opts.format == TPP_WRITE_PCAP) {
        int64_t sec = ts_ns / 1000000000, frac = ts_ns % 1000000000;
        if (frac < 0) { frac += 1000000000; sec--; }
        put32(h, (uint32_t)sec);
        put32(h + 4, (uint32_t)(w->opts.nanosecond ? frac : frac / 1000));
        put32(h + 8, caplen); put32(h + 12, wirelen);
        emit(w, h, 16);
        emit(w, data, caplen);
    } else {
        uint32_t pad = (4 - caplen % 4) % 4, total = 32 + caplen + pad;
        uint64_t t = (uint64_t)ts_ns;
        put32(h, 6); put32(h + 4, total); put32(h + 8, 0);
        put32(h + 12, (uint32_t)(t >> 32)); put32(h + 16, (uint32_t)t);
        put32(h + 20, caplen); put32(h + 24, wirelen);
        emit(w, h, 28);
        emit(w, data, caplen);
        static const uint8_t zeros[4];
        emit(w, zeros, pad);
        put32(h, total);
        emit(w, h, 4);
    }
    return w->failed ? -1 : 0;
}

int tpp_writer_close(struct tpp_writer *w, char *err, size_t errlen)
{
    int closed = gzclose_w(w->gz);
    int rc = w->failed || closed != Z_OK ? -1 : 0;
    if (rc == 0) {
        rc = tpp_outfile_commit(&w->out, err, errlen);
    } else {
        snprintf(err, errlen, "%s: write failed: %s", w->out.path, errno ? strerror(errno) : "I/O error");
        tpp_outfile_abort(&w->out);
    }
    free(w);
    return rc;
}

void tpp_writer_abort(struct tpp_writer *w)
{
    gzclose_w(w->gz);
    tpp_outfile_abort(&w->out);
    free(w);
}
