/* result_oom.c — a result stays consistent when growing it fails (allocation failure injected).
 *
 * Linked with -Wl,--wrap=realloc: the n-th realloc made by result.c fails.  After a failed
 * tpp_result_push_interval the aggregator still pushes once more (tpp_agg_finish closes the last interval), so
 * every later push must stay within the arrays.  Built with ASan: a write past them is a report.  Regression
 * for result.c, which raised r->cap before the port offsets arrays had grown.  Heavy hitters are pushed too.
 */
#include "tpp/result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_realloc(void *p, size_t n);
static int countdown = -1; /* realloc calls until one fails; -1: never */

void *__wrap_realloc(void *p, size_t n)
{
    if (countdown >= 0 && countdown-- == 0) return NULL;
    return __real_realloc(p, n);
}

int main(void)
{
    int failures = 0;
    for (int fail_at = 0; fail_at < 40; fail_at++) {
        struct tpp_options o;
        tpp_options_default(&o);
        struct tpp_result *r = tpp_result_new(&o, "oom");
        struct tpp_interval iv;
        memset(&iv, 0, sizeof iv);
        countdown = fail_at;
        int failed = 0;
        for (int i = 0; i < 100; i++) {
            iv.packets = (uint64_t)i;
            if (tpp_result_push_port(r, i % TPP_NSERIES, (uint32_t)i, 1) != 0) failed = 1;
            struct tpp_hh hh = { .dim = TPP_HH_TCP_DPORT, .port = (uint32_t)i, .packets = 1, .bytes = 40 };
            if (tpp_result_push_hh(r, &hh) != 0) failed = 1;
            if (tpp_result_push_interval(r, &iv) != 0) failed = 1;
        }
        countdown = -1;
        for (int s = 0; s < TPP_NSERIES; s++) /* read every offset, as the Lua iterators and the dump do */
            for (size_t i = 0; i < r->nintervals; i++)
                if (r->ports[s].offsets[i] > r->ports[s].offsets[i + 1] || r->ports[s].offsets[i + 1] > r->ports[s].nbytes) {
                    fprintf(stderr, "result_oom: fail_at %d: offsets of series %d out of order at %zu\n", fail_at, s, i);
                    failures++;
                }
        struct tpp_hh_cursor c;
        struct tpp_hh hh;
        for (size_t i = 0; i < r->nintervals; i++) { /* and the heavy hitters' (a count, then whole entries) */
            size_t n = tpp_result_hh_open(r, i, &c), got = 0;
            while (tpp_hh_next(&c, &hh)) got++;
            if (r->hh_offsets[i] > r->hh_offsets[i + 1] || r->hh_offsets[i + 1] > r->hh_nbytes || got != n) {
                fprintf(stderr, "result_oom: fail_at %d: heavy hitters of interval %zu inconsistent\n", fail_at, i);
                failures++;
            }
        }
        if (!failed && fail_at < 20) {
            fprintf(stderr, "result_oom: fail_at %d: no allocation failed\n", fail_at);
            failures++;
        }
        tpp_result_free(r);
    }
    printf("result_oom: %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
