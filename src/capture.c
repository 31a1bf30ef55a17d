/* capture.c — open a capture, plain or compressed, and hand out its frames.
 *
 * The bytes come from the file itself or, for compressed files (recognised by their magic bytes) and standard
 * input, from an inflater running on its own thread (inflate.h).  Classic pcap and pcapng, the formats captures
 * come in, are read by tpp itself (pcap_records.h, pcapng_records.h): records and blocks are parsed in place in
 * a large buffer, so a frame costs no system or stdio call, which is what libpcap's per-record fread() costs,
 * and a pcapng file may mix link types, which libpcap refuses.  Old or patched pcap variants, and classic pcap
 * of link types tpp does not decode, go to libpcap through a stdio stream that first replays the bytes already
 * read.  A BPF filter runs through libpcap in all cases: for tpp's own readers, one program per link type,
 * compiled on a dead handle.
 */
#include "tpp/capture.h"
#include "tpp/packet.h"
#include "tpp/linktype_names.h"
#include "inflate.h"
#include "pcap_records.h"
#include "tpp/gzindex.h"
#include "pcapng_records.h"
#include "file_order.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Larger than the largest pcap record (16 + 262144 bytes) and the usual pcapng block, so those always fit
 * whole; the buffer grows for a larger pcapng block. */
enum { BUFFER_SIZE = 1u << 20 };
/* Real captures have a handful of interfaces; a file of nothing but interface blocks must not take gigabytes. */
enum { MAX_INTERFACES = 1 << 16 };

/* A filter program for the frames of one link type. */
struct link_filter {
    int linktype;
    int usable;               /* 0 when the filter makes no sense for this link type: no frame passes */
    pcap_t *dead;
    struct bpf_program prog;
};

enum reader { READ_PCAP, READ_PCAPNG, READ_LIBPCAP };

struct tpp_capture {
    /* where the bytes come from: the file, or the inflater (which then owns the file) */
    int fd;
    struct inflater *z;
    struct tpp_gzreader *gz;  /* a chunk of a gzip file, read from a checkpoint of its index */
    uint64_t size;        /* the file's size, 0 when unknown */
    uint64_t consumed;    /* bytes taken from the source so far (uncompressed) */

    /* bytes read and not yet parsed */
    uint8_t *buf;
    size_t bufsize, pos, end;

    enum reader reader;
    int linktype;
    int ts_unlike_libpcap; /* for the last frame */

    /* tpp's own readers: classic pcap, the whole file or the records in bytes [.., limit) (a chunk) */
    struct pcap_records rec;
    uint64_t limit;
    /* ... and pcapng: the current section's byte order and interfaces */
    int ng_swapped;
    struct pcapng_iface *ifaces;
    size_t nifaces, ifaces_cap;
    uint32_t ng_max_block;
    int64_t ng_last_ts;
    int ng_seen_packet;

    /* the filter of tpp's own readers, per link type (NULL filter: none) */
    char *filter;
    struct link_filter *filters;
    size_t nfilters;

    /* libpcap's reader */
    pcap_t *pcap;
    int pcap_classic; /* a classic pcap file: its seconds are an unsigned 32-bit field */
    FILE *fp;
    struct bpf_program pcap_filter;

    char error[TPP_ERRBUF_SIZE];
};

/* ---- the byte source ---------------------------------------------------------------------------------------- */

static ssize_t source_read(struct tpp_capture *c, uint8_t *dst, size_t len)
{
    ssize_t n;
    if (c->z) {
        n = inflater_read(c->z, dst, len);
        if (n < 0) snprintf(c->error, sizeof c->error, "%s", inflater_error(c->z));
    } else if (c->gz) {
        n = tpp_gzreader_read(c->gz, dst, len, c->error, sizeof c->error);
    } else {
        do n = read(c->fd, dst, len); while (n < 0 && errno == EINTR);
        if (n < 0) snprintf(c->error, sizeof c->error, "read error: %s", strerror(errno));
    }
    if (n > 0) c->consumed += (uint64_t)n;
    return n;
}

/* Make at least `want` (<= bufsize) unparsed bytes available: 1 done, 0 the data ended first, -1 a read error. */
static int fill(struct tpp_capture *c, size_t want)
{
    if (c->end - c->pos >= want) return 1;
    memmove(c->buf, c->buf + c->pos, c->end - c->pos);
    c->end -= c->pos;
    c->pos = 0;
    while (c->end < want) {
        ssize_t n = source_read(c, c->buf + c->end, c->bufsize - c->end);
        if (n < 0) return -1;
        if (n == 0) return 0;
        c->end += (size_t)n;
    }
    return 1;
}

