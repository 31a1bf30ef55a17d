/* tpp/merge.h — exact merging of results: pieces of one trace become the result of one pass over all their
 * packets.
 *
 * Pieces that follow each other in time (a trace cut at any packet, rotated files, a day of daily traces) merge
 * exactly: the rows of the interval where two pieces meet are combined from their counters, full tables
 * (addresses with packets and bytes, flows, lengths, port bytes: the research features and heavy hitters are
 * recomputed from them) and inter-arrival moments, and the time between one piece's last packet and the next one's
 * first joins the moments.  The looking-back columns of the later piece are corrected from the earlier one's state:
 * new_src/new_dst by the addresses it had seen, flows_new by the flows of its tail within flow_timeout.
 * Pieces that overlap in time (two directions captured apart) merge exactly where they carry the tables of every
 * interval (keep_tables = all); their inter-arrival moments cannot be known where the streams interleave, nor
 * flows_new there and flow_timeout after, and are NaN there.  Rows between pieces are the empty intervals or segment
 * breaks of the max_gap rule, as one pass would have made them.  Pieces computed with other feature groups,
 * flow_timeout, heavy_hitters or hhh_phi are refused.
 *
 * The merger is streaming: pieces are added in order of their first packet, and only the merged result is kept.
 */
#ifndef TPP_MERGE_H
#define TPP_MERGE_H

#include "tpp/result.h"

struct tpp_merger;

struct tpp_merger *tpp_merger_new(void);
void tpp_merger_free(struct tpp_merger *g);
/* Add a piece (not modified).  Its first packet must not precede the first packet of the pieces added before.
 * 0 on success; -1 with the reason in err when the piece cannot be merged (the merger is unchanged then). */
int tpp_merger_add(struct tpp_merger *g, const struct tpp_result *piece, char *err, size_t errlen);
size_t tpp_merger_pieces(const struct tpp_merger *g);
/* The merged result (limits applied), or NULL when nothing was added or out of memory; the merger is emptied. */
struct tpp_result *tpp_merger_finish(struct tpp_merger *g);

#endif
