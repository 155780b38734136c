/* test_tables.c: the bounded LRU table and the sliding-window counters:
 * bounds, eviction order, deletion under churn, and window edges; and the
 * copies that replay's scanning threads hash and key from (lru_hasher,
 * policy_keying), against the tables and policy they copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/addr.h"
#include "detect/counters.h"
#include "detect/lru.h"
#include "detect/sanction.h"

#define SEC 1000000LL

static int evicted_key = -1;

static void on_evict(void *arg, const void *key, void *value)
{
	(void)arg;
	(void)value;
	memcpy(&evicted_key, key, sizeof(int));
}

static void test_lru_bound_and_order(void **state)
{
	(void)state;
	struct lru *t = lru_new(3, sizeof(int), sizeof(int), 42, on_evict, NULL);
	for (int k = 1; k <= 3; k++)
		*(int *)lru_get(t, &k, true, NULL) = k * 10;
	int one = 1;
	assert_non_null(lru_get(t, &one, false, NULL));   /* 1 is now the most recent */
	int four = 4;
	bool created;
	*(int *)lru_get(t, &four, true, &created) = 40;
	assert_true(created);
	assert_int_equal(evicted_key, 2);                 /* the least recently used */
	assert_int_equal(lru_count(t), 3);
	assert_int_equal(lru_evictions(t), 1);
	int two = 2;
	assert_null(lru_get(t, &two, false, NULL));
	assert_int_equal(*(int *)lru_get(t, &one, false, NULL), 10);
	lru_free(t);
}

/* Every key the model holds is in t with its value, and no other. */
static void assert_model(struct lru *t, const int *model, int keys)
{
	size_t held = 0;
	for (int k = 0; k < keys; k++) {
		int *v = lru_get(t, &k, false, NULL);
		if (model[k]) {
			assert_non_null(v);
			assert_int_equal(*v, model[k]);
			held++;
		} else {
			assert_null(v);
		}
	}
	assert_int_equal(lru_count(t), held);
}

/* Random inserts and removes against a plain array model, checked as the
 * table grows (1,024 entries at first, then 2,048, then its capacity)
 * with removals in between, and at the end. */
static void test_lru_churn(void **state)
{
	(void)state;
	enum { KEYS = 3000, CAP = 3500 };
	static int model[KEYS];
	memset(model, 0, sizeof(model));
	struct lru *t = lru_new(CAP, sizeof(int), sizeof(int), 7, NULL, NULL);
	srand(1);
	for (int step = 0; step < 300000; step++) {
		int k = rand() % KEYS;
		if (rand() % 3 == 0) {
			lru_remove(t, &k);
			model[k] = 0;
		} else {
			*(int *)lru_get(t, &k, true, NULL) = step + 1;
			model[k] = step + 1;
		}
		if (step % 997 == 0 && step < 20000)
			assert_model(t, model, KEYS);
	}
	assert_model(t, model, KEYS);
	lru_free(t);
}

static struct addr source(int n)
{
	struct addr a;
	memset(&a, 0, sizeof(a));
	a.family = 2;
	a.prefix = 32;
	memcpy(a.bytes, &n, sizeof(n));
	return a;
}

/* Removing by value (no rehash) leaves the same table as removing by key:
 * every other key still found, the removed ones gone, through growth. */
static void test_lru_remove_value(void **state)
{
	(void)state;
	struct lru *t = lru_new(5000, sizeof(int), sizeof(int), 11, NULL, NULL);
	for (int k = 0; k < 4000; k++)
		*(int *)lru_get(t, &k, true, NULL) = k;
	for (int k = 0; k < 4000; k += 3)
		lru_remove_value(t, lru_get(t, &k, false, NULL));
	for (int k = 0; k < 4000; k++) {
		int *v = lru_get(t, &k, false, NULL);
		if (k % 3 == 0)
			assert_null(v);
		else
			assert_true(v && *v == k);
	}
	assert_int_equal(lru_count(t), 4000 - 1334);
	lru_free(t);
}

/* A hasher copied out of a table hashes as the table does (replay's
 * scanners hash from their copies), and lookups with those hashes find
 * what plain lookups stored; another seed gives other hashes. */
static void test_lru_hasher_copy(void **state)
{
	(void)state;
	struct lru *t = lru_new(100, 18, sizeof(int), 0x1234, NULL, NULL);
	struct lru *other = lru_new(100, 18, sizeof(int), 0x1235, NULL, NULL);
	struct lru_hasher h = lru_hasher(t), ho = lru_hasher(other);
	unsigned char key[18];
	int differ = 0;
	for (int k = 0; k < 64; k++) {
		memset(key, 0, sizeof(key));
		memcpy(key + (size_t)k % 10, &k, sizeof(k));
		*(int *)lru_get(t, key, true, NULL) = k;
		uint32_t hash = lru_hasher_hash(&h, key);
		assert_true(hash == lru_hash(t, key));
		int *v = lru_get_hashed(t, key, hash, false, NULL);
		assert_true(v && *v == k);
		differ += lru_hasher_hash(&ho, key) != hash;
	}
	assert_true(differ > 60);
	lru_free(t);
	lru_free(other);
}

