/* cmd_import.c: `pacto import-fail2ban FILTER.conf [--out RULE]`.
 * Why: turns a fail2ban filter into a pacto rule (src/import/f2b.h), and
 * loads the result with the same code pactod uses before writing it, so a
 * rule it writes is one `pacto rules check` accepts. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cliopt.h"
#include "common/log.h"
#include "common/textout.h"
#include "ctl/cli.h"
#include "import/f2b.h"

#define MAX_SET 64

static const char import_usage[] =
	"usage: pacto import-fail2ban [--out RULE] [--set NAME=VALUE]... [--partial] FILTER.conf\n"
	"Converts a fail2ban filter (its includes, %(name)s and <tag> substitutions,\n"
	"prefregex, failregex, ignoreregex, datepattern) into a pacto rule on stdout.\n"
	"  --out RULE         write the rule to RULE instead\n"
	"  --set NAME=VALUE   a filter option, as a jail's filter = NAME[mode=aggressive]\n"
	"  --partial          leave out the regexes that cannot be converted (each one a\n"
	"                     warning and a comment in the rule) instead of failing\n";

/* Loads the rule text as pactod would; errors go to errs. */
static int check_rule(const char *name, const char *yaml, struct errors *errs)
{
	struct rule_text t = {.name = name, .text = yaml, .len = strlen(yaml)};
	struct ruleset *rs = NULL;
	int rc = ruleset_load_texts(&t, 1, &rs, errs);
	ruleset_free(rs);
	return rc;
}

static int write_rule(const char *out, const char *yaml)
{
	FILE *f = out ? fopen(out, "w") : stdout;
	if (!f) {
		perror(out);
		return EXIT_CANTCREAT_;
	}
	int err = textout_write(f, yaml, out != NULL);
	if (err) {
		fprintf(stderr, "pacto: %s: cannot write the rule: %s\n", out ? out : "standard output", strerror(err));
		return EXIT_CANTCREAT_;
	}
	return EXIT_OK;
}

static int parse_args(int argc, char **argv, struct f2b_options *o, const char **set, const char **out)
{
	static const struct option longopts[] = {
		{"out", required_argument, NULL, 'o'}, {"set", required_argument, NULL, 's'},
		{"partial", no_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:s:ph", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(import_usage, stdout);
			return 0;
		} else if (opt == 'o') {
			if (!cliopt_nonempty("pacto import-fail2ban", "--out", optarg, "file name"))
				return -1;
			*out = optarg;
		} else if (opt == 'p') {
			o->partial = true;
		} else if (opt == 's' && strchr(optarg, '=') && optarg[0] != '=' && o->nset < MAX_SET) {
			set[o->nset++] = optarg;
		} else {
			fputs(import_usage, stderr);
			return -1;
		}
	}
	if (optind + 1 != argc) {
		fputs(import_usage, stderr);
		return -1;
	}
	if (!cliopt_nonempty("pacto import-fail2ban", "FILTER", argv[optind], "file name"))
		return -1;
	return optind;
}

int cmd_import_fail2ban(int argc, char **argv)
{
	const char *set[MAX_SET], *out = NULL;
	struct f2b_options o = {.set = set};
	int first = parse_args(argc, argv, &o, set, &out);
	if (first <= 0)
		return first == 0 ? EXIT_OK : EXIT_USAGE;
	struct errors warns = {0}, errs = {0};
	char *yaml = f2b_convert(argv[first], &o, &warns, &errs);
	int rc = EXIT_OK;
	errors_print(&warns, "pacto import-fail2ban: warning: ");
	if (yaml && check_rule(out ? out : "(converted rule)", yaml, &errs) != 0) {
		free(yaml);
		yaml = NULL;
	}
	if (!yaml) {
		errors_print(&errs, "pacto import-fail2ban: ");
		fputs("pacto import-fail2ban: ", stderr);
		put_printable(stderr, argv[first]);
		fputs(": not converted\n", stderr);
		rc = EXIT_DATAERR;
	} else {
		rc = write_rule(out, yaml);
	}
	free(yaml);
	errors_clear(&warns);
	errors_clear(&errs);
	return rc;
}
