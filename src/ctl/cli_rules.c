/* cli_rules.c: where the CLI finds its rules, and `pacto rules`.
 * Why: replay and (later) pactod must load exactly the same rules the same
 * way, and say which rules they used. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cliopt.h"
#include "common/json_text.h"
#include "ctl/cli.h"

static void print_errors(const struct errors *errs)
{
	errors_print(errs, "");
	fprintf(stderr, "pacto: %zu error%s in the rules; nothing was loaded\n", errs->n, errs->n == 1 ? "" : "s");
}

/* cli_load_rules without printing: every error is left in errs. */
static struct ruleset *load_rules(const char *path, const char **origin, struct errors *errs)
{
	struct ruleset *rs = NULL;
	struct stat st;
	int rc;
	if (!path && stat(PACTO_RULES_DIR, &st) == 0)
		path = PACTO_RULES_DIR;
	if (path) {
		*origin = path;
		rc = ruleset_load(path, &rs, errs);
	} else {
		*origin = "the stock rules built into pacto";
		rc = ruleset_load_texts(stock_rules, nstock_rules, &rs, errs);
	}
	return rc == 0 ? rs : NULL;
}

struct ruleset *cli_load_rules(const char *path, const char **origin)
{
	struct errors errs = {0};
	struct ruleset *rs = load_rules(path, origin, &errs);
	if (!rs)
		print_errors(&errs);
	errors_clear(&errs);
	return rs;
}

static void show_scenario_text(const struct scenario *s)
{
	printf("%s (%s): %u failures in %llds -> %llds, x%u per repeat up to %llds; %zu patterns\n",
	       s->name, s->file, s->threshold, (long long)(s->window_us / 1000000),
	       (long long)(s->sanction_us / 1000000), s->escalation_factor,
	       (long long)(s->escalation_max_us / 1000000), s->npatterns);
}

static json_t *scenario_json(const struct scenario *s)
{
	json_t *patterns = json_array();
	for (size_t i = 0; i < s->npatterns; i++)
		json_array_append_new(patterns, json_pack("{s:s, s:s, s:s, s:i}", "name", s->patterns[i].name,
							  "effect", effect_name(s->patterns[i].effect),
							  "regex", s->patterns[i].regex, "line", (int)s->patterns[i].line));
	return json_pack("{s:s, s:o, s:i, s:I, s:I, s:i, s:I, s:I, s:o}", "scenario", s->name,
			 "file", json_text_cstr(s->file),
			 "threshold", (int)s->threshold, "window_s", (json_int_t)(s->window_us / 1000000),
			 "sanction_s", (json_int_t)(s->sanction_us / 1000000),
			 "escalation_factor", (int)s->escalation_factor,
			 "escalation_max_s", (json_int_t)(s->escalation_max_us / 1000000),
			 "escalation_memory_s", (json_int_t)(s->escalation_memory_us / 1000000),
			 "patterns", patterns);
}

static void show_rules(const struct ruleset *rs, bool json)
{
	if (!json) {
		for (size_t i = 0; i < rs->nscenarios; i++)
			show_scenario_text(&rs->scenarios[i]);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < rs->nscenarios; i++)
		json_array_append_new(arr, scenario_json(&rs->scenarios[i]));
	char *text = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text)
		puts(text);
	free(text);
	json_decref(arr);
}

/* `rules check --json`: {"rules": origin, "scenarios": N, "errors": [...]}
 * on stdout, whether the rules load or not (the errors also on stderr). */
static int check_json(const char *path)
{
	struct errors errs = {0};
	const char *origin;
	struct ruleset *rs = load_rules(path, &origin, &errs);
	json_t *list = json_array();
	for (size_t i = 0; i < errs.n; i++)
		json_array_append_new(list, json_text(errs.msgs[i], strlen(errs.msgs[i])));   /* they quote paths */
	json_t *j = json_pack("{s:o, s:I, s:o}", "rules", json_text_cstr(origin),
			      "scenarios", (json_int_t)(rs ? rs->nscenarios : 0),
			      "errors", list);
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (text)
		puts(text);
	free(text);
	json_decref(j);
	if (!rs)
		print_errors(&errs);
	errors_clear(&errs);
	ruleset_free(rs);
	return rs ? EXIT_OK : EXIT_CONFIG;
}

static const char rules_usage[] =
	"usage: pacto rules check|show [--rules PATH] [--json]\n"
	"  check   load the rules and report every error with file and line\n"
	"  show    list the scenarios the rules define\n";

int cmd_rules(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rules", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "r:jh", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(rules_usage, stdout);
			return EXIT_OK;
		}
		if (opt == 'r' && !cliopt_nonempty("pacto rules", "--rules", optarg, "path"))
			return EXIT_USAGE;
		if (opt == 'r')
			path = optarg;
		else if (opt == 'j')
			json = true;
		else {
			fputs(rules_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "check") && strcmp(argv[optind], "show"))) {
		fputs(rules_usage, stderr);
		return EXIT_USAGE;
	}
	if (json && strcmp(argv[optind], "check") == 0)
		return check_json(path);
	const char *origin;
	struct ruleset *rs = cli_load_rules(path, &origin);
	if (!rs)
		return EXIT_CONFIG;
	if (strcmp(argv[optind], "show") == 0)
		show_rules(rs, json);
	else
		fprintf(stderr, "pacto: %s: %zu scenario%s, no errors\n", origin, rs->nscenarios,
			rs->nscenarios == 1 ? "" : "s");
	ruleset_free(rs);
	return EXIT_OK;
}
