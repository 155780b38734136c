/* cli.h: what the `pacto` commands share: the command table entry, exit
 * codes (sysexits, documented in pacto(8)) and the rules they load. */
#ifndef PACTO_CLI_H
#define PACTO_CLI_H

#include <stddef.h>

#include "detect/rules.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_ = 1,    /* keygen, treaty: the action failed; treaty verify: not in force */
	EXIT_USAGE = 64,      /* EX_USAGE: bad command line */
	EXIT_DATAERR = 65,    /* EX_DATAERR: pactod refused the request */
	EXIT_NOINPUT = 66,    /* EX_NOINPUT: an input file cannot be read */
	EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: pactod cannot be reached or did not answer */
	EXIT_CANTCREAT_ = 73, /* EX_CANTCREAT: an output file, or standard output, cannot be written */
	EXIT_CONFIG = 78,     /* EX_CONFIG: bad rules or configuration */
};

struct command {
	const char *name;
	int (*handler)(int argc, char **argv);
	const char *summary;
};

int cmd_replay(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_sanctions(int argc, char **argv);
int cmd_sanction(int argc, char **argv);
int cmd_lift(int argc, char **argv);
int cmd_why(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_treaty(int argc, char **argv);
int cmd_allies(int argc, char **argv);
int cmd_import_fail2ban(int argc, char **argv);

/* Where the control socket is: `pacto --state-dir DIR` (NULL: /run/pacto). */
extern const char *cli_state_dir;

/* Loads the rules at path, or the stock rules built into pacto when path is
 * NULL and PACTO_RULES_DIR does not exist. Prints every error on stderr
 * and returns NULL when any rule file is bad. *origin says what was loaded. */
struct ruleset *cli_load_rules(const char *path, const char **origin);

/* The stock rules, embedded at build time from rules/ (generated file). */
extern const struct rule_text stock_rules[];
extern const size_t nstock_rules;

#endif
