/* zstd_xz.c — see zstd_xz.h. */
#include "zstd_xz.h"

#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <zstd.h>

/* An xz stream may ask for a dictionary of up to 1.5 GiB; a capture compressed with `xz -9` needs 65 MiB. */
#define XZ_MEMORY_LIMIT (512u << 20)

struct stream_decoder {
    enum stream_format format;
    ZSTD_DStream *zstd;
    int zstd_boundary;      /* the last call that did anything ended a frame, with all its output written */
    lzma_stream xz;
};

struct stream_decoder *stream_decoder_new(enum stream_format format, char *err, size_t errlen)
{
    struct stream_decoder *d = calloc(1, sizeof *d);
    if (!d) goto oom;
    d->format = format;
    if (format == STREAM_ZSTD) {
        d->zstd = ZSTD_createDStream();
        if (!d->zstd || ZSTD_isError(ZSTD_initDStream(d->zstd))) goto oom;
    } else {
        lzma_stream init = LZMA_STREAM_INIT;
        d->xz = init;
        if (lzma_stream_decoder(&d->xz, XZ_MEMORY_LIMIT, LZMA_CONCATENATED) != LZMA_OK) goto oom;
    }
    return d;
oom:
    snprintf(err, errlen, "out of memory");
    stream_decoder_free(d);
    return NULL;
}

static const char *xz_reason(lzma_ret rc)
{
    switch (rc) {
    case LZMA_MEMLIMIT_ERROR: return "it needs more than 512 MiB of memory to decompress";
    case LZMA_FORMAT_ERROR: return "not xz data";
    case LZMA_OPTIONS_ERROR: return "unsupported options";
    case LZMA_DATA_ERROR: return "corrupt data";
    case LZMA_MEM_ERROR: return "out of memory";
    default: return "decompression failed";
    }
}

int stream_decoder_run(struct stream_decoder *d, const uint8_t **in, size_t *in_len, uint8_t *out, size_t out_len,
                       int at_eof, size_t *produced, int *ended, char *err, size_t errlen)
{
    *ended = 0;
    if (d->format == STREAM_ZSTD) {
        ZSTD_inBuffer ib = { *in, *in_len, 0 };
        ZSTD_outBuffer ob = { out, out_len, 0 };
        size_t rc = ZSTD_decompressStream(d->zstd, &ob, &ib);
        *in += ib.pos;
        *in_len -= ib.pos;
        *produced = ob.pos;
        if (ZSTD_isError(rc)) {
            snprintf(err, errlen, "corrupt data (%s)", ZSTD_getErrorName(rc));
            return -1;
        }
        if (ib.pos || ob.pos) d->zstd_boundary = rc == 0;
        if (at_eof && *in_len == 0 && ob.pos < out_len) {
            if (d->zstd_boundary) *ended = 1;
            else if (ob.pos == 0) {
                snprintf(err, errlen, "unexpected end of file: the zstd data is truncated");
                return -1;
            }
        }
        return 0;
    }
    d->xz.next_in = *in;
    d->xz.avail_in = *in_len;
    d->xz.next_out = out;
    d->xz.avail_out = out_len;
    lzma_ret rc = lzma_code(&d->xz, at_eof ? LZMA_FINISH : LZMA_RUN);
    *in = d->xz.next_in;
    *in_len = d->xz.avail_in;
    *produced = out_len - d->xz.avail_out;
    if (rc == LZMA_STREAM_END) {
        *ended = 1;
        return 0;
    }
    if (rc == LZMA_OK || rc == LZMA_BUF_ERROR) {
        if (at_eof && *produced == 0) {
            snprintf(err, errlen, "unexpected end of file: the xz data is truncated");
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen, "%s", xz_reason(rc));
    return -1;
}

void stream_decoder_free(struct stream_decoder *d)
{
    if (!d) return;
    if (d->zstd) ZSTD_freeDStream(d->zstd);
    if (d->format == STREAM_XZ) lzma_end(&d->xz);
    free(d);
}
