/* test_config.c: pacto.conf: defaults, every option, every kind of error
 * with file:line, overrides applied to loaded rules, what a reload cannot
 * change, and the man page documenting exactly the options of the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/yaml_util.h"
#include "config/config.h"
#include "ctl/cli.h"

static char path[64];

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/pacto-conf-XXXXXX");
	int fd = mkstemp(path);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void write_conf(const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static struct config *load_ok(const char *text)
{
	write_conf(text);
	struct config *cfg = NULL;
	struct errors errs = {0};
	int rc = config_load(path, &cfg, &errs);
	for (size_t i = 0; i < errs.n; i++)
		print_message("%s\n", errs.msgs[i]);
	assert_int_equal(rc, 0);
	errors_clear(&errs);
	return cfg;
}

/* Asserts the file is refused and one error has "path:LINE: KEY:" and frag. */
static void assert_refused(const char *text, int line, const char *key, const char *frag)
{
	write_conf(text);
	struct config *cfg = NULL;
	struct errors errs = {0};
	assert_int_equal(config_load(path, &cfg, &errs), -1);
	assert_null(cfg);
	char head[128];
	if (*key)
		snprintf(head, sizeof(head), "%s:%d: %s:", path, line, key);
	else
		snprintf(head, sizeof(head), "%s:%d: ", path, line);
	bool found = false;
	for (size_t i = 0; i < errs.n; i++)
		found |= strncmp(errs.msgs[i], head, strlen(head)) == 0 && strstr(errs.msgs[i], frag);
	if (!found)
		for (size_t i = 0; i < errs.n; i++)
			print_message("got: %s\n", errs.msgs[i]);
	assert_true(found);
	errors_clear(&errs);
}

static void test_empty_file_is_defaults(void **state)
{
	(void)state;
	struct config *cfg = load_ok("");
	assert_int_equal(cfg->ipv6_prefix, 64);
	assert_int_equal(cfg->max_sources, 262144);
	assert_int_equal(cfg->journal, JOURNAL_AUTO);
	assert_string_equal(cfg->state_dir, "/var/lib/pacto");
	assert_false(cfg->dry_run);
	config_free(cfg);
}

static void test_every_option(void **state)
{
	(void)state;
	struct config *cfg = load_ok(
		"files: [/var/log/auth.log, /var/log/secure]\n"
		"journal: no\nread_from_start: yes\nrules: [/etc/pacto/rules, /srv/rules.yaml]\n"
		"allowlist: [192.0.2.0/24, 2001:db8::/32, 203.0.113.7]\n"
		"ipv6_prefix: 56\nmax_sources: 1000\nmax_connections: 500\n"
		"state_dir: /srv/pacto\nrun_dir: /run/p\ndry_run: yes\n"
		"scenarios:\n  sshd:\n    threshold: 3\n    window: 5m\n    sanction: 1h\n"
		"    escalation: {factor: 4, max: 4w, memory: 2w}\n");
	assert_int_equal(cfg->nfiles, 2);
	assert_string_equal(cfg->files[1], "/var/log/secure");
	assert_int_equal(cfg->journal, JOURNAL_NO);
	assert_true(cfg->read_from_start);
	assert_int_equal(cfg->nrules, 2);
	assert_int_equal(cfg->nallowlist, 3);
	assert_int_equal(cfg->ipv6_prefix, 56);
	assert_int_equal(cfg->max_sources, 1000);
	assert_int_equal(cfg->max_connections, 500);
	assert_string_equal(cfg->state_dir, "/srv/pacto");
	assert_string_equal(cfg->run_dir, "/run/p");
	assert_true(cfg->dry_run);
	assert_int_equal(cfg->noverrides, 1);
	assert_int_equal(cfg->overrides[0].threshold, 3);
	assert_int_equal(cfg->overrides[0].has, OVR_HAS_THRESHOLD | OVR_HAS_WINDOW | OVR_HAS_SANCTION |
						 OVR_HAS_FACTOR | OVR_HAS_MAX | OVR_HAS_MEMORY);
	config_free(cfg);
}