/* A copied keying keys every source as its policy does, the /64 narrowed
 * to the source when it would cover an allowlisted address (the
 * configured one, or loopback), and keeps working once the policy is gone. */
static void test_policy_keying_copy(void **state)
{
	(void)state;
	struct addr allow;
	assert_int_equal(addr_parse_cidr("2001:db8:0:7::5/128", &allow), 0);
	struct policy_config cfg = {.allowlist = &allow, .nallowlist = 1, .ipv6_prefix = 64,
				    .max_offenders = 100, .seed = 7};
	struct policy *p = policy_new(&cfg);
	struct policy_keying k = policy_keying_copy(p);
	static const struct {
		const char *source, *key;
	} cases[] = {
	    {"2001:db8:0:7::9", "2001:db8:0:7::9"},    /* its /64 holds the allowlisted ::5 */
	    {"2001:db8:0:8::9", "2001:db8:0:8::/64"},
	    {"::2", "::2"},                            /* ::/64 holds loopback */
	    {"198.51.100.7", "198.51.100.7"},
	};
	struct addr keys[4];
	for (size_t i = 0; i < 4; i++) {
		struct addr a;
		char text[ADDR_STRLEN];
		assert_int_equal(addr_parse(cases[i].source, strlen(cases[i].source), &a), 0);
		struct addr want = policy_key(p, &a);
		keys[i] = policy_keying_key(&k, &a);
		assert_true(addr_equal(&keys[i], &want));
		assert_string_equal(addr_format(&keys[i], text, sizeof(text)), cases[i].key);
	}
	struct lru_hasher h = policy_hasher(p);
	uint32_t hash = lru_hasher_hash(&h, &keys[1]);
	policy_free(p);
	/* The copy owns its allowlist: still right after the policy is freed. */
	struct addr a;
	assert_int_equal(addr_parse("2001:db8:0:7::9", 15, &a), 0);
	struct addr again = policy_keying_key(&k, &a);
	assert_true(addr_equal(&again, &keys[0]));
	assert_true(hash == lru_hasher_hash(&h, &keys[1]));
	policy_keying_free(&k);
}

static void test_window_edges(void **state)
{
	(void)state;
	struct counters *c = counters_new(100, 5, 600 * SEC, 0, 1);
	struct addr a = source(1);
	/* Five failures, the fifth 599 s after the first: reached. */
	for (int i = 0; i < 4; i++)
		assert_false(counters_hit(c, &a, i * 100 * SEC).reached);
	struct window_result r = counters_hit(c, &a, 599 * SEC);
	assert_true(r.reached);
	assert_int_equal(r.in_window, 5);
	assert_int_equal(r.first_us, 0);
	/* Reaching the threshold clears the source. */
	assert_int_equal(counters_count(c), 0);

	/* The fifth exactly 600 s after the first: the first has left the window. */
	struct addr b = source(2);
	for (int i = 0; i < 4; i++)
		assert_false(counters_hit(c, &b, i * 150 * SEC).reached);
	r = counters_hit(c, &b, 600 * SEC);
	assert_false(r.reached);
	assert_int_equal(r.in_window, 4);
	assert_int_equal(r.first_us, 150 * SEC);
	/* One more inside the window of the remaining four: reached. */
	assert_true(counters_hit(c, &b, 601 * SEC).reached);
	counters_free(c);
}

/* Logs replayed newest first: a failure ten days ahead must not complete
 * a window of four failures today. */
static void test_window_ignores_far_future(void **state)
{
	(void)state;
	struct counters *c = counters_new(100, 5, 600 * SEC, 0, 1);
	struct addr a = source(7);
	assert_false(counters_hit(c, &a, 10 * 86400 * SEC).reached);
	for (int i = 0; i < 3; i++)
		assert_false(counters_hit(c, &a, i * SEC).reached);
	struct window_result r = counters_hit(c, &a, 3 * SEC);
	assert_false(r.reached);
	assert_int_equal(r.in_window, 4);
	assert_int_equal(r.first_us, 0);
	/* Slightly out of order (rsyslog from several processes) still counts. */
	struct addr b = source(8);
	long order[] = {10, 8, 9, 12, 11};
	for (int i = 0; i < 4; i++)
		assert_false(counters_hit(c, &b, order[i] * SEC).reached);
	r = counters_hit(c, &b, order[4] * SEC);
	assert_true(r.reached);
	assert_int_equal(r.first_us, 8 * SEC);
	counters_free(c);
}

