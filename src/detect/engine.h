/* engine.h: the detection engine, from log lines to sanctions.
 * Why: one pure pipeline (split -> match -> connection -> counters ->
 * policy) that pactod, `pacto replay`, the tests and the fuzzers share.
 * Guarantees: memory is bounded by the configured table sizes whatever the
 * input; lines longer than ENGINE_MAX_LINE are refused whole, never cut
 * (a cut line could end in text the attacker chose).
 * Never: does I/O or reads the clock: time comes from the lines (replay) or
 * from the caller (live). Not thread-safe. */
#ifndef PACTO_ENGINE_H
#define PACTO_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"
#include "detect/logline.h"
#include "detect/match.h"
#include "detect/rules.h"
#include "detect/sanction.h"

#define ENGINE_MAX_LINE 8192

/* Why a line did or did not count, for --explain. */
enum verdict {
	VERDICT_COUNTED,          /* one failure counted now */
	VERDICT_PENDING,          /* will count when the connection ends, unless it tries */
	VERDICT_PENDING_COUNTED,  /* the connection ended without trying: its pending failure counted */
	VERDICT_ALREADY_TRIED,    /* the connection ended after an attempt already counted */
	VERDICT_NOT_FAILURE,      /* a connection that ends with nothing to count (health check) */
	VERDICT_REDESCRIBES,      /* re-describes an attempt counted by another line */
	VERDICT_MARKED,           /* sets a flag on its connection */
	VERDICT_ALLOWLISTED,
	VERDICT_WHILE_SANCTIONED, /* the source was already sanctioned */
	VERDICT_SANCTIONED,       /* this failure reached the threshold */
	VERDICT_BAD_ADDRESS,      /* the pattern matched but captured no valid address */
};

const char *verdict_text(enum verdict v);

struct trace {
	enum verdict verdict;
	const struct scenario *scenario;
	const struct pattern *pattern;    /* NULL for a connection that timed out */
	const struct log_event *event;    /* NULL for a connection that timed out */
	struct addr source;
	struct addr key;
	unsigned in_window;               /* failures in the window after this line */
	int64_t time_us;
	int64_t until_us;                 /* VERDICT_WHILE_SANCTIONED: the sanction's end */
};

struct engine_config {
	const struct addr *allowlist;
	size_t nallowlist;
	unsigned ipv6_prefix;         /* default 64 */
	size_t max_sources;           /* per scenario; default 262144 */
	size_t max_connections;       /* default 65536 */
	bool use_log_time;            /* replay: the lines' own times; live: the caller's */
	bool trust_bare;              /* read lines without a syslog header as the server's own
				       * (sshd -E). Unsafe: sshd writes control characters raw
				       * there, so a user name can forge whole lines. */
	int64_t reference_us;         /* for syslog times without a year */
	uint64_t seed;                /* hash seed (pick it at random) */
	void (*on_sanction)(void *arg, const struct sanction *s);
	offence_history_fn offence_history;  /* past offences of a key not in memory; may be NULL */
	void (*on_trace)(void *arg, const struct trace *t);
	void *arg;
	bool trace_all;               /* trace every source, not just trace_source */
	bool has_trace_source;
	struct addr trace_source;     /* trace this address or prefix only */
};

struct engine_stats {
	uint64_t lines, oversized, matched, failures, sanctions;
	uint64_t allowlisted, while_sanctioned, bad_address, match_errors, bad_time;
	uint64_t pending_expired;
	uint64_t recidives;           /* sanctions lengthened by an `input: sanctions` scenario */
	uint64_t bare_ignored;        /* header-less lines not read (trust_bare off) and no
				       * headerless scenario matched */
	uint64_t backwards;           /* lines more than a minute older than the latest seen */
	uint64_t source_evictions, connection_evictions, offender_evictions;
	size_t memory_bytes;          /* held by the tables now */
	size_t memory_bound;          /* the most they can hold, from the configuration */
};

struct engine;

/* rs is borrowed and must outlive the engine. */
struct engine *engine_new(const struct ruleset *rs, const struct engine_config *cfg);
void engine_free(struct engine *e);  /* accepts NULL */

/* Feeds one line (without its newline). now_us is the caller's clock, used
 * when !use_log_time or when the line carries no time. */
void engine_feed_line(struct engine *e, const char *line, size_t len, int64_t now_us);

