/* test_clock.c: the detector when the clock jumps. Log times (and, live,
 * the wall clock) are what the engine counts windows and sanctions by; a
 * clock stepped back or forward by hours or days must neither add up
 * failures from both sides of the jump, nor sanction anyone who did not
 * reach the threshold within one window of one clock, nor make a sanction
 * last longer than its length plus the size of the jump back. And the
 * time the ledger's retention judges by (clock_steady_us) does not follow
 * a wall clock set ahead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/clock.h"
#include "harness.h"

#define A "203.0.113.66"
#define B "203.0.113.77"
#define SEC 1000000LL
#define HOUR 3600L
#define DAY (24 * HOUR)

static void failure(struct harness *h, long t, int pid, const char *who)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "Failed password for root from %s port %d ssh2", who, 40000 + pid % 1000);
	h_line(h, t, pid, msg);
}

/* Three failures, the clock steps back two hours, two more: five in all,
 * but never five within one window of one clock. */
static void test_back_jump_does_not_add_up(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 0);   /* the stock threshold: 5 within 10 minutes */
	for (int i = 0; i < 3; i++)
		failure(&h, i, 100 + i, A);
	for (int i = 0; i < 2; i++)
		failure(&h, -2 * HOUR + i, 200 + i, A);
	engine_finish(h.e);
	assert_int_equal(h.nsanctions, 0);
	/* After the jump the count starts afresh: five more sanction, at the new time. */
	for (int i = 2; i < 5; i++)
		failure(&h, -2 * HOUR + i, 200 + i, A);
	assert_int_equal(h.nsanctions, 1);
	assert_int_equal(h.sanctions[0].created_us, (T0 - 2 * HOUR + 4) * SEC);
	assert_int_equal(h.sanctions[0].duration_us, 600 * SEC);
	h_stop(&h);
}

/* Failures before a jump forward of a day are forgotten, not counted with
 * the ones after it. */
static void test_forward_jump_forgets(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 0);
	for (int i = 0; i < 4; i++)
		failure(&h, i, 300 + i, B);
	failure(&h, DAY, 310, B);
	engine_finish(h.e);
	assert_int_equal(h.nsanctions, 0);
	for (int i = 1; i < 5; i++)
		failure(&h, DAY + i, 310 + i, B);
	assert_int_equal(h.nsanctions, 1);
	assert_int_equal(h.sanctions[0].created_us, (T0 + DAY + 4) * SEC);
	h_stop(&h);
}

/* A sanction decided before the clock stepped back an hour stays in force
 * (its end is a time, not a countdown), so its failures are not counted
 * again meanwhile; once the clock passes its end, they count again. */
static void test_sanction_across_back_jump(void **state)
{
	(void)state;
	struct harness h;
	struct engine_stats st;
	h_start(&h, 0);
	for (int i = 0; i < 5; i++)
		failure(&h, i, 400 + i, A);
	assert_int_equal(h.nsanctions, 1);
	int64_t until = h.sanctions[0].created_us + h.sanctions[0].duration_us;
	for (int i = 0; i < 5; i++)
		failure(&h, -HOUR + i, 500 + i, A);
	engine_get_stats(h.e, &st);
	assert_int_equal(h.nsanctions, 1);
	assert_true(st.while_sanctioned >= 5);
	/* Past its end on the stepped-back clock: counted, and sanctioned again. */
	long after = (long)(until / SEC - T0) + 1;
	for (int i = 0; i < 5; i++)
		failure(&h, after + i, 600 + i, A);
	assert_int_equal(h.nsanctions, 2);
	assert_true(h.sanctions[1].offence >= 2);   /* a repeat offender still */
	assert_true(h.sanctions[1].duration_us <= 7 * DAY * SEC);
	h_stop(&h);
}

/* A line dated far in the future (a broken clock on the logging side)
 * does not hold the window open for the lines after it. */
static void test_future_line_does_not_stick(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 0);
	failure(&h, 30 * DAY, 700, A);
	for (int i = 0; i < 4; i++)
		failure(&h, i, 701 + i, A);
	engine_finish(h.e);
	assert_int_equal(h.nsanctions, 0);
	failure(&h, 5, 710, A);
	assert_int_equal(h.nsanctions, 1);
	assert_int_equal(h.sanctions[0].created_us, (T0 + 5) * SEC);
	h_stop(&h);
}

/* The wall clock jumps a year ahead between two passes, then is put
 * right: the retention's time goes on at the boot clock's pace meanwhile,
 * follows the wall clock again once it is right, and follows it back at
 * once; NTP's slewing (within the slack) is followed as it is. */
static void test_retention_time_ignores_forward_jump(void **state)
{
	(void)state;
	const int64_t W = 1800000000LL * SEC, B0 = 1000 * SEC, YEAR = 365 * DAY * SEC;
	struct clock_steady c = {0};
	assert_int_equal(clock_steady_us(&c, W, B0), W);
	/* An hour later, both clocks agree. */
	assert_int_equal(clock_steady_us(&c, W + HOUR * SEC, B0 + HOUR * SEC), W + HOUR * SEC);
	/* The wall clock a year ahead, an hour later: judged at two hours. */
	assert_int_equal(clock_steady_us(&c, W + YEAR + 2 * HOUR * SEC, B0 + 2 * HOUR * SEC), W + 2 * HOUR * SEC);
	assert_int_equal(clock_steady_us(&c, W + YEAR + 3 * HOUR * SEC, B0 + 3 * HOUR * SEC), W + 3 * HOUR * SEC);
	/* Put right: followed again. */
	assert_int_equal(clock_steady_us(&c, W + 4 * HOUR * SEC, B0 + 4 * HOUR * SEC), W + 4 * HOUR * SEC);
	/* Set back a day: followed back at once. */
	assert_int_equal(clock_steady_us(&c, W - DAY * SEC, B0 + 5 * HOUR * SEC), W - DAY * SEC);
	/* Slewed 30 s fast over an hour: within the slack, followed. */
	int64_t w = W - DAY * SEC + HOUR * SEC + 30 * SEC;
	assert_int_equal(clock_steady_us(&c, w, B0 + 6 * HOUR * SEC), w);
	/* A suspend: both clocks move a day; followed. */
	assert_int_equal(clock_steady_us(&c, w + DAY * SEC, B0 + 6 * HOUR * SEC + DAY * SEC), w + DAY * SEC);
	/* Two minutes ahead in one step (past the slack): not followed. */
	assert_int_equal(clock_steady_us(&c, w + DAY * SEC + 120 * SEC, B0 + 6 * HOUR * SEC + DAY * SEC),
			 w + DAY * SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_back_jump_does_not_add_up),
		cmocka_unit_test(test_forward_jump_forgets),
		cmocka_unit_test(test_sanction_across_back_jump),
		cmocka_unit_test(test_future_line_does_not_stick),
		cmocka_unit_test(test_retention_time_ignores_forward_jump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
