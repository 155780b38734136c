/* f2b.h: a fail2ban filter turned into a pacto rule (`pacto import-fail2ban`).
 * Why: users bring years of fail2ban filters; each should become a pacto
 * scenario they can check with `pacto rules check` and try with `pacto
 * replay`, or be refused with a reason that names the filter, the line and
 * the construct.
 * What maps to what (docs/fail2ban.md): each failregex becomes an
 * `attempt` pattern, each ignoreregex an `ignore` pattern placed before
 * them (fail2ban drops a failure any ignoreregex matches); the part of a
 * failregex marked <F-NOFAIL> or <F-MLFGAINED> becomes a `nofail` group
 * (a line where it takes part counts nothing); prefregex is folded
 * into every failregex at its <F-CONTENT>; <HOST>/<ADDR>/<IP4>/<IP6>
 * become the `addr` capture (addresses only: pacto never resolves names);
 * the date fail2ban cuts out of a line before matching is matched in place
 * (the filter's datepattern, or common date shapes).
 * Guarantees: the YAML returned loads with ruleset_load(), except that
 * PCRE2 may refuse a regex as too large to compile (pacto import-fail2ban
 * loads it before printing; fuzz_f2b checks both); nothing is returned for
 * a filter with any error. The filter's path and the --set options are
 * quoted in the rule's header comment with their control characters,
 * line breaks and backslashes escaped (\n, \r, \t, \\, \xHH), so none
 * can end the comment; a file name that cannot be a scenario's name (a
 * control character, a line break or bytes that are not UTF-8 in it) is
 * an error.
 * Ownership: the caller frees the returned text. */
#ifndef PACTO_F2B_H
#define PACTO_F2B_H

#include <stdbool.h>
#include <stddef.h>

#include "common/errors.h"

struct f2b_options {
	const char *const *set;  /* "name=value" overrides, as a jail's filter[name=value] */
	size_t nset;
	bool partial;            /* drop the regexes that cannot be converted (a warning each) */
};

/* Converts the filter at path. Returns the YAML text, or NULL with errs
 * filled. Warnings (what --partial dropped) go to warns. */
char *f2b_convert(const char *path, const struct f2b_options *o, struct errors *warns, struct errors *errs)
	__attribute__((warn_unused_result));

/* One fail2ban regex (tags already substituted) as a PCRE2 regex for
 * pacto: prefregex (may be NULL) folded in, tags and Python syntax
 * translated, the date allowed where fail2ban would have cut it (date_re:
 * a regex for it, or NULL for the common shapes). Returns the regex, or
 * NULL with *why set to the construct that cannot be converted. *nofail
 * says the regex has a `nofail` group; *has_addr
 * whether it captures an address. The caller frees the result. */
char *f2b_regex(const char *failregex, const char *prefregex, const char *date_re, bool *nofail,
		bool *has_addr, const char **why);

/* A fail2ban datepattern (e.g. "^%Y-%m-%d %H:%M:%S", "{^LN-BEG}") as a
 * PCRE2 regex for the date text alone; NULL when it cannot be read. The
 * caller frees the result. */
char *f2b_date_regex(const char *datepattern);

#endif
