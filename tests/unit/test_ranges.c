/* test_ranges.c: the set of sequence numbers as merged ranges (the
 * outbox's acknowledged batches awaiting their ledger commit): adds in
 * order, out of order, overlapping, touching, filling a gap; the ends of
 * the number space; moving the front ranges out and back; and more
 * batches than the fixed array of 1,024 held, none dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/ranges.h"

static void assert_ranges(const struct ranges *s, const uint64_t *want, size_t n)
{
	assert_int_equal(s->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(s->r[i].first, want[2 * i]);
		assert_int_equal(s->r[i].last, want[2 * i + 1]);
	}
}

static void test_merges(void **state)
{
	(void)state;
	struct ranges s = {0};
	ranges_add(&s, 10, 12);
	ranges_add(&s, 13, 15);   /* touches: one range */
	assert_ranges(&s, (uint64_t[]){10, 15}, 1);
	ranges_add(&s, 20, 21);
	ranges_add(&s, 1, 3);     /* before all */
	assert_ranges(&s, (uint64_t[]){1, 3, 10, 15, 20, 21}, 3);
	ranges_add(&s, 17, 17);   /* between, touching neither */
	assert_ranges(&s, (uint64_t[]){1, 3, 10, 15, 17, 17, 20, 21}, 4);
	ranges_add(&s, 16, 19);   /* fills the gaps on both sides */
	assert_ranges(&s, (uint64_t[]){1, 3, 10, 21}, 2);
	ranges_add(&s, 2, 30);    /* overlaps everything but the start */
	assert_ranges(&s, (uint64_t[]){1, 30}, 1);
	ranges_add(&s, 5, 6);     /* inside */
	assert_ranges(&s, (uint64_t[]){1, 30}, 1);
	assert_int_equal(ranges_count(&s), 30);
	ranges_free(&s);
	assert_int_equal(s.n, 0);
}

static void test_ends_of_the_space(void **state)
{
	(void)state;
	struct ranges s = {0};
	ranges_add(&s, 0, 0);
	ranges_add(&s, 1, 1);
	ranges_add(&s, UINT64_MAX, UINT64_MAX);
	ranges_add(&s, UINT64_MAX - 1, UINT64_MAX - 1);
	assert_ranges(&s, (uint64_t[]){0, 1, UINT64_MAX - 1, UINT64_MAX}, 2);
	ranges_add(&s, 2, UINT64_MAX - 2);
	assert_ranges(&s, (uint64_t[]){0, UINT64_MAX}, 1);
	assert_int_equal(ranges_count(&s), UINT64_MAX);
	ranges_free(&s);
}

/* The outbox's way: batches acknowledged while every round is rolled
 * back, far more than the 1,024 a fixed array kept (it dropped the
 * oldest): each round writes them all (moved to the written set) and is
 * rolled back (moved back); at last one commits, and every number of
 * every batch was there to be marked. Batches with gaps between them
 * (failed publishes) stay apart; adjacent ones merge. */
static void test_many_rounds_none_dropped(void **state)
{
	(void)state;
	struct ranges due = {0}, written = {0};
	uint64_t seq = 1, want = 0;
	for (int round = 0; round < 3000; round++) {
		ranges_add(&due, seq, seq + 31);   /* a batch of 32 */
		want += 32;
		seq += round % 2 ? 33 : 32;        /* a gap after every other one */
		ranges_take_front(&written, &due, due.n);
		assert_int_equal(due.n, 0);
		ranges_take_front(&due, &written, written.n);   /* rolled back */
		assert_int_equal(written.n, 0);
	}
	assert_int_equal(ranges_count(&due), want);
	assert_int_equal(due.n, 1500);
	assert_int_equal(due.r[0].first, 1);
	/* Written in part (a failed write), then rolled back: all still due. */
	ranges_take_front(&written, &due, 700);
	ranges_take_front(&due, &written, written.n);
	assert_int_equal(ranges_count(&due), want);
	ranges_free(&due);
	ranges_free(&written);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merges),
		cmocka_unit_test(test_ends_of_the_space),
		cmocka_unit_test(test_many_rounds_none_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
