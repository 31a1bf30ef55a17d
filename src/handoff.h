/* handoff.h — a single-producer, single-consumer ring of slot indices between two threads.
 *
 * The caller owns the slots themselves (an array of `nslots`); the handoff only says which slot each side may
 * use.  A side with nothing to do spins briefly and then sleeps; the other side wakes it only when it sleeps
 * and half the ring is ready for it, so the common case costs a few atomic operations per slot and no system
 * call.
 */
#ifndef TPP_HANDOFF_H
#define TPP_HANDOFF_H

#include <pthread.h>
#include <stdatomic.h>

struct handoff {
    atomic_uint produced, consumed;  /* slots filled and emptied so far; slot = count % nslots */
    atomic_int sleeping;             /* a side is (about to be) asleep on `wake` */
    atomic_int closed;               /* the consumer wants no more */
    unsigned nslots;
    pthread_mutex_t mu;
    pthread_cond_t wake;
};

void handoff_init(struct handoff *h, unsigned nslots);
void handoff_destroy(struct handoff *h);

/* Producer: the slot to fill next, waiting for one to be free; -1 once the consumer has closed. */
int handoff_next_free(struct handoff *h);
/* Producer: the slot from handoff_next_free() is filled; `last` when nothing will follow it. */
void handoff_publish(struct handoff *h, int last);

/* Consumer: the next filled slot, waiting for it.  (The producer's last slot must say that it is the last.) */
int handoff_next_filled(struct handoff *h);
/* Consumer: the slot from handoff_next_filled() may be reused. */
void handoff_release(struct handoff *h);
/* Consumer: no more slots are wanted; a waiting producer returns -1. */
void handoff_close(struct handoff *h);

#endif
