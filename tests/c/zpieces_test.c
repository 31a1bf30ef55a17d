/* zpieces_test.c — zlib streams made in pieces (src/zpieces.c) at the lengths where pieces begin and end (empty, one
 * byte, a piece less one, a piece, a piece and one, several), from bytes that compress and bytes that do not, handed
 * over in odd chunks, copied or left in place: each inflates with zlib's own uncompress (which checks the Adler-32)
 * to exactly its input, cuts a full flush every piece, and has the same bytes on one thread as on two.  A task runs
 * once, beside a stream. */
#include "zpieces.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int failures;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

struct out {
    uint8_t *p;
    size_t n, cap;
    uLong crc;
};

static int collect(void *ctx, const uint8_t *p, size_t n, uint32_t crc)
{
    struct out *o = ctx;
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->p = realloc(o->p, o->cap);
        if (!o->p) return 12;
    }
    memcpy(o->p + o->n, p, n);
    o->n += n;
    o->crc = crc32_combine(o->crc, crc, (z_off_t)n);
    return 0;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint8_t next_byte(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint8_t)rng;
}

/* n bytes as a stream from a crew of `threads`, put in chunks of `chunk` bytes. */
static struct out make(struct tpp_zpieces *z, const uint8_t *data, size_t n, size_t chunk, int stable)
{
    struct out o = { .crc = crc32(0L, NULL, 0) };
    CHECK(tpp_zpieces_begin(z, collect, &o) == 0);
    for (size_t done = 0; done < n; done += chunk)
        CHECK(tpp_zpieces_put(z, data + done, n - done < chunk ? n - done : chunk, stable) == 0);
    uint64_t raw = 0, stored = 0;
    CHECK(tpp_zpieces_end(z, &raw, &stored) == 0);
    CHECK(raw == n);
    CHECK(stored == o.n);
    CHECK(o.crc == crc32(0L, o.p, (uInt)o.n));
    return o;
}

static int task_runs;
static void task(void *arg)
{
    (void)arg;
    task_runs++;
}

int main(void)
{
    const size_t P = ZPIECE_RAW;
    const size_t lengths[] = { 0, 1, P - 1, P, P + 1, 2 * P, 3 * P + 12345 };
    const size_t most = 3 * P + 12345;
    uint8_t *text = malloc(most), *noise = malloc(most), *back = malloc(most + 1);
    for (size_t i = 0; i < most; i++) text[i] = (uint8_t)"tpp pieces "[i % 11] ^ (uint8_t)(i / 4096 % 3);
    for (size_t i = 0; i < most; i++) noise[i] = next_byte();
    struct tpp_zpieces *one = tpp_zpieces_open(1), *two = tpp_zpieces_open(2);
    CHECK(one && two);
    if (!one || !two) return 1;
    tpp_zpieces_task(two, task, NULL);
    for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++) {
        for (int kind = 0; kind < 2; kind++) {
            const uint8_t *data = kind ? noise : text;
            size_t n = lengths[l];
            struct out a = make(one, data, n, 65536 + 7, 0);
            struct out b = make(two, data, n, P + 3, 1);
            struct out c = make(two, data, n, n ? n : 1, 1);
            CHECK(a.n == b.n && memcmp(a.p, b.p, a.n) == 0);
            CHECK(a.n == c.n && memcmp(a.p, c.p, a.n) == 0);
            CHECK(a.n >= 2 && a.p[0] == 0x78 && a.p[1] == 0x01);
            uLongf got = most + 1;
            CHECK(uncompress(back, &got, a.p, (uLong)a.n) == Z_OK);
            CHECK(got == n && memcmp(back, data, n) == 0);
            /* a piece but the last ends with a full flush's empty stored block, byte-aligned */
            size_t flushes = 0;
            for (size_t i = 0; i + 4 <= a.n; i++) flushes += memcmp(a.p + i, "\0\0\xff\xff", 4) == 0;
            CHECK(flushes >= (n ? (n - 1) / P : 0));
            free(a.p);
            free(b.p);
            free(c.p);
        }
    }
    tpp_zpieces_task_wait(two);
    CHECK(task_runs == 1);
    tpp_zpieces_task(one, task, NULL); /* without a helper: at once */
    CHECK(task_runs == 2);
    tpp_zpieces_close(one);
    tpp_zpieces_close(two);
    free(text);
    free(noise);
    free(back);
    if (failures) fprintf(stderr, "zpieces_test: %d failures\n", failures);
    else printf("zpieces_test: ok\n");
    return failures != 0;
}