/* Let the buffer hold `size` bytes; 0, or -1 when out of memory. */
static int reserve(struct tpp_capture *c, size_t size)
{
    if (size <= c->bufsize) return 0;
    uint8_t *bigger = realloc(c->buf, size);
    if (!bigger) {
        snprintf(c->error, sizeof c->error, "out of memory for a block of %zu bytes", size);
        return -1;
    }
    c->buf = bigger;
    c->bufsize = size;
    return 0;
}

/* Offset in the uncompressed data of the next unparsed byte. */
static uint64_t data_offset(const struct tpp_capture *c) { return c->consumed - (c->end - c->pos); }

/* libpcap reads through this: the bytes already buffered, then the source. */
static ssize_t replay_read(void *cookie, char *dst, size_t len)
{
    struct tpp_capture *c = cookie;
    if (c->pos < c->end) {
        size_t n = c->end - c->pos < len ? c->end - c->pos : len;
        memcpy(dst, c->buf + c->pos, n);
        c->pos += n;
        return (ssize_t)n;
    }
    return source_read(c, (uint8_t *)dst, len);
}

static int replay_close(void *cookie) { (void)cookie; return 0; } /* tpp_capture_close releases the source */

/* Copy one of libpcap's messages, which call any capture a "dump file". */
static void copy_libpcap_message(char *dst, size_t len, const char *msg)
{
    const char *word = strstr(msg, "dump file");
    if (word) snprintf(dst, len, "%.*scapture%s", (int)(word - msg), msg, word + strlen("dump file"));
    else snprintf(dst, len, "%s", msg);
}

/* ---- filters ------------------------------------------------------------------------------------------------ */

/* libpcap's link type number for a LINKTYPE_ value: they differ only for raw IP among the common ones. */
static int linktype_to_dlt(int linktype) { return linktype == TPP_LINK_RAW ? DLT_RAW : linktype; }

/* A filter that fails for this capture's link type but compiles for Ethernet ("ether host ..." on raw IP) is not
 * wrong as such: the message then names the link type, so that the user sees why. */
static int bad_filter(const char *filter, pcap_t *p, int linktype, char *err, size_t errlen)
{
    int for_linktype = 0;
    pcap_t *ethernet = linktype == TPP_LINK_ETHERNET ? NULL : pcap_open_dead(DLT_EN10MB, PCAP_MAX_SNAPLEN);
    if (ethernet) {
        struct bpf_program prog;
        if (pcap_compile(ethernet, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) == 0) {
            for_linktype = 1;
            pcap_freecode(&prog);
        }
        pcap_close(ethernet);
    }
    char name[96] = "";
    if (for_linktype) {
        char described[80];
        tpp_linktype_describe(linktype, described, sizeof described);
        snprintf(name, sizeof name, " for link type %s", described);
    }
    snprintf(err, errlen, "bad filter \"%s\"%s: %s", filter, name, pcap_geterr(p));
    return -1;
}

/* The index of the filter program for `linktype`, compiled on first use.  -1 when out of memory, or with
 * `must_compile` when the filter does not compile for it (the capture's first link type: the filter is bad);
 * for later link types such a filter is kept as one no frame passes. */
static int link_filter(struct tpp_capture *c, int linktype, int must_compile, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nfilters; i++)
        if (c->filters[i].linktype == linktype) return (int)i;
    struct link_filter *more = realloc(c->filters, (c->nfilters + 1) * sizeof *more);
    if (!more) { snprintf(err, errlen, "out of memory"); return -1; }
    c->filters = more;
    struct link_filter *lf = &c->filters[c->nfilters];
    memset(lf, 0, sizeof *lf);
    lf->linktype = linktype;
    lf->dead = pcap_open_dead_with_tstamp_precision(linktype_to_dlt(linktype), PCAP_MAX_SNAPLEN,
                                                    PCAP_TSTAMP_PRECISION_NANO);
    if (!lf->dead) { snprintf(err, errlen, "out of memory"); return -1; }
    c->nfilters++;
    lf->usable = pcap_compile(lf->dead, &lf->prog, c->filter, 1, PCAP_NETMASK_UNKNOWN) == 0;
    if (!lf->usable && must_compile) return bad_filter(c->filter, lf->dead, linktype, err, errlen);
    return (int)(c->nfilters - 1);
}

/* Does frame f pass the filter of tpp's own readers? */
static int passes(const struct tpp_capture *c, int filter, const struct tpp_frame *f)
{
    if (!c->filter) return 1;
    const struct link_filter *lf = &c->filters[filter];
    if (!lf->usable) return 0;
    struct pcap_pkthdr h = { .caplen = f->caplen, .len = f->wirelen };
    return pcap_offline_filter(&lf->prog, &h, f->data) != 0;
}

