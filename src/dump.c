/* dump.c — write and read tpp dump files; docs/dump-format.md is the specification this code follows.
 *
 * Writing builds each section in memory (a dump is small: columns plus sparse histograms) but a large COLS, which
 * is deflated as it is made, and any other that grows past 4 MiB, which goes to the file as it is made (spill_out);
 * such sections are deflated in fixed pieces on two threads (zpieces.h).  A CRC-32 over everything ends the file,
 * which goes to an atomic output file.  Reading loads the file, checks signature, text-mode
 * probe, version, size and checksum before looking at anything else, then parses each section through a
 * bounds-checked cursor; any inconsistency is an error naming the file.
 */
#include "tpp/dump.h"
#include "tpp/labels.h"
#include "tpp/outfile.h"
#include "zpieces.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

/* The first 8 bytes: a non-ASCII byte, "TPD", then CR LF ^Z LF, which text-mode transfers mangle. */
static const uint8_t SIGNATURE[8] = { 0x89, 'T', 'P', 'D', '\r', '\n', 0x1a, '\n' };

int tpp_dump_signed(const uint8_t *head, size_t n)
{
    return n >= 4 && memcmp(head, SIGNATURE, 4) == 0;
}
#define ENDIAN_CHECK 0x01020304u
#define FLOAT_CHECK 370.5
#define HEADER_SIZE 24          /* signature, u32 version, u32 endian check, f64 float check */
#define SECTION_HEADER_SIZE 24  /* tag[4], u32 flags, u64 stored length, u64 raw length */
#define FLAG_DEFLATE 1u
#define DEFLATE_MIN 4096        /* sections at least this long are compressed */
#define DEFLATE_LEVEL 1         /* 5x faster than level 6 for a dump 20 % larger: still ~1 % of its .pcap.gz */
#define DEFLATE_MAX_RATIO 1032  /* deflate cannot expand data by more than this */

/* ---- writing ---------------------------------------------------------------------------------------------- */

struct spill;

/* A payload being made.  With `spill`, a large one goes to the file as it grows (spill_out), a piece at a time. */
struct buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
    struct spill *spill;
};

static void spill_out(struct buf *b);

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->oom || n == 0) return;
    if (b->spill && b->n >= ZPIECE_RAW) spill_out(b);
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_le(struct buf *b, uint64_t v, int bytes)
{
    uint8_t le[8];
    for (int i = 0; i < bytes; i++) le[i] = (uint8_t)(v >> (8 * i));
    put(b, le, (size_t)bytes);
}

static void put_u8(struct buf *b, unsigned v) { put_le(b, v, 1); }
static void put_u32(struct buf *b, uint32_t v) { put_le(b, v, 4); }
static void put_u64(struct buf *b, uint64_t v) { put_le(b, v, 8); }
static void put_i64(struct buf *b, int64_t v) { put_le(b, (uint64_t)v, 8); }
static void put_f64(struct buf *b, double v) { uint64_t u; memcpy(&u, &v, 8); put_le(b, u, 8); }

static void put_str(struct buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

/* LEB128 at p (at most 10 bytes); returns the end.  The encoding of put_varint. */
static uint8_t *varint_at(uint8_t *p, uint64_t v)
{
    for (; v >= 0x80; v >>= 7) *p++ = (uint8_t)(v | 0x80);
    *p++ = (uint8_t)v;
    return p;
}

/* LEB128: 7 bits per byte, low bits first, high bit = more bytes follow. */
static void put_varint(struct buf *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    put(b, tmp, (size_t)n);
}

/* Room for n more bytes at the end of b (b->n unchanged); NULL when memory ran out. */
static uint8_t *reserve(struct buf *b, size_t n)
{
    if (b->oom) return NULL;
    if (b->spill && b->n >= ZPIECE_RAW) spill_out(b);
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return NULL; }
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->n;
}

#ifdef HAVE_ISAL
/* The zlib stream (RFC 1950) of src[0..n) into dst (dstlen bytes, compressBound's), in one piece, by ISA-L's
 * deflate: the same format zlib's compress2 writes, several times faster.  The length written, or 0 when it did not
 * fit or failed.  (Only payloads below STREAM_MIN come here; larger ones are deflated in pieces, zpieces.h.) */
static size_t deflate_section(uint8_t *dst, size_t dstlen, const uint8_t *src, size_t n)
{
    struct isal_zstream z;
    uint8_t *level_buf = malloc(ISAL_DEF_LVL1_DEFAULT);
    if (!level_buf) return 0;
    memset(&z, 0, sizeof z); /* the init leaves the buffers as they were */
    isal_deflate_init(&z);
    z.gzip_flag = IGZIP_ZLIB;
    z.level = DEFLATE_LEVEL;
    z.level_buf = level_buf;
    z.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    z.next_in = (uint8_t *)src; /* below STREAM_MIN: both lengths fit ISA-L's 32 bits */
    z.avail_in = (uint32_t)n;
    z.end_of_stream = 1;
    z.next_out = dst;
    z.avail_out = (uint32_t)dstlen;
    int ok = 1;
    for (int calls = 0; ok && z.internal_state.state != ZSTATE_END; calls++)
        ok = calls < 16 && isal_deflate(&z) == COMP_OK; /* one call does it with compressBound's room */
    free(level_buf);
    return ok ? (size_t)z.total_out : 0;
}
#else
static size_t deflate_section(uint8_t *dst, size_t dstlen, const uint8_t *src, size_t n)
{
    uLongf zlen = dstlen;
    return compress2(dst, &zlen, src, n, DEFLATE_LEVEL) == Z_OK ? (size_t)zlen : 0;
}
#endif

static void meta_payload(struct buf *b, const struct tpp_result *r, const char *tpp_version)
{
    put_str(b, tpp_version);
    put_str(b, r->source);
    put_u64(b, r->source_size);
    put_i64(b, r->source_mtime_ns);
    put_u64(b, r->source_fingerprint);
    put_u32(b, (uint32_t)r->linktype);
    put_i64(b, r->opts.delta_ns);
    put_u8(b, (unsigned)r->opts.boundary);
    put_u8(b, (unsigned)r->opts.ip);
    put_u8(b, (unsigned)r->opts.anchor);
    put_u64(b, r->opts.max_packets);
    put_u64(b, r->opts.max_intervals);
    put_str(b, r->opts.filter);
    put_u64(b, r->packets);
    put_u64(b, r->ip_packets);
    put_u64(b, r->non_ip_packets);
    put_u64(b, r->malformed_packets);
    put_u64(b, r->truncated_packets);
    put_u64(b, r->backwards_packets);
    put_i64(b, r->first_ns);
    put_i64(b, r->last_ns);
    put_u8(b, (unsigned)r->complete);
    put_u8(b, (unsigned)r->stopped_by_limit);
    put_str(b, r->error);
    put_str(b, r->warning);
    /* format 3: the merge state's scalars */
    put_i64(b, r->opts.max_gap_ns);
    put_u8(b, (unsigned)r->opts.keep_tables);
    put_u8(b, (unsigned)r->first_is_ip);
    put_u64(b, r->pieces);
    put_u8(b, (unsigned)r->mergeable);
    put_u64(b, r->opts.range_from);
    put_u64(b, r->opts.range_to);
    put_i64(b, r->opts.prev_ns);
    put_u8(b, (unsigned)r->opts.has_prev);
    /* format 4: the research features' options */
    put_u32(b, r->opts.features);
    put_i64(b, r->opts.flow_timeout_ns);
    put_u32(b, r->opts.hh_k);
    put_f64(b, r->opts.hhh_phi);
    /* format 5: tunnels */
    put_u8(b, (unsigned)r->opts.encap);
    put_u64(b, r->encapsulated_packets);
    put_u64(b, r->nintervals);
}

static const char COLTYPE[] = { [TPP_COL_TIME] = 'T', [TPP_COL_COUNT] = 'C', [TPP_COL_REAL] = 'R' };

/* The stored per-interval fields: the columns but the index, then the merge state. */
static const struct tpp_column *stored_field(size_t k)
{
    return k + 1 < tpp_ncolumns ? &tpp_columns[k + 1] : k + 1 - tpp_ncolumns < tpp_nstate_fields
         ? &tpp_state_fields[k + 1 - tpp_ncolumns] : NULL;
}

static const struct tpp_column *find_stored(const char *name)
{
    for (size_t k = 0; stored_field(k); k++)
        if (strcmp(stored_field(k)->name, name) == 0) return stored_field(k);
    return NULL;
}

/* Column-major: each stored field's values for every interval (the interval index is not stored).  First the
 * fields' count, names and types (cols_head), then each field's run (cols_runs); write_cols hands them over. */
static size_t cols_head(struct buf *b)
{
    uint32_t n = 0;
    while (stored_field(n)) n++;
    put_u32(b, n);
    for (size_t c = 0; c < n; c++) {
        put_str(b, stored_field(c)->name);
        put_u8(b, (unsigned char)COLTYPE[stored_field(c)->type]);
    }
    return n;
}

/* The runs of fields [c0, c1) at p, (c1 - c0) * nintervals * 8 bytes, for the rows [i0, i1): the rows read in
 * order (a stream the processor prefetches), each field's value stored in its run.  Two threads share the work by
 * rows, not by fields: a thread reading a part of each row runs 1.5x slower. */
