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

static const char *readers_of_line(const struct dispatch *d, const struct ruleset *rs, const char *line,
				   bool trust_bare)
{
	struct log_event ev;
	logline_split_program(line, strlen(line), &ev);
	return names(rs, dispatch_readers(d, &ev, trust_bare));
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
	/* More names than the first table size: every one still found. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_programs_in_file_order),
		cmocka_unit_test(test_any_program),
		cmocka_unit_test(test_bare_lines),
		cmocka_unit_test(test_many_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
