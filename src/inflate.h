/* inflate.h — decompression (gzip, zstd, xz) on a thread of its own, read like a file.
 *
 * The inflater owns the file descriptor it is given: a background thread reads it, decompresses every gzip
 * member (ISA-L's igzip when tpp is built with it, zlib otherwise), zstd frame or xz stream in turn
 * (zstd_xz.h) and hands decompressed chunks to the reading thread through a small ring (handoff.h), so that
 * decompressing overlaps with parsing.  The format is recognised by its magic bytes; data without a known magic
 * is passed through unchanged (standard input may be anything), and formats tpp does not decompress (bzip2,
 * lz4, ...) are refused by name.
 */
#ifndef TPP_INFLATE_H
#define TPP_INFLATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct inflater;

enum inflate_format { INFLATE_PLAIN, INFLATE_GZIP, INFLATE_ZSTD, INFLATE_XZ, INFLATE_UNSUPPORTED };
enum { INFLATE_SNIFF = 6 }; /* bytes that tell the formats apart */

/* The compression the first n bytes show: its name ("gzip", "bzip2", ...) and *format, or NULL and
 * INFLATE_PLAIN for none. */
const char *inflate_sniff(const uint8_t *head, size_t n, enum inflate_format *format);

/* Start inflating `fd` (owned from now on).  NULL with a message in err on failure (fd is then closed), e.g.
 * "bzip2-compressed: decompress it first". */
struct inflater *inflater_start(int fd, char *err, size_t errlen);
/* Copy up to len decompressed bytes into buf: the count, 0 at the end, -1 on an error (inflater_error: a whole
 * message, starting with the format's name, e.g. "zstd: unexpected end of file: the zstd data is truncated"). */
ssize_t inflater_read(struct inflater *z, void *buf, size_t len);
const char *inflater_error(const struct inflater *z);
/* Compressed bytes consumed so far (read from any thread). */
uint64_t inflater_bytes_in(const struct inflater *z);
/* The format's name ("gzip", "zstd", "xz"), or NULL when the data is passed through. */
const char *inflater_format(const struct inflater *z);
/* Stop the thread, close the file, free everything. */
void inflater_stop(struct inflater *z);
/* "ISA-L igzip" or "zlib". */
const char *inflater_backend(void);

#endif
