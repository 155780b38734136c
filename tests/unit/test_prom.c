/* test_prom.c: the Prometheus text format pactod's /metrics is written in:
 * escaping (a hostile label value stays one value on one line), cumulative
 * histogram buckets, and the bounded table of counters by two labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/prom.h"

static void test_family_and_samples(void **state)
{
	(void)state;
	struct prom_buf b = {0};
	prom_family(&b, "pacto_x_total", "counter", "Things\nseen");
	prom_u64(&b, "pacto_x_total", NULL, 0, 42);
	struct prom_label l[2] = {{"scenario", "sshd"}, {"origin", "ally:alpha"}};
	prom_u64(&b, "pacto_x_total", l, 2, 7);
	prom_double(&b, "pacto_g", NULL, 0, 0.25);
	assert_string_equal(b.text, "# HELP pacto_x_total Things\\nseen\n# TYPE pacto_x_total counter\n"
				    "pacto_x_total 42\n"
				    "pacto_x_total{scenario=\"sshd\",origin=\"ally:alpha\"} 7\n"
				    "pacto_g 0.25\n");
	prom_buf_free(&b);
	assert_null(b.text);
}

/* A value with a quote, a backslash and a newline cannot end the label
 * or start a forged sample. */
static void test_label_escaping(void **state)
{
	(void)state;
	struct prom_buf b = {0};
	struct prom_label l = {"scenario", "x\"} 1\npacto_forged 9\\"};
	prom_u64(&b, "pacto_s", &l, 1, 1);
	assert_string_equal(b.text, "pacto_s{scenario=\"x\\\"} 1\\npacto_forged 9\\\\\"} 1\n");
	assert_ptr_equal(strchr(b.text, '\n'), b.text + b.len - 1);   /* one line */
	prom_buf_free(&b);
}

static void test_histogram_cumulative(void **state)
{
	(void)state;
	static const double bounds[] = {0.001, 0.01, 0.1};
	struct prom_histogram h;
	struct prom_buf b = {0};
	prom_histogram_init(&h, bounds, 3);
	prom_histogram_observe(&h, 0.0005);
	prom_histogram_observe(&h, 0.001);   /* le is inclusive */
	prom_histogram_observe(&h, 0.05);
	prom_histogram_observe(&h, 3);
	prom_histogram_write(&b, "pacto_r_seconds", "R", &h);
	assert_non_null(strstr(b.text, "# TYPE pacto_r_seconds histogram\n"));
	assert_non_null(strstr(b.text, "pacto_r_seconds_bucket{le=\"0.001\"} 2\n"
				       "pacto_r_seconds_bucket{le=\"0.01\"} 2\n"
				       "pacto_r_seconds_bucket{le=\"0.1\"} 3\n"
				       "pacto_r_seconds_bucket{le=\"+Inf\"} 4\n"
				       "pacto_r_seconds_sum 3.0515\n"
				       "pacto_r_seconds_count 4\n"));
	prom_buf_free(&b);
}

static void test_pairs_bounded(void **state)
{
	(void)state;
	static struct prom_pairs p;
	char name[32];
	assert_true(prom_pairs_add(&p, "sshd", "local"));
	assert_true(prom_pairs_add(&p, "sshd", "local"));
	assert_true(prom_pairs_add(&p, "sshd", "ally:alpha"));
	for (int i = 0; p.nrows < PROM_PAIRS_MAX; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		assert_true(prom_pairs_add(&p, name, "ally:hostile"));
	}
	assert_false(prom_pairs_add(&p, "one-too-many", "local"));
	assert_true(prom_pairs_add(&p, "sshd", "local"));   /* a known pair still counts */
	assert_int_equal(p.dropped, 1);
	struct prom_buf b = {0};
	prom_pairs_write(&b, "pacto_s_total", "scenario", "origin", &p);
	assert_non_null(strstr(b.text, "pacto_s_total{scenario=\"sshd\",origin=\"local\"} 3\n"));
	assert_non_null(strstr(b.text, "pacto_s_total{scenario=\"sshd\",origin=\"ally:alpha\"} 1\n"));
	assert_null(strstr(b.text, "one-too-many"));
	prom_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_and_samples), cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_histogram_cumulative), cmocka_unit_test(test_pairs_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
