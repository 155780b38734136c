/* pacto.c: the `pacto` command: a table of subcommands and its usage.
 * Why a table: usage, dispatch and the man page check read the same list. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/cliopt.h"
#include "common/log.h"
#include "common/version.h"
#include "ctl/cli.h"

static const struct command commands[] = {
	{"status", cmd_status, "what pactod is doing: sources, counts, ledger, firewall"},
	{"sanctions", cmd_sanctions, "the sanctions in force"},
	{"sanction", cmd_sanction, "sanction an address or prefix by hand"},
	{"lift", cmd_lift, "lift a sanction"},
	{"why", cmd_why, "an address's whole history: each sanction, its evidence, lifts"},
	{"reload", cmd_reload, "read the configuration, rules and treaty again"},
	{"allies", cmd_allies, "the alliance: each member's last report, lag and refusals"},
	{"replay", cmd_replay, "read logs as if live and print every sanction they would cause"},
	{"rules", cmd_rules, "check rule files and show the scenarios they define"},
	{"import-fail2ban", cmd_import_fail2ban, "turn a fail2ban filter into a pacto rule"},
	{"keygen", cmd_keygen, "create this member's key pair for the alliance"},
	{"treaty", cmd_treaty, "create, amend, sign, verify and show the alliance's treaty"},
};

static const size_t ncommands = sizeof(commands) / sizeof(*commands);

static void usage(FILE *out)
{
	fprintf(out, "usage: pacto [--version] [--help] [--state-dir DIR] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < ncommands; i++)
		fprintf(out, "  %-15s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'pacto COMMAND --help' shows a command's options; see pacto(8).\n");
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ncommands; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* EXIT_OK when everything written to standard output reached it; else
 * says so (a full disk, a closed pipe's reader) and EXIT_CANTCREAT_: a
 * script must not take a cut listing or rule for a whole one. */
static int stdout_written(void)
{
	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return EXIT_OK;
	fprintf(stderr, "pacto: standard output: %s\n", errno ? strerror(errno) : "a write failed");
	return EXIT_CANTCREAT_;
}

/* The global --state-dir DIR (or --state-dir=DIR) before the command:
 * how many arguments it took (0 without it), or -1 after saying what is
 * wrong with it. */
static int state_dir_option(int argc, char **argv)
{
	static const char opt[] = "--state-dir";
	size_t n = sizeof(opt) - 1;
	if (strncmp(argv[1], opt, n) != 0 || (argv[1][n] != '\0' && argv[1][n] != '='))
		return 0;
	bool joined = argv[1][n] == '=';
	int taken = joined ? 1 : 2;
	if (!joined && argc < 3) {
		fprintf(stderr, "pacto: option '--state-dir' needs a value\n");
		return -1;
	}
	cli_state_dir = joined ? argv[1] + n + 1 : argv[2];
	if (!cliopt_nonempty("pacto", "--state-dir", cli_state_dir, "directory name"))
		return -1;
	if (argc <= taken + 1) {
		fprintf(stderr, "pacto: a command is needed after --state-dir %s\n", cli_state_dir);
		usage(stderr);
		return -1;
	}
	if (strncmp(argv[taken + 1], opt, n) == 0) {
		fprintf(stderr, "pacto: --state-dir given twice\n");
		return -1;
	}
	return taken;
}

/* The command named in argv, run; its exit status. */
static int run_command(int argc, char **argv)
{
	log_init("pacto", LOG_LEVEL_INFO);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("pacto %s\n", PACTO_VERSION);
		return EXIT_OK;
	}
	int taken = state_dir_option(argc, argv);
	if (taken < 0)
		return EXIT_USAGE;
	argc -= taken;
	argv += taken;
	const struct command *cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "pacto: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	return cmd->handler(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	int rc = run_command(argc, argv);
	return rc == EXIT_OK ? stdout_written() : rc;
}