static void cols_runs(uint8_t *p, const struct tpp_result *r, size_t c0, size_t c1, size_t i0, size_t i1)
{
    size_t offset[256], n = r->nintervals;
    for (size_t c = c0; c < c1 && c - c0 < 256; c++) offset[c - c0] = stored_field(c)->offset;
    for (size_t i = i0; i < i1; i++) {
        const char *row = (const char *)&r->iv[i];
        for (size_t c = c0; c < c1; c++) {
            uint64_t bits;
            memcpy(&bits, row + (c - c0 < 256 ? offset[c - c0] : stored_field(c)->offset), 8);
            uint8_t *q = p + ((c - c0) * n + i) * 8;
#if defined __BYTE_ORDER__ && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            memcpy(q, &bits, 8);
#else
            for (int k = 0; k < 8; k++) q[k] = (uint8_t)(bits >> (8 * k)); /* little-endian, whatever the host */
#endif
        }
    }
}

/* Per series, per interval: the entry count, then (port gap, count) pairs — the very encoding a result keeps in
 * memory (tpp/result.h), so the entries are copied as they are. */
static void port_payload(struct buf *b, const struct tpp_result *r)
{
    for (int s = 0; s < TPP_NSERIES; s++) {
        for (size_t i = 0; i < r->nintervals; i++) {
            struct tpp_port_cursor c;
            tpp_ports_open(r, s, i, &c);
            /* an entry is two varints, each ending in the one byte of it below 0x80: counted without decoding */
            size_t len = (size_t)(c.end - c.p), ends = 0;
            for (size_t k = 0; k < len; k++) ends += c.p[k] < 0x80;
            uint8_t *q = reserve(b, 10 + len), *start = q;
            if (!q) return;
            q = varint_at(q, ends / 2);
            memcpy(q, c.p, len);
            b->n += (size_t)(q + len - start);
        }
    }
}

static void seen_payload(struct buf *b, const struct tpp_result *r)
{
    for (int s = 0; s < TPP_NSERIES; s++)
        for (size_t w = 0; w < 65536 / 64; w++) put_u64(b, r->seen_ports[s][w]);
}

/* ---- format 4's compact encodings, shared by the writer and the reader ----------------------------------------
 * Sorted keys are delta-coded: an IPv4 address as the gap to the previous IPv4 address of its list (a varint), an
 * IPv6 address as the number of leading bytes it shares with the previous IPv6 address (a u8, 0..15) and the
 * rest; a flow key likewise as the bytes it shares with the previous key of its family, in its compact form
 * (IPv4: 13 bytes, IPv6: 37). */

/* IPv4 addresses in tpp_addr_count, tpp_seen and tpp_hh keys: the last 4 bytes, the others 0.  In a flow key
 * (as in tpp_packet): IPv4-mapped, ::ffff:a.b.c.d. */
static const uint8_t MAPPED4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

struct addr_coder {
    uint32_t prev4;
    int any4;
    uint8_t prev6[16];
};

static void put_addr(struct buf *b, struct addr_coder *k, int ipv, const uint8_t addr[16])
{
    if (ipv == 4) {
        uint32_t v = (uint32_t)addr[12] << 24 | (uint32_t)addr[13] << 16 | (uint32_t)addr[14] << 8 | addr[15];
        put_varint(b, k->any4 ? (uint64_t)(v - k->prev4 - 1) : v);
        k->prev4 = v;
        k->any4 = 1;
        return;
    }
    unsigned shared = 0;
    while (shared < 15 && addr[shared] == k->prev6[shared]) shared++;
    put_u8(b, shared);
    put(b, addr + shared, 16 - shared);
    memcpy(k->prev6, addr, 16);
}

/* The IPv4 entries that lead a list sorted by family (4 before 6). */
#define COUNT_V4(list, n, count)                                                                                  \
    do {                                                                                                          \
        count = 0;                                                                                                \
        while (count < (n) && (list)[count].ipv == 4) count++;                                                    \
    } while (0)

static size_t flow_compact(const struct tpp_flow_key *f, uint8_t out[37])
{
    size_t alen = f->ipv == 4 ? 4 : 16, off = 16 - alen, n = 0;
    memcpy(out + n, f->src + off, alen), n += alen;
    memcpy(out + n, f->dst + off, alen), n += alen;
    memcpy(out + n, f->sport, 2), n += 2;
    memcpy(out + n, f->dport, 2), n += 2;
    out[n++] = f->proto;
    return n;
}

struct flow_coder {
    uint8_t prev[2][37];       /* the previous compact key of each family (IPv4, IPv6) */
};

/* u8: bit 7 = IPv6, bits 0..6 = the bytes shared with the previous key of the family; then the rest. */
static void put_flow(struct buf *b, struct flow_coder *k, const struct tpp_flow_key *f)
{
    uint8_t c[37];
    size_t n = flow_compact(f, c);
    int fam = f->ipv == 6;
    unsigned shared = 0;
    while (shared + 1 < n && c[shared] == k->prev[fam][shared]) shared++;
    put_u8(b, (unsigned)fam << 7 | shared);
    put(b, c + shared, n - shared);
    memcpy(k->prev[fam], c, n);
}

/* A signed difference as an unsigned varint: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... */
static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

/* Sorted value -> count pairs: varint n, then (gap to the previous value minus 1, or the first value; count). */
static void put_values(struct buf *b, const struct tpp_value_count *v, uint32_t n)
{
    put_varint(b, n);
    for (uint32_t j = 0; j < n; j++) {
        put_varint(b, j ? v[j].value - v[j - 1].value - 1 : v[j].value);
        put_varint(b, v[j].count);
    }
}

/* The full tables: per table its interval, S and D, the addresses (with their packets, and bytes when the hh
 * group is on), then the flows, the lengths and the port bytes of the groups that are on. */
static void tabs_payload(struct buf *b, const struct tpp_result *r)
{
    unsigned feat = r->opts.features;
    put_u64(b, r->ntables);
    for (size_t k = 0; k < r->ntables; k++) {
        const struct tpp_addr_counts *t = &r->tables[k];
        put_varint(b, t->interval);
        put_varint(b, t->nsrc);
        put_varint(b, t->ndst);
        for (int side = 0; side < 2; side++) {
            const struct tpp_addr_count *e = side ? t->e + t->nsrc : t->e;
            uint32_t n = side ? t->ndst : t->nsrc, n4;
            struct addr_coder coder = { 0 };
            COUNT_V4(e, n, n4);
            put_varint(b, n4);
            for (uint32_t j = 0; j < n; j++) {
                put_addr(b, &coder, (int)e[j].ipv, e[j].addr);
                put_varint(b, e[j].count);
                if (feat & TPP_FEAT_HH) put_varint(b, e[j].bytes);
            }
        }
        if (feat & TPP_FEAT_FLOWS) {
            struct flow_coder coder = { 0 };
            put_varint(b, t->nflows);
            for (uint32_t j = 0; j < t->nflows; j++) put_flow(b, &coder, &t->flows[j]);
        }
        if (feat & TPP_FEAT_HEADERS) put_values(b, t->lens, t->nlens);
        if (feat & TPP_FEAT_HH)
            for (int p = 0; p < 2; p++) put_values(b, t->port_bytes[p], t->nport_bytes[p]);
    }
}

/* Heavy hitters (hh group on; empty otherwise): per interval varint n, then n entries: u8 dim; a port dimension's
 * varint port, or an address dimension's u8 family, u8 prefix length and the prefix's whole bytes; varint packets,
 * varint bytes.  The result keeps them in this very encoding (tpp/result.h): copied as they are, a run of intervals
 * at a time; an interval without bytes (loaded from a dump without heavy hitters) has the count 0. */
static void hh_payload(struct buf *b, const struct tpp_result *r)
{
    if (!(r->opts.features & TPP_FEAT_HH)) return;
    static const uint8_t none = 0;
    size_t from = 0;
    for (size_t i = 0; i <= r->nintervals; i++) {
        if (i < r->nintervals && r->hh_offsets[i] < r->hh_offsets[i + 1]) continue;
        size_t len = (size_t)(r->hh_offsets[i] - r->hh_offsets[from]);
        if (len) put(b, r->hh + r->hh_offsets[from], len);
        if (i < r->nintervals) put(b, &none, 1);
        from = i + 1;
    }
}

/* The addresses seen (novelty group on; empty otherwise): per side (sources, destinations) varint n, varint n4 (the
 * IPv4 ones, first), then each address and the varint interval of its first sighting. */
static void novelty_payload(struct buf *b, const struct tpp_result *r)
{
    if (!(r->opts.features & TPP_FEAT_NOVELTY)) return;
    for (int side = 0; side < 2; side++) {
        const struct tpp_seen *e = r->seen[side];
        size_t n = r->nseen[side], n4;
        struct addr_coder coder = { 0 };
        COUNT_V4(e, n, n4);
        put_varint(b, n);
        put_varint(b, n4);
        for (size_t j = 0; j < n; j++) {
            put_addr(b, &coder, (int)e[j].ipv, e[j].addr);
            put_varint(b, e[j].first);
        }
    }
}