/* While times keep in order, sources whose newest failure lies more than
 * window + late behind the latest are forgotten; one a little less stale
 * is kept, even when its oldest failure is past that, and a failure up to
 * `late` behind the latest still finds every time in its window. */
static void test_counters_forget_stale(void **state)
{
	(void)state;
	struct counters *c = counters_new(1000, 5, 600 * SEC, 600 * SEC, 1);
	for (int i = 1; i <= 100; i++) {
		struct addr a = source(i);
		counters_hit(c, &a, i * SEC);
	}
	struct addr kept = source(500), straddle = source(501), latest = source(900);
	for (int i = 0; i < 4; i++)
		counters_hit(c, &kept, (1000 + i) * SEC);
	assert_int_equal(counters_count(c), 101);
	/* Time moves on in steps of at most `late`, to 2199 s: the first
	 * hundred lie more than 1200 s behind, kept (1003) does not. */
	for (int t = 1300; t <= 2199; t += 300)
		counters_hit(c, &latest, t * SEC);
	counters_hit(c, &latest, 2199 * SEC);
	assert_int_equal(counters_count(c), 2);
	/* 1599 s is 600 s behind the latest, within 600 s of kept's four. */
	struct window_result r = counters_hit(c, &kept, 1599 * SEC);
	assert_true(r.reached);
	assert_int_equal(r.first_us, 1000 * SEC);

	/* A source whose oldest failure is past the line and newest is not
	 * stays: at 3799 s, straddle's 2300 lies 1499 s behind, its 2600 s
	 * 1199 s; a failure at 3199 s is within 600 s of the 2600. */
	counters_hit(c, &straddle, 2300 * SEC);
	counters_hit(c, &straddle, 2600 * SEC);
	for (int t = 2900; t <= 3500; t += 300)
		counters_hit(c, &latest, t * SEC);
	counters_hit(c, &latest, 3799 * SEC);
	r = counters_hit(c, &straddle, 3199 * SEC);
	assert_int_equal(r.in_window, 2);
	assert_int_equal(r.first_us, 2600 * SEC);
	counters_free(c);
}

/* The limit forgetting sets, and what turns it off: a failure more than
 * `late` behind the latest may find its source forgotten (it counts
 * alone), and from then on nothing more is forgotten. */
static void test_counters_forget_limit(void **state)
{
	(void)state;
	struct counters *c = counters_new(1000, 5, 600 * SEC, 600 * SEC, 1);
	struct addr late = source(600), latest = source(900);
	for (int i = 0; i < 4; i++)
		counters_hit(c, &late, (3000 + i) * SEC);
	for (int t = 3300; t <= 4205; t += 300)
		counters_hit(c, &latest, t * SEC);
	counters_hit(c, &latest, 4205 * SEC);
	assert_int_equal(counters_count(c), 1);
	struct window_result r = counters_hit(c, &late, 3599 * SEC);   /* 606 s behind */
	assert_false(r.reached);
	assert_int_equal(r.in_window, 1);
	/* Out of order: nothing is forgotten any more, however far time goes. */
	for (int i = 0; i < 50; i++) {
		struct addr a = source(1000 + i);
		counters_hit(c, &a, 5000 * SEC);
	}
	for (int t = 5300; t <= 9000; t += 300)
		counters_hit(c, &latest, t * SEC);
	assert_int_equal(counters_count(c), 52);
	counters_free(c);
}

/* One line dated a year ahead ages nobody: the next failure does not
 * confirm its time, so no source is forgotten (and forgetting stops). A
 * quiet hour in an ordered log is different: the next failure confirms
 * the jump, and what lies behind is forgotten. */
static void test_counters_far_ahead(void **state)
{
	(void)state;
	struct counters *c = counters_new(1000, 5, 600 * SEC, 600 * SEC, 1);
	for (int s = 0; s < 10; s++)
		for (int i = 0; i < 4; i++) {
			struct addr a = source(s);
			counters_hit(c, &a, (100 + i) * SEC);
		}
	struct addr misdated = source(99);
	counters_hit(c, &misdated, (100 + 365 * 86400LL) * SEC);
	for (int s = 0; s < 10; s++) {
		struct addr a = source(s);
		assert_true(counters_hit(c, &a, 110 * SEC).reached);
	}
	counters_free(c);

	c = counters_new(1000, 5, 600 * SEC, 600 * SEC, 1);
	for (int s = 0; s < 10; s++) {
		struct addr a = source(s);
		counters_hit(c, &a, (1 + s) * SEC);
	}
	struct addr after = source(50);
	counters_hit(c, &after, 3600 * SEC);
	assert_int_equal(counters_count(c), 11);     /* not yet confirmed */
	counters_hit(c, &after, 3601 * SEC);
	assert_int_equal(counters_count(c), 1);
	counters_free(c);
}

