/* tpp/split.h — cutting one large classic pcap file into chunks that are parsed apart (on several cores or
 * machines) and merged into exactly the result of one pass.
 *
 * Chunks end at interval boundaries of the epoch grid: no interval is shared by two chunks, so no row has to be
 * combined, and each chunk is given the time of the record before it (the first packet's inter-arrival time), so
 * every row of every chunk is the row one pass computes.  The boundaries are found without reading the file: a
 * binary search over byte offsets, each probe finding the next record boundary by checking that a chain of
 * record headers from it is consistent, then a walk record by record to the first record of the interval.  The
 * walk must land exactly on the boundary the search found, and a chunk's parse must end exactly where the next
 * chunk starts (tpp_capture_open_range): record boundaries are verified, not guessed.
 */
#ifndef TPP_SPLIT_H
#define TPP_SPLIT_H

#include <stddef.h>
#include <stdint.h>

struct tpp_chunk {
    uint64_t from, to;         /* the chunk's records: bytes [from, to) of the file */
    int64_t prev_ns;           /* the time of the record before `from` (has_prev) */
    int has_prev;              /* 0 for the first chunk */
};

/* Plan at most `want` chunks of the classic pcap at `path` for intervals of delta_ns on the epoch grid, about
 * equal in bytes.  Fewer come out when the file has fewer interval boundaries to cut at (1: not worth cutting).
 * Returns the number of chunks written to out[0..want), or -1 with the reason in err (not an uncompressed classic
 * pcap, no consistent record boundary, an I/O error). */
int tpp_split_plan(const char *path, int64_t delta_ns, int want, struct tpp_chunk *out, char *err, size_t errlen);

/* The same for a gzip-compressed classic pcap through its index (tpp/gzindex.h): offsets are in the uncompressed
 * bytes, and the index's record marks stand for the binary search (each probe inflates from a checkpoint and
 * walks the records from a mark). */
struct tpp_gzindex;
int tpp_split_plan_indexed(const char *path, const struct tpp_gzindex *index, int64_t delta_ns, int want,
                           struct tpp_chunk *out, char *err, size_t errlen);

#endif
