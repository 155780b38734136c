/* test_dispatch.c: the table that says which scenarios read a line
 * (src/detect/dispatch.c) gives exactly the scenarios, in file order, that
 * read it: listed programs, scenarios that list none, headerless ones for
 * bare lines (all when trusted), none for a header without a program, and
 * never an `input: sanctions` scenario. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "detect/dispatch.h"

#define HEAD(name) "scenario: " name "\nthreshold: 3\nwindow: 90s\nsanction: 1m\n"
#define PATTERN "patterns:\n  - name: p\n    effect: attempt\n    regex: '^x (?<addr>\\S+)$'\n"

static const char sshd[] = HEAD("sshd") "programs: [sshd, sshd-session]\n" PATTERN;
static const char mail[] = HEAD("mail") "programs: [postfix/smtpd, sshd]\n" PATTERN;
static const char any[] = HEAD("any") PATTERN;
static const char web[] = HEAD("web") "headerless: yes\nprograms: [nginx]\n" PATTERN;
static const char recidive[] = HEAD("recidive") "input: sanctions\n";

static struct ruleset *load(const char *const *texts, size_t n)
{
	struct rule_text t[8];
	for (size_t i = 0; i < n; i++)
		t[i] = (struct rule_text){"t.yaml", texts[i], strlen(texts[i])};
	struct ruleset *rs = NULL;
	struct errors errs = {0};
	if (ruleset_load_texts(t, n, &rs, &errs) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			print_message("%s\n", errs.msgs[i]);
		fail_msg("rules did not load");
	}
	return rs;
}

/* The scenario names of r, space-separated, e.g. "sshd mail". */
static const char *names(const struct ruleset *rs, struct reader_list r)
{
	static char buf[256];
	buf[0] = '\0';
	for (size_t i = 0; i < r.n; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, rs->scenarios[r.index[i]].name);
	}
	return buf;
}

/* The scenarios that read line, asked both ways: after splitting it
 * (dispatch_readers) and while splitting it (dispatch_split_program, the
 * hot path), which must agree. */
static const char *readers_of_line(const struct dispatch *d, const struct ruleset *rs, const char *line,
				   bool trust_bare)
{
	struct log_event ev, walked;
	logline_split_program(line, strlen(line), &ev);
	struct reader_list want = dispatch_readers(d, &ev, trust_bare);
	logline_split_host(line, strlen(line), &walked);
	struct reader_list got = dispatch_split_program(d, &walked, trust_bare);
	assert_int_equal(got.n, want.n);
	for (size_t i = 0; i < want.n; i++)
		assert_int_equal(got.index[i], want.index[i]);
	if (want.n) {
		assert_ptr_equal(walked.prog, ev.prog);
		assert_int_equal(walked.prog_len, ev.prog_len);
		assert_ptr_equal(walked.msg, ev.msg);
	}
	return names(rs, want);
}

static void test_programs_in_file_order(void **state)
{
	(void)state;
	const char *texts[] = {sshd, recidive, mail, web};
	struct ruleset *rs = load(texts, 4);
	struct dispatch *d = dispatch_new(rs);
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h sshd[1]: x", false), "sshd mail");
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h sshd-session[1]: x", false), "sshd");
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h postfix/smtpd[2]: x", false), "mail");
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h nginx: x", false), "web");
	/* Other programs, a prefix or an extension of a listed name: nobody. */
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h kernel: x", false), "");
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h ssh[1]: x", false), "");
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h sshdx[1]: x", false), "");
	/* A time without "prog:": nobody, even scenarios that read any program. */
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 hostonly", false), "");
	dispatch_free(d);
	ruleset_free(rs);
}

static void test_any_program(void **state)
{
	(void)state;
	const char *texts[] = {any, sshd, recidive};
	struct ruleset *rs = load(texts, 3);
	struct dispatch *d = dispatch_new(rs);
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h sshd[1]: x", false), "any sshd");
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h kernel: x", false), "any");
	assert_string_equal(readers_of_line(d, rs, "2026-11-27T10:00:00Z h cron[3]: x", false), "any");
	dispatch_free(d);
	ruleset_free(rs);
}

