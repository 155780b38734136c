/* rules.h: scenarios, loaded from YAML rule files (format: docs/rules.md).
 * Why: what counts as an aggression is data, not code; users add services
 * by writing a file, and the stock sshd rule is one such file.
 * Guarantees: a loaded ruleset is fully validated and every pattern is
 * compiled (JIT-compiled at its first match: pattern_jit_code()); a file
 * with any error is rejected whole, and every error is reported as
 * "file:line: key: message".
 * Ownership: ruleset_free() frees everything, including compiled patterns. */
#ifndef PACTO_RULES_H
#define PACTO_RULES_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errors.h"

/* What a matching line does to its connection and its source. */
enum effect {
	EFFECT_IGNORE,       /* recognised; re-describes something already counted */
	EFFECT_ATTEMPT,      /* one failure now; the connection has tried */
	EFFECT_PENDING,      /* one failure when the connection ends, unless it tries */
	EFFECT_END,          /* the connection ends; its pending failure counts */
	EFFECT_END_ATTEMPT,  /* the connection ends; one failure unless it tried */
	EFFECT_MARK,         /* sets a flag on the connection */
};

#define RULES_MAX_FLAGS 16
#define RULES_MAX_PATTERNS 256
#define RULES_MAX_THRESHOLD 1000
#define RULES_MAX_ADDR_GROUPS 8   /* groups named addr in one regex, with (?J) */
#define RULES_MAX_NAME 128        /* bytes of a scenario's name: the ledger keeps no more */

struct pattern {
	char *name;
	char *regex;
	unsigned line;          /* in the rule file, for messages */
	enum effect effect;
	enum effect otherwise;  /* when `when` is set but its flag is not */
	int when_flag;          /* -1: unconditional */
	int mark_flag;          /* EFFECT_MARK: the flag to set */
	bool has_addr;          /* the regex has an (?<addr>...) group */
	uint32_t addr_group;    /* its number (the first, when (?J) repeats the name) */
	uint32_t addr_groups[RULES_MAX_ADDR_GROUPS];  /* every group named addr */
	uint32_t naddr_groups;
	uint32_t port_group;    /* 0 when the regex has no (?<port>...) */
	uint32_t time_group;    /* 0 when the regex has no (?<time>...): headerless lines' time */
	uint32_t nofail_group;  /* 0 when the regex has no (?<nofail>...) */
	pcre2_code *code;       /* compiled, never JIT-compiled (pattern_jit_code() makes a copy that is) */
	const char *file;       /* its rule file (its scenario's), for messages */
	struct pattern_jit *jit;
};

/* A pattern's JIT code, made at its first match (pattern_jit_code()). */
enum pattern_jit_state {
	PATTERN_JIT_NOT_YET,    /* nothing matched with it yet */
	PATTERN_JIT_READY,
	PATTERN_JIT_FAILED,     /* PCRE2 could not: its interpreter matches instead */
};
struct pattern_jit {
	_Atomic int state;      /* enum pattern_jit_state */
	pcre2_code *code;       /* pattern.code's copy, JIT-compiled: set before state is READY */
};

struct scenario {
	char *name;
	char *file;
	char *description;
	char **programs;        /* syslog identifiers read; none = every program */
	size_t *program_lens;
	size_t nprograms;
	bool headerless;        /* also reads lines with no syslog header (a server's own file) */
	bool counts_sanctions;  /* input: sanctions (recidive): counts other scenarios'
				 * sanctions, reads no line, has no patterns */
	unsigned threshold;
	int64_t window_us;
	int64_t sanction_us;
	unsigned escalation_factor;
	int64_t escalation_max_us;
	int64_t escalation_memory_us;
	int64_t connection_timeout_us;
	char *flags[RULES_MAX_FLAGS];
	size_t nflags;
	struct pattern *patterns;
	size_t npatterns;
};

struct ruleset {
	struct scenario *scenarios;
	size_t nscenarios;
};

/* Loads PATH: a rule file, or a directory whose *.yaml / *.yml files are
 * loaded in name order. Returns 0 with *out set, or -1 with errs filled
 * (nothing is loaded then). */
int ruleset_load(const char *path, struct ruleset **out, struct errors *errs)
	__attribute__((warn_unused_result));

/* The same for several paths, into one ruleset. */
int ruleset_load_paths(const char *const *paths, size_t n, struct ruleset **out, struct errors *errs)
	__attribute__((warn_unused_result));

/* Rule text held in memory (the stock rules built into the binary). */
struct rule_text {
	const char *name;   /* used in messages */
	const char *text;
	size_t len;
};

int ruleset_load_texts(const struct rule_text *texts, size_t n, struct ruleset **out,
		       struct errors *errs) __attribute__((warn_unused_result));

void ruleset_free(struct ruleset *rs);

/* p's regex JIT-compiled, made the first time it is asked, once for every
 * thread (the others wait for it); NULL when PCRE2 could not make it (then
 * pcre2_match() on p->code matches; a warning was logged once). The JIT
 * code is a private copy of p->code: PCRE2 wants a pattern that is being
 * JIT-compiled to be used by no other thread, and p->code is read by any
 * (pcre2_pattern_info(), pcre2_match()). Why at first use: JIT-compiling
 * every pattern at load was half of `pacto replay`'s start-up (~0.6 ms),
 * most of it for patterns a log never reaches or that a hand-written
 * matcher (native.h) answers. */
const pcre2_code *pattern_jit_code(const struct pattern *p);

/* Whether PCRE2's JIT can run in this process at all: tried once, at the
 * first load of rules, so that a system that forbids it (systemd's
 * MemoryDenyWriteExecute=yes) is said at start, once, not at the first
 * match of each pattern. */
bool rules_jit_available(void);

const char *effect_name(enum effect e);

#endif
