/* cliopt.h: a check shared by pactod's and pacto's command lines.
 * Why: an empty option value (`--user ""`, `--rules "$UNSET"`) went on to
 * getpwnam() or open() and came back as exit 78 or ": No such file or
 * directory", naming no option. Every option that takes a path or a name
 * is checked here first, so all of them say the same thing. */
#ifndef PACTO_CLIOPT_H
#define PACTO_CLIOPT_H

#include <stdbool.h>

/* True when value is not empty. Otherwise prints "PROG: OPTION: an empty
 * WHAT" (what: "file name", "user name"...) on stderr and returns false:
 * the caller exits 64 (EX_USAGE). */
bool cliopt_nonempty(const char *prog, const char *option, const char *value, const char *what)
	__attribute__((warn_unused_result));

#endif
