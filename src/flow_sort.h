/* flow_sort.h — sorting flows by key (memcmp of struct tpp_flow_key), for the tables and the head and tail.
 *
 * Backbone traces give a million flows to sort at a time.  Moving 56-byte marks through a comparison sort is
 * slow: instead 16-byte references (a rank that orders nearly every pair, and the place) are radix-sorted, ties
 * sorted by the full comparison, and the elements then gathered once into the output array.
 */
#ifndef TPP_FLOW_SORT_H
#define TPP_FLOW_SORT_H

#include "tpp/result.h"

#include <stddef.h>

/* out[0..n) := the keys in[0..n) ascending (the arrays apart); 0 on success, -1 when out of memory. */
int flow_sort_keys(const struct tpp_flow_key *in, size_t n, struct tpp_flow_key *out);
/* out[0..n) := the marks in[0..n) by key, then interval, then time; 0 on success, -1 when out of memory. */
int flow_sort_marks(const struct tpp_flow_mark *in, size_t n, struct tpp_flow_mark *out);
/* The same within m[0..n), without a second copy (memory: the head and tail of a trace are a million marks). */
int flow_sort_marks_in_place(struct tpp_flow_mark *m, size_t n);

#endif
