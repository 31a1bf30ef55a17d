/* interval_stats.h — the statistics of a row from its counters, shared by the aggregator (one pass) and the
 * merge (rows of pieces put together), so that both give the same bits for the same packets. */
#ifndef TPP_INTERVAL_STATS_H
#define TPP_INTERVAL_STATS_H

#include "tpp/result.h"

/* Σc² and Σc·log2(c) over the per-address counts of an interval, in integers (the second in fixed point), so that
 * the sums do not depend on the order in which the addresses are visited: a hash table's order in one pass, a
 * sorted merge's in a merge. */
struct addr_sums {
    unsigned __int128 sumsq;
    unsigned __int128 clogc;   /* Σ round(c·log2(c)·2^CLOGC_SHIFT) */
    uint64_t distinct;
};

void addr_sums_add(struct addr_sums *s, uint64_t count);
/* The normalised entropy H/log2(d) of the counts added to s, whose total is n > 0: 0 for one distinct count. */
double addr_sums_entropy(const struct addr_sums *s, uint64_t n);

/* Add one IAT (ns): Pébay's update, inline because it runs for every IP packet. */
static inline void moments_add(struct tpp_moments *m, int64_t iat)
{
    double x = (double)iat, n1 = (double)m->n, n = n1 + 1;
    double delta = x - m->mean, dn = delta / n, dn2 = dn * dn, term1 = delta * dn * n1;
    m->mean += dn;
    m->m4 += term1 * dn2 * (n * n - 3 * n + 3) + 6 * dn2 * m->m2 - 4 * dn * m->m3;
    m->m3 += term1 * dn * (n - 2) - 3 * dn * m->m2;
    m->m2 += term1;
    m->n++;
    if (__builtin_add_overflow(m->sum, iat, &m->sum)) m->sum = iat > 0 ? INT64_MAX : INT64_MIN;
}
/* a := the moments of a's values followed by b's. */
void moments_merge(struct tpp_moments *a, const struct tpp_moments *b);

/* Fill the row's derived columns (distinct addresses, F2, entropies, mean length, shares, IAT statistics) from its
 * counters and the address sums.  `original`: the packet mode's conventions (0 where tpp's mode writes NaN). */
void interval_finish(struct tpp_interval *iv, const struct addr_sums *src, const struct addr_sums *dst, int original);
/* Only the IAT statistics (after the moments changed). */
void interval_finish_iat(struct tpp_interval *iv, int original);

#endif
