/* tpp/gzindex.h — random access into a gzip-compressed classic pcap, so that it can be split (tpp/split.h).
 *
 * Deflate cannot be entered in the middle: one pass inflates the whole file and notes, every few megabytes of
 * output, a checkpoint where a deflate block ends — the compressed byte and bit it ends at, and the 32 KiB of
 * output before it, which later blocks may refer back to.  Inflating can then start at a checkpoint (zlib's
 * inflatePrime for the odd bits, inflateSetDictionary for the window).  The same pass walks the pcap records and
 * notes a record boundary and its time every 64 KiB of output, which lets the split find interval boundaries
 * without inflating more than a checkpoint's stretch per probe.  The index is saved beside the capture's dump
 * (`.tpx`) with the capture's fingerprint, and used only for that very file.
 */
#ifndef TPP_GZINDEX_H
#define TPP_GZINDEX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tpp_gzindex;

/* Inflate the gzip file at `path` once and index it; NULL with the reason in err (not a single-member gzip
 * stream of a classic pcap, a damaged stream, out of memory). */
struct tpp_gzindex *tpp_gzindex_build(const char *path, char *err, size_t errlen);
/* Save atomically / load; load fails when the index is not of the capture at `capture` as it is now. */
int tpp_gzindex_save(const struct tpp_gzindex *x, const char *path, char *err, size_t errlen);
struct tpp_gzindex *tpp_gzindex_load(const char *path, const char *capture, char *err, size_t errlen);
void tpp_gzindex_free(struct tpp_gzindex *x);

/* The uncompressed size, and the record marks: boundary offsets (ascending) and their records' times. */
uint64_t tpp_gzindex_size(const struct tpp_gzindex *x);
size_t tpp_gzindex_marks(const struct tpp_gzindex *x, const uint64_t **offsets, const int64_t **times);

/* A reader of the uncompressed bytes from offset `at` on. */
struct tpp_gzreader;
struct tpp_gzreader *tpp_gzreader_open(const struct tpp_gzindex *x, const char *path, uint64_t at, char *err,
                                       size_t errlen);
/* Up to len bytes: > 0, 0 at the end, -1 with the reason in err. */
ssize_t tpp_gzreader_read(struct tpp_gzreader *g, uint8_t *dst, size_t len, char *err, size_t errlen);
void tpp_gzreader_close(struct tpp_gzreader *g);

#endif
