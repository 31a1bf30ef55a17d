/* inflate.c — see inflate.h. */
#include "inflate.h"
#include "handoff.h"
#include "zstd_xz.h"
#include "tpp/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

enum { CHUNK = 1u << 19, NCHUNK = 8, INBUF = 1u << 18 };

struct chunk {
    uint8_t data[CHUNK];
    size_t n;
    int last;                 /* nothing follows: the end, or an error */
    char error[TPP_ERRBUF_SIZE];      /* set with `last` when the data is damaged */
};

/* One gzip decoder, whichever library backs it. */
struct decoder {
#ifdef HAVE_ISAL
    struct inflate_state st;
#else
    z_stream zs;
#endif
};

struct inflater {
    int fd;
    pthread_t thread;
    struct handoff handoff;
    atomic_uint_fast64_t bytes_in;
    enum inflate_format format; /* set before the thread starts */
    const char *name;         /* the format's name, NULL for passthrough */
    struct chunk *ring;
    struct chunk *cur;        /* reading thread: the chunk being read, NULL when none */
    size_t pos;
    int done;                 /* reading thread: the last chunk has been consumed */
    char error[TPP_ERRBUF_SIZE + 32]; /* reading thread: copied from the last chunk, after the format's name */
    uint8_t in[INBUF];        /* inflating thread's input buffer */
    size_t in_pos, in_len;
    int in_eof;
    struct decoder dec;       /* gzip */
    struct stream_decoder *sd; /* zstd, xz */
};

const char *inflater_backend(void)
{
#ifdef HAVE_ISAL
    return "ISA-L igzip";
#else
    return "zlib";
#endif
}

/* ---- the decoder: start a member, inflate into a buffer, report the member's end ---------------------------- */

static int decoder_init(struct decoder *d)
{
#ifdef HAVE_ISAL
    isal_inflate_init(&d->st);
    d->st.crc_flag = ISAL_GZIP;
    return 0;
#else
    memset(&d->zs, 0, sizeof d->zs);
    return inflateInit2(&d->zs, 15 + 16) == Z_OK ? 0 : -1; /* 16: a gzip wrapper */
#endif
}

static void decoder_reset(struct decoder *d)
{
#ifdef HAVE_ISAL
    isal_inflate_reset(&d->st);
    d->st.crc_flag = ISAL_GZIP;
#else
    inflateReset(&d->zs);
#endif
}

static void decoder_free(struct decoder *d)
{
#ifdef HAVE_ISAL
    (void)d;
#else
    inflateEnd(&d->zs);
#endif
}

/* Inflate from *in (advancing it) into out; sets *produced and *member_end.  0, or -1 with a message. */
static int decoder_run(struct decoder *d, const uint8_t **in, size_t *in_len, uint8_t *out, size_t out_len,
                       size_t *produced, int *member_end, char *err, size_t errlen)
{
#ifdef HAVE_ISAL
    d->st.next_in = (uint8_t *)*in;
    d->st.avail_in = (uint32_t)*in_len;
    d->st.next_out = out;
    d->st.avail_out = (uint32_t)out_len;
    int rc = isal_inflate(&d->st);
    *produced = out_len - d->st.avail_out;
    *in_len = d->st.avail_in;
    *in = d->st.next_in;
    *member_end = d->st.block_state == ISAL_BLOCK_FINISH;
    if (rc < 0) {
        snprintf(err, errlen, "corrupt gzip data (%s)",
                 rc == ISAL_INCORRECT_CHECKSUM ? "checksum mismatch" :
                 rc == ISAL_INVALID_WRAPPER ? "bad gzip header" : "invalid deflate stream");
        return -1;
    }
    return 0;
#else
    d->zs.next_in = (Bytef *)*in;
    d->zs.avail_in = (uInt)*in_len;
    d->zs.next_out = out;
    d->zs.avail_out = (uInt)out_len;
    int rc = inflate(&d->zs, Z_NO_FLUSH);
    *produced = out_len - d->zs.avail_out;
    *in_len = d->zs.avail_in;
    *in = d->zs.next_in;
    *member_end = rc == Z_STREAM_END;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        snprintf(err, errlen, "corrupt gzip data (%s)", d->zs.msg ? d->zs.msg : "inflate failed");
        return -1;
    }
    return 0;
#endif
}

/* ---- the inflating thread --------------------------------------------------------------------------------- */

