/* errors.h: a list of messages collected while checking an input, so one
 * run reports every error of a file, not only the first. */
#ifndef PACTO_ERRORS_H
#define PACTO_ERRORS_H

#include <stddef.h>

struct errors {
	char **msgs;
	size_t n;
};

void errors_add(struct errors *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void errors_clear(struct errors *errs);

/* Writes each message on a line of its own to stderr, after prefix, its
 * controls escaped (put_printable: messages quote the files they refuse). */
void errors_print(const struct errors *errs, const char *prefix);

#endif
