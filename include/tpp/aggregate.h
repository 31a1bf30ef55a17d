/* tpp/aggregate.h — the one-pass aggregator: decoded packets in, tpp_result rows out.
 *
 * tpp_agg_new() allocates all working memory up front (hash tables grow rarely and geometrically; nothing is
 * allocated per packet).  The aggregator writes into a result that the caller owns and frees.
 */
#ifndef TPP_AGGREGATE_H
#define TPP_AGGREGATE_H

#include "tpp/packet.h"
#include "tpp/result.h"

struct tpp_label_index;

struct tpp_agg;

struct tpp_agg *tpp_agg_new(struct tpp_result *out);
/* Count one packet.  Returns 1 when a limit says to stop, 0 to go on, -1 on allocation failure. */
int tpp_agg_add(struct tpp_agg *a, const struct tpp_packet *p);
/* The index of the result's labels (NULL without labels), for looking packets up ahead (tpp_label_lookup). */
const struct tpp_label_index *tpp_agg_label_index(const struct tpp_agg *a);
/* tpp_agg_add with packet p looked up ahead in the label index (tpp_label_lookup): its n items and the types it
 * matches, or n < 0 when not looked up. */
int tpp_agg_add_looked_up(struct tpp_agg *a, const struct tpp_packet *p, const uint32_t *label_items, int n,
                          unsigned label_types);
/* Hint that `p` will be added soon, so that the table slots and histogram cells it touches start loading into
 * the cache (on large traces they are the aggregator's main cost). */
void tpp_agg_prefetch(const struct tpp_agg *a, const struct tpp_packet *p);
/* Close the last interval as the boundary mode says (aligned: emit it; packet: drop it). */
int tpp_agg_finish(struct tpp_agg *a);
void tpp_agg_free(struct tpp_agg *a);

#endif
