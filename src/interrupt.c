/* interrupt.c — the interrupt request flag (tpp/interrupt.h): one lock-free atomic, safe in a signal handler. */
#include "tpp/interrupt.h"

#include <stdatomic.h>

static atomic_int requested;

void tpp_interrupt_request(void) { atomic_store_explicit(&requested, 1, memory_order_relaxed); }

void tpp_interrupt_clear(void) { atomic_store_explicit(&requested, 0, memory_order_relaxed); }

int tpp_interrupt_requested(void) { return atomic_load_explicit(&requested, memory_order_relaxed); }
