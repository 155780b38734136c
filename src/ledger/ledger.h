/* ledger.h: the durable register of every sanction and its provenance.
 * Why: it answers "why is X blocked, since when, on whose word", and it is
 * the source of truth the firewall is restored from at start (the daemon
 * never reads nftables sets back: that is quadratic in the kernel).
 * Guarantees: a sanction, its evidence and a source cursor written in one
 * transaction are stored together or not at all; once ledger_commit() (or a
 * ledger_add_sanction() outside a transaction) returns 0 it survives kill -9
 * and power loss (WAL, synchronous=FULL), unless ledger_defer_sync() moved
 * the power-loss part to a background checkpoint (see there). A lift is
 * recorded, not applied by removing rows; history is deleted only by the
 * retention (ledger_prune.h), once it has ended and nothing needs it.
 * Ownership: one struct ledger per thread; the caller owns it and frees it
 * with ledger_close(). Every function that can fail returns 0 or -1 and then
 * writes "what failed: why" into err (err may be NULL when errlen is 0). */
#ifndef PACTO_LEDGER_H
#define PACTO_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

#define LEDGER_MAX_EVIDENCE 16    /* lines kept per sanction; more are counted */
#define LEDGER_MAX_LINE 1024      /* bytes kept per line; longer ones are cut, marked */
#define LEDGER_MAX_REASON 512     /* bytes of reason kept; the rest is cut */
#define LEDGER_MAX_NAME 128       /* scenario, origin, lifted-by, source names: longer is refused */
#define LEDGER_MAX_CURSOR 1024    /* a source cursor; longer is refused */

#define LEDGER_WUR __attribute__((warn_unused_result))

struct ledger;

/* One matched log line. Not NUL-terminated. */
struct ledger_line {
	const char *text;
	size_t len;
	size_t orig_len;   /* read back: length before any cut (> len when cut); ignored on add */
};

/* A sanction as written and read. Strings are NUL-terminated.
 * On read, every pointer lives only until the callback returns. */
struct ledger_sanction {
	int64_t id;                         /* read back; ignored on add */
	struct addr addr;                   /* an address or a prefix, bits past prefix zero */
	const char *scenario;               /* required */
	const char *origin;                 /* "local", or an ally's member id; required */
	const char *reason;                 /* free text, may be NULL; cut at LEDGER_MAX_REASON */
	unsigned attempts;
	int64_t first_seen_us, last_seen_us;
	int64_t created_us, expires_us;     /* µs since the epoch */
	unsigned offence;                   /* 1 for a first sanction, 2 for the next... */
	const struct ledger_line *evidence; /* oldest first */
	size_t nevidence;
	unsigned evidence_dropped;          /* on add: lines the caller already dropped, to which
					       lines past LEDGER_MAX_EVIDENCE are added */
	bool lifted;                        /* read back: lifted_us and lifted_by are set */
	int64_t lifted_us;
	const char *lifted_by;
};

/* Called once per sanction; returns 0 to go on, anything else to stop
 * (the iterating function then still returns 0). It must not call ledger
 * functions on the same ledger. */
typedef int (*ledger_sanction_fn)(void *arg, const struct ledger_sanction *s);

struct ledger_counts {
	uint64_t sanctions;   /* every row written and not yet pruned (ledger_prune.h) */
	uint64_t active;      /* neither lifted nor expired at counted_us */
	int64_t counted_us;   /* when they were counted */
};

/* Escalation state of one address or prefix, for the policy after a restart. */
struct ledger_offences {
	unsigned count;            /* sanctions of exactly this key created since since_us */
	unsigned last_offence;     /* offence number of the latest of them (0: none) */
	int64_t last_created_us;
	int64_t last_expires_us;
	int64_t last_end_us;       /* when it ended: expires_us, or lifted_us if lifted earlier */
};

/* Opens or creates the ledger at path (a new file is created mode 0640: it
 * holds log lines). Refuses, without writing to it, a file that is not
 * SQLite, another application's database, or a schema newer than this code;
 * applies pending migrations. On success *out is the caller's. */
int ledger_open(const char *path, struct ledger **out, char *err, size_t errlen) LEDGER_WUR;

/* Opens an existing ledger for reading only (pacto's listings, beside a
 * running pactod: WAL lets a reader run without blocking the writer).
 * Creates, migrates and writes nothing; refuses what ledger_open refuses. */
int ledger_open_readonly(const char *path, struct ledger **out, char *err, size_t errlen) LEDGER_WUR;

/* Rolls back an open transaction, closes the database. Accepts NULL. */
void ledger_close(struct ledger *l);

/* For a writer on a latency-critical thread (pactod's loop): from now on
 * ledger_commit() returns without waiting for an fsync; the commit is
 * atomic, consistent and safe from kill -9 at once, and safe from power
 * loss a moment later, when a background thread (its own connection) has
 * checkpointed it: usually within one fsync's time. ledger_wait_durable()
 * waits for that; ledger_close() does it. Returns 0, or -1 with err filled
 * (commits then keep their fsync). */
