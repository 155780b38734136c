/* test_rules.c: rule files: the stock rules load; every kind of bad file is
 * refused whole with file, line, key and the offending value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/cli.h"
#include "common/yaml_util.h"
#include "detect/match.h"
#include "detect/rules.h"

#include <pthread.h>
#include <stdatomic.h>

static const char good_head[] =
	"scenario: test\n"
	"threshold: 3\n"
	"window: 90s\n";

/* Loads text as one rule file named "t.yaml"; returns the errors. */
static int load(const char *text, struct ruleset **rs, struct errors *errs)
{
	struct rule_text t = {"t.yaml", text, strlen(text)};
	return ruleset_load_texts(&t, 1, rs, errs);
}

/* Asserts the load fails and one message contains every given fragment. */
static void assert_error(const char *text, const char *frag1, const char *frag2)
{
	struct ruleset *rs = NULL;
	struct errors errs = {0};
	assert_int_equal(load(text, &rs, &errs), -1);
	assert_null(rs);
	bool found = false;
	for (size_t i = 0; i < errs.n; i++)
		if (strstr(errs.msgs[i], frag1) && (!frag2 || strstr(errs.msgs[i], frag2)))
			found = true;
	if (!found) {
		for (size_t i = 0; i < errs.n; i++)
			print_message("got: %s\n", errs.msgs[i]);
		fail_msg("no error with '%s' and '%s'", frag1, frag2 ? frag2 : "");
	}
	errors_clear(&errs);
}

static void test_stock_rules_load(void **state)
{
	(void)state;
	struct ruleset *rs;
	struct errors errs = {0};
	assert_int_equal(ruleset_load_texts(stock_rules, nstock_rules, &rs, &errs), 0);
	assert_int_equal(errs.n, 0);
	/* In file name order. */
	const char *names[] = {"dovecot", "openvpn", "postfix", "proftpd", "recidive", "sshd", "vsftpd",
			       "web-auth", "web-errors", "web-probe"};
	assert_int_equal(rs->nscenarios, sizeof(names) / sizeof(*names));
	for (size_t i = 0; i < rs->nscenarios; i++)
		assert_string_equal(rs->scenarios[i].name, names[i]);
	const struct scenario *sshd = &rs->scenarios[5];
	assert_int_equal(sshd->threshold, 5);
	assert_int_equal(sshd->window_us, 600 * 1000000LL);
	assert_int_equal(sshd->sanction_us, 600 * 1000000LL);
	assert_int_equal(sshd->escalation_max_us, 604800 * 1000000LL);
	const struct scenario *recidive = &rs->scenarios[4];
	assert_true(recidive->counts_sanctions);
	assert_int_equal(recidive->npatterns, 0);
	assert_int_equal(recidive->threshold, 3);
	assert_int_equal(recidive->window_us, 86400 * 1000000LL);
	assert_int_equal(recidive->sanction_us, 604800 * 1000000LL);
	assert_true(rs->scenarios[7].headerless);   /* web-auth */
	assert_false(rs->scenarios[3].headerless);  /* proftpd: its SystemLog file is not safe to read */
	assert_false(sshd->headerless);
	ruleset_free(rs);
	/* The file in the tree is the one embedded. */
	assert_int_equal(ruleset_load("rules/sshd.yaml", &rs, &errs), 0);
	ruleset_free(rs);
	assert_int_equal(ruleset_load("rules", &rs, &errs), 0);
	ruleset_free(rs);
}

