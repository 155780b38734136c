/* clock.h: the clocks pacto reads, and a bounded wait on a condition.
 * Why: several threads (the ledger's syncer and counter) and the control
 * protocol each wrote the same timespec arithmetic. */
#ifndef PACTO_CLOCK_H
#define PACTO_CLOCK_H

#include <pthread.h>
#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and durations. */
int64_t clock_monotonic_ms(void);

/* Microseconds of CLOCK_MONOTONIC: for short durations (timings logged). */
int64_t clock_monotonic_us(void);

/* Microseconds since the epoch (CLOCK_REALTIME): for times stored or shown. */
int64_t clock_realtime_us(void);

/* pthread_cond_timedwait() for at most ms on a condition with the default
 * (CLOCK_REALTIME) clock; mu is held. */
void clock_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms);

#endif
