/* interval_stats.c — see interval_stats.h. */
#include "interval_stats.h"

#include <math.h>
#include <pthread.h>

/* c·log2(c) in units of 2^-47: 47 bits below the point keep every term's rounding far below what a double of the
 * sum resolves, and c·log2(c)·2^47 stays below 2^85 for any 32-bit count. */
#define CLOGC_SHIFT 47
#define CLOGC_TABLE 4096       /* counts below this (most of them) are looked up */
static uint64_t clogc_table[CLOGC_TABLE];

static unsigned __int128 clogc_fixed(uint64_t c)
{
    long double v = (long double)c * log2l((long double)c) * (long double)(1ull << CLOGC_SHIFT);
    return (unsigned __int128)floorl(v + 0.5L);
}

static void init_table(void)
{
    for (uint64_t c = 1; c < CLOGC_TABLE; c++) clogc_table[c] = (uint64_t)clogc_fixed(c);
}

void addr_sums_add(struct addr_sums *s, uint64_t count)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (s->distinct == 0) pthread_once(&once, init_table);
    s->sumsq += (unsigned __int128)count * count;
    s->clogc += count < CLOGC_TABLE ? clogc_table[count] : clogc_fixed(count);
    s->distinct++;
}

void moments_merge(struct tpp_moments *a, const struct tpp_moments *b)
{
    if (b->n == 0) return;
    if (a->n == 0) { *a = *b; return; }
    double na = (double)a->n, nb = (double)b->n, n = na + nb;
    double d = b->mean - a->mean, d2 = d * d;
    double m2 = a->m2 + b->m2 + d2 * na * nb / n;
    double m3 = a->m3 + b->m3 + d * d2 * na * nb * (na - nb) / (n * n) + 3 * d * (na * b->m2 - nb * a->m2) / n;
    double m4 = a->m4 + b->m4 + d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n) +
                6 * d2 * (na * na * b->m2 + nb * nb * a->m2) / (n * n) + 4 * d * (na * b->m3 - nb * a->m3) / n;
    a->mean += d * nb / n;
    a->m2 = m2;
    a->m3 = m3;
    a->m4 = m4;
    a->n += b->n;
    if (__builtin_add_overflow(a->sum, b->sum, &a->sum)) a->sum = b->sum > 0 ? INT64_MAX : INT64_MIN;
}

/* Σc²/n² and the normalised entropy of one side's address counts (none for both when n is 0).  The entropy of one
 * distinct address is 0: the distribution is as concentrated as it can be. */
static void address_stats(const struct addr_sums *s, uint64_t n, double none, double *f2, double *entropy)
{
    *f2 = *entropy = none;
    if (n == 0) return;
    double dn = (double)n;
    *f2 = (double)s->sumsq / (dn * dn);
    *entropy = 0;
    if (s->distinct > 1) {
        double sum_clogc = (double)((long double)s->clogc / (long double)(1ull << CLOGC_SHIFT));
        *entropy = (log2(dn) - sum_clogc / dn) / log2((double)s->distinct);
    }
}

/* tpp's own mode (aligned) writes NaN where a statistic is undefined: the mean of no IAT; the standard deviation,
 * skewness and kurtosis of fewer than two IATs or of a zero variance (scipy's test).  The packet mode keeps the
 * original tool's conventions: 0 for all four up to one IAT, and at a zero variance the standard deviation as
 * computed (0) with NaN skewness and kurtosis.  Merged interleaved streams have no moments: NaN. */
void interval_finish_iat(struct tpp_interval *iv, int original)
{
    const struct tpp_moments *m = &iv->iat;
    double undefined = original ? 0 : NAN, k = (double)m->n;
    iv->iat_mean = iv->iat_std = iv->iat_skew = iv->iat_kurt = undefined;
    if (iv->iat_lost) { iv->iat_mean = iv->iat_std = iv->iat_skew = iv->iat_kurt = NAN; return; }
    if (m->n == 0) return;
    /* Moments are of nanosecond values; the mean comes from the exact integer sum. */
    double mean = (double)m->sum / k;
    iv->iat_mean = mean / 1e9;
    if (m->n == 1) return;
    iv->iat_std = sqrt(m->m2 / (k - 1)) / 1e9;
    double m2 = m->m2 / k, m3 = m->m3 / k, m4 = m->m4 / k;
    if (m2 <= (1e-15 * mean) * (1e-15 * mean)) { /* scipy's test for a zero variance */
        if (!original) iv->iat_std = NAN;
        iv->iat_skew = iv->iat_kurt = NAN;
    } else {
        iv->iat_skew = m3 / pow(m2, 1.5);
        iv->iat_kurt = m4 / (m2 * m2) - 3.0;
    }
}

void interval_finish(struct tpp_interval *iv, const struct addr_sums *src, const struct addr_sums *dst, int original)
{
    uint64_t n = iv->ip_packets;
    double none = original ? 0 : NAN; /* a share or mean over no IP packet */
    iv->src_ips = src->distinct;
    iv->dst_ips = dst->distinct;
    address_stats(src, n, none, &iv->f2_src, &iv->entropy_src);
    address_stats(dst, n, none, &iv->f2_dst, &iv->entropy_dst);
    double dn = (double)n;
    iv->avg_len = iv->icmp_frac = iv->tcp_frac = iv->udp_frac = none;
    if (n > 0) {
        iv->avg_len = (double)iv->ip_bytes / dn;
        iv->icmp_frac = (double)iv->icmp / dn;
        iv->tcp_frac = (double)iv->tcp / dn;
        iv->udp_frac = (double)iv->udp / dn;
    }
    interval_finish_iat(iv, original);
}

double addr_sums_entropy(const struct addr_sums *s, uint64_t n)
{
    if (s->distinct <= 1) return 0;
    double dn = (double)n, sum_clogc = (double)((long double)s->clogc / (long double)(1ull << CLOGC_SHIFT));
    return (log2(dn) - sum_clogc / dn) / log2((double)s->distinct);
}