/* Refill the input buffer when it is empty; 0 at the end of the file, -1 on a read error. */
static int fill_input(struct inflater *z, char *err, size_t errlen)
{
    if (z->in_pos < z->in_len) return 1;
    if (z->in_eof) return 0;
    ssize_t n;
    do n = read(z->fd, z->in, sizeof z->in); while (n < 0 && errno == EINTR);
    if (n < 0) { snprintf(err, errlen, "read error: %s", strerror(errno)); return -1; }
    z->in_pos = 0;
    z->in_len = (size_t)n;
    if (n == 0) z->in_eof = 1;
    atomic_fetch_add(&z->bytes_in, (uint64_t)n);
    return n > 0;
}

/* Fill chunk c; returns 1 when it is the last one. */
static int fill_chunk(struct inflater *z, struct chunk *c, int *in_member)
{
    c->n = 0;
    c->error[0] = 0;
    while (c->n < CHUNK) {
        int more = fill_input(z, c->error, sizeof c->error);
        if (more < 0) return 1;
        if (more == 0) {
            if (*in_member) snprintf(c->error, sizeof c->error, "unexpected end of file: the gzip data is truncated");
            return 1;
        }
        if (z->format == INFLATE_PLAIN) {
            size_t n = z->in_len - z->in_pos < CHUNK - c->n ? z->in_len - z->in_pos : CHUNK - c->n;
            memcpy(c->data + c->n, z->in + z->in_pos, n);
            z->in_pos += n;
            c->n += n;
            continue;
        }
        if (!*in_member) {
            /* Between members: another one starts with the gzip magic; anything else ends the data (zlib's
             * gzread and gzip itself ignore such trailing bytes too). */
            if (z->in_len - z->in_pos < 2 && !z->in_eof) {
                memmove(z->in, z->in + z->in_pos, z->in_len - z->in_pos);
                z->in_len -= z->in_pos;
                z->in_pos = 0;
                ssize_t n = read(z->fd, z->in + z->in_len, sizeof z->in - z->in_len);
                if (n > 0) { z->in_len += (size_t)n; atomic_fetch_add(&z->bytes_in, (uint64_t)n); }
                else z->in_eof = 1;
                continue;
            }
            if (z->in_len - z->in_pos < 2 || z->in[z->in_pos] != 0x1f || z->in[z->in_pos + 1] != 0x8b) return 1;
            decoder_reset(&z->dec);
            *in_member = 1;
        }
        const uint8_t *in = z->in + z->in_pos;
        size_t in_len = z->in_len - z->in_pos, produced;
        int member_end;
        if (decoder_run(&z->dec, &in, &in_len, c->data + c->n, CHUNK - c->n, &produced, &member_end, c->error,
                        sizeof c->error) != 0)
            return 1;
        z->in_pos = z->in_len - in_len;
        c->n += produced;
        if (member_end) *in_member = 0;
    }
    return 0;
}

/* Fill chunk c from zstd or xz data; returns 1 when it is the last one. */
static int fill_chunk_stream(struct inflater *z, struct chunk *c)
{
    c->n = 0;
    c->error[0] = 0;
    while (c->n < CHUNK) {
        int more = fill_input(z, c->error, sizeof c->error);
        if (more < 0) return 1;
        const uint8_t *in = z->in + z->in_pos;
        size_t in_len = z->in_len - z->in_pos, produced;
        int ended;
        if (stream_decoder_run(z->sd, &in, &in_len, c->data + c->n, CHUNK - c->n, !more, &produced, &ended,
                               c->error, sizeof c->error) != 0)
            return 1;
        z->in_pos = z->in_len - in_len;
        c->n += produced;
        if (ended) return 1;
    }
    return 0;
}

static void *inflater_main(void *arg)
{
    struct inflater *z = arg;
    int in_member = 0;
    for (int last = 0, slot; !last && (slot = handoff_next_free(&z->handoff)) >= 0;) {
        struct chunk *c = &z->ring[slot];
        last = c->last = z->sd ? fill_chunk_stream(z, c) : fill_chunk(z, c, &in_member);
        handoff_publish(&z->handoff, last);
    }
    return NULL;
}

/* ---- the reading side ------------------------------------------------------------------------------------- */

