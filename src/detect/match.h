/* match.h: one message against one scenario's patterns.
 * Why: decides which pattern (if any) a line is and where the server wrote
 * the address, trying only the patterns that can start with the message's
 * first byte (PCRE2's own analysis of each pattern says which), and
 * matching the busiest stock patterns with hand-written code (native.h).
 * Guarantees: a match has a valid binary address when its pattern has an
 * addr group; a line whose captured text is not an address is refused
 * (MATCH_BAD_ADDR), never guessed at. Backtracking is capped per line.
 * Ownership: a matcher holds match data for one scenario; not thread-safe. */
#ifndef PACTO_MATCH_H
#define PACTO_MATCH_H

#include "common/addr.h"
#include "detect/rules.h"

enum match_result {
	MATCH_NONE,
	MATCH_OK,
	MATCH_BAD_ADDR,   /* the pattern matched but the address did not parse */
	MATCH_ERROR,      /* PCRE2 gave up (match limit): counted, not trusted */
};

struct match {
	const struct pattern *pattern;
	size_t index;      /* of the pattern in its scenario */
	bool has_addr;
	struct addr addr;
	int port;          /* -1 when the pattern captures none */
	const char *time;  /* the (?<time>...) capture, inside the message; NULL when none */
	size_t time_len;
	bool nofail;       /* the pattern's `nofail` group took part: the line counts nothing */
};

/* PCRE2's match limit per call. Far above what any stock pattern needs on
 * an 8 KiB line (~12,200 at most, measured on crafted lines), far below
 * what a hostile line could make a careless pattern cost. */
#define MATCH_LIMIT 200000
/* The backtracking memory PCRE2's interpreter may take per call, in KiB
 * (only for a pattern PCRE2 could not JIT-compile): PCRE2's default is
 * 20 GB, and the JIT's own stack is 32 KiB, which a hostile line reaches
 * long before the match limit. */
#define MATCH_HEAP_LIMIT_KIB 256

struct matcher;

struct matcher *matcher_new(const struct scenario *s);
void matcher_free(struct matcher *m);  /* accepts NULL */

/* On by default: each pattern's fixed leading text (prefix.h) is compared
 * before PCRE2 is called, a pattern that is only fixed text is decided
 * without PCRE2, and a stock pattern with a hand-written matcher (native.h)
 * is matched by it. Off: PCRE2 alone decides (the tests compare both). */
void matcher_set_prefilter(struct matcher *m, bool on);

enum match_result matcher_run(struct matcher *m, const char *msg, size_t len, struct match *out);

#endif