/* input: sanctions reads no line: patterns and programs are mistakes. */
static void test_input_sanctions(void **state)
{
	(void)state;
	assert_error("scenario: r\ninput: sanctions\npatterns:\n  - {name: a, effect: ignore, regex: 'x'}\n",
		     "t.yaml:1: patterns:", "reads no lines");
	assert_error("scenario: r\ninput: sanctions\nprograms: [sshd]\n", "t.yaml:1: input:", "no programs");
	assert_error("scenario: r\ninput: sanction\n", "t.yaml:2: input:", "'sanction' is not lines or sanctions");
	assert_error("scenario: r\nheaderless: maybe\n", "t.yaml:2: headerless:", "not yes or no");
	struct ruleset *rs = NULL;
	struct errors errs = {0};
	assert_int_equal(load("scenario: r\ninput: sanctions\nthreshold: 4\nwindow: 2d\n", &rs, &errs), 0);
	assert_true(rs->scenarios[0].counts_sanctions);
	assert_int_equal(rs->scenarios[0].threshold, 4);
	ruleset_free(rs);
	/* A (?<time>...) group is found. */
	assert_int_equal(load("scenario: t\nheaderless: yes\npatterns:\n"
			      "  - {name: a, effect: attempt, regex: '^(?<addr>\\S+) (?<time>\\S+)$'}\n", &rs, &errs), 0);
	assert_true(rs->scenarios[0].headerless);
	assert_int_equal(rs->scenarios[0].patterns[0].time_group, 2);
	ruleset_free(rs);
}

static void test_bad_regex_names_line_and_pattern(void **state)
{
	(void)state;
	char text[512];
	snprintf(text, sizeof(text), "%spatterns:\n  - name: p\n    effect: attempt\n"
		 "    regex: '^Failed (?<addr>\\S+ port'\n", good_head);
	assert_error(text, "t.yaml:7: regex:", "'^Failed (?<addr>\\S+ port'");
}

static void test_yaml_syntax(void **state)
{
	(void)state;
	assert_error("scenario: x\npatterns: [\n  - a: b\n  c\n", "t.yaml:", NULL);
	assert_error("- just\n- a list\n", "t.yaml:1: scenario:", "mapping");
	assert_error("", "t.yaml:1:", "empty");
}

static void test_unknown_and_bad_values(void **state)
{
	(void)state;
	const char *pat = "patterns:\n  - name: p\n    effect: attempt\n    regex: 'from (?<addr>\\S+)$'\n";
	char text[512];
	snprintf(text, sizeof(text), "scenario: x\nthreshhold: 3\n%s", pat);
	assert_error(text, "t.yaml:2: threshhold:", "unknown key");
	snprintf(text, sizeof(text), "scenario: x\nthreshold: 0\n%s", pat);
	assert_error(text, "t.yaml:2: threshold:", "'0'");
	snprintf(text, sizeof(text), "scenario: x\nwindow: 10 minutes\n%s", pat);
	assert_error(text, "t.yaml:2: window:", "'10 minutes'");
	snprintf(text, sizeof(text), "scenario: x\nescalation:\n  factor: 99\n%s", pat);
	assert_error(text, "t.yaml:3: factor:", "'99'");
	snprintf(text, sizeof(text), "scenario: x\nsanction: 2w\nescalation:\n  max: 1w\n%s", pat);
	assert_error(text, "escalation:", "shorter");
}

/* A name the ledger would cut (inside a character, maybe) is refused; the
 * longest kept whole loads. */
static void test_scenario_name_bounded(void **state)
{
	(void)state;
	const char *pat = "patterns:\n  - name: p\n    effect: attempt\n    regex: 'from (?<addr>\\S+)$'\n";
	char name[RULES_MAX_NAME + 2], text[1024];
	memset(name, 'n', RULES_MAX_NAME);
	memcpy(name + RULES_MAX_NAME - 2, "\xc3\xa9", 2);   /* ends in a 2-byte character */
	name[RULES_MAX_NAME] = '\0';
	snprintf(text, sizeof(text), "scenario: %s\n%s", name, pat);
	struct ruleset *rs = NULL;
	struct errors errs = {0};
	assert_int_equal(load(text, &rs, &errs), 0);
	assert_string_equal(rs->scenarios[0].name, name);
	ruleset_free(rs);
	name[RULES_MAX_NAME - 2] = 'n';
	memcpy(name + RULES_MAX_NAME - 1, "\xc3\xa9", 2);   /* one byte more, across the limit */
	name[RULES_MAX_NAME + 1] = '\0';
	snprintf(text, sizeof(text), "scenario: %s\n%s", name, pat);
	assert_error(text, "t.yaml:1: scenario:", "longer than 128 bytes");
}

