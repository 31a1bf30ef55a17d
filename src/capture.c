/* capture.c — open a capture through libpcap, inflating gzip on the fly.
 *
 * Plain files go straight to libpcap.  A gzip file (recognised by its magic bytes) is wrapped in a FILE* whose
 * reads come from an inflater running on its own thread (inflate.h; glibc's fopencookie), and that stream is
 * what libpcap reads: libpcap's own pcap/pcapng parsing and BPF filtering stay in charge, and nothing is inflated
 * whole.  Standard input ("-") always goes through the inflater, which passes uncompressed data through.
 */
#include "tpp/capture.h"
#include "inflate.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tpp_capture {
    pcap_t *pcap;
    FILE *fp;          /* the stream libpcap reads: the file itself, or the inflating cookie stream */
    struct inflater *z; /* set when reading through the inflater */
    uint64_t size;
    char error[TPP_ERRBUF_SIZE];
};

static ssize_t inflate_cookie_read(void *cookie, char *buf, size_t size)
{
    struct tpp_capture *c = cookie;
    ssize_t n = inflater_read(c->z, buf, size);
    if (n < 0) snprintf(c->error, sizeof c->error, "gzip: %s", inflater_error(c->z));
    return n;
}

static int inflate_cookie_close(void *cookie)
{
    struct tpp_capture *c = cookie;
    inflater_stop(c->z);
    c->z = NULL;
    return 0;
}

/* Wrap file descriptor `fd` (owned from here on) in an inflating stream.  NULL on failure. */
static FILE *open_inflating_stream(struct tpp_capture *c, int fd, char *err)
{
    c->z = inflater_start(fd, err, TPP_ERRBUF_SIZE);
    if (!c->z) return NULL;
    cookie_io_functions_t io = { .read = inflate_cookie_read, .close = inflate_cookie_close };
    FILE *fp = fopencookie(c, "rb", io);
    if (!fp) {
        snprintf(err, TPP_ERRBUF_SIZE, "cannot open: %s", strerror(errno));
        inflater_stop(c->z);
        c->z = NULL;
    }
    return fp;
}

/* Does the file at `fd` start with gzip's magic?  Leaves the offset at 0. */
static int starts_with_gzip(int fd)
{
    unsigned char m[2];
    ssize_t n = pread(fd, m, 2, 0);
    return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}


struct tpp_capture *tpp_capture_open(const char *path, const char *filter, char err[TPP_ERRBUF_SIZE])
{
    struct tpp_capture *c = calloc(1, sizeof *c);
    if (!c) { snprintf(err, TPP_ERRBUF_SIZE, "out of memory"); return NULL; }

    int from_stdin = strcmp(path, "-") == 0;
    int fd = from_stdin ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, TPP_ERRBUF_SIZE, "%s", strerror(errno));
        free(c);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, TPP_ERRBUF_SIZE, "is a directory");
            close(fd); free(c);
            return NULL;
        }
        if (S_ISREG(st.st_mode)) c->size = (uint64_t)st.st_size;
    }
    if (!from_stdin && c->size == 0 && S_ISREG(st.st_mode)) {
        snprintf(err, TPP_ERRBUF_SIZE, "empty file (0 bytes), not a capture");
        close(fd); free(c);
        return NULL;
    }

    if (from_stdin || starts_with_gzip(fd)) {
        c->fp = open_inflating_stream(c, fd, err);
        if (!c->fp) { free(c); return NULL; }
    } else {
        c->fp = fdopen(fd, "rb");
        if (!c->fp) {
            snprintf(err, TPP_ERRBUF_SIZE, "cannot open: %s", strerror(errno));
            close(fd);
            free(c);
            return NULL;
        }
        setvbuf(c->fp, NULL, _IOFBF, 1u << 17);
    }

    char perr[PCAP_ERRBUF_SIZE] = "";
    c->pcap = pcap_fopen_offline_with_tstamp_precision(c->fp, PCAP_TSTAMP_PRECISION_NANO, perr);
    if (!c->pcap) {
        /* libpcap's words for "not a capture" are "unknown file format": say it plainly. */
        if (c->error[0]) snprintf(err, TPP_ERRBUF_SIZE, "%s", c->error);
        else if (strstr(perr, "unknown file format"))
            snprintf(err, TPP_ERRBUF_SIZE, "not a pcap or pcapng capture%s",
                     c->z && inflater_is_gzip(c->z) ? " (after gzip decompression)" : "");
        else snprintf(err, TPP_ERRBUF_SIZE, "%s", perr);
        fclose(c->fp);
        free(c);
        return NULL;
    }
    if (filter && *filter) {
        struct bpf_program prog = { 0 };
        if (pcap_compile(c->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 || pcap_setfilter(c->pcap, &prog) != 0) {
            snprintf(err, TPP_ERRBUF_SIZE, "bad filter \"%s\": %s", filter, pcap_geterr(c->pcap));
            if (prog.bf_insns) pcap_freecode(&prog);
            tpp_capture_close(c);
            return NULL;
        }
        pcap_freecode(&prog);
    }
    return c;
}

int tpp_capture_next(struct tpp_capture *c, struct tpp_frame *f)
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
    if (!c->error[0]) snprintf(c->error, sizeof c->error, "%s", pcap_geterr(c->pcap));
    return -1;
}

/* The LINKTYPE_ number as stored in the file: libpcap reports raw IP as its platform's DLT_RAW (12 or 14). */
int tpp_capture_linktype(const struct tpp_capture *c)
{
    int dlt = pcap_datalink(c->pcap);
    return dlt == DLT_RAW ? 101 : dlt;
}
const char *tpp_capture_error(const struct tpp_capture *c) { return c->error; }
uint64_t tpp_capture_file_size(const struct tpp_capture *c) { return c->size; }

uint64_t tpp_capture_bytes_read(const struct tpp_capture *c)
{
    if (c->z) return inflater_bytes_in(c->z);
    long off = ftell(c->fp);
    return off < 0 ? 0 : (uint64_t)off;
}

void tpp_capture_close(struct tpp_capture *c)
{
    if (!c) return;
    if (c->pcap) pcap_close(c->pcap); /* closes fp, and through the cookie, the inflater */
    free(c);
}
