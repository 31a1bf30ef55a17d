/* lproc.h — what the rest of the host needs of the child processes tpp.spawn starts (lproc.c). */
#ifndef TPP_LPROC_H
#define TPP_LPROC_H

/* Send sig to every child process tpp.spawn started and nobody reaped yet (lproc.c); async-signal-safe. */
void tpp_lproc_signal_children(int sig);

#endif
