/* tpp/result_ports.h — port statistics of a result: top ports and port entropy (result_ports.c).  Readers borrow the result; nothing here keeps it. */
#ifndef TPP_RESULT_PORTS_H
#define TPP_RESULT_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include "tpp/result.h"

struct tpp_port_total { uint32_t port; uint64_t count; };
#define TPP_ALL_INTERVALS ((size_t)-1)
/* The at most k most frequent ports of `series` in interval `interval` (0-based), or of the whole trace when it is
 * TPP_ALL_INTERVALS, count descending then port ascending, into top[0..k); returns how many were written, or -1
 * when out of memory.  A series has at most 65536 distinct ports, so k need not exceed that. */
long tpp_result_top_ports(const struct tpp_result *r, int series, size_t interval, struct tpp_port_total *top, size_t k);
/* The Shannon entropy of the port distribution of one interval normalised as entropy_src is,
 * (log2 n - sum c*log2 c / n) / log2 d for n packets over d distinct ports; 0 when d is 1.  With no packet it is
 * undefined like entropy_src: NaN, or 0 in the packet mode (the original tool's conventions). */
double tpp_result_port_entropy(const struct tpp_result *r, int series, size_t interval);

#endif