static void test_pattern_checks(void **state)
{
	(void)state;
	char text[1024];
	snprintf(text, sizeof(text), "%spatterns:\n  - name: p\n    effect: attempt\n    regex: 'no address here'\n", good_head);
	assert_error(text, "t.yaml:7: regex:", "no (?<addr>");
	snprintf(text, sizeof(text), "%spatterns:\n  - name: p\n    effect: explode\n    regex: '(?<addr>x)'\n", good_head);
	assert_error(text, "t.yaml:6: effect:", "'explode'");
	snprintf(text, sizeof(text), "%spatterns:\n  - effect: attempt\n    regex: '(?<addr>x)'\n", good_head);
	assert_error(text, "t.yaml:5: name:", NULL);
	snprintf(text, sizeof(text), "%spatterns:\n  - name: p\n    effect: end\n    when: nope\n    regex: '(?<addr>x)'\n", good_head);
	assert_error(text, "t.yaml:7: when:", "'nope'");
	snprintf(text, sizeof(text), "%spatterns:\n  - name: p\n    effect: mark\n    regex: 'x'\n", good_head);
	assert_error(text, "flag:", "mark pattern needs");
	snprintf(text, sizeof(text), "%spatterns: []\n", good_head);
	assert_error(text, "patterns:", "1 to");
	snprintf(text, sizeof(text), "%spatterns:\n  - name: m\n    effect: mark\n    flag: f\n    regex: 'x'\n"
		 "  - name: p\n    effect: end\n    when: f\n    otherwise: mark\n    regex: '(?<addr>x)'\n", good_head);
	assert_error(text, "otherwise:", "cannot be mark");
	snprintf(text, sizeof(text), "%spatterns:\n  - name: m\n    effect: mark\n    flag: f\n    regex: 'x'\n"
		 "  - name: p\n    effect: ignore\n    when: f\n    regex: 'y'\n", good_head);
	assert_error(text, "when:", "cannot be conditional");
}

static void test_duplicates_and_documents(void **state)
{
	(void)state;
	const char *pat = "patterns:\n  - name: p\n    effect: attempt\n    regex: 'from (?<addr>\\S+)$'\n";
	char text[512];
	snprintf(text, sizeof(text), "scenario: x\nthreshold: 3\nthreshold: 1000\n%s", pat);
	assert_error(text, "t.yaml:3: threshold:", "given twice");
	snprintf(text, sizeof(text), "scenario: x\n%s    effect: ignore\n", pat);
	assert_error(text, "t.yaml:6: effect:", "given twice");
	snprintf(text, sizeof(text), "scenario: x\n%s---\nbogus: key\n", pat);
	assert_error(text, "t.yaml:7:", "second YAML document");
}

static void test_every_error_reported(void **state)
{
	(void)state;
	struct ruleset *rs;
	struct errors errs = {0};
	const char *text = "scenario: x\nthreshold: -1\nwindow: soon\npatterns:\n"
			   "  - name: a\n    effect: attempt\n    regex: '('\n"
			   "  - name: b\n    effect: what\n    regex: '(?<addr>x)'\n";
	assert_int_equal(load(text, &rs, &errs), -1);
	assert_int_equal(errs.n, 4);
	errors_clear(&errs);
}

static void test_directory_and_duplicates(void **state)
{
	(void)state;
	char dir[] = "/tmp/pacto-rules-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	const char *rule = "scenario: same\npatterns:\n  - name: p\n    effect: attempt\n    regex: '(?<addr>\\S+)$'\n";
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%d.yaml", dir, i);
		FILE *f = fopen(path, "w");
		fputs(rule, f);
		fclose(f);
	}
	struct ruleset *rs;
	struct errors errs = {0};
	assert_int_equal(ruleset_load(dir, &rs, &errs), -1);
	assert_non_null(strstr(errs.msgs[0], "already defined"));
	errors_clear(&errs);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%d.yaml", dir, i);
		unlink(path);
	}
	assert_int_equal(ruleset_load(dir, &rs, &errs), -1);
	assert_non_null(strstr(errs.msgs[0], "no *.yaml"));
	errors_clear(&errs);
	rmdir(dir);
	assert_int_equal(ruleset_load("/nonexistent/rules", &rs, &errs), -1);
	assert_non_null(strstr(errs.msgs[0], "No such file"));
	errors_clear(&errs);
}

