/* file_order.h — integers as a capture file stores them: in the writer's byte order, which the reader learns from
 * the file's magic number (`swapped` when it is not the host's).  Unaligned reads through memcpy. */
#ifndef TPP_FILE_ORDER_H
#define TPP_FILE_ORDER_H

#include <stdint.h>
#include <string.h>

static inline uint16_t file_load16(const uint8_t *p, int swapped)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return swapped ? __builtin_bswap16(v) : v;
}

static inline uint32_t file_load32(const uint8_t *p, int swapped)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

#endif
