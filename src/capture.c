/* capture.c — open a capture, plain or gzip, and hand out its frames.
 *
 * The bytes come from the file itself or, for gzip (recognised by its magic bytes) and standard input, from an
 * inflater running on its own thread (inflate.h).  Classic pcap files, the common case by far, are read by tpp
 * itself (pcap_records.h): records are parsed in place in a large buffer, so a frame costs no system or stdio
 * call, which is what libpcap's per-record fread() costs.  Everything else (pcapng, old or patched pcap
 * variants, link types tpp does not decode) goes to libpcap through a stdio stream that first replays the bytes
 * already read.  A BPF filter runs through libpcap in both cases.
 */
#include "tpp/capture.h"
#include "tpp/packet.h"
#include "inflate.h"
#include "pcap_records.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Larger than the largest record tpp reads itself (16 + 262144 bytes), so a record always fits whole. */
enum { BUFFER_SIZE = 1u << 20 };

struct tpp_capture {
    /* where the bytes come from: the file, or the inflater (which then owns the file) */
    int fd;
    struct inflater *z;
    uint64_t size;        /* the file's size, 0 when unknown */
    uint64_t consumed;    /* bytes taken from the source so far (uncompressed) */

    /* bytes read and not yet parsed */
    uint8_t *buf;
    size_t pos, end;

    /* tpp's own reader (pcap == NULL) */
    struct pcap_records rec;
    pcap_t *filter_pcap;  /* a dead handle the filter was compiled for; NULL without a filter */
    struct bpf_program filter;

    /* libpcap's reader */
    pcap_t *pcap;
    FILE *fp;

    int linktype;
    char error[TPP_ERRBUF_SIZE];
};

/* ---- the byte source ---------------------------------------------------------------------------------------- */

static ssize_t source_read(struct tpp_capture *c, uint8_t *dst, size_t len)
{
    ssize_t n;
    if (c->z) {
        n = inflater_read(c->z, dst, len);
        if (n < 0) snprintf(c->error, sizeof c->error, "gzip: %s", inflater_error(c->z));
    } else {
        do n = read(c->fd, dst, len); while (n < 0 && errno == EINTR);
        if (n < 0) snprintf(c->error, sizeof c->error, "read error: %s", strerror(errno));
    }
    if (n > 0) c->consumed += (uint64_t)n;
    return n;
}

/* Make at least `want` unparsed bytes available: 1 done, 0 the data ended first, -1 a read error. */
static int fill(struct tpp_capture *c, size_t want)
{
    if (c->end - c->pos >= want) return 1;
    memmove(c->buf, c->buf + c->pos, c->end - c->pos);
    c->end -= c->pos;
    c->pos = 0;
    while (c->end < want) {
        ssize_t n = source_read(c, c->buf + c->end, BUFFER_SIZE - c->end);
        if (n < 0) return -1;
        if (n == 0) return 0;
        c->end += (size_t)n;
    }
    return 1;
}

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

/* ---- opening ------------------------------------------------------------------------------------------------ */

/* Does the file at `fd` start with gzip's magic?  Leaves the offset at 0. */
static int starts_with_gzip(int fd)
{
    unsigned char m[2];
    ssize_t n = pread(fd, m, 2, 0);
    return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

/* Open the file or standard input and set up the byte source; 0, or -1 with a message in err. */
static int open_source(struct tpp_capture *c, const char *path, char *err)
{
    int from_stdin = strcmp(path, "-") == 0;
    int fd = from_stdin ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(err, TPP_ERRBUF_SIZE, "%s", strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, TPP_ERRBUF_SIZE, "is a directory");
            close(fd);
            return -1;
        }
        if (S_ISREG(st.st_mode)) c->size = (uint64_t)st.st_size;
        else from_stdin = 1; /* a FIFO (bash's <(...)) cannot be peeked at with pread: read it as stdin is read */
        if (!from_stdin && S_ISREG(st.st_mode) && c->size == 0) {
            snprintf(err, TPP_ERRBUF_SIZE, "empty file (0 bytes), not a capture");
            close(fd);
            return -1;
        }
    }
    c->fd = fd;
    if (from_stdin || starts_with_gzip(fd)) {
        c->fd = -1;
        c->z = inflater_start(fd, err, TPP_ERRBUF_SIZE); /* closes fd on failure */
        if (!c->z) return -1;
    }
    return 0;
}