static void test_durations(void **state)
{
	(void)state;
	int64_t us;
	assert_int_equal(parse_duration("600", &us), 0);
	assert_int_equal(us, 600 * 1000000LL);
	assert_int_equal(parse_duration("10m", &us), 0);
	assert_int_equal(us, 600 * 1000000LL);
	assert_int_equal(parse_duration("1w", &us), 0);
	assert_int_equal(us, 604800 * 1000000LL);
	assert_int_equal(parse_duration("-5", &us), -1);
	assert_int_equal(parse_duration("5x", &us), -1);
	assert_int_equal(parse_duration("5mm", &us), -1);
	assert_int_equal(parse_duration("99999999999w", &us), -2);     /* a duration, too long */
	assert_int_equal(parse_duration("315360000", &us), 0);         /* ten years */
	assert_int_equal(parse_duration("315360001", &us), -2);
	assert_int_equal(parse_duration("99999999999999999999", &us), -2);  /* past long long */
	assert_int_equal(parse_duration("99999999999999999999x", &us), -1);
	assert_int_equal(parse_duration("", &us), -1);
}

/* Bytes of JIT code PCRE2 holds for code (0: none). */
static size_t jit_size(const pcre2_code *code)
{
	size_t size = 0;
	assert_int_equal(pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &size), 0);
	return size;
}

static const char two_patterns[] =
	"scenario: t\nthreshold: 3\nwindow: 90s\npatterns:\n"
	"  - {name: bad, effect: attempt, regex: '^Bad (?:thing|deed) from (?<addr>\\S+)$'}\n"
	"  - {name: odd, effect: attempt, regex: '^Odd (?:thing|deed) from (?<addr>\\S+)$'}\n";

/* Matches msg with a fresh matcher of s; asserts which pattern and address. */
static void assert_matches(const struct scenario *s, const char *msg, size_t index, const char *addr)
{
	struct matcher *m = matcher_new(s);
	struct match out;
	assert_int_equal(matcher_run(m, msg, strlen(msg), &out), MATCH_OK);
	assert_int_equal(out.index, index);
	assert_true(out.has_addr);
	char text[64];
	addr_format(&out.addr, text, sizeof(text));
	assert_string_equal(text, addr);
	matcher_free(m);
}

/* JIT code is made at a pattern's first match, for it alone, on a copy:
 * the pattern's own code, which any thread reads, is never JIT-compiled. */
static void test_jit_at_first_match(void **state)
{
	(void)state;
	struct ruleset *rs;
	struct errors errs = {0};
	assert_true(rules_jit_available());
	assert_int_equal(load(two_patterns, &rs, &errs), 0);
	const struct scenario *s = &rs->scenarios[0];
	for (size_t i = 0; i < s->npatterns; i++) {
		assert_int_equal(s->patterns[i].jit->state, PATTERN_JIT_NOT_YET);
		assert_null(s->patterns[i].jit->code);
		assert_string_equal(s->patterns[i].file, "t.yaml");
	}
	assert_matches(s, "Odd deed from 192.0.2.7", 1, "192.0.2.7");
	const struct pattern *odd = &s->patterns[1], *bad = &s->patterns[0];
	assert_int_equal(odd->jit->state, PATTERN_JIT_READY);
	assert_ptr_equal(pattern_jit_code(odd), odd->jit->code);
	assert_true(jit_size(odd->jit->code) > 0);
	assert_int_equal(jit_size(odd->code), 0);
	/* "Bad" was never a candidate for a line starting with 'O'. */
	assert_int_equal(bad->jit->state, PATTERN_JIT_NOT_YET);
	assert_null(bad->jit->code);
	assert_matches(s, "Odd thing from 192.0.2.8", 1, "192.0.2.8");
	ruleset_free(rs);
}

/* A pattern PCRE2 could not JIT-compile still matches, through its
 * interpreter, with the same groups. */
static void test_jit_failed_interprets(void **state)
{
	(void)state;
	struct ruleset *rs;
	struct errors errs = {0};
	assert_int_equal(load(two_patterns, &rs, &errs), 0);
	const struct scenario *s = &rs->scenarios[0];
	atomic_store(&s->patterns[0].jit->state, PATTERN_JIT_FAILED);
	assert_null(pattern_jit_code(&s->patterns[0]));
	assert_matches(s, "Bad deed from 2001:db8::5", 0, "2001:db8::5");
	assert_null(s->patterns[0].jit->code);
	struct matcher *m = matcher_new(s);
	struct match out;
	assert_int_equal(matcher_run(m, "Bad deed from", 13, &out), MATCH_NONE);
	matcher_free(m);
	ruleset_free(rs);
}

