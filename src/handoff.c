/* handoff.c — see handoff.h. */
#include "handoff.h"

#include <sched.h>
#include <time.h>

/* How long a side with nothing to do spins before it sleeps.  Waking a sleeping thread costs tens of
 * microseconds on a virtual machine (an inter-processor interrupt), more than a batch takes to process. */
#define SPIN_NS 300000

void handoff_init(struct handoff *h, unsigned nslots)
{
    atomic_init(&h->produced, 0);
    atomic_init(&h->consumed, 0);
    atomic_init(&h->sleeping, 0);
    atomic_init(&h->closed, 0);
    h->nslots = nslots;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->wake, NULL);
}

void handoff_destroy(struct handoff *h)
{
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->mu);
}

/* Wake the other side if it sleeps and `enough` work is ready for it: waking a thread costs far more than
 * handing it one slot, so a sleeper is woken for half the ring at once (or for the producer's last slot).
 * The sleeper sets `sleeping` before its last look at the counters, and we changed a counter before looking
 * at `sleeping` (both sequentially consistent): one of us sees the other. */
static void wake_other(struct handoff *h, int enough)
{
    if (enough && atomic_load(&h->sleeping)) {
        /* Taking the mutex makes sure the sleeper is inside pthread_cond_wait (or will see the new counter);
         * broadcasting after releasing it spares the woken thread a wait for the mutex. */
        pthread_mutex_lock(&h->mu);
        pthread_mutex_unlock(&h->mu);
        pthread_cond_broadcast(&h->wake);
    }
}

static int can_produce(struct handoff *h)
{
    return atomic_load(&h->closed) || atomic_load(&h->produced) - atomic_load(&h->consumed) < h->nslots;
}

/* Half the ring free: a producer that found the ring full waits for this, so that it sleeps while the consumer
 * works through half the ring instead of spinning for one slot after another. */
static int can_produce_half(struct handoff *h)
{
    return atomic_load(&h->closed) || atomic_load(&h->produced) - atomic_load(&h->consumed) <= h->nslots / 2;
}

static int can_consume(struct handoff *h) { return atomic_load(&h->produced) != atomic_load(&h->consumed); }

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spin a little, then sleep until ready(h).  The spin yields the processor between checks: a parse can run
 * three threads (inflate, read, aggregate) on two cores, and a spinning one must not hold up the others. */
static void wait_until(struct handoff *h, int (*ready)(struct handoff *))
{
    if (ready(h)) return;
    for (long long deadline = now_ns() + SPIN_NS; now_ns() < deadline; sched_yield())
        for (int i = 0; i < 64; i++)
            if (ready(h)) return;
    pthread_mutex_lock(&h->mu);
    atomic_fetch_add(&h->sleeping, 1);
    while (!ready(h)) pthread_cond_wait(&h->wake, &h->mu);
    atomic_fetch_sub(&h->sleeping, 1);
    pthread_mutex_unlock(&h->mu);
}

int handoff_next_free(struct handoff *h)
{
    if (!can_produce(h)) wait_until(h, can_produce_half);
    if (atomic_load(&h->closed)) return -1;
    return (int)(atomic_load(&h->produced) % h->nslots);
}

void handoff_publish(struct handoff *h, int last)
{
    unsigned filled = atomic_fetch_add(&h->produced, 1) + 1 - atomic_load(&h->consumed);
    wake_other(h, last || filled >= h->nslots / 2);
}

int handoff_next_filled(struct handoff *h)
{
    wait_until(h, can_consume);
    return (int)(atomic_load(&h->consumed) % h->nslots);
}

void handoff_release(struct handoff *h)
{
    unsigned filled = atomic_load(&h->produced) - (atomic_fetch_add(&h->consumed, 1) + 1);
    wake_other(h, h->nslots - filled >= h->nslots / 2);
}

void handoff_close(struct handoff *h)
{
    atomic_store(&h->closed, 1);
    pthread_mutex_lock(&h->mu);
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->mu);
}