/* Link types tpp reads itself: those it decodes, but not 12 and 14, raw IP in some systems' DLT numbering, which
 * libpcap translates (or not) by the system it runs on. */
static int own_reader_linktype(int linktype)
{
    return tpp_linktype_supported(linktype) && linktype != TPP_LINK_DLT_RAW_ALT && linktype != TPP_LINK_DLT_RAW_ALT2;
}

/* libpcap's link type number for a LINKTYPE_ value: they differ only for raw IP. */
static int linktype_to_dlt(int linktype) { return linktype == TPP_LINK_RAW ? DLT_RAW : linktype; }

static int bad_filter(const char *filter, pcap_t *p, char *err)
{
    snprintf(err, TPP_ERRBUF_SIZE, "bad filter \"%s\": %s", filter, pcap_geterr(p));
    return -1;
}

static int compile_filter(struct tpp_capture *c, pcap_t *p, const char *filter, char *err)
{
    return pcap_compile(p, &c->filter, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 ? 0 : bad_filter(filter, p, err);
}

static int open_own_reader(struct tpp_capture *c, const char *filter, char *err)
{
    c->pos += PCAP_FILE_HEADER_SIZE;
    c->linktype = c->rec.linktype;
    if (!filter || !*filter) return 0;
    c->filter_pcap = pcap_open_dead_with_tstamp_precision(linktype_to_dlt(c->linktype), (int)c->rec.snapshot,
                                                          PCAP_TSTAMP_PRECISION_NANO);
    if (!c->filter_pcap) { snprintf(err, TPP_ERRBUF_SIZE, "out of memory"); return -1; }
    return compile_filter(c, c->filter_pcap, filter, err);
}

static int open_libpcap(struct tpp_capture *c, const char *filter, char *err)
{
    cookie_io_functions_t io = { .read = replay_read, .close = replay_close };
    c->fp = fopencookie(c, "rb", io);
    if (!c->fp) { snprintf(err, TPP_ERRBUF_SIZE, "cannot open: %s", strerror(errno)); return -1; }
    setvbuf(c->fp, NULL, _IOFBF, 1u << 17);
    char perr[PCAP_ERRBUF_SIZE] = "";
    c->pcap = pcap_fopen_offline_with_tstamp_precision(c->fp, PCAP_TSTAMP_PRECISION_NANO, perr);
    if (!c->pcap) {
        /* libpcap's words for "not a capture" are "unknown file format": say it plainly. */
        if (c->error[0]) snprintf(err, TPP_ERRBUF_SIZE, "%s", c->error);
        else if (strstr(perr, "unknown file format"))
            snprintf(err, TPP_ERRBUF_SIZE, "not a pcap or pcapng capture%s",
                     c->z && inflater_is_gzip(c->z) ? " (after gzip decompression)" : "");
        else copy_libpcap_message(err, TPP_ERRBUF_SIZE, perr);
        return -1;
    }
    int dlt = pcap_datalink(c->pcap);
    c->linktype = dlt == DLT_RAW ? TPP_LINK_RAW : dlt; /* report the LINKTYPE_ number, as stored in the file */
    if (!filter || !*filter) return 0;
    if (compile_filter(c, c->pcap, filter, err) != 0) return -1;
    return pcap_setfilter(c->pcap, &c->filter) == 0 ? 0 : bad_filter(filter, c->pcap, err);
}

struct tpp_capture *tpp_capture_open_with(const char *path, const char *filter, enum tpp_capture_reader reader,
                                          char err[TPP_ERRBUF_SIZE])
{
    struct tpp_capture *c = calloc(1, sizeof *c);
    uint8_t *buf = c ? malloc(BUFFER_SIZE) : NULL;
    if (!buf) {
        snprintf(err, TPP_ERRBUF_SIZE, "out of memory");
        free(c);
        return NULL;
    }
    c->buf = buf;
    c->fd = -1;
    if (open_source(c, path, err) != 0) {
        tpp_capture_close(c);
        return NULL;
    }
    int rc = fill(c, PCAP_FILE_HEADER_SIZE);
    int own = rc > 0 && reader == TPP_CAPTURE_AUTO && pcap_records_open(&c->rec, c->buf) == 0 &&
              own_reader_linktype(c->rec.linktype);
    if (rc < 0) { snprintf(err, TPP_ERRBUF_SIZE, "%s", c->error); rc = -1; }
    else rc = own ? open_own_reader(c, filter, err) : open_libpcap(c, filter, err);
    if (rc != 0) {
        tpp_capture_close(c);
        return NULL;
    }
    return c;
}

struct tpp_capture *tpp_capture_open(const char *path, const char *filter, char err[TPP_ERRBUF_SIZE])
{
    return tpp_capture_open_with(path, filter, TPP_CAPTURE_AUTO, err);
}

/* ---- reading ------------------------------------------------------------------------------------------------ */

static int next_own(struct tpp_capture *c, struct tpp_frame *f)
{
    for (;;) {
        int rc = fill(c, PCAP_RECORD_HEADER_SIZE);
        if (rc < 0) return -1;
        if (rc == 0) {
            if (c->end == c->pos) return 0;
            snprintf(c->error, sizeof c->error, "truncated capture: the last record header has %zu of its %d bytes",
                     c->end - c->pos, PCAP_RECORD_HEADER_SIZE);
            return -1;
        }
        uint32_t stored;
        if (pcap_records_header(&c->rec, c->buf + c->pos, f, &stored, c->error, sizeof c->error) != 0) return -1;
        size_t size = PCAP_RECORD_HEADER_SIZE + (size_t)stored;
        rc = fill(c, size);
        if (rc < 0) return -1;
        if (rc == 0) {
            snprintf(c->error, sizeof c->error, "truncated capture: the last packet has %zu of its %u captured bytes",
                     c->end - c->pos - PCAP_RECORD_HEADER_SIZE, stored);
            return -1;
        }
        f->data = c->buf + c->pos + PCAP_RECORD_HEADER_SIZE;
        c->pos += size;
        if (!c->filter_pcap) return 1;
        struct pcap_pkthdr h = { .caplen = f->caplen, .len = f->wirelen };
        if (pcap_offline_filter(&c->filter, &h, f->data)) return 1;
    }
}

static int next_libpcap(struct tpp_capture *c, struct tpp_frame *f)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(c->pcap, &h, &data);
    if (rc == 1) {
        /* tv_usec holds nanoseconds at nano precision.  pcapng's resolution and offset options make any tv_sec
         * possible: one beyond what 64-bit nanoseconds hold (the year 2262) is an error, not an overflow. */
        if (__builtin_mul_overflow((int64_t)h->ts.tv_sec, (int64_t)1000000000, &f->ts_ns) ||
            __builtin_add_overflow(f->ts_ns, (int64_t)h->ts.tv_usec, &f->ts_ns)) {
            snprintf(c->error, sizeof c->error, "timestamp out of range (%lld s since the epoch)",
                     (long long)h->ts.tv_sec);
            return -1;
        }
        f->caplen = h->caplen;
        f->wirelen = h->len;
        f->data = data;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK) return 0;
    if (!c->error[0]) copy_libpcap_message(c->error, sizeof c->error, pcap_geterr(c->pcap));
    return -1;
}

int tpp_capture_next(struct tpp_capture *c, struct tpp_frame *f)
{
    return c->pcap ? next_libpcap(c, f) : next_own(c, f);
}

int tpp_capture_linktype(const struct tpp_capture *c) { return c->linktype; }
int tpp_capture_inflates(const struct tpp_capture *c) { return c->z && inflater_is_gzip(c->z); }
const char *tpp_capture_error(const struct tpp_capture *c) { return c->error; }
uint64_t tpp_capture_file_size(const struct tpp_capture *c) { return c->size; }

uint64_t tpp_capture_bytes_read(const struct tpp_capture *c)
{
    if (c->z) return inflater_bytes_in(c->z);
    return c->consumed - (c->end - c->pos);
}

void tpp_capture_close(struct tpp_capture *c)
{
    if (!c) return;
    if (c->pcap) pcap_close(c->pcap); /* closes fp too */
    else if (c->fp) fclose(c->fp);
    if (c->filter.bf_insns) pcap_freecode(&c->filter);
    if (c->filter_pcap) pcap_close(c->filter_pcap);
    if (c->z) inflater_stop(c->z);
    if (c->fd >= 0) close(c->fd);
    free(c->buf);
    free(c);
}
