/* split.c — see tpp/split.h. */
#include "tpp/split.h"
#include "tpp/capture.h"
#include "tpp/gzindex.h"
#include "tpp/result.h"
#include "pcap_records.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    WINDOW = 1 << 20,          /* bytes read at a time */
    CHAIN = 16,                /* record headers that must follow each other for a boundary to count */
    SCAN = PCAP_RECORD_HEADER_SIZE + PCAP_MAX_SNAPLEN, /* a record boundary lies within one record's length */
};

struct file {
    int fd;
    uint64_t size;
    struct pcap_records rec;
    int64_t first_ns;          /* the first record's time: a plausible record is not days before it, nor years after */
    int have_first;
    uint8_t *window;           /* bytes [wfrom, wfrom + wlen) of the file */
    uint64_t wfrom;
    size_t wlen;
    char *err;
    size_t errlen;
};

/* The n (<= WINDOW) bytes at `at`, or NULL when the file ends first or cannot be read (err says which). */
static const uint8_t *bytes_at(struct file *f, uint64_t at, size_t n)
{
    if (at + n > f->size) return NULL;
    if (at < f->wfrom || at + n > f->wfrom + f->wlen) {
        /* start a quarter window early: a scan moves forward a byte at a time while its chains look ahead */
        uint64_t from = at > WINDOW / 4 ? at - WINDOW / 4 : 0;
        size_t len = f->size - from < WINDOW ? (size_t)(f->size - from) : WINDOW;
        ssize_t got;
        do got = pread(f->fd, f->window, len, (off_t)from); while (got < 0 && errno == EINTR);
        if (got < (ssize_t)(at - from + n)) {
            snprintf(f->err, f->errlen, "cannot read: %s", got < 0 ? strerror(errno) : "the file shrank");
            f->wlen = 0;
            return NULL;
        }
        f->wfrom = from;
        f->wlen = (size_t)got;
    }
    return f->window + (at - f->wfrom);
}

/* The record header at `at` if it is a plausible one: its time and the offset of the record after it. */
static int record_at(struct file *f, uint64_t at, int64_t *ts, uint64_t *next)
{
    const uint8_t *h = bytes_at(f, at, PCAP_RECORD_HEADER_SIZE);
    if (!h) return 0;
    uint32_t field[4]; /* seconds, fraction, captured length, original length */
    memcpy(field, h, sizeof field);
    for (int k = 0; f->rec.swapped && k < 4; k++) field[k] = __builtin_bswap32(field[k]);
    uint32_t frac = field[1];
    /* the cheap tests first: a scan for a boundary tries every byte offset */
    if (frac >= (f->rec.frac_ns == 1 ? 1000000000u : 1000000u) || field[2] > field[3] || field[3] > (1u << 18))
        return 0;
    struct tpp_frame fr;
    uint32_t stored;
    int unlike;
    char why[128];
    if (pcap_records_header(&f->rec, h, &fr, &stored, &unlike, why, sizeof why) != 0) return 0;
    int64_t day = 86400 * 1000000000LL;
    if (frac >= (f->rec.frac_ns == 1 ? 1000000000u : 1000000u) || fr.wirelen < stored || fr.wirelen > (1u << 18) ||
        (f->have_first && (fr.ts_ns < f->first_ns - day || fr.ts_ns > f->first_ns + 3650 * day)))
        return 0;
    *ts = fr.ts_ns;
    *next = at + PCAP_RECORD_HEADER_SIZE + stored;
    return *next <= f->size;
}

/* Whether a chain of CHAIN records (or records up to the end of the file) starts at `at`. */
static int chain_at(struct file *f, uint64_t at)
{
    for (int k = 0; k < CHAIN && at < f->size; k++) {
        int64_t ts;
        if (!record_at(f, at, &ts, &at)) return 0;
    }
    return 1;
}

/* The first record boundary at or after `at`, or f->size when there is none within a record's length. */
static uint64_t sync_at(struct file *f, uint64_t at)
{
    for (uint64_t p = at; p < f->size && p < at + SCAN; p++)
        if (chain_at(f, p)) return p;
    return f->size;
}

/* The first record at or after boundary `lo` (whose record is earlier than t) stamped t or later, before `hi`
 * (a boundary, or the end of the file), and the time of the record before it.  0, or -1 when walking the records
 * from lo does not land on hi: the boundaries found disagree. */