/* ---- opening ------------------------------------------------------------------------------------------------ */

/* Open the file or standard input and set up the byte source; 0, or -1 with a message in err. */
static int open_source(struct tpp_capture *c, const char *path, char *err, size_t errlen)
{
    int from_stdin = strcmp(path, "-") == 0;
    int fd = from_stdin ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(err, errlen, "%s", strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "is a directory");
            close(fd);
            return -1;
        }
        if (S_ISREG(st.st_mode)) c->size = (uint64_t)st.st_size;
        else from_stdin = 1; /* a FIFO (bash's <(...)) cannot be peeked at with pread: read it as stdin is read */
        if (!from_stdin && S_ISREG(st.st_mode) && c->size == 0) {
            snprintf(err, errlen, "empty file (0 bytes), not a capture");
            close(fd);
            return -1;
        }
    }
    /* A regular file is read directly unless its magic says it is compressed; anything else (stdin, a FIFO)
     * goes through the inflater, which passes data without a known magic through. */
    uint8_t head[INFLATE_SNIFF];
    enum inflate_format format = INFLATE_GZIP;
    if (!from_stdin && S_ISREG(st.st_mode)) {
        ssize_t n = pread(fd, head, sizeof head, 0);
        inflate_sniff(head, n > 0 ? (size_t)n : 0, &format);
    }
    if (format == INFLATE_PLAIN) {
        c->fd = fd;
        return 0;
    }
    c->z = inflater_start(fd, err, errlen); /* closes fd on failure */
    return c->z ? 0 : -1;
}

/* Link types tpp reads itself in classic pcap: those it decodes, but not 12 and 14, raw IP in some systems' DLT
 * numbering, which libpcap translates (or not) by the system it runs on. */
static int own_reader_linktype(int linktype)
{
    return tpp_linktype_supported(linktype) && linktype != TPP_LINK_DLT_RAW_ALT && linktype != TPP_LINK_DLT_RAW_ALT2;
}

static int open_pcap(struct tpp_capture *c, char *err, size_t errlen)
{
    c->reader = READ_PCAP;
    c->pos += PCAP_FILE_HEADER_SIZE;
    c->linktype = c->rec.linktype;
    if (c->filter && link_filter(c, c->linktype, 1, err, errlen) < 0) return -1;
    return 0;
}

static int open_libpcap(struct tpp_capture *c, char *err, size_t errlen)
{
    const char *filter = c->filter;
    c->reader = READ_LIBPCAP;
    c->pcap_classic = c->end - c->pos < 4 || file_load32(c->buf + c->pos, 0) != PCAPNG_SHB;
    cookie_io_functions_t io = { .read = replay_read, .close = replay_close };
    c->fp = fopencookie(c, "rb", io);
    if (!c->fp) { snprintf(err, errlen, "cannot open: %s", strerror(errno)); return -1; }
    setvbuf(c->fp, NULL, _IOFBF, 1u << 17);
    char perr[PCAP_ERRBUF_SIZE] = "";
    c->pcap = pcap_fopen_offline_with_tstamp_precision(c->fp, PCAP_TSTAMP_PRECISION_NANO, perr);
    if (!c->pcap) {
        /* libpcap's words for "not a capture" are "unknown file format": say it plainly. */
        const char *format = c->z ? inflater_format(c->z) : NULL;
        if (c->error[0]) snprintf(err, errlen, "%s", c->error);
        else if (strstr(perr, "unknown file format"))
            snprintf(err, errlen, "not a pcap or pcapng capture%s%s%s", format ? " (after " : "",
                     format ? format : "", format ? " decompression)" : "");
        else copy_libpcap_message(err, TPP_ERRBUF_SIZE, perr);
        return -1;
    }
    int dlt = pcap_datalink(c->pcap);
    c->linktype = dlt == DLT_RAW ? TPP_LINK_RAW : dlt; /* report the LINKTYPE_ number, as stored in the file */
    if (!filter) return 0;
    if (pcap_compile(c->pcap, &c->pcap_filter, filter, 1, PCAP_NETMASK_UNKNOWN) != 0)
        return bad_filter(filter, c->pcap, c->linktype, err, errlen);
    return pcap_setfilter(c->pcap, &c->pcap_filter) == 0 ? 0 : bad_filter(filter, c->pcap, c->linktype, err, errlen);
}

static int next_pcapng_block(struct tpp_capture *c, struct tpp_frame *f, uint32_t *type);

/* The first section header, then blocks up to the first interface description, as libpcap reads them when it
 * opens a file (and as leniently: the first header's length and trailer are not checked). */
