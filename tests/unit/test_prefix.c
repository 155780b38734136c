/* test_prefix.c: the fixed-prefix fast path of the matcher against PCRE2.
 * - prefix_of() on the stock patterns and on regexes built to fool it
 *   (top-level alternation, quantified items, options, \Q, \c, classes);
 * - a property, on every regex here and on many subjects (stock corpus
 *   messages, their truncations and one-byte changes): when PCRE2 matches,
 *   the prefix allows; when the prefix is `whole`, it allows only what
 *   PCRE2 matches;
 * - differential: the stock matcher with the fast path and with PCRE2
 *   alone give the same result (pattern, address, port) on every line of
 *   tests/corpus, on their mutations, and on the generated benchmark log
 *   (PACTO_BUILD/gen_authlog, 200k lines) when it is built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>

#include "common/errors.h"
#include "ctl/cli.h"
#include "detect/engine.h"
#include "detect/logline.h"
#include "detect/match.h"
#include "detect/prefix.h"
#include "detect/rules.h"
#include "stock.h"

static void assert_texts(const char *regex, uint32_t opts, bool whole, const char *const *want, size_t n)
{
	struct prefix_set p;
	size_t got = prefix_of(regex, opts, &p);
	if (got != n)
		fail_msg("%s: %zu texts, want %zu", regex, got, n);
	assert_int_equal(p.whole, whole);
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < p.n; j++)
			found |= p.len[j] == strlen(want[i]) && memcmp(p.text[j], want[i], p.len[j]) == 0;
		if (!found)
			fail_msg("%s: '%s' missing", regex, want[i]);
	}
}

#define TEXTS(...) (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)

static void test_reads_fixed_starts(void **state)
{
	(void)state;
	assert_texts("^Invalid user [^:]*? from (?<addr>[0-9a-f.:]+)$", 0, false, TEXTS("Invalid user "));
	assert_texts("^Received disconnect from ", 0, true, TEXTS("Received disconnect from "));
	assert_texts("^pam_unix\\(sshd:auth\\): x", 0, true, TEXTS("pam_unix(sshd:auth): x"));
	assert_texts("^(?:a|b(?:c|d))e", 0, true, TEXTS("ae", "bce", "bde"));
	assert_texts("^(?:error: )?kex$", 0, false, TEXTS("error: kex", "kex"));
	assert_texts("^(?:ab)?c", 0, true, TEXTS("abc", "c"));
	assert_texts("^abc+", 0, false, TEXTS("ab"));               /* the quantified c is not fixed */
	assert_texts("^ab{2}", 0, false, TEXTS("a"));
	assert_texts("^ab\\.?c", 0, false, TEXTS("ab"));
	assert_texts("^(?:ab)+c", 0, false, NULL, 0);
	assert_texts("^a(?:b|c+)d", 0, false, TEXTS("a"));          /* a group with a non-fixed part stops */
	assert_texts("^a(?:b)?+c", 0, false, TEXTS("a"));           /* possessive: not read */
	assert_texts("^a(?:b)??c", 0, false, TEXTS("a"));
	assert_texts("^a(b)c", 0, false, TEXTS("a"));               /* capture groups are not read */
	assert_texts("^a[]|]b", 0, false, TEXTS("a"));              /* '|' inside a class */
	assert_texts("^a(?s:.*)", 0, false, TEXTS("a"));
	assert_texts("^(?:|a)b", 0, true, TEXTS("b", "ab"));
	assert_texts("^a\\db", 0, false, TEXTS("a"));
	assert_texts("^a#b c", 0, true, TEXTS("a#b c"));
}

