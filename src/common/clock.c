/* clock.c: the clocks pacto reads, and a bounded wait (see clock.h). */
#include "common/clock.h"

#include <time.h>

int64_t clock_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int64_t clock_realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int64_t clock_boottime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int64_t clock_steady_us(struct clock_steady *c, int64_t wall_us, int64_t boot_us)
{
	if (c->set) {
		int64_t allowed = c->wall_us + (boot_us - c->boot_us);
		if (wall_us - allowed > CLOCK_STEADY_SLACK_US)
			return allowed;   /* the wall clock ran ahead: not followed */
	}
	*c = (struct clock_steady){.set = true, .wall_us = wall_us, .boot_us = boot_us};
	return wall_us;
}

void clock_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	long long ns = until.tv_nsec + (long long)ms * 1000000LL;
	until.tv_sec += (time_t)(ns / 1000000000LL);
	until.tv_nsec = (long)(ns % 1000000000LL);
	pthread_cond_timedwait(cv, mu, &until);
}
