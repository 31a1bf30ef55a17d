/* gzindex.c — see tpp/gzindex.h.  The checkpoints are the method of zlib's examples/zran.c (inflate with Z_BLOCK,
 * note where blocks end, resume with inflatePrime and inflateSetDictionary), written anew for tpp. */
#include "tpp/gzindex.h"
#include "tpp/capture.h"
#include "tpp/fingerprint.h"
#include "tpp/outfile.h"
#include "pcap_records.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

enum {
    SPACING = 4 << 20,         /* uncompressed bytes between checkpoints: what a probe inflates at most */
    MARK_SPACING = 64 << 10,   /* uncompressed bytes between record marks: what a probe walks at most */
    WINDOW_SIZE = 32768,       /* deflate looks back at most this far */
    IN_SIZE = 1 << 18,
    OUT_SIZE = 1 << 20,
};

static const char MAGIC[8] = "TPPGZX1\n";

struct checkpoint {
    uint64_t in_off, out_off;  /* the compressed byte the block ends in, and the output before it */
    uint32_t bits, wlen;       /* bits of that byte already used; bytes of window */
    uint8_t window[WINDOW_SIZE];
};

struct tpp_gzindex {
    struct tpp_source_id id;   /* of the capture indexed */
    uint64_t usize;
    struct checkpoint *cp;
    size_t ncp, cp_cap;
    uint64_t *mark_off;
    int64_t *mark_ts;
    size_t nmarks, marks_cap;
};

void tpp_gzindex_free(struct tpp_gzindex *x)
{
    if (!x) return;
    free(x->cp);
    free(x->mark_off);
    free(x->mark_ts);
    free(x);
}

uint64_t tpp_gzindex_size(const struct tpp_gzindex *x) { return x->usize; }