static int first_at_time(struct file *f, uint64_t lo, uint64_t hi, int64_t t, uint64_t *at, int64_t *prev)
{
    for (;;) { /* binary search: lo stays a boundary stamped before t, hi one stamped t or later (or the end) */
        uint64_t mid = sync_at(f, lo + (hi - lo) / 2);
        int64_t ts;
        uint64_t next;
        if (mid >= hi || mid <= lo || !record_at(f, mid, &ts, &next)) break;
        if (ts >= t) hi = mid;
        else lo = mid;
    }
    for (uint64_t p = lo; p < hi;) { /* then record by record */
        int64_t ts;
        uint64_t next;
        if (!record_at(f, p, &ts, &next)) break;
        if (ts >= t) { *at = p; return 0; }
        *prev = ts;
        p = next;
        if (p == hi) { *at = hi; return hi < f->size ? (record_at(f, hi, &ts, &next) ? 0 : -1) : 0; }
    }
    snprintf(f->err, f->errlen, "the records from byte %llu do not lead to the record boundary at byte %llu: "
             "cannot split this file", (unsigned long long)lo, (unsigned long long)hi);
    return -1;
}

int tpp_split_plan(const char *path, int64_t delta_ns, int want, struct tpp_chunk *out, char *err, size_t errlen)
{
    struct file f = { .fd = -1, .err = err, .errlen = errlen };
    int n = -1;
    f.fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (f.fd < 0 || fstat(f.fd, &st) != 0) { snprintf(err, errlen, "%s", strerror(errno)); goto out; }
    f.size = (uint64_t)st.st_size;
    f.window = malloc(WINDOW);
    if (!f.window) { snprintf(err, errlen, "out of memory"); goto out; }
    const uint8_t *h = bytes_at(&f, 0, PCAP_FILE_HEADER_SIZE);
    if (!h || pcap_records_open(&f.rec, h) != 0) {
        snprintf(err, errlen, "only an uncompressed classic pcap (version 2.4) can be split");
        goto out;
    }
    uint64_t first = PCAP_FILE_HEADER_SIZE, next;
    int64_t ts0 = 0;
    if (f.size == first || !record_at(&f, first, &ts0, &next)) {
        snprintf(err, errlen, "no record to split at");
        goto out;
    }
    f.first_ns = ts0;
    f.have_first = 1;

    n = 0;
    out[n++] = (struct tpp_chunk){ first, f.size, 0, 0 };
    for (int k = 1; k < want; k++) {
        uint64_t lo = out[n - 1].from, target = first + (f.size - first) / (uint64_t)want * (uint64_t)k;
        uint64_t r = sync_at(&f, target > lo ? target : lo + 1);
        int64_t t, lo_ts;
        if (r >= f.size || !record_at(&f, r, &t, &next) || !record_at(&f, lo, &lo_ts, &next)) continue;
        /* the interval boundaries on either side of the target's record: the nearer one that is a new cut */
        int64_t below = tpp_floor_multiple(t, delta_ns), candidates[2] = { below, below + delta_ns };
        uint64_t best = 0;
        int64_t best_prev = 0;
        for (int c = 0; c < 2; c++) {
            uint64_t at = 0;
            int64_t prev = lo_ts;
            if (candidates[c] <= lo_ts) continue;
            if (first_at_time(&f, lo, f.size, candidates[c], &at, &prev) != 0) { n = -1; goto out; }
            if (at <= lo || at >= f.size) continue;
            uint64_t d = at > target ? at - target : target - at, bd = best > target ? best - target : target - best;
            if (!best || d < bd) { best = at; best_prev = prev; }
        }
        if (!best) continue;
        out[n - 1].to = best;
        out[n++] = (struct tpp_chunk){ best, f.size, best_prev, 1 };
    }
out:
    if (f.fd >= 0) close(f.fd);
    free(f.window);
    return n;
}

/* ---- through a gzip index ------------------------------------------------------------------------------------ */

/* Uncompressed bytes from a gzip index's reader, a window at a time. */
struct stream {
    struct tpp_gzreader *g;
    uint8_t *buf;
    size_t pos, len;
    char *err;
    size_t errlen;
};

/* Make n (<= WINDOW) bytes available at buf + pos: 1, 0 when the data ends first, -1 on an error. */
static int stream_fill(struct stream *s, size_t n)
{
    if (s->len - s->pos >= n) return 1;
    memmove(s->buf, s->buf + s->pos, s->len - s->pos);
    s->len -= s->pos;
    s->pos = 0;
    while (s->len < n) {
        ssize_t got = tpp_gzreader_read(s->g, s->buf + s->len, WINDOW - s->len, s->err, s->errlen);
        if (got <= 0) return (int)got;
        s->len += (size_t)got;
    }
    return 1;
}

static int stream_skip(struct stream *s, uint64_t n)
{
    while (n > 0) {
        if (s->pos == s->len) {
            ssize_t got = tpp_gzreader_read(s->g, s->buf, WINDOW, s->err, s->errlen);
            if (got <= 0) return -1;
            s->pos = 0;
            s->len = (size_t)got;
        }
        size_t take = s->len - s->pos < n ? s->len - s->pos : (size_t)n;
        s->pos += take;
        n -= take;
    }
    return 0;
}

