/* result_ports.c — statistics over a result's port histograms: the most frequent ports and the port entropy. */
#include "tpp/result_ports.h"

#include <math.h>
#include <stdlib.h>

/* Count descending, then port ascending. */
static int by_count_desc(const void *a, const void *b)
{
    const struct tpp_port_total *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return (x->port > y->port) - (x->port < y->port);
}

long tpp_result_top_ports(const struct tpp_result *r, int series, size_t interval, struct tpp_port_total *top, size_t k)
{
    /* Totals per port: counts may pass 2^32 over a trace, and a port appears once per interval. */
    uint64_t *sum = calloc(65536, sizeof *sum);
    struct tpp_port_total *all = malloc(65536 * sizeof *all);
    if (!sum || !all) {
        free(sum);
        free(all);
        return -1;
    }
    size_t first = interval == TPP_ALL_INTERVALS ? 0 : interval;
    size_t end = interval == TPP_ALL_INTERVALS ? r->nintervals : interval + 1;
    struct tpp_port_cursor c;
    uint32_t port, count;
    for (size_t j = first; j < end; j++)
        for (tpp_ports_open(r, series, j, &c); tpp_ports_next(&c, &port, &count);) sum[port & 0xffff] += count;
    size_t n = 0;
    for (uint32_t p = 0; p < 65536; p++)
        if (sum[p]) all[n++] = (struct tpp_port_total){ p, sum[p] };
    qsort(all, n, sizeof *all, by_count_desc);
    size_t m = k < n ? k : n;
    for (size_t j = 0; j < m; j++) top[j] = all[j];
    free(sum);
    free(all);
    return (long)m;
}

double tpp_result_port_entropy(const struct tpp_result *r, int series, size_t interval)
{
    double n = 0, sum_clogc = 0, h = 0, distinct = 0;
    struct tpp_port_cursor cur;
    uint32_t port, count;
    for (tpp_ports_open(r, series, interval, &cur); tpp_ports_next(&cur, &port, &count); distinct++) {
        double c = (double)count;
        n += c;
        if (c > 1) sum_clogc += c * log2(c);
    }
    if (distinct > 1 && n > 0) h = (log2(n) - sum_clogc / n) / log2(distinct);
    if (n == 0 && r->opts.boundary == TPP_BOUNDARY_ALIGNED) h = NAN;
    return h;
}