static void test_refuses_what_it_does_not_model(void **state)
{
	(void)state;
	/* Nothing may be read from these: a top-level or hidden alternation, options. */
	static const char *const none[] = {
		"^a|b", "^a(?:b)|c", "^a[x]|b", "^a[]|]|b", "^a[^]]|b", "^a[[:alpha:]]|b",
		"(?i)^abc", "^(?i)abc", "^(?x)a b", "^(?x:a b)", "^a\\Q|\\E", "^a\\c|b",
		"^a[\\c\\]|b", "^(?#x|y)a", "^a(?#)|b", "^(*LF)a", "a^b", "abc", "^",
		"^[ab]c", "^.a", "^\\da", "^(?'n'a)b", "^(?P<n>a)b", "^a(?i)b",
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(*none); i++) {
		struct prefix_set p;
		if (prefix_of(none[i], 0, &p) != 0)
			fail_msg("%s: gave a prefix", none[i]);
	}
	/* Only "a" may be read from these, and never as the whole regex. */
	static const char *const only_a[] = {"^a(?|b|c)d", "^a(?1)b", "^a(?R)", "^a\\Qb\\E"};
	for (size_t i = 0; i < sizeof(only_a) / sizeof(*only_a); i++) {
		struct prefix_set p;
		size_t n = prefix_of(only_a[i], 0, &p);
		if (n > 1 || (n == 1 && (p.len[0] != 1 || p.text[0][0] != 'a' || p.whole)))
			fail_msg("%s: says more than 'a'", only_a[i]);
	}
	struct prefix_set p;
	assert_int_equal(prefix_of("^abc", PCRE2_CASELESS, &p), 0);
	assert_int_equal(prefix_of("^abc", PCRE2_EXTENDED, &p), 0);
	assert_int_equal(prefix_of("^abc", PCRE2_MULTILINE, &p), 0);
	assert_int_equal(prefix_of("^abc", PCRE2_LITERAL, &p), 0);
}

/* ---- the property, against PCRE2 ---- */

static char **subjects;
static size_t nsubjects, capsubjects;

static void add_subject(const char *s, size_t len)
{
	if (nsubjects == capsubjects) {
		capsubjects = capsubjects ? capsubjects * 2 : 4096;
		subjects = realloc(subjects, capsubjects * sizeof(*subjects));
		assert_non_null(subjects);
	}
	char *copy = malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, s, len);
	copy[len] = '\0';
	subjects[nsubjects++] = copy;
}

/* A message, every truncation of it, and a few one-byte changes near its start. */
static void add_mutations(const char *msg, size_t len)
{
	add_subject(msg, len);
	for (size_t cut = 0; cut < len && cut < 90; cut++)
		add_subject(msg, cut);
	char buf[ENGINE_MAX_LINE + 16];
	if (len + 8 > sizeof(buf))
		return;
	for (size_t at = 0; at < len && at < 60; at += 3) {
		memcpy(buf, msg, len);
		buf[at] ^= 0x20;                        /* case flip, or space <-> NUL */
		add_subject(buf, len);
	}
	memcpy(buf, "error: ", 7);
	memcpy(buf + 7, msg, len);
	add_subject(buf, len + 7);
}

/* Every line of the stock corpus, as the message part when it has a header. */
static void load_corpus(void)
{
	const char *dir = "tests/corpus/sshd";
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strstr(de->d_name, ".cases"))
			continue;
		char path[512], line[ENGINE_MAX_LINE + 2];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			size_t len = strcspn(line, "\n");
			struct log_event ev;
			logline_split(line, len, &ev);
			add_mutations(ev.msg ? ev.msg : line, ev.msg ? ev.msg_len : len);
		}
		fclose(f);
	}
	closedir(d);
	static const char *const crafted[] = {
		"", "a", "ab", "abc", "ae", "bce", "bde", "be", "abab", "ac", "c", "kex", "error: kex",
		"a#b c", "a b", "A", "aB", "a|b", "b", "a]b", "a|", "abb", "abbb", "a.c", "abc\n",
		"Received disconnect from", "Received disconnect from 1.2.3.4",
	};
	for (size_t i = 0; i < sizeof(crafted) / sizeof(*crafted); i++)
		add_subject(crafted[i], strlen(crafted[i]));
}

static int setup_subjects(void **state)
{
	(void)state;
	load_corpus();
	return 0;
}

static int teardown_subjects(void **state)
{
	(void)state;
	for (size_t i = 0; i < nsubjects; i++)
		free(subjects[i]);
	free(subjects);
	return 0;
}

static void check_property(const char *regex)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
	if (!code)
		return;                                  /* not a regex: nothing to compare */
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
	struct prefix_set p;
	prefix_of(regex, 0, &p);
	for (size_t i = 0; i < nsubjects; i++) {
		size_t len = strlen(subjects[i]);
		bool pcre = pcre2_match(code, (PCRE2_SPTR)subjects[i], len, 0, 0, md, NULL) >= 0;
		bool allows = prefix_allows(&p, subjects[i], len);
		if (pcre && !allows)
			fail_msg("%s matches '%s' but its prefix refuses it", regex, subjects[i]);
		if (p.whole && allows && !pcre)
			fail_msg("%s is whole but PCRE2 refuses '%s'", regex, subjects[i]);
	}
	pcre2_match_data_free(md);
	pcre2_code_free(code);
}