size_t tpp_gzindex_marks(const struct tpp_gzindex *x, const uint64_t **offsets, const int64_t **times)
{
    *offsets = x->mark_off;
    *times = x->mark_ts;
    return x->nmarks;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int add_mark(struct tpp_gzindex *x, uint64_t off, int64_t ts)
{
    if (x->nmarks == x->marks_cap) {
        size_t n = x->marks_cap ? 2 * x->marks_cap : 1024;
        uint64_t *o = realloc(x->mark_off, n * sizeof *o);
        if (o) x->mark_off = o;
        int64_t *t = o ? realloc(x->mark_ts, n * sizeof *t) : NULL;
        if (!t) return -1;
        x->mark_ts = t;
        x->marks_cap = n;
    }
    x->mark_off[x->nmarks] = off;
    x->mark_ts[x->nmarks++] = ts;
    return 0;
}

/* Walking the records of the output as it comes: the file header, then each record header at `next`. */
struct walker {
    struct pcap_records rec;
    int have_header;
    uint64_t next, last_mark;
};

/* Walk the records whose headers lie in buf (the output from offset base on); 0, or -1 with err. */
static int walk(struct tpp_gzindex *x, struct walker *w, const uint8_t *buf, uint64_t base, size_t len, char *err,
                size_t errlen)
{
    if (!w->have_header) {
        if (base + len < PCAP_FILE_HEADER_SIZE) return 0;
        if (pcap_records_open(&w->rec, buf) != 0) {
            snprintf(err, errlen, "only a classic pcap (version 2.4) compressed with gzip can be split");
            return -1;
        }
        w->have_header = 1;
        w->next = PCAP_FILE_HEADER_SIZE;
    }
    while (w->next >= base && w->next + PCAP_RECORD_HEADER_SIZE <= base + len) {
        struct tpp_frame f;
        uint32_t stored;
        int unlike;
        if (pcap_records_header(&w->rec, buf + (w->next - base), &f, &stored, &unlike, err, errlen) != 0) return -1;
        if (x->nmarks == 0 || w->next - w->last_mark >= MARK_SPACING) {
            if (add_mark(x, w->next, f.ts_ns) != 0) { snprintf(err, errlen, "out of memory"); return -1; }
            w->last_mark = w->next;
        }
        w->next += PCAP_RECORD_HEADER_SIZE + stored;
    }
    return 0;
}

struct tpp_gzindex *tpp_gzindex_build(const char *path, char *err, size_t errlen)
{
    struct tpp_gzindex *x = calloc(1, sizeof *x);
    uint8_t *in = malloc(IN_SIZE), *out = malloc(OUT_SIZE);
    int fd = -1, zinit = 0, ok = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (!x || !in || !out) { snprintf(err, errlen, "out of memory"); goto done; }
    if (tpp_fingerprint_path(path, &x->id, err, errlen) != 0) goto done;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(err, errlen, "%s", strerror(errno)); goto done; }
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) { snprintf(err, errlen, "out of memory"); goto done; }
    zinit = 1;
    struct walker w = { 0 };
    uint64_t base = 0, last_cp = 0;
    size_t olen = 0;
    for (;;) {
        if (z.avail_in == 0) {
            ssize_t n;
            do n = read(fd, in, IN_SIZE); while (n < 0 && errno == EINTR);
            if (n < 0) { snprintf(err, errlen, "read error: %s", strerror(errno)); goto done; }
            if (n == 0) { snprintf(err, errlen, "truncated gzip stream: the file ends inside it"); goto done; }
            z.next_in = in;
            z.avail_in = (uInt)n;
        }
        z.next_out = out + olen;
        z.avail_out = (uInt)(OUT_SIZE - olen);
        int rc = inflate(&z, Z_BLOCK);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            snprintf(err, errlen, "damaged gzip stream: %s", z.msg ? z.msg : "inflate failed");
            goto done;
        }
        olen = OUT_SIZE - z.avail_out;
        if (walk(x, &w, out, base, olen, err, errlen) != 0) goto done;
        /* keep only what the walker still needs: the start of a record header cut by the buffer's end */
        uint64_t keep = w.next > base + olen ? base + olen : w.next < base ? base : w.next;
        memmove(out, out + (keep - base), (size_t)(base + olen - keep));
        olen = (size_t)(base + olen - keep);
        base = keep;
        uint64_t total = z.total_out;
        if ((z.data_type & 128) && !(z.data_type & 64) && total - last_cp >= SPACING) {
            if (grow((void **)&x->cp, &x->cp_cap, x->ncp + 1, sizeof *x->cp) != 0) {
                snprintf(err, errlen, "out of memory");
                goto done;
            }
            struct checkpoint *c = &x->cp[x->ncp++];
            c->in_off = z.total_in;
            c->out_off = total;
            c->bits = (uint32_t)(z.data_type & 7);
            c->wlen = WINDOW_SIZE;
            inflateGetDictionary(&z, c->window, &c->wlen);
            last_cp = total;
        }
        if (rc == Z_STREAM_END) {
            uint8_t more;
            if (z.avail_in > 0 || read(fd, &more, 1) > 0) {
                snprintf(err, errlen, "a gzip file of several members cannot be split");
                goto done;
            }
            x->usize = z.total_out;
            ok = 1;
            break;
        }
    }
done:
    if (zinit) inflateEnd(&z);
    if (fd >= 0) close(fd);
    free(in);
    free(out);
    if (!ok) { tpp_gzindex_free(x); return NULL; }
    return x;
}

/* ---- saving and loading --------------------------------------------------------------------------------------- */

static void put64(FILE *f, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    fwrite(b, 1, 8, f);
}

