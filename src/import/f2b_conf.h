/* f2b_conf.h: a fail2ban filter file read the way fail2ban reads it:
 * Python ConfigParser INI ([INCLUDES] before/after, multi-line values,
 * `;` inline comments), `%(name)s` / `%(section/name)s` / `%(known/name)s`
 * interpolation, then fail2ban's own `<name>` tag substitution (nested tags
 * such as `<lt_<logtype>/__prefix_line>` included).
 * Why: `pacto import-fail2ban` needs each option's final text exactly as
 * fail2ban would compile it.
 * Guarantees: every error names file:line and the option; values returned
 * are fully resolved except fail2ban's own tags (<HOST>, <F-USER>, ...).
 * Ownership: f2b_conf_free() frees everything; f2b_conf_get() returns a
 * string the caller frees. Never: runs anything a filter says. */
#ifndef PACTO_F2B_CONF_H
#define PACTO_F2B_CONF_H

#include <stddef.h>

#include "common/errors.h"

struct f2b_conf;

/* Reads path (a filter's .conf), its includes and its .local, with the
 * options `over` ("name=value", n of them) overriding the filter's own, as
 * a jail's `filter = name[mode=aggressive]` does. Returns NULL with errs
 * filled. */
struct f2b_conf *f2b_conf_read(const char *path, const char *const *over, size_t n, struct errors *errs)
	__attribute__((warn_unused_result));

void f2b_conf_free(struct f2b_conf *c);

/* The resolved value of [Definition] (or [Init], or [DEFAULT]) `name`, or
 * NULL when the filter does not set it (or it cannot be resolved: errs then
 * says why). *line is the line where it was set (0 if unset). */
char *f2b_conf_get(struct f2b_conf *c, const char *name, unsigned *line, struct errors *errs);

/* The file the filter was read from (for messages). */
const char *f2b_conf_file(const struct f2b_conf *c);

#endif