static void test_bare_lines(void **state)
{
	(void)state;
	const char *texts[] = {sshd, web, recidive, any};
	struct ruleset *rs = load(texts, 4);
	struct dispatch *d = dispatch_new(rs);
	assert_string_equal(readers_of_line(d, rs, "x 192.0.2.1", false), "web");
	assert_string_equal(readers_of_line(d, rs, "x 192.0.2.1", true), "sshd web any");
	dispatch_free(d);
	ruleset_free(rs);
}

static void test_many_names(void **state)
{
	(void)state;
	/* Forty names sharing a prefix: every one found, one more is not. */
	static char text[4096];
	strcpy(text, HEAD("many") "programs: [");
	for (int i = 0; i < 40; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%sprog%d", i ? ", " : "", i);
	strcat(text, "]\n" PATTERN);
	const char *texts[] = {text};
	struct ruleset *rs = load(texts, 1);
	struct dispatch *d = dispatch_new(rs);
	for (int i = 0; i < 40; i++) {
		char name[16];
		snprintf(name, sizeof(name), "prog%d", i);
		assert_int_equal(dispatch_program(d, name, strlen(name)).n, 1);
	}
	assert_int_equal(dispatch_program(d, "prog40", 6).n, 0);
	dispatch_free(d);
	ruleset_free(rs);
}

/* Names of any bytes, given whole (as the journal gives them): a name
 * with a byte that ends a header's program, or a byte above 127, is found;
 * its prefixes and extensions are not. */
static void test_names_of_any_bytes(void **state)
{
	(void)state;
	static char text[1024];
	strcpy(text, HEAD("odd") "programs: ['a b', 'x[y', 'z:', \"\\xe9t\\xe9\", 'sshd']\n" PATTERN);
	const char *texts[] = {text};
	struct ruleset *rs = load(texts, 1);
	struct dispatch *d = dispatch_new(rs);
	const char *found[] = {"a b", "x[y", "z:", "\xc3\xa9t\xc3\xa9", "sshd"};
	for (size_t i = 0; i < sizeof(found) / sizeof(found[0]); i++)
		assert_int_equal(dispatch_program(d, found[i], strlen(found[i])).n, 1);
	const char *not_found[] = {"a", "a b ", "x[", "z", "z::", "\xc3\xa9t", "", "ssh", "sshd-session", "kernel"};
	for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++)
		assert_int_equal(dispatch_program(d, not_found[i], strlen(not_found[i])).n, 0);
	/* In a header the program ends at ' ', '[' or ':': such names are never read there. */
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h a b: x", false), "");
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h x[y]: x", false), "");
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h \xc3\xa9t\xc3\xa9[1]: x", false), "odd");
	dispatch_free(d);
	ruleset_free(rs);
}

/* "q" and the UTF-8 of code point c, in name; its length. */
static size_t q_and(unsigned c, char name[4])
{
	name[0] = 'q';
	if (c < 0x80) {
		name[1] = (char)c;
		return 2;
	}
	name[1] = (char)(0xc0 | c >> 6);
	name[2] = (char)(0x80 | (c & 0x3f));
	return 3;
}

/* Names of every code point below U+0800 (YAML takes UTF-8 only): 221
 * byte values in names, so rows of 256 columns, the widest the table
 * makes but one. */
static void test_many_bytes_in_names(void **state)
{
	(void)state;
	static char text[65536];
	strcpy(text, HEAD("all") "programs: [");
	for (unsigned c = 1; c < 0x800; c++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s\"q\\u%04x\"", c > 1 ? ", " : "", c);
	strcat(text, "]\n" PATTERN);
	const char *texts[] = {text};
	struct ruleset *rs = load(texts, 1);
	struct dispatch *d = dispatch_new(rs);
	for (unsigned c = 1; c < 0x800; c++) {
		char name[4];
		size_t len = q_and(c, name);
		if (dispatch_program(d, name, len).n != 1)
			fail_msg("q and U+%04x not found", c);
		if (dispatch_program(d, name, len - 1).n != 0)
			fail_msg("q and the first byte of U+%04x found", c);
	}
	assert_int_equal(dispatch_program(d, "q\xdf\xc0", 3).n, 0);
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h qA[1]: x", false), "all");
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h q\xc3\xa9[1]: x", false), "all");
	assert_string_equal(readers_of_line(d, rs, "Nov 27 10:00:00 h qAA[1]: x", false), "");
	dispatch_free(d);
	ruleset_free(rs);
}