int tpp_gzindex_save(const struct tpp_gzindex *x, const char *path, char *err, size_t errlen)
{
    struct tpp_outfile o;
    if (tpp_outfile_open(&o, path, err, errlen) != 0) return -1;
    FILE *f = fdopen(dup(o.fd), "wb");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); tpp_outfile_abort(&o); return -1; }
    fwrite(MAGIC, 1, sizeof MAGIC, f);
    put64(f, x->id.size);
    put64(f, (uint64_t)x->id.mtime_ns);
    put64(f, x->id.fingerprint);
    put64(f, x->usize);
    put64(f, x->ncp);
    put64(f, x->nmarks);
    for (size_t k = 0; k < x->ncp; k++) {
        put64(f, x->cp[k].in_off);
        put64(f, x->cp[k].out_off);
        put64(f, x->cp[k].bits);
        put64(f, x->cp[k].wlen);
        fwrite(x->cp[k].window, 1, x->cp[k].wlen, f);
    }
    for (size_t k = 0; k < x->nmarks; k++) {
        put64(f, x->mark_off[k]);
        put64(f, (uint64_t)x->mark_ts[k]);
    }
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad) { snprintf(err, errlen, "%s: cannot write", path); tpp_outfile_abort(&o); return -1; }
    return tpp_outfile_commit(&o, err, errlen);
}

static int get64(FILE *f, uint64_t *v)
{
    uint8_t b[8];
    if (fread(b, 1, 8, f) != 8) return -1;
    *v = 0;
    for (int i = 7; i >= 0; i--) *v = *v << 8 | b[i];
    return 0;
}

struct tpp_gzindex *tpp_gzindex_load(const char *path, const char *capture, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return NULL; }
    struct tpp_gzindex *x = calloc(1, sizeof *x);
    struct tpp_source_id now;
    char magic[sizeof MAGIC];
    uint64_t mtime, ncp, nmarks;
    int ok = x && fread(magic, 1, sizeof magic, f) == sizeof magic && memcmp(magic, MAGIC, sizeof MAGIC) == 0 &&
             get64(f, &x->id.size) == 0 && get64(f, &mtime) == 0 && get64(f, &x->id.fingerprint) == 0 &&
             get64(f, &x->usize) == 0 && get64(f, &ncp) == 0 && get64(f, &nmarks) == 0 &&
             ncp <= x->usize / SPACING + 1 && nmarks <= x->usize / PCAP_RECORD_HEADER_SIZE + 1;
    if (ok) {
        x->id.mtime_ns = (int64_t)mtime;
        x->cp = calloc(ncp ? ncp : 1, sizeof *x->cp);
        x->mark_off = calloc(nmarks ? nmarks : 1, sizeof *x->mark_off);
        x->mark_ts = calloc(nmarks ? nmarks : 1, sizeof *x->mark_ts);
        ok = x->cp && x->mark_off && x->mark_ts;
        x->ncp = x->cp_cap = ncp;
        x->nmarks = x->marks_cap = nmarks;
    }
    for (size_t k = 0; ok && k < x->ncp; k++) {
        uint64_t bits = 0, wlen = 0;
        struct checkpoint *c = &x->cp[k];
        ok = get64(f, &c->in_off) == 0 && get64(f, &c->out_off) == 0 && get64(f, &bits) == 0 &&
             get64(f, &wlen) == 0 && bits < 8 && wlen <= WINDOW_SIZE && fread(c->window, 1, wlen, f) == wlen &&
             c->out_off <= x->usize && (k == 0 || c->out_off > x->cp[k - 1].out_off);
        c->bits = (uint32_t)bits;
        c->wlen = (uint32_t)wlen;
    }
    for (size_t k = 0; ok && k < x->nmarks; k++) {
        uint64_t ts = 0;
        ok = get64(f, &x->mark_off[k]) == 0 && get64(f, &ts) == 0 && x->mark_off[k] < x->usize &&
             (k == 0 || x->mark_off[k] > x->mark_off[k - 1]);
        x->mark_ts[k] = (int64_t)ts;
    }
    uint8_t extra;
    ok = ok && fread(&extra, 1, 1, f) == 0;
    fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s: not a tpp gzip index, or a damaged one", path);
        tpp_gzindex_free(x);
        return NULL;
    }
    if (tpp_fingerprint_path(capture, &now, err, errlen) != 0) { tpp_gzindex_free(x); return NULL; }
    if (now.size != x->id.size || now.mtime_ns != x->id.mtime_ns || now.fingerprint != x->id.fingerprint) {
        snprintf(err, errlen, "%s: the index is of another file than %s as it is now", path, capture);
        tpp_gzindex_free(x);
        return NULL;
    }
    return x;
}