static int open_pcapng(struct tpp_capture *c, char *err, size_t errlen)
{
    c->reader = READ_PCAPNG;
    c->ng_max_block = pcapng_max_block(TPP_LINK_ETHERNET);
    int rc = fill(c, 12);
    if (rc < 0) { snprintf(err, errlen, "%s", c->error); return -1; }
    if (rc == 0) {
        snprintf(err, errlen, "truncated capture: the file header has %zu of %d bytes", c->end - c->pos,
                 PCAPNG_SHB_MIN);
        return -1;
    }
    c->ng_swapped = pcapng_shb_byte_order(c->buf + c->pos);
    if (c->ng_swapped < 0) { snprintf(err, errlen, "not a pcap or pcapng capture"); return -1; }
    uint32_t len = file_load32(c->buf + c->pos + 4, c->ng_swapped);
    if (len < PCAPNG_SHB_MIN || len > PCAPNG_SHB_MAX) {
        snprintf(err, errlen, "the file header (section header block) has a length of %u, not %d to %d",
                 len, PCAPNG_SHB_MIN, PCAPNG_SHB_MAX);
        return -1;
    }
    if ((rc = fill(c, len)) <= 0) {
        if (rc < 0) snprintf(err, errlen, "%s", c->error);
        else snprintf(err, errlen, "truncated capture: the file header has %zu of %u bytes",
                      c->end - c->pos, len);
        return -1;
    }
    if (pcapng_shb(c->buf + c->pos, len, c->ng_swapped, err, errlen) != 0) return -1;
    c->pos += len;
    for (;;) {
        struct tpp_frame f;
        uint32_t type;
        rc = next_pcapng_block(c, &f, &type);
        if (rc == 0 && c->error[0] == 0)
            snprintf(c->error, sizeof c->error, "no Interface Description Block: the capture has no interfaces");
        if (rc <= 0) { snprintf(err, errlen, "%s", c->error); return -1; }
        if (rc == 2 && type == PCAPNG_IDB) break;
    }
    c->linktype = c->ifaces[0].linktype;
    return 0;
}

/* Do the n bytes at p (only the first 4 count) begin `magic`, written in either byte order? */
static int begins_magic(const uint8_t *p, size_t n, uint32_t magic)
{
    const uint8_t big[4] = { magic >> 24, magic >> 16, magic >> 8, magic };
    const uint8_t little[4] = { magic, magic >> 8, magic >> 16, magic >> 24 };
    if (n > 4) n = 4;
    return memcmp(p, big, n) == 0 || memcmp(p, little, n) == 0;
}

/* The first bytes of a pcap or pcapng file, for telling a file cut inside its header from other content. */
static int header_prefix_of_capture(const uint8_t *p, size_t n, size_t *header_size)
{
    if (begins_magic(p, n, PCAPNG_SHB)) {
        *header_size = PCAPNG_SHB_MIN;
        return 1;
    }
    if (begins_magic(p, n, PCAP_MAGIC_MICRO) || begins_magic(p, n, PCAP_MAGIC_NANO)) {
        *header_size = PCAP_FILE_HEADER_SIZE;
        return 1;
    }
    return 0;
}

const char *tpp_capture_kind(const uint8_t *head, size_t n, char *err, size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "empty file (0 bytes), not a capture");
        return NULL;
    }
    enum inflate_format format;
    const char *compressor = inflate_sniff(head, n, &format);
    if (compressor && format == INFLATE_UNSUPPORTED) {
        snprintf(err, errlen, "%s-compressed: decompress it first", compressor);
        return NULL;
    }
    if (compressor) return compressor;
    if (n >= 4 && begins_magic(head, 4, PCAPNG_SHB)) return "pcapng";
    if (n >= 4 && (begins_magic(head, 4, PCAP_MAGIC_MICRO) || begins_magic(head, 4, PCAP_MAGIC_NANO) ||
                   begins_magic(head, 4, PCAP_MAGIC_MODIFIED)))
        return "pcap";
    snprintf(err, errlen, "not a capture (unknown magic bytes)");
    return NULL;
}