int ledger_defer_sync(struct ledger *l, char *err, size_t errlen) LEDGER_WUR;
void ledger_wait_durable(struct ledger *l);

/* How long a write waits for another process's lock before failing with
 * "database is locked" (default 5 s). pactod's loop, which holds what it
 * could not write and retries, waits less so that it keeps reading logs. */
void ledger_set_busy_timeout(struct ledger *l, int ms);

/* A transaction for a batch (one chunk of log, one fetched batch of
 * reports): writes inside it cost one fsync in all, at ledger_commit().
 * BEGIN IMMEDIATE: the write lock is taken here, waiting up to the busy
 * timeout, so a later write in the batch cannot fail on a lock. */
int ledger_begin(struct ledger *l, char *err, size_t errlen) LEDGER_WUR;

/* Commits the open transaction. On -1 nothing of it is stored (it has been
 * rolled back) and no transaction is open. */
int ledger_commit(struct ledger *l, char *err, size_t errlen) LEDGER_WUR;

/* Discards the open transaction, if any. Nothing useful can be done about a
 * failing rollback (SQLite recovers at the next open), hence void. */
void ledger_rollback(struct ledger *l);

bool ledger_in_transaction(const struct ledger *l);

/* Stores s and its evidence (bounded, see LEDGER_MAX_*); *id (may be NULL)
 * receives its id. Outside a transaction it is one transaction of its own
 * (one fsync). Inside one: a sanction refused for its content (bad address,
 * empty origin...) writes nothing and the transaction stays open; a
 * database failure (disk full, I/O error) rolls the whole transaction back
 * (ledger_in_transaction() turns false), cursor included, so the batch's
 * lines are read again after the problem is fixed. */
int ledger_add_sanction(struct ledger *l, const struct ledger_sanction *s, int64_t *id,
			char *err, size_t errlen) LEDGER_WUR;

/* Marks every sanction of exactly a (same family, prefix and bits) that is
 * active at now_us lifted at now_us by `by`; *lifted (may be NULL) receives
 * how many. A sanction of a containing prefix is not lifted. */
int ledger_lift(struct ledger *l, const struct addr *a, int64_t now_us, const char *by,
		unsigned *lifted, char *err, size_t errlen) LEDGER_WUR;

/* Calls fn for every sanction neither lifted nor expired at now_us, in
 * order of expiry, without evidence (nevidence 0). An address may appear
 * more than once (two scenarios): the latest expiry wins. */
int ledger_each_active(struct ledger *l, int64_t now_us, ledger_sanction_fn fn, void *arg,
		       char *err, size_t errlen) LEDGER_WUR;

/* Calls fn for every sanction of a or of a prefix containing a (an IPv6
 * /64 contains its addresses), lifted and expired ones included, oldest
 * first, with evidence and lift. Sanctions of narrower prefixes inside a
 * are not included. */
int ledger_each_history(struct ledger *l, const struct addr *a, ledger_sanction_fn fn, void *arg,
			char *err, size_t errlen) LEDGER_WUR;

/* Calls fn for the latest `limit` sanctions, newest first, lifted and
 * expired ones included, without evidence (pacto sanctions --all). */
int ledger_each_recent(struct ledger *l, unsigned limit, ledger_sanction_fn fn, void *arg, char *err,
		       size_t errlen) LEDGER_WUR;

/* Escalation state of exactly a since since_us (see struct ledger_offences). */
int ledger_offences(struct ledger *l, const struct addr *a, int64_t since_us,
		    struct ledger_offences *out, char *err, size_t errlen) LEDGER_WUR;

/* Records where source was read up to. Call it inside the transaction that
 * holds that chunk's sanctions, so that a restart neither loses nor counts
 * twice a line. */
int ledger_set_cursor(struct ledger *l, const char *source, const char *cursor, char *err,
		      size_t errlen) LEDGER_WUR;

/* Copies source's cursor into buf (LEDGER_MAX_CURSOR + 1 bytes always
 * suffice); *found is false, and buf "", when none was ever set. */
int ledger_get_cursor(struct ledger *l, const char *source, char *buf, size_t buflen, bool *found,
		      char *err, size_t errlen) LEDGER_WUR;

/* The counts at now_us; or, once ledger_count_in_background() ran, the
 * background thread's last counts (counted_us says when: at most 10 s
 * ago, within about a second of a change), without touching the database. */
int ledger_counts(struct ledger *l, int64_t now_us, struct ledger_counts *out, char *err,
		  size_t errlen) LEDGER_WUR;

/* Moves ledger_counts() off the caller's thread: counting a million rows
 * takes ~0.1 s, which pactod's loop must not wait for at every status
 * request and metrics scrape. Returns 0, or -1 with err filled (counts
 * then stay on the caller's thread). */
int ledger_count_in_background(struct ledger *l, char *err, size_t errlen) LEDGER_WUR;

#endif