static void test_errors_name_file_line_key(void **state)
{
	(void)state;
	assert_refused("journal: no\nthreshhold: 3\n", 2, "threshhold", "unknown key");
	assert_refused("ipv6_prefix: 129\n", 1, "ipv6_prefix", "'129'");
	assert_refused("max_sources: lots\n", 1, "max_sources", "'lots'");
	assert_refused("files: [auth.log]\n", 1, "files", "absolute");
	assert_refused("files: /var/log/auth.log\n", 1, "files", "list");
	assert_refused("allowlist:\n  - 192.0.2.1/24\n", 2, "allowlist", "bits set past");
	assert_refused("allowlist: [bogus]\n", 1, "allowlist", "not an address");
	assert_refused("dry_run: maybe\n", 1, "dry_run", "yes or no");
	assert_refused("journal: sometimes\n", 1, "journal", "auto, yes or no");
	assert_refused("scenarios:\n  sshd:\n    window: soon\n", 3, "window", "duration");
	assert_refused("scenarios:\n  sshd:\n    escalation: {factor: 0}\n", 3, "factor", "'0'");
	assert_refused("state_dir: [a]\n", 1, "state_dir", "single value");
	assert_refused("files: [\n", 2, "", "");
}

static void test_missing_file(void **state)
{
	(void)state;
	struct config *cfg = NULL;
	struct errors errs = {0};
	assert_int_equal(config_load("/nonexistent/pacto.conf", &cfg, &errs), -1);
	assert_non_null(strstr(errs.msgs[0], "/nonexistent/pacto.conf: No such file"));
	errors_clear(&errs);
}

static struct scenario *named(struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->nscenarios; i++)
		if (strcmp(rs->scenarios[i].name, name) == 0)
			return &rs->scenarios[i];
	return NULL;
}

static void test_overrides_apply_to_rules(void **state)
{
	(void)state;
	struct config *cfg = load_ok("scenarios:\n  sshd:\n    threshold: 3\n    sanction: 1h\n"
				     "    escalation: {max: 2w}\n");
	struct ruleset *rs;
	struct errors errs = {0};
	assert_int_equal(ruleset_load_texts(stock_rules, nstock_rules, &rs, &errs), 0);
	assert_int_equal(config_apply_overrides(cfg, rs, &errs), 0);
	struct scenario *sshd = named(rs, "sshd");
	assert_non_null(sshd);
	assert_int_equal(sshd->threshold, 3);
	assert_int_equal(sshd->sanction_us, 3600 * 1000000LL);
	assert_int_equal(sshd->escalation_max_us, 2 * 604800 * 1000000LL);
	assert_int_equal(sshd->window_us, 600 * 1000000LL);   /* untouched */
	assert_int_equal(named(rs, "dovecot")->threshold, 5);  /* others untouched */
	config_free(cfg);
	/* a typo in a scenario name is an error, not a silent no-op */
	cfg = load_ok("scenarios:\n  sshdd:\n    threshold: 3\n");
	assert_int_equal(config_apply_overrides(cfg, rs, &errs), -1);
	assert_non_null(strstr(errs.msgs[0], ":2: scenarios: no loaded rule defines a scenario 'sshdd'"));
	errors_clear(&errs);
	config_free(cfg);
	ruleset_free(rs);
}

static void test_unreloadable_changes(void **state)
{
	(void)state;
	struct config *a = load_ok("max_sources: 10\nallowlist: [192.0.2.0/24]\n");
	struct config *b = load_ok("max_sources: 20\nallowlist: [198.51.100.0/24]\ndry_run: yes\n");
	const char *names[8];
	size_t n = config_unreloadable_changes(a, b, names, 8);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "max_sources");
	assert_string_equal(names[1], "dry_run");
	config_free(a);
	config_free(b);
}

/* The man page documents exactly the options of the table, with defaults. */
static void test_man_page_matches_table(void **state)
{
	(void)state;
	size_t len;
	struct errors errs = {0};
	char *man = read_small_file("man/pacto.conf.5", 1 << 20, &len, &errs);
	assert_non_null(man);
	for (size_t i = 0; i < config_noptions; i++) {
		char entry[128];
		snprintf(entry, sizeof(entry), ".TP\n.B %s\n", config_options[i].name);
		char *at = strstr(man, entry);
		if (!at)
			fail_msg("man/pacto.conf.5 has no entry for '%s'", config_options[i].name);
		char *next = strstr(at + 1, ".TP\n");
		char *def = strstr(at, config_options[i].default_text);
		if (!def || (next && def > next))
			fail_msg("man/pacto.conf.5 does not give '%s' as the default of '%s'",
				 config_options[i].default_text, config_options[i].name);
	}
	size_t entries = 0;
	for (char *p = strstr(man, "\n.SH OPTIONS"); p && (p = strstr(p + 1, ".TP\n.B ")); entries++)
		;
	assert_int_equal(entries, config_noptions);
	free(man);
}

