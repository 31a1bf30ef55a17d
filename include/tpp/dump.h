/* tpp/dump.h — saving a result to a binary dump file and restoring it (format: docs/dump-format.md).
 *
 * tpp_dump_write() writes atomically (temporary file, fsync, rename): on failure the previous file at `path` is
 * untouched and no temporary file is left.  tpp_dump_read() trusts nothing in the file: every failure is a
 * message in `err`, never a crash or an allocation larger than the file justifies.  The caller owns and frees
 * (tpp_result_free) the result it returns.
 */
#ifndef TPP_DUMP_H
#define TPP_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "tpp/result.h"

/* 5: the labels (tpp/labels.h; a format-4 dump loads with NaN label columns and no labels).  4: the research features (their options, columns, full tables, heavy hitters, addresses seen, flow head and tail;
 * a format-3 or format-2 dump loads with those columns NaN and is not mergeable).  2: the aligned grid's anchor,
 * the malformed-packet count and the source fingerprint; NaN for undefined statistics (a format-1 dump is
 * refused: its numbers follow the older conventions). */
#define TPP_DUMP_FORMAT 5

/* 0 on success; -1 with "path: reason" in err. */
int tpp_dump_write(const struct tpp_result *r, const char *path, const char *tpp_version, char *err, size_t errlen);

/* Do the first bytes of a file, head[0..n), begin as a dump's do (its signature's first 4; a dump whose
 * remaining signature bytes were mangled is still a dump, which tpp_dump_read then refuses by name)? */
int tpp_dump_signed(const uint8_t *head, size_t n);

/* The restored result, or NULL with "path: reason" in err. */
struct tpp_result *tpp_dump_read(const char *path, char *err, size_t errlen);

/* What tpp_dump_read_parts() may leave out of a result. */
enum tpp_dump_parts {
    TPP_DUMP_NO_STATE = 1, /* the merge state (full tables, addresses seen, flow head and tail): what only a merge
                            * needs, most of a long parse's dump.  The result reads, draws and reports as a full
                            * one, but is not mergeable and refuses to be merged or dumped (state_dropped). */
};

/* tpp_dump_read, leaving out the parts in `flags` (enum tpp_dump_parts): the sections are skipped unread. */
struct tpp_result *tpp_dump_read_parts(const char *path, unsigned flags, char *err, size_t errlen);

#endif