static void test_property_against_pcre2(void **state)
{
	(void)state;
	static const char *const regexes[] = {
		"^(?:a|b(?:c|d))e", "^(?:error: )?kex$", "^(?:ab)?c", "^abc+", "^ab{2}", "^(?:ab)+c",
		"^a(?:b|c+)d", "^a(?:b)?+c", "^a(?:b)?+ab", "^(?:ab)?+abc", "^a(?:b)??c", "^a(b)c", "^a[]|]b",
		"^a(?s:.*)", "^a(?i)b", "^a#b c", "^a|b", "^a[x]|b", "^a[]|]|b", "^a\\Q|\\E", "^a\\c|b",
		"^a(?#)|b", "(?i)^abc", "^a$", "^abc$", "^a\\.c", "^a\\|b", "^(?:)a", "^a(?=b)", "^a(?!b)b",
	};
	for (size_t i = 0; i < sizeof(regexes) / sizeof(*regexes); i++)
		check_property(regexes[i]);
	struct ruleset *rs = stock_ruleset();
	assert_non_null(rs);
	for (size_t s = 0; s < rs->nscenarios; s++)
		for (size_t i = 0; i < rs->scenarios[s].npatterns; i++)
			check_property(rs->scenarios[s].patterns[i].regex);
	ruleset_free(rs);
}

/* ---- the matcher, fast path against PCRE2 alone ---- */

struct pair {
	struct matcher *fast, *slow;
	size_t compared, matched;
};

static void compare_one(struct pair *pr, const char *msg, size_t len)
{
	struct match a, b;
	enum match_result ra = matcher_run(pr->fast, msg, len, &a);
	enum match_result rb = matcher_run(pr->slow, msg, len, &b);
	pr->compared++;
	if (ra != rb)
		fail_msg("'%.*s': fast path %d, PCRE2 %d", (int)len, msg, ra, rb);
	if (ra != MATCH_OK && ra != MATCH_BAD_ADDR)
		return;
	pr->matched++;
	if (a.index != b.index || a.has_addr != b.has_addr || a.port != b.port ||
	    (a.has_addr && !addr_equal(&a.addr, &b.addr)))
		fail_msg("'%.*s': fast path and PCRE2 disagree (pattern %zu/%zu, port %d/%d)",
			 (int)len, msg, a.index, b.index, a.port, b.port);
}

static void compare_line(struct pair *pr, const char *line, size_t len)
{
	struct log_event ev;
	logline_split(line, len, &ev);
	if (ev.msg)
		compare_one(pr, ev.msg, ev.msg_len);
	compare_one(pr, line, len);
}

static void compare_generated_log(struct pair *pr)
{
	const char *build = getenv("PACTO_BUILD");
	char cmd[1024];
	if (!build)
		return;
	snprintf(cmd, sizeof(cmd), "'%s/gen_authlog' --lines 200000 --seed 1 --out /dev/stdout --truth /dev/null 2>/dev/null",
		 build);
	FILE *f = popen(cmd, "r");
	if (!f)
		return;
	char line[ENGINE_MAX_LINE + 2];
	size_t before = pr->compared;
	while (fgets(line, sizeof(line), f))
		compare_line(pr, line, strcspn(line, "\n"));
	pclose(f);
	print_message("generated log: %zu messages compared\n", pr->compared - before);
}

static void test_matcher_fast_path_equals_pcre2(void **state)
{
	(void)state;
	struct ruleset *rs = stock_ruleset();
	assert_non_null(rs);
	for (size_t s = 0; s < rs->nscenarios; s++) {
		struct pair pr = {matcher_new(&rs->scenarios[s]), matcher_new(&rs->scenarios[s]), 0, 0};
		matcher_set_prefilter(pr.slow, false);
		for (size_t i = 0; i < nsubjects; i++)
			compare_one(&pr, subjects[i], strlen(subjects[i]));
		compare_generated_log(&pr);
		print_message("%s: %zu messages compared, %zu matched\n", rs->scenarios[s].name, pr.compared,
			      pr.matched);
		/* The generated log is sshd's: other scenarios are compared on it
		 * (all must agree) but match little or nothing. */
		if (strcmp(rs->scenarios[s].name, "sshd") == 0)
			assert_true(pr.matched > 1000);
		matcher_free(pr.fast);
		matcher_free(pr.slow);
	}
	ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_fixed_starts),
		cmocka_unit_test(test_refuses_what_it_does_not_model),
		cmocka_unit_test(test_property_against_pcre2),
		cmocka_unit_test(test_matcher_fast_path_equals_pcre2),
	};
	return cmocka_run_group_tests(tests, setup_subjects, teardown_subjects);
}