const char *inflate_sniff(const uint8_t *head, size_t n, enum inflate_format *format)
{
    static const struct { const char *magic; size_t len; enum inflate_format format; const char *name; } known[] = {
        { "\x1f\x8b", 2, INFLATE_GZIP, "gzip" },
        { "\x28\xb5\x2f\xfd", 4, INFLATE_ZSTD, "zstd" },
        { "\xfd" "7zXZ\x00", 6, INFLATE_XZ, "xz" },
        { "BZh", 3, INFLATE_UNSUPPORTED, "bzip2" }, /* and a block size of 1 to 9 */
        { "\x04\x22\x4d\x18", 4, INFLATE_UNSUPPORTED, "lz4" },
        { "LZIP", 4, INFLATE_UNSUPPORTED, "lzip" },
        { "\x1f\x9d", 2, INFLATE_UNSUPPORTED, "compress (.Z)" },
        { "\x89LZO\x00", 5, INFLATE_UNSUPPORTED, "lzop" },
        { "7z\xbc\xaf\x27\x1c", 6, INFLATE_UNSUPPORTED, "7-Zip" },
        { "PK\x03\x04", 4, INFLATE_UNSUPPORTED, "zip" },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (n >= known[i].len && memcmp(head, known[i].magic, known[i].len) == 0 &&
            (known[i].magic[0] != 'B' || (n > 3 && head[3] >= '1' && head[3] <= '9'))) {
            *format = known[i].format;
            return known[i].name;
        }
    /* A zstd file may begin with a skippable frame (magic 0x184D2A50 to 0x184D2A5F): pzstd writes one before
     * each frame, and libzstd steps over them. */
    if (n >= 4 && (head[0] & 0xf0) == 0x50 && memcmp(head + 1, "\x2a\x4d\x18", 3) == 0) {
        *format = INFLATE_ZSTD;
        return "zstd";
    }
    *format = INFLATE_PLAIN;
    return NULL;
}

struct inflater *inflater_start(int fd, char *err, size_t errlen)
{
    struct inflater *z = calloc(1, sizeof *z);
    if (z) z->ring = malloc(NCHUNK * sizeof *z->ring);
    if (!z || !z->ring || decoder_init(&z->dec) != 0) {
        snprintf(err, errlen, "out of memory");
        if (z) free(z->ring);
        free(z);
        close(fd);
        return NULL;
    }
    z->fd = fd;
    /* Sniff the magic here, before the thread starts, so the format is known from the first chunk.  A pipe may
     * deliver the first bytes in pieces. */
    ssize_t n = 0;
    while (z->in_len < INFLATE_SNIFF && !z->in_eof) {
        do n = read(fd, z->in + z->in_len, INFLATE_SNIFF - z->in_len); while (n < 0 && errno == EINTR);
        if (n <= 0) z->in_eof = 1;
        else z->in_len += (size_t)n;
    }
    atomic_init(&z->bytes_in, z->in_len);
    const char *name = inflate_sniff(z->in, z->in_len, &z->format);
    if (z->format == INFLATE_UNSUPPORTED) {
        snprintf(err, errlen, "%s-compressed: decompress it first", name);
        goto fail;
    }
    z->name = name;
    if (z->format == INFLATE_ZSTD || z->format == INFLATE_XZ) {
        z->sd = stream_decoder_new(z->format == INFLATE_ZSTD ? STREAM_ZSTD : STREAM_XZ, err, errlen);
        if (!z->sd) goto fail;
    }
    handoff_init(&z->handoff, NCHUNK);
    if (pthread_create(&z->thread, NULL, inflater_main, z) != 0) {
        snprintf(err, errlen, "cannot start the inflating thread");
        handoff_destroy(&z->handoff);
        goto fail;
    }
    return z;
fail:
    stream_decoder_free(z->sd);
    decoder_free(&z->dec);
    close(fd);
    free(z->ring);
    free(z);
    return NULL;
}

ssize_t inflater_read(struct inflater *z, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len && !z->done) {
        if (!z->cur) z->cur = &z->ring[handoff_next_filled(&z->handoff)], z->pos = 0;
        size_t n = z->cur->n - z->pos < len - got ? z->cur->n - z->pos : len - got;
        memcpy((uint8_t *)buf + got, z->cur->data + z->pos, n);
        z->pos += n;
        got += n;
        if (z->pos == z->cur->n) {
            if (z->cur->last) {
                z->done = 1;
                if (z->cur->error[0] && z->name)
                    snprintf(z->error, sizeof z->error, "%s: %s", z->name, z->cur->error);
                else
                    snprintf(z->error, sizeof z->error, "%s", z->cur->error);
            }
            z->cur = NULL;
            handoff_release(&z->handoff);
        }
    }
    if (got == 0 && z->error[0]) { errno = EIO; return -1; }
    return (ssize_t)got;
}

const char *inflater_error(const struct inflater *z) { return z->error; }
uint64_t inflater_bytes_in(const struct inflater *z) { return atomic_load(&((struct inflater *)z)->bytes_in); }
const char *inflater_format(const struct inflater *z) { return z->name; }

void inflater_stop(struct inflater *z)
{
    if (!z) return;
    handoff_close(&z->handoff);
    pthread_join(z->thread, NULL);
    handoff_destroy(&z->handoff);
    decoder_free(&z->dec);
    stream_decoder_free(z->sd);
    close(z->fd);
    free(z->ring);
    free(z);
}
