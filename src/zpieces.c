/* zpieces.c — zlib streams deflated in fixed pieces by the caller's thread and at most one helper.
 *
 * The pieces go round a ring of ZPIECE_SLOTS: the caller fills one (copying, or pointing at bytes it keeps
 * stable), hands it over, and goes on producing; the helper deflates handed-over pieces in order (after its task,
 * if any); the caller writes finished pieces to the sink in order, and deflates pieces itself whenever the ring is
 * full, so whichever thread has nothing else to do deflates.  Only the caller's thread calls the sink.
 */
#include "zpieces.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#ifdef HAVE_ISAL
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#endif

#define ZPIECE_SLOTS 6   /* pieces in flight: enough for two deflaters and a producer to rarely wait on each other */
#define ZPIECE_LEVEL 1   /* as the dump's other sections: 5x faster than level 6 for 20 % more bytes */

struct piece {
    const uint8_t *in;  /* the raw bytes: `own`, or the caller's stable bytes */
    uint8_t *own;       /* ZPIECE_RAW bytes, allocated when first needed */
    size_t n;           /* raw bytes */
    int last;
    uint8_t *out;       /* the deflated bytes, out_n of them */
    size_t out_n;
    uint32_t adler, crc;
    int done, failed;   /* under the lock */
};

/* One thread's deflate state, kept from piece to piece. */
struct packer {
#ifdef HAVE_ISAL
    uint8_t *level_buf;
#else
    z_stream z;
    int ready;
#endif
};

struct tpp_zpieces {
    struct piece slot[ZPIECE_SLOTS];
    size_t out_cap;
    struct packer mine, helper;
    pthread_t thread;
    int have_thread, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the task: none, waiting for the helper, running, done */
    enum { TASK_NONE, TASK_WAITING, TASK_RUNNING, TASK_DONE } task;
    void (*task_fn)(void *);
    void *task_arg;
    /* the stream: pieces handed over, taken by a deflater, and written, so far; piece k is slot k % ZPIECE_SLOTS */
    tpp_zpieces_sink sink;
    void *ctx;
    uint64_t handed, taken, written;
    int filling;             /* slot[handed % ZPIECE_SLOTS] is being filled */
    uint64_t raw, stored;
    uint32_t adler;
    int err;
};