/* Choose the reader by the first bytes and open it; 0, or -1 with a message in err. */
static int open_reader(struct tpp_capture *c, enum tpp_capture_reader reader, char *err, size_t errlen)
{
    int rc = fill(c, PCAP_FILE_HEADER_SIZE);
    if (rc < 0) { snprintf(err, errlen, "%s", c->error); return -1; }
    size_t have = c->end - c->pos, header;
    const char *format = c->z ? inflater_format(c->z) : NULL;
    if (have == 0) {
        snprintf(err, errlen, "empty file (0 bytes%s%s), not a capture", format ? " after " : "",
                 format ? format : "");
        return -1;
    }
    if (reader == TPP_CAPTURE_LIBPCAP) return open_libpcap(c, err, errlen);
    if (have >= 4 && file_load32(c->buf + c->pos, 0) == PCAPNG_SHB) return open_pcapng(c, err, errlen);
    if (rc == 0 && have >= 2 && header_prefix_of_capture(c->buf + c->pos, have, &header)) {
        snprintf(err, errlen, "truncated capture: the file header has %zu of %zu bytes", have, header);
        return -1;
    }
    if (have < 4) {
        snprintf(err, errlen, "not a pcap or pcapng capture (%zu byte%s)", have, have == 1 ? "" : "s");
        return -1;
    }
    if (rc > 0 && pcap_records_open(&c->rec, c->buf + c->pos) == 0 && own_reader_linktype(c->rec.linktype))
        return open_pcap(c, err, errlen);
    return open_libpcap(c, err, errlen);
}

/* A capture with its buffer and filter and no source yet; NULL when out of memory. */
static struct tpp_capture *new_capture(const char *filter, char *err, size_t errlen)
{
    struct tpp_capture *c = calloc(1, sizeof *c);
    uint8_t *buf = c ? malloc(BUFFER_SIZE) : NULL;
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        free(c);
        return NULL;
    }
    c->buf = buf;
    c->bufsize = BUFFER_SIZE;
    c->fd = -1;
    if (filter && *filter && !(c->filter = strdup(filter))) {
        snprintf(err, errlen, "out of memory");
        tpp_capture_close(c);
        return NULL;
    }
    return c;
}

struct tpp_capture *tpp_capture_open_with(const char *path, const char *filter, enum tpp_capture_reader reader,
                                          char *err, size_t errlen)
{
    struct tpp_capture *c = new_capture(filter, err, errlen);
    if (!c) return NULL;
    if (open_source(c, path, err, errlen) != 0 || open_reader(c, reader, err, errlen) != 0) {
        tpp_capture_close(c);
        return NULL;
    }
    return c;
}

struct tpp_capture *tpp_capture_open(const char *path, const char *filter, char *err, size_t errlen)
{
    return tpp_capture_open_with(path, filter, TPP_CAPTURE_AUTO, err, errlen);
}

/* A capture read from a gzip file's checkpoint index: the file header from the start, then from `from` on. */
static struct tpp_capture *open_indexed(const char *path, const char *filter, const struct tpp_gzindex *index,
                                        uint64_t from, char *err, size_t errlen)
{
    struct tpp_capture *c = new_capture(filter, err, errlen);
    if (!c) return NULL;
    c->size = tpp_gzindex_size(index);
    /* the file header alone from the start (a fill would inflate a whole buffer there), then the reader */
    ssize_t got = 0;
    if ((c->gz = tpp_gzreader_open(index, path, 0, err, errlen)))
        while (c->end < PCAP_FILE_HEADER_SIZE &&
               (got = tpp_gzreader_read(c->gz, c->buf + c->end, PCAP_FILE_HEADER_SIZE - c->end, err, errlen)) > 0)
            c->end += (size_t)got;
    c->consumed = c->end;
    if (c->gz && got >= 0 && open_reader(c, TPP_CAPTURE_AUTO, err, errlen) == 0) {
        if (c->reader != READ_PCAP) {
            snprintf(err, errlen, "only a classic pcap read by tpp itself can be read in chunks");
        } else {
            tpp_gzreader_close(c->gz);
            c->gz = tpp_gzreader_open(index, path, from, err, errlen);
            c->pos = c->end = 0;
            c->consumed = from;
            if (c->gz) return c;
        }
    }
    tpp_capture_close(c);
    return NULL;
}

struct tpp_capture *tpp_capture_open_range(const char *path, const char *filter, uint64_t from, uint64_t to,
                                           const struct tpp_gzindex *index, char *err, size_t errlen)
{
    if (index && (from < PCAP_FILE_HEADER_SIZE || to <= from || to > tpp_gzindex_size(index))) {
        snprintf(err, errlen, "the chunk's byte range is not inside the file's records");
        return NULL;
    }
    struct tpp_capture *c = index ? open_indexed(path, filter, index, from, err, errlen)
                                  : tpp_capture_open(path, filter, err, errlen);
    if (!c || (from == 0 && to == 0)) return c;
    const char *why = NULL;
    if (!index) {
        why = c->reader != READ_PCAP || c->z ? "only a classic pcap read by tpp itself can be read in chunks (a "
              "compressed one needs its index)" : from < PCAP_FILE_HEADER_SIZE || to <= from || to > c->size
              ? "the chunk's byte range is not inside the file's records" : NULL;
        if (!why && from > PCAP_FILE_HEADER_SIZE) {
            if (lseek(c->fd, (off_t)from, SEEK_SET) < 0) why = strerror(errno);
            c->pos = c->end = 0;
            c->consumed = from;
        }
    }
    if (why) {
        snprintf(err, errlen, "%s", why);
        tpp_capture_close(c);
        return NULL;
    }
    c->limit = to;
    return c;
}

