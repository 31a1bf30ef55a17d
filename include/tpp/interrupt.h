/* tpp/interrupt.h — the interrupt request (Ctrl-C) that the core's long loops poll.
 *
 * The host's SIGINT handler calls tpp_interrupt_request(); tpp_parse() stops at its next batch of packets when it
 * sees the request (the result then says "interrupted").  The request stays until tpp_interrupt_clear(): the host
 * clears it before each chunk it runs.  All three are async-signal-safe and may be called from any thread.
 */
#ifndef TPP_INTERRUPT_H
#define TPP_INTERRUPT_H

void tpp_interrupt_request(void);
void tpp_interrupt_clear(void);
int tpp_interrupt_requested(void);

#endif
