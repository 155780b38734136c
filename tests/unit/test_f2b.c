/* test_f2b.c: fail2ban filters as pacto rules (src/import/): the INI
 * reading, interpolation and tag substitution fail2ban does; each regex
 * construct's translation, proved by matching real lines through pacto's
 * matcher; and the refusals, each naming file, line and construct. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "detect/match.h"
#include "import/f2b.h"
#include "common/strbuf.h"
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

/* Reads name's option "top" and returns the error (or "" when it resolved). */
static char *resolve_error(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	struct errors errs = {0};
	struct f2b_conf *c = f2b_conf_read(path, NULL, 0, &errs);
	assert_non_null(c);
	unsigned line;
	char *v = f2b_conf_get(c, "top", &line, &errs);
	char *msg = strdup(v ? "" : errs.n ? errs.msgs[0] : "no error");
	free(v);
	errors_clear(&errs);
	f2b_conf_free(c);
	return msg;
}

/* Options that each repeat the one before twice grow as 2^n: refused
 * quickly, naming the option read, whether the values grow or stay empty. */
static void test_interpolation_bombs_refused(void **state)
{
	(void)state;
	const char *const forms[][2] = {{"%(a", ")s"}, {"<a", ">"}};
	const char *const seeds[] = {"xxxxxxxx", ""};
	for (size_t f = 0; f < 2; f++)
		for (size_t z = 0; z < 2; z++) {
			struct strbuf b = {0};
			char line[128];
			snprintf(line, sizeof(line), "[Definition]\na0 = %s\n", seeds[z]);
			strbuf_add(&b, line, strlen(line));
			for (int i = 1; i <= 30; i++) {
				snprintf(line, sizeof(line), "a%d = %s%d%s%s%d%s\n", i, forms[f][0], i - 1, forms[f][1],
					 forms[f][0], i - 1, forms[f][1]);
				strbuf_add(&b, line, strlen(line));
			}
			snprintf(line, sizeof(line), "top = ^%s30%s <HOST>$\n", forms[f][0], forms[f][1]);
			strbuf_add(&b, line, strlen(line));
			write_file("bomb.conf", b.s);
			free(b.s);
			char *err = resolve_error("bomb.conf");
			if (!strstr(err, "bomb.conf:33: 'top': "))
				fail_msg("%s", err);
			assert_true(strstr(err, "references") || strstr(err, "grows past"));
			free(err);
		}
	/* Few references, each large: the size bound. */
	struct strbuf b = {0};
	strbuf_add(&b, "[Definition]\nbig = ", strlen("[Definition]\nbig = "));
	for (int i = 0; i < 100000; i++)
		strbuf_add(&b, "x", 1);
	const char *rest = "\ntop = %(big)s%(big)s%(big)s\n";
	strbuf_add(&b, rest, strlen(rest));
	write_file("big.conf", b.s);
	free(b.s);
	char *err = resolve_error("big.conf");
	assert_non_null(strstr(err, "big.conf:3: 'top': its value grows past"));
	free(err);
	/* Below the bounds, the same shape resolves. */
	write_file("ok.conf", "[Definition]\na0 = x\na1 = %(a0)s%(a0)s\na2 = <a1><a1>\ntop = %(a2)s\n");
	err = resolve_error("ok.conf");
	assert_string_equal(err, "");
	free(err);
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
	/* Not UTF-8 (found by fuzz_f2b: the rule written had bytes YAML refuses):
	 * a stray continuation byte, a surrogate, an overlong '/', a cut sequence. */
	assert_refused("[Definition]\nfailregex = ^x <HOST>\nignoreregex = ^A\x9d\xa3" "cepted\n",
		       "bad.conf:3: bytes that are not UTF-8");
	assert_refused("[Definition]\n\nx = \xed\xa0\x80\n", "bad.conf:3: bytes that are not UTF-8");
	assert_refused("[Definition]\nx = \xc0\xaf\n", "bad.conf:2: bytes that are not UTF-8");
	assert_refused("[Definition]\nfailregex = ^x <HOST>\n# \xe2\x82", "bad.conf:3: bytes that are not UTF-8");
	/* UTF-8, but not for a YAML quoted scalar (found by fuzz_f2b): a C1
	 * control, NEL and U+2028 (line breaks to YAML 1.1), U+FFFF. */
	const char *const unprintable[] = {"\xc2\x94", "\xc2\x85", "\xe2\x80\xa8", "\xef\xbf\xbf"};
	for (size_t i = 0; i < sizeof(unprintable) / sizeof(*unprintable); i++) {
		char text[128];
		snprintf(text, sizeof(text), "[Definition]\nfailregex = ^x%s <HOST>$\n", unprintable[i]);
		assert_refused(text, "bad.conf:2: failregex #1: a control character or line separator in the regex");
	}
}

