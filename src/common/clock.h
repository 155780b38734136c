/* clock.h: the clocks pacto reads, and a bounded wait on a condition.
 * Why: several threads (the ledger's syncer and counter) and the control
 * protocol each wrote the same timespec arithmetic. */
#ifndef PACTO_CLOCK_H
#define PACTO_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and durations. */
int64_t clock_monotonic_ms(void);

/* Microseconds of CLOCK_MONOTONIC: for short durations (timings logged). */
int64_t clock_monotonic_us(void);

/* Microseconds since the epoch (CLOCK_REALTIME): for times stored or shown. */
int64_t clock_realtime_us(void);

/* Microseconds of CLOCK_BOOTTIME: never set, counts a suspend. */
int64_t clock_boottime_us(void);

/* A wall-clock time for deciding what may be deleted (the ledger's
 * retention): it follows CLOCK_REALTIME back at once, but forward only as
 * fast as CLOCK_BOOTTIME runs (within CLOCK_STEADY_SLACK_US, so a clock
 * that NTP slews never lags). Why: a clock set a year ahead by mistake,
 * then put right, would have deleted a year of evidence and escalation
 * history in the hour between. A clock set ahead on purpose makes the
 * retention lag by the jump until pactod restarts: it keeps rows longer,
 * never shorter. */
struct clock_steady {
	bool set;
	int64_t wall_us, boot_us;   /* the last reading both clocks agreed on */
};
#define CLOCK_STEADY_SLACK_US (60 * 1000000LL)

/* The time to judge by, given both clocks read now; the first call takes
 * wall_us as it is. */
int64_t clock_steady_us(struct clock_steady *c, int64_t wall_us, int64_t boot_us);

/* pthread_cond_timedwait() for at most ms on a condition with the default
 * (CLOCK_REALTIME) clock; mu is held. */
void clock_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms);

#endif