/* A plain model of one source's window: the times of its last
 * `threshold` failures, each within a window of the newest hit. */
struct model_source {
	int64_t times[5];
	unsigned n;
};

static struct window_result model_hit(struct model_source *m, int64_t now, unsigned threshold, int64_t window)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < m->n; i++)
		if (now - m->times[i] < window && m->times[i] - now < window)
			m->times[kept++] = m->times[i];
	m->n = kept;
	if (m->n == threshold) {
		memmove(m->times, m->times + 1, (threshold - 1) * sizeof(*m->times));
		m->n--;
	}
	m->times[m->n++] = now;
	struct window_result r = {.in_window = m->n, .first_us = m->times[0], .reached = m->n >= threshold};
	for (unsigned i = 1; i < m->n; i++)
		if (m->times[i] < r.first_us)
			r.first_us = m->times[i];
	if (r.reached)
		m->n = 0;
	return r;
}

/* 200,000 failures of 300 sources, time moving on by up to a minute and
 * each line up to a window out of order: every result equals the plain
 * model's (which forgets nothing), while the table holds only the sources
 * of the last two windows. */
static void test_counters_forgetting_changes_no_count(void **state)
{
	(void)state;
	enum { SOURCES = 300, HITS = 200000, THRESHOLD = 5 };
	const int64_t window = 600 * SEC;
	struct counters *c = counters_new(100000, THRESHOLD, window, 0, 5);
	static struct model_source model[SOURCES];
	memset(model, 0, sizeof(model));
	uint64_t rng = 88172645463325252ULL;
	int64_t latest = 1000 * SEC;
	size_t most = 0, reached = 0;
	for (int i = 0; i < HITS; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		latest += (int64_t)(rng % 16 == 0 ? rng % (60 * SEC) : 0);
		int64_t now = rng % 3 == 0 ? latest - (int64_t)((rng >> 20) % window) : latest;
		/* Few sources at a time, changing over the run. */
		int s = (int)((latest / (3600 * SEC) * 37 + (int64_t)((rng >> 40) % 20)) % SOURCES);
		struct addr a = source(s);
		struct window_result got = counters_hit(c, &a, now);
		struct window_result want = model_hit(&model[s], now, THRESHOLD, window);
		if (got.in_window != want.in_window || got.first_us != want.first_us || got.reached != want.reached)
			fail_msg("hit %d (source %d at %lld): %u from %lld%s, the model %u from %lld%s", i, s,
				 (long long)now, got.in_window, (long long)got.first_us, got.reached ? " reached" : "",
				 want.in_window, (long long)want.first_us, want.reached ? " reached" : "");
		if (counters_count(c) > most)
			most = counters_count(c);
		reached += got.reached;
	}
	assert_true(reached > 10000);     /* windows do fill: the comparison means something */
	assert_true(most <= 60);          /* ~20 sources an hour (40 across an hour's turn), not all 300 */
	assert_int_equal(counters_evictions(c), 0);
	counters_free(c);
}

static void test_counters_bounded(void **state)
{
	(void)state;
	struct counters *c = counters_new(1000, 5, 600 * SEC, 0, 3);
	for (int i = 0; i < 100000; i++) {
		struct addr a = source(i);
		counters_hit(c, &a, i);
	}
	assert_int_equal(counters_count(c), 1000);
	assert_int_equal(counters_evictions(c), 99000);
	/* Memory grew to the bound the capacity sets, and stops there. */
	size_t mem = counters_memory(c);
	assert_int_equal(mem, counters_max_memory(c));
	for (int i = 100000; i < 200000; i++) {
		struct addr a = source(i);
		counters_hit(c, &a, i);
	}
	assert_int_equal(counters_memory(c), mem);
	counters_free(c);
	/* A table that saw few sources holds far less than its bound. */
	struct counters *small = counters_new(1000000, 5, 600 * SEC, 0, 3);
	struct addr a = source(1);
	counters_hit(small, &a, 0);
	assert_true(counters_memory(small) * 100 < counters_max_memory(small));
	counters_free(small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lru_bound_and_order), cmocka_unit_test(test_lru_churn),
		cmocka_unit_test(test_lru_remove_value), cmocka_unit_test(test_lru_hasher_copy),
		cmocka_unit_test(test_policy_keying_copy),
		cmocka_unit_test(test_window_edges), cmocka_unit_test(test_window_ignores_far_future),
		cmocka_unit_test(test_counters_forget_stale), cmocka_unit_test(test_counters_forget_limit),
		cmocka_unit_test(test_counters_far_ahead), cmocka_unit_test(test_counters_forgetting_changes_no_count),
		cmocka_unit_test(test_counters_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
