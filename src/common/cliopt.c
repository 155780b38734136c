/* cliopt.c: command-line checks shared by pactod and pacto (see cliopt.h). */
#include "common/cliopt.h"

#include <stdio.h>

bool cliopt_nonempty(const char *prog, const char *option, const char *value, const char *what)
{
	if (value[0] != '\0')
		return true;
	fprintf(stderr, "%s: %s: an empty %s\n", prog, option, what);
	return false;
}
