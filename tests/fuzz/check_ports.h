/* check_ports.h — for the fuzz targets: abort() unless a result's port histograms are well formed (offsets in
 * order and ending at the packed bytes' end, ports strictly ascending within 0..65535, counts > 0, the entry count
 * right). */
#ifndef TPP_FUZZ_CHECK_PORTS_H
#define TPP_FUZZ_CHECK_PORTS_H

#include <stdint.h>
#include <stdlib.h>

#include "tpp/result.h"

static void check_port_histograms(const struct tpp_result *r)
{
    for (int s = 0; s < TPP_NSERIES; s++) {
        const struct tpp_port_series *ps = &r->ports[s];
        if (ps->offsets[0] != 0 || ps->offsets[r->nintervals] != ps->nbytes) abort();
        uint64_t items = 0;
        for (size_t i = 0; i < r->nintervals; i++) {
            if (ps->offsets[i] > ps->offsets[i + 1]) abort();
            struct tpp_port_cursor c;
            uint32_t port, count;
            int64_t prev = -1;
            for (tpp_ports_open(r, s, i, &c); tpp_ports_next(&c, &port, &count); items++) {
                if (port > 65535 || count == 0 || (int64_t)port <= prev) abort();
                prev = port;
            }
            if (c.p != c.end) abort();
        }
        if (items != ps->nitems) abort();
    }
}

#endif