/* A line that makes the JIT give up (its stack) makes the interpreter give
 * up too (its heap limit), rather than match with megabytes of memory: the
 * answer does not depend on whether the JIT could compile the pattern. */
static void test_interpreter_bounded_like_jit(void **state)
{
	(void)state;
	static const char nested[] = "scenario: t\nthreshold: 3\nwindow: 90s\npatterns:\n"
				     "  - {name: nest, effect: attempt, regex: '^Nest (?:(?:a|b)*c)* from (?<addr>\\S+)$'}\n";
	char line[8200];
	size_t n = (size_t)snprintf(line, sizeof(line), "Nest ");
	for (int i = 0; i < 4000; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "ac");
	n += (size_t)snprintf(line + n, sizeof(line) - n, " from 192.0.2.9");
	for (int failed = 0; failed <= 1; failed++) {
		struct ruleset *rs;
		struct errors errs = {0};
		assert_int_equal(load(nested, &rs, &errs), 0);
		if (failed)
			atomic_store(&rs->scenarios[0].patterns[0].jit->state, PATTERN_JIT_FAILED);
		struct matcher *m = matcher_new(&rs->scenarios[0]);
		struct match out;
		assert_int_equal(matcher_run(m, line, n, &out), MATCH_ERROR);
		/* A short one matches both ways. */
		assert_int_equal(matcher_run(m, "Nest acbc from 192.0.2.9", 24, &out), MATCH_OK);
		matcher_free(m);
		ruleset_free(rs);
	}
}

#define JIT_THREADS 8

struct jit_race {
	const struct scenario *s;
	pthread_barrier_t *start;
	int matched;
};

static void *match_after_barrier(void *arg)
{
	struct jit_race *r = arg;
	struct matcher *m = matcher_new(r->s);
	pthread_barrier_wait(r->start);
	struct match out;
	for (int i = 0; i < 100; i++)
		r->matched += matcher_run(m, "Bad thing from 198.51.100.9", 27, &out) == MATCH_OK &&
			      out.index == 0;
	matcher_free(m);
	return NULL;
}

/* Threads that meet a pattern's first match together all match with it.
 * A smoke test only: whether two threads really meet inside the compile
 * is up to the scheduler, so a missing lock would not reliably fail it
 * (the lock is argued in rules.c, not proven here). */
static void test_jit_first_match_on_threads(void **state)
{
	(void)state;
	struct ruleset *rs;
	struct errors errs = {0};
	assert_int_equal(load(two_patterns, &rs, &errs), 0);
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, JIT_THREADS);
	pthread_t t[JIT_THREADS];
	struct jit_race r[JIT_THREADS];
	for (int i = 0; i < JIT_THREADS; i++) {
		r[i] = (struct jit_race){.s = &rs->scenarios[0], .start = &start};
		assert_int_equal(pthread_create(&t[i], NULL, match_after_barrier, &r[i]), 0);
	}
	for (int i = 0; i < JIT_THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].matched, 100);
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(rs->scenarios[0].patterns[0].jit->state, PATTERN_JIT_READY);
	assert_non_null(rs->scenarios[0].patterns[0].jit->code);
	ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stock_rules_load), cmocka_unit_test(test_bad_regex_names_line_and_pattern),
		cmocka_unit_test(test_input_sanctions),
		cmocka_unit_test(test_yaml_syntax), cmocka_unit_test(test_unknown_and_bad_values),
		cmocka_unit_test(test_scenario_name_bounded), cmocka_unit_test(test_pattern_checks), cmocka_unit_test(test_duplicates_and_documents),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_directory_and_duplicates), cmocka_unit_test(test_durations),
		cmocka_unit_test(test_jit_at_first_match), cmocka_unit_test(test_jit_failed_interprets),
		cmocka_unit_test(test_jit_first_match_on_threads), cmocka_unit_test(test_interpreter_bounded_like_jit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