/* Feeds an event already split (from the journal). */
void engine_feed_event(struct engine *e, struct log_event *ev, int64_t now_us);

/* engine_feed_line() in two halves, for callers that scan lines on other
 * threads (pacto replay): engine_scan_line() is pure (it splits the line
 * and runs the patterns of the scenarios that read it, on a scanner of
 * its own per thread), engine_apply_line() does the rest in line order
 * (times, connections, counting, sanctions). Scanning lines in any order
 * and applying them in log order gives exactly what engine_feed_line()
 * gives, which is the two of them in a row. */
struct engine_hit {
	uint32_t scenario;
	enum match_result result;     /* MATCH_OK, MATCH_BAD_ADDR or MATCH_ERROR */
	struct match match;
	/* Set by engine_scan_line() (prepared true) for a hit that counts or
	 * marks: the lookups applying it will make, hashed once. */
	bool prepared;
	uint32_t conn_hash;
	uint32_t key_hash;            /* of key, in the offenders' table and the scenario's counters */
	struct addr key;              /* the counting key of match.addr */
};

enum scanned_kind { SCANNED_READ, SCANNED_UNREAD, SCANNED_OVERSIZED };

/* Bytes of a line's time stamp kept in its record: a classic one (15)
 * or an RFC 3339 one with its fraction and zone (up to 32). */
#define ENGINE_TS_COPY 32

struct engine_scanned {
	struct log_event ev;          /* points into the line, which must outlive it */
	enum scanned_kind kind;
	bool bare_unread;             /* counts in bare_ignored */
	size_t nhits;
	uint64_t host_hash;           /* of ev's host, when nhits */
	/* engine_scanned_keep_time(): the time stamp of a line with a hit,
	 * which ev.ts then points to. A record must not be copied. */
	char ts_copy[ENGINE_TS_COPY];
};

/* Copies the time stamp of line (scanned into s, with a hit) into s, so
 * that applying reads it there, not in the line: on several CPUs the line
 * lies in the scanning CPU's cache, and that load was a third of
 * engine_apply_line's samples (the scan pool calls it; applying on the
 * same CPU right after, engine_feed_line, gains nothing from it). */
void engine_scanned_keep_time(struct engine_scanned *s, const char *line, size_t len);

/* Lines without a hit change only counts: a caller applying many lines
 * may add them up (engine_count_unmatched, on any thread) and apply the
 * sum (engine_add_unmatched) instead of each line; the result is the same. */
struct engine_unmatched {
	uint64_t lines, oversized, bare_ignored;
};
void engine_count_unmatched(struct engine_unmatched *sum, const struct engine_scanned *line);
void engine_add_unmatched(struct engine *e, const struct engine_unmatched *sum);

/* The most hits one line can have (one per scenario): size hits for it. */
size_t engine_max_hits(const struct engine *e);

struct engine_scanner;
/* A scanner for e's rules; e must outlive it. Not shared between threads. */
struct engine_scanner *engine_scanner_new(const struct engine *e);
void engine_scanner_free(struct engine_scanner *sc);   /* accepts NULL */
void engine_scan_line(struct engine_scanner *sc, const char *line, size_t len, struct engine_scanned *out,
		      struct engine_hit *hits);
void engine_apply_line(struct engine *e, struct engine_scanned *line, const struct engine_hit *hits,
		       int64_t now_us);

/* Sets the reference time for syslog times without a year (a new file). */
void engine_set_reference(struct engine *e, int64_t reference_us);

/* Moves time on to now_us: connections idle longer than their timeout end,
 * and their pending failures count. */
void engine_advance(struct engine *e, int64_t now_us);

/* A sanction decided outside the engine (by hand, restored at start): key
 * counts as sanctioned until until_us. */
void engine_impose(struct engine *e, const struct addr *key, int64_t until_us);

/* A sanction lifted by hand: key's failures count again, from zero. */
void engine_lift(struct engine *e, const struct addr *key);

/* True when key is, holds or lies in an allowlisted network. */
bool engine_allowlisted(const struct engine *e, const struct addr *key);

/* The key a source is counted and sanctioned under (see policy_key). */
struct addr engine_key(const struct engine *e, const struct addr *source);

/* Ends every open connection (end of a replay): pending failures count. */
void engine_finish(struct engine *e);

/* The engine's clock: the latest time it has seen. */
int64_t engine_now(const struct engine *e);

void engine_get_stats(const struct engine *e, struct engine_stats *out);

#endif