/* ---- reading classic pcap ----------------------------------------------------------------------------------- */

/* A chunk ends exactly where a record ends: anything else means its limits were not record boundaries. */
static int chunk_check(struct tpp_capture *c, size_t next_record)
{
    uint64_t at = data_offset(c);
    /* the last chunk ends with the file: a record cut there is a truncated capture, said as for a whole file */
    if (!c->limit || c->limit >= c->size || at + next_record <= c->limit) return 0;
    snprintf(c->error, sizeof c->error, "the record at byte %llu crosses the chunk's end at byte %llu: the chunk "
             "does not end at a record boundary", (unsigned long long)at, (unsigned long long)c->limit);
    return -1;
}

static int next_pcap(struct tpp_capture *c, struct tpp_frame *f)
{
    for (;;) {
        if (c->limit && c->limit < c->size && data_offset(c) == c->limit) return 0;
        int rc = fill(c, PCAP_RECORD_HEADER_SIZE);
        if (rc < 0 || chunk_check(c, PCAP_RECORD_HEADER_SIZE) != 0) return -1;
        if (rc == 0) {
            if (c->end == c->pos && c->limit && data_offset(c) < c->limit) {
                snprintf(c->error, sizeof c->error, "the file ends at byte %llu, before the chunk's end at byte %llu",
                         (unsigned long long)data_offset(c), (unsigned long long)c->limit);
                return -1;
            }
            if (c->end == c->pos) return 0;
            snprintf(c->error, sizeof c->error, "truncated capture: the last record header has %zu of its %d bytes",
                     c->end - c->pos, PCAP_RECORD_HEADER_SIZE);
            return -1;
        }
        uint32_t stored;
        if (pcap_records_header(&c->rec, c->buf + c->pos, f, &stored, &c->ts_unlike_libpcap, c->error,
                                sizeof c->error) != 0)
            return -1;
        size_t size = PCAP_RECORD_HEADER_SIZE + (size_t)stored;
        if (chunk_check(c, size) != 0) return -1;
        rc = fill(c, size);
        if (rc < 0) return -1;
        if (rc == 0) {
            snprintf(c->error, sizeof c->error, "truncated capture: the last packet has %zu of its %u captured bytes",
                     c->end - c->pos - PCAP_RECORD_HEADER_SIZE, stored);
            return -1;
        }
        f->data = c->buf + c->pos + PCAP_RECORD_HEADER_SIZE;
        c->pos += size;
        if (passes(c, 0, f)) return 1;
    }
}

/* ---- reading pcapng ----------------------------------------------------------------------------------------- */

/* Bring the next whole block to c->buf + c->pos and check its lengths: 1, 0 at the end of the data, -1 on an
 * error (the position stays at the block, so the error's offset is the block's). */
static int pcapng_block(struct tpp_capture *c, uint32_t *type, uint32_t *len)
{
    int rc = fill(c, 8);
    if (rc <= 0) {
        if (rc == 0 && c->end > c->pos)
            snprintf(c->error, sizeof c->error, "truncated capture: the last block header has %zu of its 8 bytes",
                     c->end - c->pos);
        return rc < 0 || c->end > c->pos ? -1 : 0;
    }
    *type = file_load32(c->buf + c->pos, c->ng_swapped);
    if (*type == PCAPNG_SHB) { /* a new section, perhaps of the other byte order: its magic says */
        if ((rc = fill(c, 12)) <= 0) {
            if (rc == 0)
                snprintf(c->error, sizeof c->error, "truncated capture: the last block has %zu of at least %d bytes",
                         c->end - c->pos, PCAPNG_SHB_MIN);
            return -1;
        }
        int order = pcapng_shb_byte_order(c->buf + c->pos);
        if (order < 0) {
            snprintf(c->error, sizeof c->error, "section header block with a bad byte-order magic");
            return -1;
        }
        c->ng_swapped = order;
    }
    *len = file_load32(c->buf + c->pos + 4, c->ng_swapped);
    const char *bad = *len < PCAPNG_BLOCK_MIN ? "less than 12" : *len % 4 ? "not a multiple of 4" :
                      *len > c->ng_max_block ? "more than the largest block allowed" : NULL;
    if (bad) {
        snprintf(c->error, sizeof c->error, "bad pcapng block: type %#x has a length of %u, %s", *type, *len, bad);
        return -1;
    }
    /* A length past the end of a plain file is a cut: say so at once, without reading (or allocating) it. */
    uint64_t at = data_offset(c);
    if (!c->z && c->size && at + *len > c->size) {
        snprintf(c->error, sizeof c->error, "truncated capture: the last block has %llu of its %u bytes",
                 (unsigned long long)(c->size > at ? c->size - at : 0), *len);
        return -1;
    }
    if (reserve(c, *len) != 0) return -1;
    if ((rc = fill(c, *len)) <= 0) {
        if (rc == 0)
            snprintf(c->error, sizeof c->error, "truncated capture: the last block has %zu of its %u bytes",
                     c->end - c->pos, *len);
        return -1;
    }
    uint32_t trailer = file_load32(c->buf + c->pos + *len - 4, c->ng_swapped);
    if (trailer != *len) {
        snprintf(c->error, sizeof c->error, "bad pcapng block: type %#x has a length of %u but a trailing length of %u",
                 *type, *len, trailer);
        return -1;
    }
    return 1;
}

