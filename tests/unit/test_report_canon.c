/* test_report_canon.c: the hand-written reader and writer of report
 * payloads (src/alliance/report_canon.c) against jansson (report.c's
 * reference decoder).
 * What it proves: the writer gives jansson's bytes for batches full of
 * awkward text (every control byte, quotes, backslashes, DEL, 2-, 3- and
 * 4-byte UTF-8, fields at their bounds); the fast decoder takes every
 * canonical payload and gives jansson's batch; on tens of thousands of
 * payloads one edit away from canonical (a byte deleted, replaced or
 * inserted), the fast decoder never accepts what jansson refuses, and never
 * gives another batch; and each escape or number that only looks canonical
 * is left to jansson, which refuses it for the same reason as before. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "alliance/report.h"
#include "alliance/report_canon.h"

#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Appends code point cp as UTF-8 to s (at *n, keeping room for max). */
static void add_cp(char *s, size_t *n, size_t max, uint32_t cp)
{
	char u[4];
	size_t k;
	if (cp < 0x80)
		u[0] = (char)cp, k = 1;
	else if (cp < 0x800)
		u[0] = (char)(0xc0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3f)), k = 2;
	else if (cp < 0x10000)
		u[0] = (char)(0xe0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
		u[2] = (char)(0x80 | (cp & 0x3f)), k = 3;
	else
		u[0] = (char)(0xf0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), k = 4;
	if (*n + k > max)
		return;
	memcpy(s + *n, u, k);
	*n += k;
}

/* A code point from the awkward ones: controls, quoting, DEL, each
 * UTF-8 length, the edges of the surrogate range and of Unicode. */
static uint32_t awkward_cp(void)
{
	static const uint32_t edges[] = {'"', '\\', '/', 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff,
					 0x10000, 0x1f600, 0x10ffff, 0x2028, 0xe9, '\t', '\n', '\r', '\b', '\f', 0x1f};
	uint32_t k = next() % 8;
	if (k < 3)
		return 0x20 + next() % 0x5f;
	if (k == 3)
		return 1 + next() % 0x1f;
	if (k == 4)
		return edges[next() % (sizeof(edges) / sizeof(*edges))];
	if (k == 5)
		return 0x80 + next() % 0x780;
	if (k == 6) {
		uint32_t cp = 0x800 + next() % 0xf800;
		return cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp;
	}
	return 0x10000 + next() % 0x100000;
}

static size_t line_max = REPORT_MAX_LINE;   /* shorter for the edit test: its cost is per byte */

static void fill_line(char *s)
{
	size_t n = 0, want = next() % 3 == 0 ? line_max : next() % (line_max / 2);
	while (n + 4 <= want)
		add_cp(s, &n, REPORT_MAX_LINE, awkward_cp());
	s[n] = '\0';
}

static void fill_addr(struct addr *a)
{
	char text[64];
	switch (next() % 4) {
	case 0: snprintf(text, sizeof(text), "%u.%u.%u.%u", next() % 256, next() % 256, next() % 256, next() % 256); break;
	case 1: snprintf(text, sizeof(text), "10.%u.0.0/16", next() % 256); break;
	case 2: snprintf(text, sizeof(text), "2001:db8:%x::%x", next() % 65536, next() % 65536); break;
	default: snprintf(text, sizeof(text), "2001:db8:%x::/48", next() % 65536); break;
	}
	assert_int_equal(addr_parse_cidr(text, a), 0);
}

