/* radix_sort.h — sorting IPv4 keys: a table of a backbone interval holds hundreds of thousands of addresses, and an
 * LSD radix sort on their 32 bits is several times faster than qsort.  Used for the edge tables (aggregate.c) and
 * the addresses seen (seen_table.c). */
#ifndef TPP_RADIX_SORT_H
#define TPP_RADIX_SORT_H

#include <stddef.h>
#include <stdint.h>

/* Sort v[0..n) on bits 32..63 (stable: the low 32 bits, a value carried with the key, keep their order among equal
 * keys), with tmp[0..n) as scratch: four passes of 8 bits, an even number, so the result is back in v. */
static inline void radix_sort_high32(uint64_t *v, uint64_t *tmp, size_t n)
{
    for (int shift = 32; shift < 64; shift += 8) {
        size_t count[257] = { 0 };
        for (size_t i = 0; i < n; i++) count[((v[i] >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++) tmp[count[(v[i] >> shift) & 0xff]++] = v[i];
        uint64_t *swap = v;
        v = tmp;
        tmp = swap;
    }
}

#endif