/* ---- reading from an offset ----------------------------------------------------------------------------------- */

struct tpp_gzreader {
    int fd;
    z_stream z;
    uint64_t skip;             /* output still to throw away before the requested offset */
    int done;
    uint8_t in[IN_SIZE];
};

void tpp_gzreader_close(struct tpp_gzreader *g)
{
    if (!g) return;
    inflateEnd(&g->z);
    if (g->fd >= 0) close(g->fd);
    free(g);
}

struct tpp_gzreader *tpp_gzreader_open(const struct tpp_gzindex *x, const char *path, uint64_t at, char *err,
                                       size_t errlen)
{
    struct tpp_gzreader *g = calloc(1, sizeof *g);
    if (!g) { snprintf(err, errlen, "out of memory"); return NULL; }
    g->fd = open(path, O_RDONLY | O_CLOEXEC);
    const struct checkpoint *c = NULL;
    for (size_t k = 0; k < x->ncp && x->cp[k].out_off <= at; k++) c = &x->cp[k];
    int rc = g->fd < 0 ? Z_ERRNO : inflateInit2(&g->z, c ? -MAX_WBITS : 16 + MAX_WBITS);
    if (rc == Z_OK && c) { /* resume where a block ended: its last byte's unused bits, then the window */
        off_t from = (off_t)c->in_off - (c->bits ? 1 : 0);
        uint8_t byte = 0;
        if (lseek(g->fd, from, SEEK_SET) < 0 || (c->bits && read(g->fd, &byte, 1) != 1)) rc = Z_ERRNO;
        if (rc == Z_OK && c->bits) rc = inflatePrime(&g->z, (int)c->bits, byte >> (8 - c->bits));
        if (rc == Z_OK) rc = inflateSetDictionary(&g->z, c->window, c->wlen);
    }
    if (rc != Z_OK) {
        snprintf(err, errlen, "cannot start inflating at byte %llu: %s", (unsigned long long)at,
                 g->fd < 0 || rc == Z_ERRNO ? strerror(errno) : "zlib refused");
        tpp_gzreader_close(g);
        return NULL;
    }
    g->skip = at - (c ? c->out_off : 0);
    return g;
}

ssize_t tpp_gzreader_read(struct tpp_gzreader *g, uint8_t *dst, size_t len, char *err, size_t errlen)
{
    for (;;) {
        if (g->done || len == 0) return 0;
        if (g->z.avail_in == 0) {
            ssize_t n;
            do n = read(g->fd, g->in, IN_SIZE); while (n < 0 && errno == EINTR);
            if (n < 0) { snprintf(err, errlen, "read error: %s", strerror(errno)); return -1; }
            if (n == 0) { snprintf(err, errlen, "truncated gzip stream: the file ends inside it"); return -1; }
            g->z.next_in = g->in;
            g->z.avail_in = (uInt)n;
        }
        size_t want = g->skip && g->skip < len ? (size_t)g->skip : len; /* skipped output goes through dst too */
        g->z.next_out = dst;
        g->z.avail_out = (uInt)want;
        int rc = inflate(&g->z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            snprintf(err, errlen, "damaged gzip stream: %s", g->z.msg ? g->z.msg : "inflate failed");
            return -1;
        }
        size_t got = want - g->z.avail_out;
        if (rc == Z_STREAM_END) g->done = 1;
        if (g->skip) {
            g->skip -= got;
            continue;
        }
        if (got > 0) return (ssize_t)got;
    }
}
