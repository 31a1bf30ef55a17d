/* tpp/parse.h — the whole pipeline of one capture (parse.c): open, decode on a reader thread, aggregate.
 *
 * The hooks let a caller (the Lua binding) report progress and take closed rows while the parse runs.
 */
#ifndef TPP_PARSE_H
#define TPP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "tpp/packet.h"
#include "tpp/result.h"

/* Whole pipeline: open, decode, aggregate.  Returns a result (check ->complete / ->error) or NULL with `err`
 * filled when the capture could not be opened at all.  `hooks` may be NULL; each hook may be NULL. */
struct tpp_parse_hooks {
    /* Every 2^16 packets; a non-zero return stops the parse ("interrupted"). */
    int (*progress)(void *ud, uint64_t bytes_read, uint64_t file_size, uint64_t packets);
    /* Rows first .. first + n - 1 of the result have closed; a non-zero return stops.  They will not change but for
     * `covered`, which tpp_result_cover_segment revises when a packet earlier than the segment's first comes later. */
    int (*rows)(void *ud, const struct tpp_result *r, size_t first, size_t n);
    void *ud;
};
struct tpp_result *tpp_parse(const char *path, const struct tpp_options *opts, const struct tpp_parse_hooks *hooks,
                             char *err, size_t errlen);
/* The same with ground-truth labels (tpp/labels.h; NULL for none): the result gets a copy of them with what the
 * parse found, and the label columns. */
struct tpp_labels;
struct tpp_result *tpp_parse_labelled(const char *path, const struct tpp_options *opts, const struct tpp_labels *labels,
                                      const struct tpp_parse_hooks *hooks, char *err, size_t errlen);

/* How a parse with these options decodes packets: TPP_DECODE_INNER for encap inner; else TPP_DECODE_COMPAT for the
 * packet boundary with ip v4 (--compat, the original tool's classification); else TPP_DECODE_OUTER. */
enum tpp_decode_mode tpp_decode_mode_of(const struct tpp_options *o);

#endif