/* metrics_listen: off by default; an endpoint is checked when read. */
static void test_metrics_listen(void **state)
{
	(void)state;
	struct config *cfg = load_ok("");
	assert_null(cfg->metrics_listen);
	config_free(cfg);
	cfg = load_ok("metrics_listen: 127.0.0.1:9467\n");
	assert_string_equal(cfg->metrics_listen, "127.0.0.1:9467");
	config_free(cfg);
	cfg = load_ok("metrics_listen: \"[::1]:9467\"\n");
	assert_string_equal(cfg->metrics_listen, "[::1]:9467");
	config_free(cfg);
	assert_refused("files: [/a]\nmetrics_listen: localhost:9467\n", 2, "metrics_listen", "is not ADDR:PORT");
	assert_refused("metrics_listen: 127.0.0.1\n", 1, "metrics_listen", "is not ADDR:PORT");
}

/* A NATS server's URL, the same check for pacto.conf and pactod --nats. */
static void test_nats_urls(void **state)
{
	(void)state;
	static const char *const good[] = {"nats://127.0.0.1:4222", "tls://nats.example:4443", "nats.example",
					   "nats.example:4222", "nats://user:pw@h:4222", "nats://[::1]:4222",
					   "tls://h", "nats://h:65535"};
	static const char *const bad[] = {"", "http://x", "nats://127.0.0.1:99999", "nats://:4222",
					  "nats://h:0", "nats://h:42x", "nats://h:", "a b", "nats://a,nats://b",
					  "nats://[::1", "nats://[]:4222", ":4222"};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		if (!config_nats_url_valid(good[i]))
			fail_msg("'%s' refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (config_nats_url_valid(bad[i]))
			fail_msg("'%s' taken", bad[i]);
	assert_refused("nats: [\"nats://127.0.0.1:99999\"]\n", 1, "nats", "is not a NATS URL");
	struct config *cfg = load_ok("nats: [\"nats://[::1]:4222\", nats.example]\n");
	assert_int_equal(cfg->nnats, 2);
	config_free(cfg);
}

/* ledger_retention: a week by default; a duration of an hour or more,
 * or never (0); ledger_max_refusals: a count, 0 for no cap. */
static void test_ledger_retention(void **state)
{
	(void)state;
	const int64_t sec = 1000000;
	struct config *cfg = load_ok("");
	assert_int_equal(cfg->ledger_retention_us, 7 * 86400 * sec);
	assert_int_equal(cfg->ledger_max_refusals, 100000);
	config_free(cfg);
	static const struct {
		const char *text;
		int64_t us;
	} good[] = {{"1d", 86400}, {"2w", 14 * 86400}, {"3600", 3600}, {"1h", 3600}, {"never", 0}, {"0", 0},
		    {"520w", 520 * 604800}};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		char text[64];
		snprintf(text, sizeof(text), "ledger_retention: %s\nledger_max_refusals: 0\n", good[i].text);
		cfg = load_ok(text);
		if (cfg->ledger_retention_us != good[i].us * sec)
			fail_msg("'%s' read as %lld us", good[i].text, (long long)cfg->ledger_retention_us);
		assert_int_equal(cfg->ledger_max_refusals, 0);
		config_free(cfg);
	}
	assert_refused("dry_run: no\nledger_retention: 59m\n", 2, "ledger_retention", "shorter than an hour");
	assert_refused("ledger_retention: 10s\n", 1, "ledger_retention", "'10s' is shorter than an hour");
	assert_refused("ledger_retention: forever\n", 1, "ledger_retention", "not a duration");
	assert_refused("ledger_retention: -1d\n", 1, "ledger_retention", "not a duration");
	assert_refused("ledger_retention: 11000d\n", 1, "ledger_retention", "longer than ten years");
	assert_refused("ledger_retention: [1d]\n", 1, "ledger_retention", "single value");
	assert_refused("\nledger_max_refusals: many\n", 2, "ledger_max_refusals", "'many'");
	assert_refused("ledger_max_refusals: 100000001\n", 1, "ledger_max_refusals", "'100000001'");
	/* Both take effect at a reload. */
	struct config *a = load_ok("ledger_retention: 1d\n");
	struct config *b = load_ok("ledger_retention: 2d\nledger_max_refusals: 5\n");
	const char *names[8];
	assert_int_equal(config_unreloadable_changes(a, b, names, 8), 0);
	config_free(a);
	config_free(b);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_empty_file_is_defaults), T(test_every_option), T(test_errors_name_file_line_key),
		T(test_missing_file), T(test_overrides_apply_to_rules), T(test_unreloadable_changes),
		T(test_man_page_matches_table), T(test_metrics_listen), T(test_nats_urls), T(test_ledger_retention),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