/* Add the interface of the IDB at c->pos (len bytes). */
static int add_interface(struct tpp_capture *c, uint32_t len)
{
    struct pcapng_iface iface;
    if (pcapng_idb(c->buf + c->pos, len, c->ng_swapped, &iface, c->error, sizeof c->error) != 0) return -1;
    iface.snaplen = pcapng_snaplen(iface.linktype, iface.snaplen);
    iface.filter = 0;
    if (c->filter) {
        char err[TPP_ERRBUF_SIZE];
        iface.filter = link_filter(c, iface.linktype, c->nfilters == 0, err, sizeof err);
        if (iface.filter < 0) { snprintf(c->error, sizeof c->error, "%s", err); return -1; }
    }
    if (c->nifaces == MAX_INTERFACES) {
        snprintf(c->error, sizeof c->error, "more than %d interfaces in one section", MAX_INTERFACES);
        return -1;
    }
    if (c->nifaces == c->ifaces_cap) {
        size_t cap = c->ifaces_cap ? 2 * c->ifaces_cap : 4;
        struct pcapng_iface *more = realloc(c->ifaces, cap * sizeof *more);
        if (!more) { snprintf(c->error, sizeof c->error, "out of memory for %zu interfaces", cap); return -1; }
        c->ifaces = more;
        c->ifaces_cap = cap;
    }
    c->ifaces[c->nifaces++] = iface;
    uint32_t max_block = pcapng_max_block(iface.linktype);
    if (max_block > c->ng_max_block) c->ng_max_block = max_block;
    return 0;
}

/* Fill f from the packet block at c->pos; 0, or -1 with a message. */
static int read_packet(struct tpp_capture *c, uint32_t type, uint32_t len, struct tpp_frame *f, int *filter)
{
    struct pcapng_packet pkt;
    if (c->nifaces == 0) {
        snprintf(c->error, sizeof c->error, "a packet block before any Interface Description Block of its section");
        return -1;
    }
    if (pcapng_packet(c->buf + c->pos, len, type, c->ng_swapped, c->ifaces[0].snaplen, &pkt, c->error,
                      sizeof c->error) != 0)
        return -1;
    if (pkt.iface >= c->nifaces) {
        snprintf(c->error, sizeof c->error, "a packet of interface %u, but its section has %zu interface%s", pkt.iface,
                 c->nifaces, c->nifaces == 1 ? "" : "s");
        return -1;
    }
    const struct pcapng_iface *iface = &c->ifaces[pkt.iface];
    if (pkt.caplen > iface->snaplen) {
        snprintf(c->error, sizeof c->error,
                 "invalid packet capture length %u, bigger than the snapshot length %u of interface %u", pkt.caplen,
                 iface->snaplen, pkt.iface);
        return -1;
    }
    if (pkt.caplen > pkt.room) {
        snprintf(c->error, sizeof c->error, "%s: captured length %u goes past the block's %zu bytes of data",
                 pcapng_block_name(type), pkt.caplen, pkt.room);
        return -1;
    }
    int unlike = 0;
    if (pkt.has_ts || !c->ng_seen_packet) {
        /* A simple packet block has no time: it gets the time of the packet before it (the first one, libpcap's
         * time 0 of interface 0, i.e. its offset). */
        if (pcapng_timestamp(iface, pkt.ts, &f->ts_ns, &unlike) != 0) {
            snprintf(c->error, sizeof c->error,
                     "timestamp out of range: beyond what 64-bit nanoseconds since 1970 hold (years 1677 to 2262)");
            return -1;
        }
    } else {
        f->ts_ns = c->ng_last_ts;
        unlike = 1;
    }
    c->ts_unlike_libpcap = unlike;
    c->ng_last_ts = f->ts_ns;
    c->ng_seen_packet = 1;
    f->caplen = pkt.caplen;
    f->wirelen = pkt.wirelen;
    f->linktype = iface->linktype;
    f->data = c->buf + c->pos + pkt.data_offset;
    *filter = iface->filter;
    return 0;
}