/* A random valid batch of n reports, with fields at their bounds now and then. */
static void fill_batch(struct report_batch *b, size_t n)
{
	static const char *const ids[] = {"acme", "a", "web-1_X", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-"};
	memset(b, 0, sizeof(*b));
	snprintf(b->alliance, sizeof(b->alliance), "%.64s", ids[next() % 4]);
	snprintf(b->member, sizeof(b->member), "%.64s", ids[next() % 4]);
	b->treaty_version = next() % 4 == 0 ? REPORT_MAX_TREATY_VERSION : 1 + next() % 1000;
	b->n = n;
	uint64_t seq = next() % 2 ? 1 : (uint64_t)next() << 20;
	for (size_t i = 0; i < n; i++) {
		struct report *r = &b->items[i];
		seq += 1 + next() % 9;
		r->seq = i == n - 1 && next() % 4 == 0 ? INT64_MAX : seq;
		r->time_us = next() % 8 == 0 ? 0 : 1795737600000000LL + next();
		r->action = next() % 5 == 0 ? REPORT_LIFT : REPORT_SANCTION;
		fill_addr(&r->addr);
		snprintf(r->scenario, sizeof(r->scenario), "%s", next() % 2 ? "sshd" : "web.probe-2_x");
		r->duration_s = r->action == REPORT_LIFT ? 0 : next() % 4 == 0 ? REPORT_MAX_DURATION_S : 1 + next() % 86400;
		r->attempts = next() % 4 == 0 ? UINT32_MAX : next() % 100;
		r->first_seen_us = next() % 8 == 0 ? 0 : 1795737500000000LL + next() % 1000;
		r->last_seen_us = next() % 8 == 0 ? INT64_MAX : r->first_seen_us + next() % 1000;
		r->nlines = next() % (REPORT_MAX_LINES + 1);
		for (size_t j = 0; j < r->nlines; j++)
			fill_line(r->lines[j]);
	}
}

static void assert_same(const struct report_batch *a, const struct report_batch *b)
{
	assert_true(report_batch_same(a, b));
}

static struct signer *key;
static uint8_t msg[REPORT_MAX_MESSAGE];
static char text[REPORT_MAX_MESSAGE];
static struct report_batch in, fast, slow;
static char why[256];

static char dir[64];

/* A key pair in a scratch directory (the signature plays no part here:
 * report_encode just needs one). */
static int setup(void **state)
{
	(void)state;
	char path[128], pub[SIGNER_PUBLIC_TEXT], err[256];
	snprintf(dir, sizeof(dir), "/tmp/pacto-canon.XXXXXX");
	if (!mkdtemp(dir) || signer_init() != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/key", dir);
	if (signer_generate(path, pub, err, sizeof(err)) != 0 || signer_load(path, &key, err, sizeof(err)) != 0)
		return -1;
	unlink(path);
	snprintf(path, sizeof(path), "%s/key.pub", dir);
	unlink(path);
	return rmdir(dir);
}

static int teardown(void **state)
{
	(void)state;
	signer_free(key);
	return 0;
}

/* jansson's canonical payload of b (report_encode, signature stripped). */
static size_t jansson_payload(const struct report_batch *b, char *out)
{
	size_t len;
	char err[256];
	if (report_encode(b, key, msg, sizeof(msg), &len, err, sizeof(err)) != 0)
		fail_msg("report_encode: %s", err);
	memcpy(out, msg + SIGNER_SIGNATURE_BYTES, len - SIGNER_SIGNATURE_BYTES);
	return len - SIGNER_SIGNATURE_BYTES;
}

static void test_writer_is_jansson(void **state)
{
	(void)state;
	static char mine[REPORT_MAX_MESSAGE];
	for (int round = 0; round < 400; round++) {
		fill_batch(&in, 1 + next() % 12);
		size_t n = jansson_payload(&in, text);
		size_t m = report_canon_write(&in, mine, sizeof(mine));
		if (m != n || memcmp(mine, text, n) != 0)
			fprintf(stderr, "round %d:\njansson %.*s\nmine    %.*s\n", round, (int)n, text, (int)m, mine);
		assert_int_equal(m, n);
		assert_memory_equal(mine, text, n);
		/* One byte short: nothing, never a cut payload. */
		assert_int_equal(report_canon_write(&in, mine, n - 1), 0);
	}
}

static void test_fast_reads_canonical(void **state)
{
	(void)state;
	for (int round = 0; round < 400; round++) {
		fill_batch(&in, 1 + next() % REPORT_MAX_ITEMS);
		size_t n = jansson_payload(&in, text);
		assert_true(report_decode_fast((const uint8_t *)text, n, &fast));
		assert_int_equal(report_decode_json((const uint8_t *)text, n, &slow, why, sizeof(why)), REPORT_OK);
		assert_same(&in, &fast);
		assert_same(&slow, &fast);
	}
}

/* The edited payload p[0..n): the fast decoder accepts only what jansson
 * accepts, with the same batch; and takes every payload jansson accepts
 * (else the fast path would be silently lost). Returns 1 if accepted. */
static int differential(const char *p, size_t n)
{
	bool f = report_decode_fast((const uint8_t *)p, n, &fast);
	enum report_error e = report_decode_json((const uint8_t *)p, n, &slow, why, sizeof(why));
	if (f != (e == REPORT_OK))
		fprintf(stderr, "fast %d, jansson %s (%s) on: %.*s\n", f, report_error_name(e), why, (int)n, p);
	assert_int_equal(f, e == REPORT_OK);
	if (f)
		assert_same(&slow, &fast);
	return f;
}

static void test_one_edit_away(void **state)
{
	(void)state;
	static const char repl[] = " 0129\"\\/AaFfuUbn,:{}[]-+.e\x7f\x80\xc3\x01";
	static char edited[REPORT_MAX_MESSAGE + 1];
	size_t tried = 0, accepted = 0;
	line_max = 24;
	for (int round = 0; round < 3; round++) {
		fill_batch(&in, 1 + round % 2);
		size_t n = jansson_payload(&in, text);
		for (size_t i = 0; i < n; i++) {
			memcpy(edited, text, i);   /* byte i deleted */
			memcpy(edited + i, text + i + 1, n - i - 1);
			accepted += differential(edited, n - 1);
			tried++;
			for (size_t k = 0; k < sizeof(repl) - 1; k++) {
				memcpy(edited, text, n);   /* replaced */
				edited[i] = repl[k];
				accepted += differential(edited, n);
				memcpy(edited, text, i);   /* inserted before byte i */
				edited[i] = repl[k];
				memcpy(edited + i + 1, text + i, n - i);
				accepted += differential(edited, n + 1);
				tried += 2;
			}
		}
	}
	fprintf(stderr, "# %zu edited payloads, %zu valid, the fast decoder agreed on all\n", tried, accepted);
	/* Digits replaced by digits are other valid batches: some pass. */
	assert_true(accepted > 0 && accepted < tried / 2);
	line_max = REPORT_MAX_LINE;
}

/* Looks canonical to a quick eye, is not: the fast decoder leaves it to
 * jansson, which refuses it with its own reason. */
static void test_near_misses(void **state)
{
	(void)state;
	static const struct { const char *from, *to; enum report_error want; } cases[] = {
		{"\"sshd\"", "\"\\u0073shd\"", REPORT_NOT_CANONICAL},              /* a letter escaped */
		{"\"l\\u00E9\"", "\"l\\u00e9\"", REPORT_NOT_CANONICAL},            /* lower-case hex */
		{"\"l\\u00E9\"", "\"l\xc3\xa9\"", REPORT_NOT_CANONICAL},           /* raw UTF-8 */
		{"\"a/b\"", "\"a\\/b\"", REPORT_NOT_CANONICAL},                    /* an escaped slash */
		{"\"t\\tb\"", "\"t\\u0009b\"", REPORT_NOT_CANONICAL},              /* \u form of a short escape */
		{"\"\\uD83D\\uDE00\"", "\"\\uD83D\"", REPORT_MALFORMED},          /* a lone surrogate */
		{"\"\\uD83D\\uDE00\"", "\"\\uDE00\\uD83D\"", REPORT_MALFORMED},   /* pair reversed */
		{"\"attempts\":5", "\"attempts\":05", REPORT_MALFORMED},           /* a leading zero */
		{"\"attempts\":5", "\"attempts\":-0", REPORT_NOT_CANONICAL},   /* jansson reads 0 */
		{"\"attempts\":5", "\"attempts\":5e0", REPORT_MALFORMED},
		{"\"v\":1", "\"v\":2", REPORT_BAD_VERSION},
		{"\"v\":1}", "\"v\":1} ", REPORT_NOT_CANONICAL},
		{"\"treaty\":7", "\"treaty\":9007199254740993", REPORT_MALFORMED}, /* past 2^53 */
		{"\"seq\":100", "\"seq\":9223372036854775808", REPORT_MALFORMED},  /* past INT64_MAX */
	};
	static const char base[] =
		"{\"alliance\":\"acme\",\"member\":\"web1\",\"reports\":[{\"action\":\"sanction\",\"address\":"
		"\"203.0.113.0\",\"duration_s\":600,\"evidence\":{\"attempts\":5,\"first_seen\":1795737500000000,"
		"\"last_seen\":1795737599000000,\"lines\":[\"l\\u00E9\",\"a/b\",\"t\\tb\",\"\\uD83D\\uDE00\"]},"
		"\"scenario\":\"sshd\",\"seq\":100,\"time\":1795737600000000}],\"treaty\":7,\"v\":1}";
	assert_true(report_decode_fast((const uint8_t *)base, strlen(base), &fast));
	assert_string_equal(fast.items[0].lines[0], "l\xc3\xa9");
	assert_string_equal(fast.items[0].lines[3], "\xf0\x9f\x98\x80");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *at = strstr(base, cases[i].from);
		assert_non_null(at);
		int n = snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - base), base, cases[i].to,
				 at + strlen(cases[i].from));
		assert_false(report_decode_fast((const uint8_t *)text, (size_t)n, &fast));
		enum report_error e = report_decode_json((const uint8_t *)text, (size_t)n, &slow, why, sizeof(why));
		if (e != cases[i].want)
			fprintf(stderr, "case %zu: %s (%s)\n", i, report_error_name(e), why);
		assert_int_equal(e, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_is_jansson),
		cmocka_unit_test(test_fast_reads_canonical),
		cmocka_unit_test(test_one_edit_away),
		cmocka_unit_test(test_near_misses),
	};
	return cmocka_run_group_tests_name("report_canon", tests, setup, teardown);
}