/* UTF-8 text converts; a NUL byte (which would end the text early) does not. */
static void test_text_must_be_utf8(void **state)
{
	(void)state;
	write_file("utf.conf", "[Definition]\nfailregex = ^caf\xc3\xa9 \xf0\x9f\x94\x91 from <HOST>$\n");
	struct errors errs = {0};
	char *yaml = convert("utf.conf", NULL, 0, &errs);
	assert_non_null(yaml);
	assert_non_null(strstr(yaml, "caf\xc3\xa9 \xf0\x9f\x94\x91"));
	free(yaml);
	char path[256];
	snprintf(path, sizeof(path), "%s/nul.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	static const char text[] = "[Definition]\nfailregex = ^x <HOST>\nignoreregex = ^a\0b\n";
	fwrite(text, 1, sizeof(text) - 1, f);
	fclose(f);
	yaml = convert("nul.conf", NULL, 0, &errs);
	assert_null(yaml);
	assert_true(errs.n == 1 && strstr(errs.msgs[0], "nul.conf:3: a NUL byte"));
	errors_clear(&errs);
}

/* The top-level keys of a rule's text, in order, one a line ("" when none):
 * each line that is neither a comment nor indented. */
static void top_keys(const char *yaml, char *out, size_t n)
{
	out[0] = '\0';
	for (const char *l = yaml; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		if (*l == '#' || *l == ' ' || *l == '\n')
			continue;
		size_t k = strcspn(l, ":\n");
		snprintf(out + strlen(out), n - strlen(out), "%.*s,", (int)k, l);
	}
}

/* Writes a filter at dir/sub/name (sub created) and converts it, with set. */
static char *convert_at(const char *sub, const char *name, const char *const *set, size_t nset,
			struct errors *errs, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "%s/%s", dir, sub);
	assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
	snprintf(path, pathlen, "%s/%s/%s", dir, sub, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("[Definition]\nfailregex = ^Failed from <HOST>$\n", f);
	fclose(f);
	struct errors warns = {0};
	struct f2b_options o = {.set = set, .nset = nset};
	char *yaml = f2b_convert(path, &o, &warns, errs);
	errors_clear(&warns);
	return yaml;
}

/* The converted rule has only the usual top-level keys, and loads. */
static struct ruleset *assert_plain_rule(const char *yaml, struct errors *errs)
{
	char keys[256];
	top_keys(yaml, keys, sizeof(keys));
	assert_string_equal(keys, "scenario,description,threshold,window,sanction,patterns,");
	struct rule_text t = {"t.yaml", yaml, strlen(yaml)};
	struct ruleset *rs = NULL;
	assert_int_equal(ruleset_load_texts(&t, 1, &rs, errs), 0);
	return rs;
}

/* The filter's path is the header comment's, and a user chooses it: a line
 * feed in it (or CR, NEL, U+2028, another control, a byte that is not
 * UTF-8) must not end the comment and add a line of YAML to the rule. Each
 * is written escaped, and so is the backslash, so the comment says which
 * path it was; the rule loads with the keys the converter writes and no
 * other. The same for --set options, each on a `# with` line. A file name
 * (the scenario's name) with a line feed is refused, naming the file; one
 * with ": " or " #" is quoted. */
static void test_path_cannot_leave_comment(void **state)
{
	(void)state;
	char path[512], want[600];
	struct errors errs = {0};
	static const char *const set[] = {"a=1\nheaderless: true", "b=\\"};
	char *yaml = convert_at("in\nheaderless: true #", "f.conf", set, 2, &errs, path, sizeof(path));
	assert_non_null(yaml);
	snprintf(want, sizeof(want),
		 "# Converted by `pacto import-fail2ban` from %s/in\\nheaderless: true #/f.conf\n"
		 "# with a=1\\nheaderless: true\n# with b=\\\\\n# Threshold", dir);
	assert_memory_equal(yaml, want, strlen(want));
	struct ruleset *rs = assert_plain_rule(yaml, &errs);
	assert_int_equal(rs->nscenarios, 1);
	assert_string_equal(rs->scenarios[0].name, "f2b-f");
	assert_false(rs->scenarios[0].headerless);
	ruleset_free(rs);
	free(yaml);

	/* CR, NEL and U+2028 (line breaks to libyaml), a tab, a C1 control, a
	 * byte that is not UTF-8: escaped; other UTF-8 kept as it is. */
	yaml = convert_at("r\rn\xc2\x85l\xe2\x80\xa8t\tc\xc2\x94x\xff\xc3\xa9", "f.conf", NULL, 0, &errs, path,
			  sizeof(path));
	assert_non_null(yaml);
	snprintf(want, sizeof(want),
		 "# Converted by `pacto import-fail2ban` from %s/r\\rn\\xc2\\x85l\\xe2\\x80\\xa8t\\tc\\xc2\\x94x\\xff\xc3\xa9"
		 "/f.conf\n# Threshold", dir);
	assert_memory_equal(yaml, want, strlen(want));
	ruleset_free(assert_plain_rule(yaml, &errs));
	free(yaml);

	/* In the file name, the line feed would be in the scenario's name. */
	yaml = convert_at("n", "x\nthreshold: 1.conf", NULL, 0, &errs, path, sizeof(path));
	assert_null(yaml);
	snprintf(want, sizeof(want), "%s/n/x\\nthreshold: 1.conf: the file name holds a control character", dir);
	assert_true(errs.n == 1 && strncmp(errs.msgs[0], want, strlen(want)) == 0);
	errors_clear(&errs);

	yaml = convert_at("q", "a: b #'c.conf", NULL, 0, &errs, path, sizeof(path));
	assert_non_null(yaml);
	assert_non_null(strstr(yaml, "\nscenario: 'f2b-a: b #''c'\ndescription: 'fail2ban filter a: b #''c'\n"));
	rs = assert_plain_rule(yaml, &errs);
	assert_string_equal(rs->scenarios[0].name, "f2b-a: b #'c");
	ruleset_free(rs);
	free(yaml);
	assert_int_equal(errs.n, 0);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_reads_like_fail2ban),
		cmocka_unit_test(test_interpolation_bombs_refused),
		cmocka_unit_test(test_text_must_be_utf8),
		cmocka_unit_test(test_regex_constructs_match),
		cmocka_unit_test(test_prefregex_and_two_addresses),
		cmocka_unit_test(test_refusals_name_file_line_construct),
		cmocka_unit_test(test_path_cannot_leave_comment),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