/* The flows' head and tail (flows group on; empty otherwise): each a varint n, then n flow keys, each with its
 * varint interval and the zigzag varint of its time minus the result's first packet time. */
static void flows_payload(struct buf *b, const struct tpp_result *r)
{
    if (!(r->opts.features & TPP_FEAT_FLOWS)) return;
    for (int side = 0; side < 2; side++) {
        const struct tpp_flow_mark *e = side ? r->flow_tail : r->flow_head;
        size_t n = side ? r->nflow_tail : r->nflow_head;
        struct flow_coder coder = { 0 };
        put_varint(b, n);
        for (size_t j = 0; j < n; j++) {
            put_flow(b, &coder, &e[j].key);
            put_varint(b, e[j].interval);
            put_varint(b, zigzag((int64_t)((uint64_t)e[j].ns - (uint64_t)r->first_ns)));
        }
    }
}

/* The file being written: every byte goes through the CRC-32 the file ends with. */
struct dump_out {
    struct tpp_outfile f;
    uLong crc;
    int errnum;  /* the first write's errno; -1 for no space */
    struct tpp_zpieces *crew;  /* the large sections' deflaters, from the first large section on */
};

/* n bytes to the file, past the CRC (emit's part, and a streamed section's). */
static void write_all(struct dump_out *o, const uint8_t *p, size_t n)
{
    while (n > 0 && !o->errnum) {
        ssize_t w = write(o->f.fd, p, n < (1u << 30) ? n : (1u << 30));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { o->errnum = w < 0 ? errno : -1; break; }
        p += w;
        n -= (size_t)w;
    }
}

static void emit(struct dump_out *o, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t done = 0; !o->errnum && done < n;) {
        size_t k = n - done < (1u << 30) ? n - done : (1u << 30);
        o->crc = crc32_z(o->crc, p + done, k);
        write_all(o, p + done, k);
        done += k;
    }
}

/* The labels (format 5): u8 1 when the result has labels (else 0 and nothing more); varint n; per anomaly its id,
 * u8 type, taxonomy, value, i64 from and to (ns), varint matched packets, i64 first and last packet (ns), varint
 * number of filters, each u8 attributes (tpp/labels.h TPP_LF_*), 16 bytes source, 16 destination, u16 ports. */
static void labels_payload(struct buf *b, const struct tpp_result *r)
{
    const struct tpp_labels *l = r->labels;
    put_u8(b, l != NULL);
    if (!l) return;
    put_varint(b, l->n);
    for (size_t k = 0; k < l->n; k++) {
        const struct tpp_anomaly *a = &l->a[k];
        put_str(b, a->id);
        put_u8(b, (unsigned)a->type);
        put_str(b, a->taxonomy);
        put_str(b, a->value);
        put_i64(b, a->from_ns);
        put_i64(b, a->to_ns);
        put_varint(b, a->packets);
        put_i64(b, a->first_ns);
        put_i64(b, a->last_ns);
        put_varint(b, a->nfilters);
        for (size_t f = 0; f < a->nfilters; f++) {
            const struct tpp_label_filter *x = &l->filters[a->first_filter + f];
            put_u8(b, x->has);
            put(b, x->src, 16);
            put(b, x->dst, 16);
            put_le(b, x->sport, 2);
            put_le(b, x->dport, 2);
        }
    }
}

/* A section's header: its tag, flags, the length stored in the file and the payload's own length. */
static void section_header(struct buf *head, const char tag[4], uint32_t flags, uint64_t stored, uint64_t raw)
{
    put(head, tag, 4);
    put_u32(head, flags);
    put_u64(head, stored);
    put_u64(head, raw);
}

/* At a fine delta_t COLS is hundreds of MB (8 bytes a field an interval), HHIT as much with the heavy hitters:
 * sections from this size on are deflated as they are handed over, in pieces on two threads (zpieces.h), COLS as
 * it is made, without a second buffer as large for the deflated bytes. */
#define STREAM_MIN (1u << 22)
#define COLS_PASS_BYTES (1u << 28) /* the runs made per pass over the rows: one pass reads the rows in order */

/* A section deflated while its payload is handed over: a placeholder header first, then the zlib stream as it
 * comes; the header is filled in at the end (pwrite), and the file's CRC is carried over the header and the
 * stream with crc32_combine, as if they had been written in order. */
struct zsection {
    struct dump_out *o;
    off_t head_at;
    uLong crc_before, crc_stream;
    int open;
};

static int zsection_sink(void *ctx, const uint8_t *p, size_t n, uint32_t crc)
{
    struct zsection *s = ctx;
    write_all(s->o, p, n);
    s->crc_stream = crc32_combine(s->crc_stream, crc, (z_off_t)n);
    return s->o->errnum > 0 ? s->o->errnum : s->o->errnum ? ENOSPC : 0;
}

static void zsection_begin(struct zsection *s, struct dump_out *o)
{
    static const uint8_t placeholder[SECTION_HEADER_SIZE];
    memset(s, 0, sizeof *s);
    s->o = o;
    s->crc_before = o->crc;
    s->crc_stream = crc32(0L, NULL, 0);
    s->head_at = lseek(o->f.fd, 0, SEEK_CUR);
    if (s->head_at < 0) o->errnum = errno;
    write_all(o, placeholder, sizeof placeholder);
    if (!o->errnum && !o->crew && !(o->crew = tpp_zpieces_open(2))) o->errnum = ENOMEM;
    if (o->errnum) return;
    s->open = 1;
    int err = tpp_zpieces_begin(o->crew, zsection_sink, s);
    if (err && !o->errnum) o->errnum = err;
}

/* The next n bytes of the payload; `stable` when they stay unchanged until zsection_end (or a wait for a mark). */
static void zsection_put(struct zsection *s, const uint8_t *p, size_t n, int stable)
{
    if (!s->open || s->o->errnum) return;
    int err = tpp_zpieces_put(s->o->crew, p, n, stable);
    if (err && !s->o->errnum) s->o->errnum = err;
}

static void zsection_end(struct zsection *s, const char tag[4])
{
    struct dump_out *o = s->o;
    uint64_t raw = 0, stored = 0;
    if (!s->open) return;
    int err = tpp_zpieces_end(o->crew, &raw, &stored);
    if (err && !o->errnum) o->errnum = err;
    struct buf head = { 0 };
    section_header(&head, tag, FLAG_DEFLATE, stored, raw);
    if (head.oom && !o->errnum) o->errnum = ENOMEM;
    for (size_t done = 0; !o->errnum && done < head.n;) {
        ssize_t w = pwrite(o->f.fd, head.p + done, head.n - done, s->head_at + (off_t)done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) o->errnum = w < 0 ? errno : -1;
        else done += (size_t)w;
    }
    if (!o->errnum) o->crc = crc32_combine(crc32(s->crc_before, head.p, (uInt)head.n), s->crc_stream, (z_off_t)stored);
    free(head.p);
}

/* A payload that reaches STREAM_MIN while it is made goes to its section's stream from then on, a piece's worth at
 * a time, so that a section of hundreds of MB never sits whole in memory, and the helper deflates it as it comes. */
struct spill {
    struct dump_out *o;
    struct zsection z;
    int streaming;
};

static void spill_out(struct buf *b)
{
    struct spill *s = b->spill;
    if (b->n < (s->streaming ? ZPIECE_RAW : STREAM_MIN)) return;
    if (!s->streaming) zsection_begin(&s->z, s->o);
    s->streaming = 1;
    zsection_put(&s->z, b->p, b->n, 0);
    b->n = 0;
}

/* A section to the file: its header, then the payload, deflated when that pays (always when it is large). */
static void emit_section(struct dump_out *o, const char tag[4], const struct buf *payload)
{
    uint8_t *z = NULL;
    size_t zlen = 0;
    if (payload->n >= STREAM_MIN) {
        struct zsection zs;
        zsection_begin(&zs, o);
        zsection_put(&zs, payload->p, payload->n, 1);
        zsection_end(&zs, tag);
        return;
    }
    if (payload->n >= DEFLATE_MIN) {
        size_t bound = compressBound(payload->n);
        z = malloc(bound);
        zlen = z ? deflate_section(z, bound, payload->p, payload->n) : 0;
        if (zlen == 0 || zlen >= payload->n) {
            free(z);
            z = NULL;
        }
    }
    struct buf head = { 0 };
    section_header(&head, tag, z ? FLAG_DEFLATE : 0, z ? zlen : payload->n, payload->n);
    if (head.oom) o->errnum = ENOMEM;
    emit(o, head.p, head.n);
    emit(o, z ? z : payload->p, z ? zlen : payload->n);
    free(head.p);
    free(z);
}

/* The second half of the rows of a pass over the COLS fields, on the helper. */
struct runs_job {
    uint8_t *p;
    const struct tpp_result *r;
    size_t c0, c1;
};

static void runs_job_run(void *arg)
{
    struct runs_job *j = arg;
    cols_runs(j->p, j->r, j->c0, j->c1, j->r->nintervals / 2, j->r->nintervals);
}

