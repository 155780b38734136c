/* test_f2b.c: fail2ban filters as pacto rules (src/import/): the INI
 * reading, interpolation and tag substitution fail2ban does; each regex
 * construct's translation, proved by matching real lines through pacto's
 * matcher; and the refusals, each naming file, line and construct. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "detect/match.h"
#include "import/f2b.h"
#include "import/f2b_conf.h"

static char dir[] = "/tmp/pacto-f2b.XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *convert(const char *name, const char *const *set, size_t nset, struct errors *errs)
{
	char path[256];
	struct errors warns = {0};
	struct f2b_options o = {.set = set, .nset = nset};
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *yaml = f2b_convert(path, &o, &warns, errs);
	errors_clear(&warns);
	return yaml;
}

/* Runs rule text's first scenario over msg; returns the match result. */
static enum match_result run(const char *yaml, const char *msg, struct match *m, char *addr)
{
	struct rule_text t = {"t.yaml", yaml, strlen(yaml)};
	struct ruleset *rs = NULL;
	struct errors errs = {0};
	assert_int_equal(ruleset_load_texts(&t, 1, &rs, &errs), 0);
	struct matcher *mt = matcher_new(&rs->scenarios[0]);
	enum match_result r = matcher_run(mt, msg, strlen(msg), m);
	if (r == MATCH_OK && m->has_addr)
		addr_format(&m->addr, addr, ADDR_STRLEN);
	m->pattern = NULL;
	matcher_free(mt);
	ruleset_free(rs);
	return r;
}

static void test_conf_reads_like_fail2ban(void **state)
{
	(void)state;
	write_file("common.conf", "[DEFAULT]\n_daemon = \\S*\n__pref = (?:<_daemon>: )?\n"
				  "[lt_file]\nx = FILE\n[lt_journal]\nx = JOURNAL\n");
	write_file("f.conf", "[INCLUDES]\nbefore = common.conf\n[DEFAULT]\n_daemon = food\n"
			     "[Definition]\nlogtype = file\nk = <lt_<logtype>/x> %(__pref)s  ; comment\n"
			     "multi = a\n  # a comment line inside\n  b;c\n");
	struct errors errs = {0};
	struct f2b_conf *c = f2b_conf_read("/nonexistent", NULL, 0, &errs);
	assert_null(c);
	assert_true(errs.n > 0);
	errors_clear(&errs);
	char path[256];
	snprintf(path, sizeof(path), "%s/f.conf", dir);
	const char *over[] = {"logtype=journal"};
	c = f2b_conf_read(path, over, 1, &errs);
	assert_non_null(c);
	unsigned line;
	char *v = f2b_conf_get(c, "k", &line, &errs);
	assert_string_equal(v, "JOURNAL (?:food: )?");   /* nested tag, override, inline comment */
	assert_int_equal(line, 7);
	free(v);
	v = f2b_conf_get(c, "multi", &line, &errs);
	assert_string_equal(v, "a\nb;c");                 /* ';' without a space before it is text */
	free(v);
	assert_int_equal(errs.n, 0);
	f2b_conf_free(c);
}

