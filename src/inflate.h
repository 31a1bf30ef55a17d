/* inflate.h — gzip decompression on a thread of its own, read like a file.
 *
 * The inflater owns the file descriptor it is given: a background thread reads it, inflates every gzip member
 * in turn (ISA-L's igzip when tpp is built with it, zlib otherwise) and hands decompressed chunks to the reading
 * thread through a small ring (handoff.h), so that inflating overlaps with parsing.  Data that does not start
 * with the gzip magic is passed through unchanged (standard input may be either).
 */
#ifndef TPP_INFLATE_H
#define TPP_INFLATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct inflater;

/* Start inflating `fd` (owned from now on).  NULL with a message in err on failure (fd is then closed). */
struct inflater *inflater_start(int fd, char *err, size_t errlen);
/* Copy up to len decompressed bytes into buf: the count, 0 at the end, -1 on an error (inflater_error). */
ssize_t inflater_read(struct inflater *z, void *buf, size_t len);
const char *inflater_error(const struct inflater *z);
/* Compressed bytes consumed so far (read from any thread). */
uint64_t inflater_bytes_in(const struct inflater *z);
/* Is the data gzip (as opposed to passed through)?  Valid once the first read has returned. */
int inflater_is_gzip(const struct inflater *z);
/* Stop the thread, close the file, free everything. */
void inflater_stop(struct inflater *z);
/* "ISA-L igzip" or "zlib". */
const char *inflater_backend(void);

#endif