/* Read one block: 1 a frame (in f), 2 another block (its type in *type) or a frame the filter drops, 0 the end,
 * -1 an error. */
static int next_pcapng_block(struct tpp_capture *c, struct tpp_frame *f, uint32_t *type)
{
    uint32_t len;
    int rc = pcapng_block(c, type, &len);
    if (rc <= 0) return rc;
    int filter;
    switch (*type) {
    case PCAPNG_SHB:
        if (pcapng_shb(c->buf + c->pos, len, c->ng_swapped, c->error, sizeof c->error) != 0) return -1;
        c->nifaces = 0; /* a section numbers its interfaces afresh */
        break;
    case PCAPNG_IDB:
        if (add_interface(c, len) != 0) return -1;
        break;
    case PCAPNG_EPB: case PCAPNG_SPB: case PCAPNG_PB:
        if (read_packet(c, *type, len, f, &filter) != 0) return -1;
        c->pos += len;
        return passes(c, filter, f) ? 1 : 2;
    default: /* name resolution, statistics, secrets, custom blocks: nothing tpp needs */
        break;
    }
    c->pos += len;
    return 2;
}

static int next_pcapng(struct tpp_capture *c, struct tpp_frame *f)
{
    uint32_t type;
    int rc;
    while ((rc = next_pcapng_block(c, f, &type)) == 2) {}
    return rc;
}

/* ---- reading through libpcap -------------------------------------------------------------------------------- */

static int next_libpcap(struct tpp_capture *c, struct tpp_frame *f)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(c->pcap, &h, &data);
    if (rc == 1) {
        /* tv_usec holds nanoseconds at nano precision.  pcapng's resolution and offset options make any tv_sec
         * possible: one beyond what 64-bit nanoseconds hold (the year 2262) is an error, not an overflow.  A
         * classic pcap's seconds are unsigned, but libpcap reads them as signed in a file of this machine's byte
         * order (a link type tpp does not decode, or a variant of the format, comes this way): undo that. */
        int64_t sec = c->pcap_classic ? (int64_t)(uint32_t)h->ts.tv_sec : (int64_t)h->ts.tv_sec;
        if (__builtin_mul_overflow(sec, (int64_t)1000000000, &f->ts_ns) ||
            __builtin_add_overflow(f->ts_ns, (int64_t)h->ts.tv_usec, &f->ts_ns)) {
            snprintf(c->error, sizeof c->error, "timestamp out of range (%lld s since the epoch)",
                     (long long)sec);
            return -1;
        }
        f->caplen = h->caplen;
        f->wirelen = h->len;
        f->linktype = c->linktype;
        f->data = data;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK) return 0;
    if (!c->error[0]) copy_libpcap_message(c->error, sizeof c->error, pcap_geterr(c->pcap));
    return -1;
}

int tpp_capture_next(struct tpp_capture *c, struct tpp_frame *f)
{
    switch (c->reader) {
    case READ_PCAP: return next_pcap(c, f);
    case READ_PCAPNG: return next_pcapng(c, f);
    default: return next_libpcap(c, f);
    }
}

int tpp_capture_linktype(const struct tpp_capture *c) { return c->linktype; }
int tpp_capture_inflates(const struct tpp_capture *c) { return c->z && inflater_format(c->z); }
int tpp_capture_ts_unlike_libpcap(const struct tpp_capture *c) { return c->ts_unlike_libpcap; }
const char *tpp_capture_error(const struct tpp_capture *c) { return c->error; }
uint64_t tpp_capture_file_size(const struct tpp_capture *c) { return c->size; }

uint64_t tpp_capture_bytes_read(const struct tpp_capture *c)
{
    if (c->z) return inflater_bytes_in(c->z);
    return data_offset(c);
}

void tpp_capture_close(struct tpp_capture *c)
{
    if (!c) return;
    if (c->pcap) pcap_close(c->pcap); /* closes fp too */
    else if (c->fp) fclose(c->fp);
    if (c->pcap_filter.bf_insns) pcap_freecode(&c->pcap_filter);
    for (size_t i = 0; i < c->nfilters; i++) {
        if (c->filters[i].usable) pcap_freecode(&c->filters[i].prog);
        pcap_close(c->filters[i].dead);
    }
    free(c->filters);
    free(c->filter);
    free(c->ifaces);
    tpp_gzreader_close(c->gz);
    if (c->z) inflater_stop(c->z);
    if (c->fd >= 0) close(c->fd);
    free(c->buf);
    free(c);
}