static void test_regex_constructs_match(void **state)
{
	(void)state;
	write_file("r.conf", "[Definition]\n"
			     "failregex = ^bad login for <F-USER>\\S+</F-USER> from <HOST>(?: again (?P=user))?\\Z\n"
			     "            ^<F-NOFAIL>probe</F-NOFAIL> from <ADDR>\n"
			     "            ^x{,2}y from \\[<HOST>\\]:\\d+$\n"
			     "            ^ dated <HOST>$\n"
			     "ignoreregex = from 192\\.0\\.2\\.9\n");
	struct errors errs = {0};
	char *yaml = convert("r.conf", NULL, 0, &errs);
	assert_non_null(yaml);
	struct match m;
	char addr[ADDR_STRLEN] = "";
	assert_int_equal(run(yaml, "bad login for bob from 198.51.100.7 again bob", &m, addr), MATCH_OK);
	assert_string_equal(addr, "198.51.100.7");
	assert_false(m.nofail);
	assert_int_equal(run(yaml, "bad login for bob from ::ffff:198.51.100.8", &m, addr), MATCH_OK);
	assert_string_equal(addr, "198.51.100.8");
	assert_int_equal(run(yaml, "bad login for bob from 2001:db8::1", &m, addr), MATCH_OK);
	assert_string_equal(addr, "2001:db8::1");
	assert_int_equal(run(yaml, "bad login for bob from example.com", &m, addr), MATCH_NONE);
	assert_int_equal(run(yaml, "probe from 198.51.100.9", &m, addr), MATCH_OK);
	assert_true(m.nofail);                               /* recognised, counts nothing */
	assert_int_equal(run(yaml, "y from [2001:db8::2]:22", &m, addr), MATCH_OK);   /* {,2} is {0,2} */
	assert_string_equal(addr, "2001:db8::2");
	assert_int_equal(run(yaml, "bad login for bob from 192.0.2.9", &m, addr), MATCH_OK);
	assert_false(m.has_addr);                            /* the ignoreregex comes first */
	/* The date fail2ban would have cut is matched in place; fail2ban keeps
	 * the space after it (its filters expect "^ "). */
	assert_int_equal(run(yaml, "2024-01-02 03:04:05 dated 198.51.100.10", &m, addr), MATCH_OK);
	assert_string_equal(addr, "198.51.100.10");
	assert_int_equal(run(yaml, "Jan  2 03:04:05 dated 198.51.100.11", &m, addr), MATCH_OK);
	assert_string_equal(addr, "198.51.100.11");
	assert_int_equal(run(yaml, "2024-01-02 03:04:05 bad login for eve from 198.51.100.10", &m, addr), MATCH_NONE);
	free(yaml);
}

static void test_prefregex_and_two_addresses(void **state)
{
	(void)state;
	write_file("p.conf", "[Definition]\nprefregex = ^<F-MLFID>\\S+: </F-MLFID><F-CONTENT>.+</F-CONTENT>$\n"
			     "failregex = ^denied (?:v6 <IP6>|v4 <IP4>)$\n");
	struct errors errs = {0};
	char *yaml = convert("p.conf", NULL, 0, &errs);
	assert_non_null(yaml);
	struct match m;
	char addr[ADDR_STRLEN] = "";
	assert_int_equal(run(yaml, "svc: denied v4 198.51.100.1", &m, addr), MATCH_OK);
	assert_string_equal(addr, "198.51.100.1");
	assert_int_equal(run(yaml, "svc: denied v6 2001:db8::5", &m, addr), MATCH_OK);
	assert_string_equal(addr, "2001:db8::5");
	assert_int_equal(run(yaml, "denied v4 198.51.100.1", &m, addr), MATCH_NONE);   /* prefix required */
	free(yaml);
}

static void assert_refused(const char *text, const char *frag)
{
	write_file("bad.conf", text);
	struct errors errs = {0};
	char *yaml = convert("bad.conf", NULL, 0, &errs);
	assert_null(yaml);
	bool found = false;
	for (size_t i = 0; i < errs.n; i++)
		found |= strstr(errs.msgs[i], frag) != NULL;
	if (!found)
		for (size_t i = 0; i < errs.n; i++)
			print_error("got: %s\n", errs.msgs[i]);
	assert_true(found);
	errors_clear(&errs);
}

static void test_refusals_name_file_line_construct(void **state)
{
	(void)state;
	assert_refused("[Definition]\nfailregex = ^x <DNS>$\n", "bad.conf:2: failregex #1: <DNS>");
	assert_refused("[Definition]\nfailregex = ^a <HOST>\n  ^b<SKIPLINES>c <HOST>\n",
		       "bad.conf:2: failregex #2: <SKIPLINES>");
	assert_refused("[Definition]\nfailregex = ^user <F-USER>\\S+</F-USER>$\n", "failregex #1: no <HOST>");
	assert_refused("[Definition]\nfailregex = ^x <HOST>\nmaxlines = 3\n", "bad.conf:3: maxlines = 3");
	assert_refused("[Definition]\nfailregex = ^x %(nowhere)s <HOST>\n", "'nowhere' is used but never set");
	assert_refused("[Definition]\nfailregex = ^x <HOST>\ndatepattern = %%Q\n", "datepattern '%Q'");
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_reads_like_fail2ban),
		cmocka_unit_test(test_regex_constructs_match),
		cmocka_unit_test(test_prefregex_and_two_addresses),
		cmocka_unit_test(test_refusals_name_file_line_construct),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