/* The COLS section, `b` its scratch buffer. */
static void write_cols(struct dump_out *o, struct buf *b, const struct tpp_result *r)
{
    b->n = 0;
    size_t n = cols_head(b), run = r->nintervals * 8;
    if (!b->oom && run * n >= STREAM_MIN) {
        size_t per = COLS_PASS_BYTES / run ? COLS_PASS_BYTES / run : 1;
        uint8_t *runs = malloc((n < per ? n : per) * run);
        if (!runs) o->errnum = ENOMEM;
        struct zsection z;
        zsection_begin(&z, o);
        zsection_put(&z, b->p, b->n, 0);
        for (size_t c0 = 0; c0 < n && !o->errnum; c0 += per) {
            size_t c1 = n - c0 < per ? n : c0 + per;
            if (c0 > 0) tpp_zpieces_wait(o->crew, tpp_zpieces_mark(o->crew)); /* no piece still reads the runs */
            struct runs_job half = { runs, r, c0, c1 };
            tpp_zpieces_task(o->crew, runs_job_run, &half);
            cols_runs(runs, r, c0, c1, 0, r->nintervals / 2);
            tpp_zpieces_task_wait(o->crew);
            zsection_put(&z, runs, (c1 - c0) * run, 1);
        }
        zsection_end(&z, "COLS");
        free(runs);
        return;
    }
    uint8_t *runs = reserve(b, run * n);
    if (!runs) return;
    cols_runs(runs, r, 0, n, 0, r->nintervals);
    b->n += run * n;
    emit_section(o, "COLS", b);
}

int tpp_dump_write(const struct tpp_result *r, const char *path, const char *tpp_version, char *err, size_t errlen)
{
    struct dump_out o = { .crc = crc32(0L, NULL, 0) };
    if (tpp_outfile_open(&o.f, path, err, errlen) != 0) return -1;
    struct buf payload = { 0 };
    put(&payload, SIGNATURE, sizeof SIGNATURE);
    put_u32(&payload, TPP_DUMP_FORMAT);
    put_u32(&payload, ENDIAN_CHECK);
    put_f64(&payload, FLOAT_CHECK);
    if (!payload.oom) emit(&o, payload.p, payload.n);

    void (*const fill[])(struct buf *, const struct tpp_result *) = { NULL, NULL, port_payload, seen_payload,
                                                                     tabs_payload, hh_payload, novelty_payload,
                                                                     flows_payload, labels_payload };
    const char *tags[] = { "META", "COLS", "PORT", "SEEN", "TABS", "HHIT", "NOVL", "FLOW", "LABL" };
    for (int k = 0; k < 9 && !o.errnum && !payload.oom; k++) {
        payload.n = 0;
        if (k == 1) { write_cols(&o, &payload, r); continue; }
        if (k == 0) {
            meta_payload(&payload, r, tpp_version);
            if (!payload.oom) emit_section(&o, tags[k], &payload);
            continue;
        }
        struct spill spill = { .o = &o };
        payload.spill = &spill;
        fill[k](&payload, r);
        payload.spill = NULL;
        if (spill.streaming) { /* the rest of the stream, then its header */
            zsection_put(&spill.z, payload.p, payload.n, 1);
            zsection_end(&spill.z, tags[k]);
        } else if (!payload.oom) {
            emit_section(&o, tags[k], &payload);
        }
    }
    payload.n = 0;
    if (!o.errnum && !payload.oom) emit_section(&o, "END ", &payload);
    uint8_t crc[4];
    for (int k = 0; k < 4; k++) crc[k] = (uint8_t)((uint32_t)o.crc >> (8 * k));
    if (!o.errnum && !payload.oom) emit(&o, crc, 4);
    tpp_zpieces_close(o.crew);
    free(payload.p);
    if (payload.oom || o.errnum) {
        if (payload.oom || o.errnum == ENOMEM) snprintf(err, errlen, "%s: out of memory", path);
        else snprintf(err, errlen, "%s: cannot write: %s", path, o.errnum > 0 ? strerror(o.errnum) : "no space");
        tpp_outfile_abort(&o.f);
        return -1;
    }
    return tpp_outfile_commit(&o.f, err, errlen);
}

/* ---- reading ---------------------------------------------------------------------------------------------- */

/* A bounds-checked cursor: reading past the end sets `bad` and yields zeros. */
struct cur {
    const uint8_t *p;
    size_t n, off;
    int bad;
};

static int have(struct cur *c, size_t n)
{
    if (c->bad || n > c->n - c->off) { c->bad = 1; return 0; }
    return 1;
}

static uint64_t get_le(struct cur *c, int bytes)
{
    if (!have(c, (size_t)bytes)) return 0;
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | c->p[c->off + (size_t)i];
    c->off += (size_t)bytes;
    return v;
}

static unsigned get_u8(struct cur *c) { return (unsigned)get_le(c, 1); }
static uint32_t get_u32(struct cur *c) { return (uint32_t)get_le(c, 4); }
static uint64_t get_u64(struct cur *c) { return get_le(c, 8); }
static int64_t get_i64(struct cur *c) { return (int64_t)get_le(c, 8); }
static double get_f64(struct cur *c) { uint64_t u = get_le(c, 8); double d; memcpy(&d, &u, 8); return d; }

static uint64_t get_varint(struct cur *c)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (!have(c, 1)) return 0;
        uint8_t byte = c->p[c->off++];
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return v;
    }
    c->bad = 1; /* more than 10 bytes: not a varint */
    return 0;
}

/* Copy a string field into dst (cut to dstlen - 1). */
static void get_str(struct cur *c, char *dst, size_t dstlen)
{
    uint32_t n = get_u32(c);
    if (!have(c, n)) { if (dstlen) dst[0] = 0; return; }
    size_t k = n < dstlen ? n : dstlen - 1;
    memcpy(dst, c->p + c->off, k);
    dst[k] = 0;
    c->off += n;
}

struct reader {
    const char *path;
    char *err;
    size_t errlen;
};