static int packer_init(struct packer *k)
{
    memset(k, 0, sizeof *k);
#ifdef HAVE_ISAL
    k->level_buf = malloc(ISAL_DEF_LVL1_DEFAULT);
    return k->level_buf ? 0 : ENOMEM;
#else
    if (deflateInit2(&k->z, ZPIECE_LEVEL, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return ENOMEM;
    k->ready = 1;
    return 0;
#endif
}

static void packer_free(struct packer *k)
{
#ifdef HAVE_ISAL
    free(k->level_buf);
#else
    if (k->ready) deflateEnd(&k->z);
#endif
}

/* Deflate one piece into its `out` as raw deflate: byte-aligned by a full flush and without history from before,
 * or ending the stream when it is the last; its Adler-32 and its output's CRC-32 with it. */
static void deflate_piece(struct packer *k, struct piece *p, size_t cap)
{
    int ok;
#ifdef HAVE_ISAL
    struct isal_zstream s;
    isal_deflate_init(&s);
    s.level = ZPIECE_LEVEL;
    s.level_buf = k->level_buf;
    s.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    s.gzip_flag = IGZIP_DEFLATE;
    s.flush = p->last ? NO_FLUSH : FULL_FLUSH;
    s.end_of_stream = (uint16_t)p->last;
    s.next_in = (uint8_t *)p->in;
    s.avail_in = (uint32_t)p->n;
    s.next_out = p->out;
    s.avail_out = (uint32_t)cap;
    /* done once all input is in and the flush (or the end) is written out */
    enum isal_zstate_state end = p->last ? ZSTATE_END : ZSTATE_NEW_HDR;
    ok = 1;
    for (int calls = 0; ok && (s.avail_in > 0 || s.internal_state.state != end) && s.avail_out > 0; calls++)
        ok = calls < 16 && isal_deflate(&s) == COMP_OK; /* one call does it; never spin on a stuck stream */
    ok = ok && s.avail_in == 0 && s.internal_state.state == end;
    p->out_n = s.total_out;
    p->adler = isal_adler32(1, p->in, p->n);
    p->crc = crc32_gzip_refl(0, p->out, p->out_n); /* zlib's crc32, several times faster */
#else
    deflateReset(&k->z);
    k->z.next_in = (Bytef *)p->in;
    k->z.avail_in = (uInt)p->n;
    k->z.next_out = p->out;
    k->z.avail_out = (uInt)cap;
    int rc = deflate(&k->z, p->last ? Z_FINISH : Z_FULL_FLUSH);
    ok = p->last ? rc == Z_STREAM_END : rc == Z_OK && k->z.avail_in == 0 && k->z.avail_out > 0;
    p->out_n = cap - k->z.avail_out;
    p->adler = (uint32_t)adler32(1L, p->in, (uInt)p->n);
    p->crc = (uint32_t)crc32_z(0L, p->out, p->out_n);
#endif
    p->failed = !ok;
}

/* The helper: runs the task when there is one, else deflates handed-over pieces in order, until told to stop. */
static void *helper_main(void *arg)
{
    struct tpp_zpieces *z = arg;
    pthread_mutex_lock(&z->mu);
    for (;;) {
        if (z->task == TASK_WAITING) {
            z->task = TASK_RUNNING;
            pthread_mutex_unlock(&z->mu);
            z->task_fn(z->task_arg);
            pthread_mutex_lock(&z->mu);
            z->task = TASK_DONE;
            pthread_cond_broadcast(&z->cv);
        } else if (z->taken < z->handed) {
            struct piece *p = &z->slot[z->taken++ % ZPIECE_SLOTS];
            pthread_mutex_unlock(&z->mu);
            deflate_piece(&z->helper, p, z->out_cap);
            pthread_mutex_lock(&z->mu);
            p->done = 1;
            pthread_cond_broadcast(&z->cv);
        } else if (z->stop) {
            break;
        } else {
            pthread_cond_wait(&z->cv, &z->mu);
        }
    }
    pthread_mutex_unlock(&z->mu);
    return NULL;
}

/* Bytes to the sink (the caller's thread only); after an error, nothing more. */
static void to_sink(struct tpp_zpieces *z, const uint8_t *p, size_t n, uint32_t crc)
{
    if (z->err) return;
    z->err = z->sink(z->ctx, p, n, crc);
    z->stored += n;
}

/* Write the deflated pieces that are next in order.  With `wait`, make progress first: deflate a piece here when
 * one is waiting, else sleep until the helper finishes one; returns at once when nothing is handed over. */
static void advance(struct tpp_zpieces *z, int wait)
{
    pthread_mutex_lock(&z->mu);
    for (;;) {
        int wrote = 0;
        while (z->written < z->handed && z->slot[z->written % ZPIECE_SLOTS].done) {
            struct piece *p = &z->slot[z->written % ZPIECE_SLOTS];
            pthread_mutex_unlock(&z->mu);
            if (p->failed && !z->err) z->err = EIO;
            to_sink(z, p->out, p->out_n, p->crc);
            z->adler = (uint32_t)adler32_combine(z->adler, p->adler, (z_off_t)p->n);
            pthread_mutex_lock(&z->mu);
            z->written++;
            wrote = 1;
        }
        if (wrote || !wait || z->written == z->handed) break;
        if (z->taken < z->handed) {
            struct piece *p = &z->slot[z->taken++ % ZPIECE_SLOTS];
            pthread_mutex_unlock(&z->mu);
            deflate_piece(&z->mine, p, z->out_cap);
            pthread_mutex_lock(&z->mu);
            p->done = 1;
        } else {
            pthread_cond_wait(&z->cv, &z->mu);
        }
    }
    pthread_mutex_unlock(&z->mu);
}

/* The piece being filled, after making room for it in the ring. */
static struct piece *filling(struct tpp_zpieces *z)
{
    struct piece *p = &z->slot[z->handed % ZPIECE_SLOTS];
    if (z->filling) return p;
    while (z->handed - z->written >= ZPIECE_SLOTS) advance(z, 1);
    p->in = p->own;
    p->n = 0;
    p->last = p->done = p->failed = 0;
    z->filling = 1;
    return p;
}

static void hand_over(struct tpp_zpieces *z, int last)
{
    pthread_mutex_lock(&z->mu);
    z->slot[z->handed % ZPIECE_SLOTS].last = last;
    z->handed++;
    z->filling = 0;
    pthread_cond_broadcast(&z->cv);
    pthread_mutex_unlock(&z->mu);
    advance(z, 0);
}

/* How many deflating threads help: one beside the caller when this process may run on two processors. */
static unsigned useful_threads(unsigned threads)
{
    cpu_set_t set;
    long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
    return threads >= 2 && cpus >= 2 ? 2 : 1;
}

struct tpp_zpieces *tpp_zpieces_open(unsigned threads)
{
    struct tpp_zpieces *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    z->out_cap = compressBound(ZPIECE_RAW) + 64; /* + the flush's empty stored block */
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->cv, NULL);
    int bad = packer_init(&z->mine) != 0;
    for (int k = 0; k < ZPIECE_SLOTS && !bad; k++) bad = !(z->slot[k].out = malloc(z->out_cap));
    if (!bad && useful_threads(threads) == 2) {
        bad = packer_init(&z->helper) != 0;
        if (!bad) z->have_thread = pthread_create(&z->thread, NULL, helper_main, z) == 0; /* none: all here */
    }
    if (bad) {
        tpp_zpieces_close(z);
        return NULL;
    }
    return z;
}

int tpp_zpieces_begin(struct tpp_zpieces *z, tpp_zpieces_sink sink, void *ctx)
{
    pthread_mutex_lock(&z->mu); /* the helper reads these counters */
    z->handed = z->taken = z->written = 0;
    pthread_mutex_unlock(&z->mu);
    z->sink = sink;
    z->ctx = ctx;
    z->filling = 0;
    z->raw = z->stored = 0;
    z->adler = 1;
    z->err = 0;
    static const uint8_t header[2] = { 0x78, 0x01 }; /* deflate, 32 KiB window, "fastest" (RFC 1950) */
    to_sink(z, header, sizeof header, (uint32_t)crc32(0L, header, sizeof header));
    return z->err;
}

int tpp_zpieces_put(struct tpp_zpieces *z, const uint8_t *p, size_t n, int stable)
{
    while (n > 0 && !z->err) {
        struct piece *c = filling(z);
        size_t k = ZPIECE_RAW - c->n < n ? ZPIECE_RAW - c->n : n;
        if (c->n == 0 && stable && k == ZPIECE_RAW) {
            c->in = p;
        } else {
            if (!c->own && !(c->own = malloc(ZPIECE_RAW))) { z->err = ENOMEM; break; }
            memcpy(c->own + c->n, p, k);
            c->in = c->own;
        }
        c->n += k;
        z->raw += k;
        p += k;
        n -= k;
        if (c->n == ZPIECE_RAW) hand_over(z, 0);
    }
    return z->err;
}

uint64_t tpp_zpieces_mark(const struct tpp_zpieces *z)
{
    return z->handed;
}

int tpp_zpieces_wait(struct tpp_zpieces *z, uint64_t mark)
{
    while (z->written < mark) advance(z, 1);
    return z->err;
}

int tpp_zpieces_end(struct tpp_zpieces *z, uint64_t *raw, uint64_t *stored)
{
    if (!z->err) { /* the last piece (maybe empty) */
        filling(z);
        hand_over(z, 1);
    }
    tpp_zpieces_wait(z, z->handed); /* also after an error: no piece may still read the caller's bytes */
    uint8_t trailer[4] = { (uint8_t)(z->adler >> 24), (uint8_t)(z->adler >> 16), (uint8_t)(z->adler >> 8),
                           (uint8_t)z->adler };
    to_sink(z, trailer, sizeof trailer, (uint32_t)crc32(0L, trailer, sizeof trailer));
    *raw = z->raw;
    *stored = z->stored;
    return z->err;
}

void tpp_zpieces_task(struct tpp_zpieces *z, void (*fn)(void *), void *arg)
{
    if (!z->have_thread) {
        fn(arg);
        return;
    }
    pthread_mutex_lock(&z->mu);
    z->task_fn = fn;
    z->task_arg = arg;
    z->task = TASK_WAITING;
    pthread_cond_broadcast(&z->cv);
    pthread_mutex_unlock(&z->mu);
}

void tpp_zpieces_task_wait(struct tpp_zpieces *z)
{
    pthread_mutex_lock(&z->mu);
    while (z->task == TASK_WAITING || z->task == TASK_RUNNING) pthread_cond_wait(&z->cv, &z->mu);
    z->task = TASK_NONE;
    pthread_mutex_unlock(&z->mu);
}

void tpp_zpieces_close(struct tpp_zpieces *z)
{
    if (!z) return;
    if (z->written < z->handed && !z->err) z->err = ECANCELED; /* a stream not ended: nothing more to its sink */
    if (z->have_thread) {
        tpp_zpieces_task_wait(z);
        tpp_zpieces_wait(z, z->handed);
        pthread_mutex_lock(&z->mu);
        z->stop = 1;
        pthread_cond_broadcast(&z->cv);
        pthread_mutex_unlock(&z->mu);
        pthread_join(z->thread, NULL);
    }
    for (int k = 0; k < ZPIECE_SLOTS; k++) {
        free(z->slot[k].own);
        free(z->slot[k].out);
    }
    packer_free(&z->mine);
    packer_free(&z->helper);
    pthread_mutex_destroy(&z->mu);
    pthread_cond_destroy(&z->cv);
    free(z);
}