/* A deterministic pseudo-random source (xorshift64*), so a failure repeats. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* A line made to probe the program name: a time (classic, RFC 3339 or
 * none), a host or not, then pieces of listed names, their prefixes and
 * extensions, bytes that end a name, other bytes, cut anywhere. */
static size_t random_line(uint64_t *seed, char *line, size_t room)
{
	static const char *const times[] = {"Nov 27 10:00:00 ", "2026-11-27T10:00:00.5+01:00 ", "", "Nov 27 10:00:00"};
	static const char *const pieces[] = {"sshd", "sshd-session", "postfix/smtpd", "nginx", "ssh", "sshd-",
					     "post", "kernel", "[", ":", " ", "[1]: ", ": ", "x", "\xe9", "\0",
					     "web1 ", "h ", "d", "-session"};
	size_t n = 0;
	const char *t = times[next_random(seed) % 4];
	memcpy(line, t, strlen(t));
	n = strlen(t);
	size_t parts = next_random(seed) % 6;
	for (size_t i = 0; i < parts; i++) {
		const char *p = pieces[next_random(seed) % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t len = *p ? strlen(p) : 1;
		if (n + len > room)
			break;
		memcpy(line + n, p, len);
		n += len;
	}
	return n - (n ? next_random(seed) % 2 : 0);   /* cut the last byte half the time */
}

static void assert_same_split(const struct log_event *a, const struct log_event *b)
{
	assert_int_equal(a->has_header, b->has_header);
	assert_ptr_equal(a->host, b->host);
	assert_int_equal(a->host_len, b->host_len);
	assert_ptr_equal(a->prog, b->prog);
	assert_int_equal(a->prog_len, b->prog_len);
	assert_ptr_equal(a->msg, b->msg);
	assert_int_equal(a->msg_len, b->msg_len);
	assert_int_equal(a->ts_format, b->ts_format);
}

/* The program name read through the table as the line is split
 * (dispatch_split_program) gives what splitting it first and then asking
 * (logline_split_program, dispatch_readers) gives: the same scenarios,
 * and for a line someone reads the same split; with and without a
 * scenario that reads every program. */
static void test_split_program_as_defined(void **state)
{
	(void)state;
	const char *with_any[] = {sshd, mail, web, any};
	const char *without[] = {sshd, recidive, mail, web};
	const char *const *sets[] = {with_any, without};
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t read_by_some = 0, read_by_none = 0;
	for (size_t set = 0; set < 2; set++) {
		struct ruleset *rs = load(sets[set], 4);
		struct dispatch *d = dispatch_new(rs);
		for (int i = 0; i < 200000; i++) {
			char line[128];
			size_t len = random_line(&seed, line, sizeof(line));
			bool trust_bare = i % 2;
			struct log_event whole, walked;
			logline_split_program(line, len, &whole);
			struct reader_list want = dispatch_readers(d, &whole, trust_bare);
			logline_split_host(line, len, &walked);
			struct reader_list got = dispatch_split_program(d, &walked, trust_bare);
			assert_int_equal(got.n, want.n);
			for (size_t k = 0; k < want.n; k++)
				assert_int_equal(got.index[k], want.index[k]);
			if (want.n) {
				assert_same_split(&walked, &whole);
				read_by_some++;
			} else {
				read_by_none++;
			}
		}
		dispatch_free(d);
		ruleset_free(rs);
	}
	/* Both kinds of line came up often. */
	assert_true(read_by_some > 50000);
	assert_true(read_by_none > 50000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_programs_in_file_order),
		cmocka_unit_test(test_any_program),
		cmocka_unit_test(test_bare_lines),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_names_of_any_bytes),
		cmocka_unit_test(test_many_bytes_in_names),
		cmocka_unit_test(test_split_program_as_defined),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