/* The first record stamped t or later from the record at `from` on (stamped before t), its time, and the time of
 * the record before it, walked by inflating from the index's checkpoint before `from`.  *at is the uncompressed
 * size when there is none.  0, or -1 with err. */
static int walk_to_time(const char *path, const struct tpp_gzindex *x, const struct pcap_records *rec, uint64_t from,
                        int64_t t, uint64_t *at, int64_t *at_ts, int64_t *prev, char *err, size_t errlen)
{
    struct stream s = { tpp_gzreader_open(x, path, from, err, errlen), malloc(WINDOW), 0, 0, err, errlen };
    int rc = -1;
    if (!s.g || !s.buf) { if (!s.buf) snprintf(err, errlen, "out of memory"); goto out; }
    *at = tpp_gzindex_size(x);
    for (uint64_t p = from;;) {
        int more = stream_fill(&s, PCAP_RECORD_HEADER_SIZE);
        if (more < 0) goto out;
        if (more == 0) break;
        struct tpp_frame f;
        uint32_t stored;
        int unlike;
        if (pcap_records_header(rec, s.buf + s.pos, &f, &stored, &unlike, err, errlen) != 0) goto out;
        if (f.ts_ns >= t) { *at = p; *at_ts = f.ts_ns; break; }
        *prev = f.ts_ns;
        s.pos += PCAP_RECORD_HEADER_SIZE;
        if (stream_skip(&s, stored) != 0) {
            if (!err[0]) snprintf(err, errlen, "the records end inside a record");
            goto out;
        }
        p += PCAP_RECORD_HEADER_SIZE + stored;
    }
    rc = 0;
out:
    tpp_gzreader_close(s.g);
    free(s.buf);
    return rc;
}

int tpp_split_plan_indexed(const char *path, const struct tpp_gzindex *x, int64_t delta_ns, int want,
                           struct tpp_chunk *out, char *err, size_t errlen)
{
    const uint64_t *off;
    const int64_t *ts;
    size_t nm = tpp_gzindex_marks(x, &off, &ts);
    uint64_t size = tpp_gzindex_size(x);
    struct pcap_records rec;
    uint8_t header[PCAP_FILE_HEADER_SIZE];
    struct tpp_gzreader *g = tpp_gzreader_open(x, path, 0, err, errlen);
    ssize_t got = g ? tpp_gzreader_read(g, header, sizeof header, err, errlen) : -1;
    tpp_gzreader_close(g);
    if (got != (ssize_t)sizeof header || pcap_records_open(&rec, header) != 0 || nm == 0) {
        if (got >= 0) snprintf(err, errlen, "only a classic pcap (version 2.4) compressed with gzip can be split");
        return -1;
    }
    int n = 0;
    out[n++] = (struct tpp_chunk){ PCAP_FILE_HEADER_SIZE, size, 0, 0 };
    int64_t lo_ts = ts[0];
    for (int k = 1; k < want; k++) {
        uint64_t lo = out[n - 1].from, target = off[0] + (size - off[0]) / (uint64_t)want * (uint64_t)k;
        size_t m = 0; /* the last mark at or before the target */
        for (size_t a = 0, b = nm; a < b;) {
            size_t mid = a + (b - a) / 2;
            if (off[mid] <= target) { m = mid; a = mid + 1; } else b = mid;
        }
        int64_t below = tpp_floor_multiple(ts[m], delta_ns), candidates[2] = { below, below + delta_ns };
        uint64_t best = 0;
        int64_t best_prev = 0, best_ts = 0;
        for (int c = 0; c < 2; c++) {
            if (candidates[c] <= lo_ts) continue;
            size_t j = 0; /* the last mark stamped before the candidate, not before the chunk's start */
            for (size_t a = 0, b = nm; a < b;) {
                size_t mid = a + (b - a) / 2;
                if (ts[mid] < candidates[c]) { j = mid; a = mid + 1; } else b = mid;
            }
            uint64_t from = off[j] > lo ? off[j] : lo, at = 0;
            int64_t prev = 0, at_ts = 0;
            err[0] = 0;
            if (walk_to_time(path, x, &rec, from, candidates[c], &at, &at_ts, &prev, err, errlen) != 0) return -1;
            if (at <= lo || at >= size) continue;
            uint64_t d = at > target ? at - target : target - at, bd = best > target ? best - target : target - best;
            if (!best || d < bd) { best = at; best_prev = prev; best_ts = at_ts; }
        }
        if (!best) continue;
        out[n - 1].to = best;
        out[n++] = (struct tpp_chunk){ best, size, best_prev, 1 };
        lo_ts = best_ts;
    }
    return n;
}