static void fail(struct reader *rd, const char *fmt, ...)
{
    int n = snprintf(rd->err, rd->errlen, "%s: ", rd->path);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < rd->errlen) vsnprintf(rd->err + n, rd->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* The next section: its tag and its payload (inflated into *owned when compressed; left as stored, empty, when
 * `skip`: a section the caller does not read).  0 on success. */
static int next_section(struct reader *rd, struct cur *file, char tag[5], struct cur *payload, uint8_t **owned,
                        int skip)
{
    *owned = NULL;
    if (!have(file, SECTION_HEADER_SIZE)) { fail(rd, "truncated: a section header is cut off"); return -1; }
    memcpy(tag, file->p + file->off, 4);
    tag[4] = 0;
    file->off += 4;
    uint32_t flags = get_u32(file);
    uint64_t stored = get_u64(file), raw = get_u64(file);
    if (stored > file->n - file->off) {
        fail(rd, "section %s claims %llu bytes but only %zu remain", tag, (unsigned long long)stored,
             file->n - file->off);
        return -1;
    }
    const uint8_t *data = file->p + file->off;
    file->off += stored;
    if (flags & ~FLAG_DEFLATE) { fail(rd, "section %s has unknown flags %#x", tag, flags); return -1; }
    if (skip) {
        *payload = (struct cur){ data, 0, 0, 0 };
        return 0;
    }
    if (!(flags & FLAG_DEFLATE)) {
        if (raw != stored) { fail(rd, "section %s: stored and raw lengths differ", tag); return -1; }
        *payload = (struct cur){ data, stored, 0, 0 };
        return 0;
    }
    if (raw > stored * DEFLATE_MAX_RATIO || raw > UINT32_MAX) {
        fail(rd, "section %s claims %llu bytes inflated from %llu: not possible", tag, (unsigned long long)raw,
             (unsigned long long)stored);
        return -1;
    }
    uLongf got = (uLongf)raw;
    *owned = malloc(raw ? raw : 1);
    if (!*owned) { fail(rd, "out of memory"); return -1; }
    if (uncompress(*owned, &got, data, (uLong)stored) != Z_OK || got != raw) {
        fail(rd, "section %s does not inflate to its stated size", tag);
        return -1;
    }
    *payload = (struct cur){ *owned, raw, 0, 0 };
    return 0;
}

static int read_meta(struct reader *rd, struct cur *c, struct tpp_result *r, uint64_t *nintervals, uint32_t format)
{
    char version[64], source[4096];
    get_str(c, version, sizeof version);
    get_str(c, source, sizeof source);
    free(r->source);
    r->source = strdup(source);
    r->source_size = get_u64(c);
    r->source_mtime_ns = get_i64(c);
    r->source_fingerprint = get_u64(c);
    r->linktype = (int)get_u32(c);
    r->opts.delta_ns = get_i64(c);
    unsigned boundary = get_u8(c), ip = get_u8(c), anchor = get_u8(c);
    r->opts.max_packets = get_u64(c);
    r->opts.max_intervals = get_u64(c);
    get_str(c, r->opts.filter, sizeof r->opts.filter);
    r->packets = get_u64(c);
    r->ip_packets = get_u64(c);
    r->non_ip_packets = get_u64(c);
    r->malformed_packets = get_u64(c);
    r->truncated_packets = get_u64(c);
    r->backwards_packets = get_u64(c);
    r->first_ns = get_i64(c);
    r->last_ns = get_i64(c);
    r->complete = get_u8(c) != 0;
    r->stopped_by_limit = get_u8(c) != 0;
    get_str(c, r->error, sizeof r->error);
    get_str(c, r->warning, sizeof r->warning);
    unsigned keep = 0;
    if (format >= 3) {
        r->opts.max_gap_ns = get_i64(c);
        keep = get_u8(c);
        r->first_is_ip = get_u8(c) != 0;
        r->pieces = get_u64(c);
        r->mergeable = get_u8(c) != 0;
        r->opts.range_from = get_u64(c);
        r->opts.range_to = get_u64(c);
        r->opts.prev_ns = get_i64(c);
        r->opts.has_prev = get_u8(c) != 0;
    } else { /* format 2 filled every gap with empty intervals, and kept no merge state */
        r->opts.max_gap_ns = INT64_MAX;
        r->mergeable = 0;
    }
    if (format >= 4) {
        r->opts.features = get_u32(c);
        r->opts.flow_timeout_ns = get_i64(c);
        r->opts.hh_k = get_u32(c);
        r->opts.hhh_phi = get_f64(c);
    } else { /* the research features did not exist: their columns are NaN, and the result cannot be merged */
        r->opts.features = 0;
        r->mergeable = 0;
    }
    unsigned encap = TPP_ENCAP_OUTER;
    if (format >= 5) {
        encap = get_u8(c);
        r->encapsulated_packets = get_u64(c);
    } else { /* decoded before PPPoE, MPLS and tunnels were: its numbers cannot join a newer piece's */
        r->mergeable = 0;
    }
    *nintervals = get_u64(c);
    if (c->bad) { fail(rd, "section META is cut short"); return -1; }
    if ((r->opts.features & ~(unsigned)TPP_FEAT_ALL) || r->opts.flow_timeout_ns <= 0 || r->opts.hh_k < 1 ||
        r->opts.hh_k > 1000 || !(r->opts.hhh_phi >= 1e-4 && r->opts.hhh_phi <= 1)) {
        fail(rd, "section META holds impossible feature options");
        return -1;
    }
    if (keep > TPP_TABLES_ALL || r->opts.max_gap_ns < 0 || r->pieces == 0) {
        fail(rd, "section META holds impossible merge state");
        return -1;
    }
    r->opts.keep_tables = (enum tpp_keep_tables)keep;
    if (!r->source) { fail(rd, "out of memory"); return -1; }
    if (r->opts.delta_ns <= 0 || boundary > TPP_BOUNDARY_PACKET || ip > TPP_IP_V6 || anchor > TPP_ANCHOR_FIRST ||
        encap > TPP_ENCAP_INNER) {
        fail(rd, "section META holds impossible options");
        return -1;
    }
    r->opts.boundary = (enum tpp_boundary)boundary;
    r->opts.ip = (enum tpp_ipmode)ip;
    r->opts.anchor = (enum tpp_anchor)anchor;
    r->opts.encap = (enum tpp_encap)encap;
    return 0;
}

/* Fields a format-2 dump lacks: it has one segment, and its covered column comes from its first and last packet. */
static int added_in_format3(const struct tpp_column *c)
{
    return c->offset == offsetof(struct tpp_interval, segment) || c->offset == offsetof(struct tpp_interval, covered_ns)
        || (strncmp(c->name, "state.", 6) == 0 && c->offset != offsetof(struct tpp_interval, ttl_sum));
}

/* Fields a dump before format 4 lacks: the research features' columns (NaN there) and their state. */
static int added_in_format4(const struct tpp_column *c)
{
    return (c->offset >= offsetof(struct tpp_interval, entropy_tcp_src) &&
            c->offset <= offsetof(struct tpp_interval, len_p95)) || c->offset == offsetof(struct tpp_interval, ttl_sum);
}

/* Fields a dump before format 5 lacks: the per-interval count of packets with a tunnel (0 there) and the label
 * columns (NaN there, as without labels). */
static int added_in_format5(const struct tpp_column *c)
{
    return c->offset == offsetof(struct tpp_interval, encapsulated) ||
           (c->offset >= offsetof(struct tpp_interval, anomalous_pkts) &&
            c->offset <= offsetof(struct tpp_interval, notice_events));
}

static int read_cols(struct reader *rd, struct cur *c, struct tpp_result *r, uint64_t nintervals, uint32_t version)
{
    uint32_t ncols = get_u32(c);
    if (ncols > 1024) { fail(rd, "section COLS claims %u columns", ncols); return -1; }
    /* Values are 8 bytes per column per interval: the count must fit the section before anything is allocated. */
    if (nintervals > (c->n / 8) / (ncols ? ncols : 1)) {
        fail(rd, "section COLS is too short for %llu intervals of %u columns", (unsigned long long)nintervals, ncols);
        return -1;
    }
    const struct tpp_column *map[1024];
    for (uint32_t k = 0; k < ncols; k++) {
        char name[64];
        get_str(c, name, sizeof name);
        unsigned type = get_u8(c);
        map[k] = find_stored(name);
        if (map[k] && (map[k]->type == TPP_COL_INDEX || COLTYPE[map[k]->type] != (char)type)) {
            fail(rd, "section COLS: column %s has type '%c'", name, type);
            return -1;
        }
    }
    if (c->bad) { fail(rd, "section COLS is cut short"); return -1; }
    for (size_t i = 0; stored_field(i); i++) {
        int found = (version < 3 && added_in_format3(stored_field(i))) ||
                    (version < 4 && added_in_format4(stored_field(i))) ||
                    (version < 5 && added_in_format5(stored_field(i)));
        for (uint32_t k = 0; k < ncols; k++) found |= map[k] == stored_field(i);
        if (!found) { fail(rd, "section COLS lacks the column %s", stored_field(i)->name); return -1; }
    }
    if (nintervals * 8 * ncols > c->n - c->off) {
        fail(rd, "section COLS is too short for %llu intervals", (unsigned long long)nintervals);
        return -1;
    }
    r->iv = calloc(nintervals ? nintervals : 1, sizeof *r->iv);
    if (!r->iv) { fail(rd, "out of memory"); return -1; }
    r->cap = r->nintervals = nintervals;
    uint64_t *hh_offsets = calloc(nintervals + 1, sizeof *hh_offsets); /* no heavy hitter until HHIT says */
    if (!hh_offsets) { fail(rd, "out of memory"); return -1; }
    free(r->hh_offsets);
    r->hh_offsets = hh_offsets;
    if (version < 5) /* the research (before 4) and label columns are not known: NaN, as for a group switched off */
        for (size_t f = 0; stored_field(f); f++)
            if (((version < 4 && added_in_format4(stored_field(f))) || added_in_format5(stored_field(f))) &&
                stored_field(f)->type == TPP_COL_REAL)
                for (uint64_t i = 0; i < nintervals; i++) {
                    double nan = NAN;
                    memcpy((char *)&r->iv[i] + stored_field(f)->offset, &nan, 8);
                }
    for (uint32_t k = 0; k < ncols; k++)
        for (uint64_t i = 0; i < nintervals; i++) {
            uint64_t bits = get_u64(c);
            if (map[k]) memcpy((char *)&r->iv[i] + map[k]->offset, &bits, 8); /* unknown columns are skipped */
        }
    if (version < 3)
        for (uint64_t i = 0; i < nintervals; i++) r->iv[i].covered_ns = tpp_covered_ns(&r->iv[i], r->first_ns, r->last_ns);
    return 0;
}

static int read_ports(struct reader *rd, struct cur *c, struct tpp_result *r)
{
    for (int s = 0; s < TPP_NSERIES; s++) {
        struct tpp_port_series *ps = &r->ports[s];
        uint64_t *offsets = realloc(ps->offsets, (r->nintervals + 1) * sizeof *offsets);
        if (!offsets) { fail(rd, "out of memory"); return -1; }
        ps->offsets = offsets;
        offsets[0] = 0;
        for (size_t i = 0; i < r->nintervals; i++) {
            uint64_t n = get_varint(c);
            /* Each entry takes at least two bytes: a count beyond that cannot be real. */
            if (c->bad || n > 65536 || n > (c->n - c->off) / 2) {
                fail(rd, "section PORT: %s interval %zu claims %llu ports", tpp_series_names[s], i,
                     (unsigned long long)n);
                return -1;
            }
            int64_t port = -1;
            for (uint64_t k = 0; k < n; k++) {
                uint64_t delta = get_varint(c);
                port += delta < 65536 ? (int64_t)delta + 1 : 65536;
                uint64_t count = get_varint(c);
                if (c->bad || port > 65535 || count == 0 || count > UINT32_MAX) {
                    fail(rd, "section PORT: bad entry in %s interval %zu", tpp_series_names[s], i);
                    return -1;
                }
                if (tpp_result_push_port(r, s, (uint32_t)port, (uint32_t)count) != 0) {
                    fail(rd, "out of memory");
                    return -1;
                }
            }
            offsets[i + 1] = ps->nbytes;
            ps->last = -1;
        }
    }
    if (c->off != c->n) { fail(rd, "section PORT has %zu bytes left over", c->n - c->off); return -1; }
    return 0;
}

static int read_seen(struct reader *rd, struct cur *c, struct tpp_result *r)
{
    if (c->n != sizeof r->seen_ports) { fail(rd, "section SEEN has %zu bytes, not %zu", c->n, sizeof r->seen_ports); return -1; }
    for (int s = 0; s < TPP_NSERIES; s++)
        for (size_t w = 0; w < 65536 / 64; w++) r->seen_ports[s][w] = get_u64(c);
    return 0;
}

/* Format 3's TABS: the address tables only, each entry a family byte, the address and a varint count. */
static int read_tabs3(struct reader *rd, struct cur *c, struct tpp_result *r)
{
    uint64_t n = get_u64(c);
    if (n > r->nintervals) { fail(rd, "section TABS claims %llu tables", (unsigned long long)n); return -1; }
    for (uint64_t k = 0; k < n; k++) {
        uint64_t interval = get_varint(c), nsrc = get_varint(c), ndst = get_varint(c);
        /* every entry takes at least 6 bytes: counts beyond what is left cannot be real */
        if (c->bad || interval >= r->nintervals || (k > 0 && interval <= r->tables[k - 1].interval) ||
            nsrc > (c->n - c->off) / 6 || ndst > (c->n - c->off) / 6) {
            fail(rd, "section TABS: bad table %llu", (unsigned long long)k);
            return -1;
        }
        struct tpp_addr_counts t = { .interval = interval, .nsrc = (uint32_t)nsrc, .ndst = (uint32_t)ndst };
        t.e = calloc(nsrc + ndst ? nsrc + ndst : 1, sizeof *t.e);
        if (!t.e) { fail(rd, "out of memory"); return -1; }
        uint64_t sums[2] = { 0, 0 };
        for (uint64_t j = 0; j < nsrc + ndst; j++) {
            struct tpp_addr_count *e = &t.e[j];
            e->ipv = get_u8(c);
            size_t len = e->ipv == 4 ? 4 : 16;
            if (have(c, len)) { memcpy(e->ipv == 4 ? e->addr + 12 : e->addr, c->p + c->off, len); c->off += len; }
            e->count = get_varint(c);
            sums[j >= nsrc] += e->count;
            /* sorted, distinct, known family: the merge's sorted union relies on it */
            int order = j == 0 || j == nsrc ? 1 : e->ipv != e[-1].ipv ? (e->ipv > e[-1].ipv ? 1 : -1)
                      : memcmp(e->addr, e[-1].addr, 16);
            if (c->bad || (e->ipv != 4 && e->ipv != 6) || e->count == 0 || order <= 0) {
                free(t.e);
                fail(rd, "section TABS: bad entry in table %llu", (unsigned long long)k);
                return -1;
            }
        }
        const struct tpp_interval *iv = &r->iv[interval];
        if (nsrc != iv->src_ips || ndst != iv->dst_ips || sums[0] != iv->ip_packets || sums[1] != iv->ip_packets) {
            free(t.e);
            fail(rd, "section TABS: table %llu does not match its interval's counts", (unsigned long long)k);
            return -1;
        }
        if (tpp_result_push_table(r, &t) != 0) { fail(rd, "out of memory"); return -1; }
    }
    if (c->off != c->n) { fail(rd, "section TABS has %zu bytes left over", c->n - c->off); return -1; }
    return 0;
}

static int get_addr(struct cur *c, struct addr_coder *k, int ipv, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (ipv == 4) {
        uint64_t gap = get_varint(c);
        if (c->bad || gap > UINT32_MAX) return -1;
        uint64_t v = k->any4 ? (uint64_t)k->prev4 + 1 + gap : gap;
        if (v > UINT32_MAX) return -1;
        for (int b = 0; b < 4; b++) addr[12 + b] = (uint8_t)(v >> (24 - 8 * b));
        k->prev4 = (uint32_t)v;
        k->any4 = 1;
        return 0;
    }
    unsigned shared = get_u8(c);
    if (c->bad || shared > 15 || !have(c, 16 - shared)) return -1;
    memcpy(addr, k->prev6, shared);
    memcpy(addr + shared, c->p + c->off, 16 - shared);
    c->off += 16 - shared;
    memcpy(k->prev6, addr, 16);
    return 0;
}

static int get_flow(struct cur *c, struct flow_coder *k, struct tpp_flow_key *f)
{
    unsigned tag = get_u8(c), fam = tag >> 7, shared = tag & 0x7f;
    size_t n = fam ? 37 : 13, alen = fam ? 16 : 4, off = 16 - alen;
    if (c->bad || shared >= n || !have(c, n - shared)) return -1;
    uint8_t *key = k->prev[fam];
    memcpy(key + shared, c->p + c->off, n - shared);
    c->off += n - shared;
    memset(f, 0, sizeof *f);
    if (!fam) {
        memcpy(f->src, MAPPED4, 12);
        memcpy(f->dst, MAPPED4, 12);
    }
    memcpy(f->src + off, key, alen);
    memcpy(f->dst + off, key + alen, alen);
    memcpy(f->sport, key + 2 * alen, 2);
    memcpy(f->dport, key + 2 * alen + 2, 2);
    f->proto = key[2 * alen + 4];
    f->ipv = fam ? 6 : 4;
    return 0;
}

/* Sorted value -> count pairs (put_values), values <= max, counts >= 1, into a new array; *sum gets Σ count.
 * 0 on success, -1 when malformed, -2 out of memory. */
static int get_values(struct cur *c, uint64_t max, struct tpp_value_count **out, uint32_t *n, uint64_t *sum)
{
    uint64_t m = get_varint(c);
    *out = NULL;
    *n = 0;
    *sum = 0;
    if (c->bad || m > (c->n - c->off) / 2) return -1;
    if (m == 0) return 0;
    struct tpp_value_count *v = malloc(m * sizeof *v);
    if (!v) return -2;
    for (uint64_t j = 0; j < m; j++) {
        uint64_t gap = get_varint(c), count = get_varint(c);
        uint64_t value = j ? v[j - 1].value + 1 + gap : gap;
        if (c->bad || gap > max || value > max || count == 0 || __builtin_add_overflow(*sum, count, sum)) {
            free(v);
            return -1;
        }
        v[j] = (struct tpp_value_count){ value, count };
    }
    *out = v;
    *n = (uint32_t)m;
    return 0;
}

/* One side of a format-4 table: n addresses (n4 IPv4 first), each with packets and (hh) bytes. */
static int get_side(struct cur *c, struct tpp_addr_count *e, uint64_t n, int with_bytes, uint64_t sums[2])
{
    uint64_t n4 = get_varint(c);
    struct addr_coder coder = { 0 };
    sums[0] = sums[1] = 0;
    if (c->bad || n4 > n) return -1;
    for (uint64_t j = 0; j < n; j++) {
        e[j].ipv = j < n4 ? 4 : 6;
        if (get_addr(c, &coder, (int)e[j].ipv, e[j].addr) != 0) return -1;
        if (j > n4 && memcmp(e[j].addr, e[j - 1].addr, 16) <= 0) return -1; /* IPv6: strictly ascending */
        e[j].count = get_varint(c);
        e[j].bytes = with_bytes ? get_varint(c) : 0;
        if (c->bad || e[j].count == 0 || __builtin_add_overflow(sums[0], e[j].count, &sums[0]) ||
            __builtin_add_overflow(sums[1], e[j].bytes, &sums[1]))
            return -1;
    }
    return 0;
}

/* Format 4's TABS: the full tables (tabs_payload), each checked against its interval's columns. */
static int read_tabs(struct reader *rd, struct cur *c, struct tpp_result *r)
{
    unsigned feat = r->opts.features;
    uint64_t n = get_u64(c);
    if (n > r->nintervals) { fail(rd, "section TABS claims %llu tables", (unsigned long long)n); return -1; }
    for (uint64_t k = 0; k < n; k++) {
        uint64_t interval = get_varint(c), nsrc = get_varint(c), ndst = get_varint(c);
        /* every address takes at least 2 bytes: counts beyond what is left cannot be real */
        if (c->bad || interval >= r->nintervals || (k > 0 && interval <= r->tables[k - 1].interval) ||
            nsrc > (c->n - c->off) / 2 || ndst > (c->n - c->off) / 2) {
            fail(rd, "section TABS: bad table %llu", (unsigned long long)k);
            return -1;
        }
        const struct tpp_interval *iv = &r->iv[interval];
        struct tpp_addr_counts t = { .interval = interval, .nsrc = (uint32_t)nsrc, .ndst = (uint32_t)ndst };
        const char *why = NULL;
        int oom = 0;
        t.e = calloc(nsrc + ndst ? nsrc + ndst : 1, sizeof *t.e);
        uint64_t src[2], dst[2];
        if (!t.e) oom = 1;
        else if (get_side(c, t.e, nsrc, (feat & TPP_FEAT_HH) != 0, src) != 0 ||
                 get_side(c, t.e + nsrc, ndst, (feat & TPP_FEAT_HH) != 0, dst) != 0)
            why = "a bad address entry";
        else if (nsrc != iv->src_ips || ndst != iv->dst_ips || src[0] != iv->ip_packets || dst[0] != iv->ip_packets ||
                 ((feat & TPP_FEAT_HH) && (src[1] != iv->ip_bytes || dst[1] != iv->ip_bytes)))
            why = "addresses that do not match its interval's counts";
        if (!why && !oom && (feat & TPP_FEAT_FLOWS)) {
            uint64_t nflows = get_varint(c);
            if (c->bad || nflows > (c->n - c->off) / 2 || (double)nflows != iv->flows) {
                why = "a flow count that does not match its interval's";
            } else if (nflows && !(t.flows = malloc(nflows * sizeof *t.flows))) {
                oom = 1;
            } else {
                struct flow_coder coder = { 0 };
                t.nflows = (uint32_t)nflows;
                for (uint32_t j = 0; j < t.nflows && !why; j++)
                    if (get_flow(c, &coder, &t.flows[j]) != 0 ||
                        (j > 0 && memcmp(&t.flows[j], &t.flows[j - 1], sizeof t.flows[j]) <= 0))
                        why = "a bad flow";
            }
        }
        uint64_t sum = 0;
        if (!why && !oom && (feat & TPP_FEAT_HEADERS)) {
            int rc = get_values(c, UINT32_MAX, &t.lens, &t.nlens, &sum);
            if (rc == -2) oom = 1;
            else if (rc != 0 || sum != iv->ip_packets) why = "a bad length histogram";
        }
        for (int p = 0; p < 2 && !why && !oom && (feat & TPP_FEAT_HH); p++) {
            int rc = get_values(c, 65535, &t.port_bytes[p], &t.nport_bytes[p], &sum);
            if (rc == -2) oom = 1;
            else if (rc != 0) why = "bad port bytes";
        }
        if (why || oom) {
            tpp_addr_counts_free(&t);
            if (oom) fail(rd, "out of memory");
            else fail(rd, "section TABS: table %llu has %s", (unsigned long long)k, why);
            return -1;
        }
        if (tpp_result_push_table(r, &t) != 0) { fail(rd, "out of memory"); return -1; }
    }
    if (c->off != c->n) { fail(rd, "section TABS has %zu bytes left over", c->n - c->off); return -1; }
    return 0;
}

static int hh_is_port(unsigned dim) { return dim == TPP_HH_TCP_DPORT || dim == TPP_HH_UDP_DPORT; }
static int hh_is_hhh(unsigned dim) { return dim == TPP_HH_SRC_HHH || dim == TPP_HH_DST_HHH; }

/* The prefix lengths a dimension's entries may have in family ipv. */
static int hh_plen_ok(unsigned dim, unsigned ipv, unsigned plen)
{
    unsigned bits = ipv == 4 ? 32 : 128;
    switch (dim) {
    case TPP_HH_SRC: case TPP_HH_DST: return plen == bits;
    case TPP_HH_SRC_P24: case TPP_HH_DST_P24: return plen == (ipv == 4 ? 24u : 48u);
    default:
        return ipv == 4 ? plen == 32 || plen == 24 || plen == 16 || plen == 8
                        : plen == 128 || plen == 64 || plen == 48 || plen == 32;
    }
}

/* The canonical order of one dimension's entries (tpp/result.h): < 0 when a ranks before b. */
static int hh_rank(const struct tpp_hh *a, const struct tpp_hh *b)
{
    if (hh_is_hhh(a->dim) && a->plen != b->plen) return a->plen > b->plen ? -1 : 1;
    if (a->packets != b->packets) return a->packets > b->packets ? -1 : 1;
    if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
    if (hh_is_port(a->dim)) return a->port < b->port ? -1 : a->port > b->port;
    if (a->ipv != b->ipv) return a->ipv < b->ipv ? -1 : 1;
    return memcmp(a->key, b->key, 16);
}

/* The entries are decoded by tpp_hh_decode (the encoder's own reader), checked, and kept as they are, each
 * interval's after its count re-encoded (the entries' varints are canonical, the decoder refuses others). */
static int read_hh(struct reader *rd, struct cur *c, struct tpp_result *r)
{
    if (!(r->opts.features & TPP_FEAT_HH)) {
        if (c->n != 0) { fail(rd, "section HHIT holds heavy hitters but the hh group is off"); return -1; }
        return 0;
    }
    size_t most = c->n - c->off; /* the kept bytes are at most the payload's */
    free(r->hh);
    r->hh = most ? malloc(most) : NULL;
    if (most && !r->hh) { fail(rd, "out of memory"); return -1; }
    r->hh_cap = most;
    r->hh_nbytes = 0;
    r->nhh = 0;
    for (size_t i = 0; i < r->nintervals; i++) {
        const struct tpp_interval *iv = &r->iv[i];
        uint64_t n = get_varint(c);
        if (c->bad || n > (c->n - c->off) / 4) {
            fail(rd, "section HHIT: interval %zu claims %llu heavy hitters", i, (unsigned long long)n);
            return -1;
        }
        size_t entries_from = c->off;
        uint64_t in_dim = 0;
        struct tpp_hh prev, e;
        for (uint64_t j = 0; j < n; j++) {
            const uint8_t *next = tpp_hh_decode(c->p + c->off, c->p + c->n, &e);
            int ok = next != NULL;
            if (ok) c->off = (size_t)(next - c->p);
            ok = ok && (hh_is_port(e.dim) || hh_plen_ok(e.dim, e.ipv, e.plen));
            uint64_t total = e.dim == TPP_HH_TCP_DPORT ? iv->tcp_port_packets
                           : e.dim == TPP_HH_UDP_DPORT ? iv->udp_port_packets : iv->ip_packets;
            ok = ok && e.packets >= 1 && e.packets <= total;
            /* dimensions in order, each in its rank order, at most hh_k entries of a flat one */
            in_dim = j > 0 && prev.dim == e.dim ? in_dim + 1 : 1;
            ok = ok && (j == 0 || prev.dim < e.dim || (prev.dim == e.dim && hh_rank(&prev, &e) < 0)) &&
                 (hh_is_hhh(e.dim) || in_dim <= r->opts.hh_k);
            if (!ok) {
                fail(rd, "section HHIT: bad heavy hitter %llu of interval %zu", (unsigned long long)j, i);
                return -1;
            }
            prev = e;
        }
        r->hh_nbytes = (size_t)(varint_at(r->hh + r->hh_nbytes, n) - r->hh);
        memcpy(r->hh + r->hh_nbytes, c->p + entries_from, c->off - entries_from);
        r->hh_nbytes += c->off - entries_from;
        r->hh_offsets[i + 1] = r->hh_nbytes;
        r->nhh += n;
    }
    if (c->off != c->n) { fail(rd, "section HHIT has %zu bytes left over", c->n - c->off); return -1; }
    return 0;
}

static int read_novelty(struct reader *rd, struct cur *c, struct tpp_result *r)
{
    if (!(r->opts.features & TPP_FEAT_NOVELTY)) {
        if (c->n != 0) { fail(rd, "section NOVL holds addresses but the novelty group is off"); return -1; }
        return 0;
    }
    for (int side = 0; side < 2; side++) {
        const char *name = side ? "destination" : "source";
        uint64_t n = get_varint(c), n4 = get_varint(c);
        if (c->bad || n4 > n || n > (c->n - c->off) / 2) {
            fail(rd, "section NOVL claims %llu %s addresses", (unsigned long long)n, name);
            return -1;
        }
        struct tpp_seen *e = r->seen[side] = calloc(n ? n : 1, sizeof *e);
        if (!e) { fail(rd, "out of memory"); return -1; }
        r->nseen[side] = n;
        struct addr_coder coder = { 0 };
        for (uint64_t j = 0; j < n; j++) {
            e[j].ipv = j < n4 ? 4 : 6;
            int bad = get_addr(c, &coder, (int)e[j].ipv, e[j].addr) != 0 ||
                      (j > n4 && memcmp(e[j].addr, e[j - 1].addr, 16) <= 0);
            uint64_t first = get_varint(c);
            if (bad || c->bad || first >= r->nintervals) {
                fail(rd, "section NOVL: bad %s address %llu", name, (unsigned long long)j);
                return -1;
            }
            e[j].first = (uint32_t)first;
        }
    }
    if (c->off != c->n) { fail(rd, "section NOVL has %zu bytes left over", c->n - c->off); return -1; }
    return 0;
}

static int read_flows(struct reader *rd, struct cur *c, struct tpp_result *r)
{
    if (!(r->opts.features & TPP_FEAT_FLOWS)) {
        if (c->n != 0) { fail(rd, "section FLOW holds flows but the flows group is off"); return -1; }
        return 0;
    }
    for (int side = 0; side < 2; side++) {
        const char *name = side ? "tail" : "head";
        uint64_t n = get_varint(c);
        if (c->bad || n > (c->n - c->off) / 4) {
            fail(rd, "section FLOW claims %llu flows in its %s", (unsigned long long)n, name);
            return -1;
        }
        struct tpp_flow_mark *e = calloc(n ? n : 1, sizeof *e);
        if (!e) { fail(rd, "out of memory"); return -1; }
        if (side) r->flow_tail = e, r->nflow_tail = n;
        else r->flow_head = e, r->nflow_head = n;
        struct flow_coder coder = { 0 };
        for (uint64_t j = 0; j < n; j++) {
            int bad = get_flow(c, &coder, &e[j].key) != 0 ||
                      (j > 0 && memcmp(&e[j].key, &e[j - 1].key, sizeof e[j].key) <= 0);
            uint64_t interval = get_varint(c);
            e[j].ns = (int64_t)((uint64_t)r->first_ns + (uint64_t)unzigzag(get_varint(c)));
            if (bad || c->bad || interval >= r->nintervals) {
                fail(rd, "section FLOW: bad flow %llu of its %s", (unsigned long long)j, name);
                return -1;
            }
            e[j].interval = (uint32_t)interval;
        }
    }
    if (c->off != c->n) { fail(rd, "section FLOW has %zu bytes left over", c->n - c->off); return -1; }
    return 0;
}

/* Format 5's LABL (labels_payload). */
static int read_labels(struct reader *rd, struct cur *c, struct tpp_result *r)
{
    if (!get_u8(c)) return c->bad ? (fail(rd, "section LABL is cut short"), -1) : 0;
    uint64_t n = get_varint(c);
    if (n > (c->n - c->off) / 40) { fail(rd, "section LABL claims %llu anomalies", (unsigned long long)n); return -1; }
    if (!(r->labels = tpp_labels_new())) { fail(rd, "out of memory"); return -1; }
    for (uint64_t k = 0; k < n && !c->bad; k++) {
        char id[1024], taxonomy[1024], value[1024];
        get_str(c, id, sizeof id);
        unsigned type = get_u8(c);
        get_str(c, taxonomy, sizeof taxonomy);
        get_str(c, value, sizeof value);
        int64_t from = get_i64(c), to = get_i64(c);
        uint64_t packets = get_varint(c);
        int64_t first = get_i64(c), last = get_i64(c);
        uint64_t nf = get_varint(c);
        if (c->bad) break;
        if (type >= TPP_LABEL_NTYPES || nf > (c->n - c->off) / 37) {
            fail(rd, "section LABL: anomaly %llu is not valid", (unsigned long long)k + 1);
            return -1;
        }
        if (tpp_labels_add(r->labels, id, (int)type, taxonomy, value, from, to) != 0) { fail(rd, "out of memory"); return -1; }
        struct tpp_anomaly *a = &r->labels->a[r->labels->n - 1];
        a->packets = packets;
        a->first_ns = first;
        a->last_ns = last;
        for (uint64_t f = 0; f < nf; f++) {
            struct tpp_label_filter x;
            x.has = (uint8_t)(get_u8(c) & 15);
            for (int i = 0; i < 16; i++) x.src[i] = (uint8_t)get_u8(c);
            for (int i = 0; i < 16; i++) x.dst[i] = (uint8_t)get_u8(c);
            x.sport = (uint16_t)get_le(c, 2);
            x.dport = (uint16_t)get_le(c, 2);
            if (tpp_labels_add_filter(r->labels, &x) != 0) { fail(rd, "out of memory"); return -1; }
        }
    }
    if (c->bad) { fail(rd, "section LABL is cut short"); return -1; }
    return 0;
}

/* Read the whole file (after checking that it starts like a dump).  NULL with the reason in rd. */
static uint8_t *slurp(struct reader *rd, size_t *len)
{
    FILE *f = fopen(rd->path, "rb");
    if (!f) { fail(rd, "%s", strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) { /* fopen opens one; reading it fails */
        fail(rd, "is a directory");
        fclose(f);
        return NULL;
    }
    uint8_t head[HEADER_SIZE];
    size_t n = fread(head, 1, sizeof head, f);
    uint8_t *data = NULL;
    if (n < sizeof SIGNATURE || memcmp(head, SIGNATURE, 4) != 0) {
        fail(rd, n == 0 ? "empty file, not a tpp dump" : "not a tpp dump (wrong signature)");
    } else if (memcmp(head + 4, SIGNATURE + 4, 4) != 0) {
        fail(rd, "damaged by a text-mode transfer (its line-ending bytes were changed); copy it in binary mode");
    } else if (fseek(f, 0, SEEK_END) != 0 || ftell(f) < 0) {
        fail(rd, "cannot read: %s", strerror(errno));
    } else {
        *len = (size_t)ftell(f);
        data = malloc(*len ? *len : 1);
        if (!data) fail(rd, "out of memory for %zu bytes", *len);
        else if (fseek(f, 0, SEEK_SET) != 0 || fread(data, 1, *len, f) != *len) {
            fail(rd, "cannot read: %s", ferror(f) ? strerror(errno) : "the file shrank while being read");
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

/* Give back the unused tail of the arrays that grew by doubling while the dump was read (hh, port bytes): a
 * loaded result does not grow again unless it is merged, and on a long trace the slack is megabytes. */
static void fit_to_size(struct tpp_result *r)
{
    if (r->hh_nbytes && r->hh_cap > r->hh_nbytes) {
        uint8_t *hh = realloc(r->hh, r->hh_nbytes);
        if (hh) r->hh = hh, r->hh_cap = r->hh_nbytes;
    }
    for (int s = 0; s < TPP_NSERIES; s++) {
        struct tpp_port_series *p = &r->ports[s];
        if (p->nbytes && p->cap > p->nbytes) {
            uint8_t *b = realloc(p->bytes, p->nbytes);
            if (b) p->bytes = b, p->cap = p->nbytes;
        }
    }
}

struct tpp_result *tpp_dump_read(const char *path, char *err, size_t errlen)
{
    return tpp_dump_read_parts(path, 0, err, errlen);
}

struct tpp_result *tpp_dump_read_parts(const char *path, unsigned parts, char *err, size_t errlen)
{
    struct reader rd = { path, err, errlen };
    size_t len = 0;
    uint8_t *data = slurp(&rd, &len);
    if (!data) return NULL;

    struct tpp_result *r = NULL;
    uint8_t *owned = NULL;
    struct cur file = { data, len, sizeof SIGNATURE, 0 };
    uint32_t version = get_u32(&file);
    uint32_t endian = get_u32(&file);
    double fcheck = get_f64(&file);
    if (file.bad) { fail(&rd, "truncated: %zu bytes, shorter than the header", len); goto out; }
    if (version > TPP_DUMP_FORMAT) {
        fail(&rd, "written by a newer tpp (dump format %u; this tpp reads format %d)", version, TPP_DUMP_FORMAT);
        goto out;
    }
    if (version == 0 || endian != ENDIAN_CHECK || fcheck != FLOAT_CHECK) { fail(&rd, "corrupt header"); goto out; }
    if (version < 2) { /* format 1 wrote 0 for undefined statistics and anchored the grid at the start */
        fail(&rd, "written by an older tpp (dump format %u; this tpp reads format %d): parse the capture again",
             version, TPP_DUMP_FORMAT);
        goto out;
    }
    if (len < HEADER_SIZE + SECTION_HEADER_SIZE + 4) { fail(&rd, "truncated: %zu bytes", len); goto out; }
    uint32_t stored_crc = (uint32_t)data[len - 4] | (uint32_t)data[len - 3] << 8 | (uint32_t)data[len - 2] << 16 |
                          (uint32_t)data[len - 1] << 24;
    if ((uint32_t)crc32(0L, data, (uInt)(len - 4)) != stored_crc) {
        fail(&rd, "checksum mismatch: the file is truncated or corrupt");
        goto out;
    }
    file.n = len - 4;

    struct tpp_options o;
    tpp_options_default(&o);
    r = tpp_result_new(&o, "");
    if (!r) { fail(&rd, "out of memory"); goto out; }
    static const char *const order[] = { "META", "COLS", "PORT", "SEEN", "TABS", "HHIT", "NOVL", "FLOW", "LABL",
                                         "END " };
    uint64_t nintervals = 0;
    for (int k = 0; k < 10; k++) {
        if (k == 4 && version < 3) continue; /* format 2 had no tables */
        if (k >= 5 && k <= 7 && version < 4) continue; /* nor format 3 the research features' state */
        if (k == 8 && version < 5) continue; /* nor format 4 the labels */
        char tag[5];
        struct cur payload;
        free(owned);
        /* the merge state: the full tables, the addresses seen, the flows' head and tail */
        int skip = (parts & TPP_DUMP_NO_STATE) && (k == 4 || k == 6 || k == 7);
        if (next_section(&rd, &file, tag, &payload, &owned, skip) != 0) goto fail;
        if (strcmp(tag, order[k]) != 0) { fail(&rd, "expected section %s, found %s", order[k], tag); goto fail; }
        int rc = skip ? 0
               : k == 0 ? read_meta(&rd, &payload, r, &nintervals, version)
               : k == 1 ? read_cols(&rd, &payload, r, nintervals, version)
               : k == 2 ? read_ports(&rd, &payload, r)
               : k == 3 ? read_seen(&rd, &payload, r)
               : k == 4 ? (version < 4 ? read_tabs3(&rd, &payload, r) : read_tabs(&rd, &payload, r))
               : k == 5 ? read_hh(&rd, &payload, r)
               : k == 6 ? read_novelty(&rd, &payload, r)
               : k == 7 ? read_flows(&rd, &payload, r)
               : k == 8 ? read_labels(&rd, &payload, r) : 0;
        if (rc != 0) goto fail;
    }
    if (file.off != file.n) { fail(&rd, "%zu unexpected bytes after the END section", file.n - file.off); goto fail; }
    if (parts & TPP_DUMP_NO_STATE) r->mergeable = 0, r->state_dropped = 1;
    fit_to_size(r);
    goto out;
fail:
    tpp_result_free(r);
    r = NULL;
out:
    free(owned);
    free(data);
    return r;
}
