/* recorder.h: the ledger side of pactod's sanction path.
 * Why: a sanction is enforced before it is recorded (reaction first), and
 * the ledger can refuse writes for a while (disk full, I/O error, a lock
 * held past the busy timeout). A refused write must not lose a sanction
 * silently, nor the others of its transaction, which a failure rolls back
 * with it.
 * Guarantees: every sanction given to recorder_add() ends up in a committed
 * transaction (at once, or "late", with its original times, when the
 * ledger takes writes again), or, past RECORDER_MAX_HELD waiting, is
 * counted as lost and logged. Held sanctions are written at the start of
 * the next transaction recorder_begin() opens, so they commit before (or
 * with) any later source cursor: if pactod dies while some are held, the
 * cursors have not passed their lines, and the restart reads the lines
 * again and derives them anew (manual and allies' sanctions held then are
 * lost with the process: an ally's message is delivered again, a manual
 * sanction was answered with an error... see recorder_add).
 * A lift by hand (pacto lift) reaches what waits too: the held sanctions
 * of its key are marked lifted (recorder_lift), and when the ledger also
 * refuses the lift of its own sanctions, that lift waits in the same
 * queue (recorder_hold_lift). One queue, in the order things were
 * decided, written in that order: a sanction decided before a lift is
 * written before it, then lifted; one decided after is not touched by
 * it. A held lift is lost with the process: the sanctions it ended are
 * in force again after a restart (logged at stop).
 * Ownership: the recorder is the daemon's (d->recorder); it copies what it
 * holds (reason, evidence lines). */
#ifndef PACTO_RECORDER_H
#define PACTO_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "daemon/evidence.h"
#include "detect/sanction.h"
#include "ledger/ledger.h"

#define RECORDER_MAX_HELD 65536
#define RECORDER_ERRLEN 256

struct daemon;
struct recorder;

struct recorder_stats {
	uint64_t errors;          /* ledger writes or commits that failed */
	uint64_t held;            /* sanctions enforced, waiting to be recorded */
	uint64_t recorded_late;   /* held ones written since */
	uint64_t lost;            /* not held: RECORDER_MAX_HELD were waiting */
	uint64_t lifts_held;      /* lifts the ledger refused, waiting to be recorded */
	int64_t last_error_us;    /* 0: none yet */
	char last_error[RECORDER_ERRLEN];
};

struct recorder *recorder_new(void);
void recorder_free(struct recorder *r);   /* accepts NULL */

/* Records an enforced sanction (and, with report, its outbox report) in
 * the open transaction, opening one with recorder_begin() if none is.
 * Returns 0 when written in the transaction, 1 when held for later. */
int recorder_add(struct daemon *d, const struct sanction *s, const char *origin, const char *reason,
		 const struct evidence_lines *ev, bool report);

/* Opens a transaction and writes the held sanctions into it. Returns 0, or
 * -1 (logged, counted; the held stay held) when no transaction is open. */
int recorder_begin(struct daemon *d);

/* Commits the open transaction; on failure what it held is held again.
 * Returns 0 or -1 (logged and counted). */
int recorder_commit(struct daemon *d);

/* Call after any code committed or rolled back the ledger's transaction
 * itself (the alliance's batches): sanctions written in a transaction
 * that is no longer open were committed if ok, else they are held again. */
void recorder_settled(struct daemon *d, bool ok);

/* Notes a ledger failure met elsewhere (counted with the others, shown by
 * pacto status). */
void recorder_error(struct recorder *r, int64_t now_us, const char *what);

/* The latest end, past now, among the sanctions of exactly key given to
 * recorder_add() and not recorded for good yet (held, or written in a
 * transaction not committed yet, which a failure rolls back): 0 when none.
 * They are enforced: what is in force for key is these and the ledger's
 * (daemon_in_force). Cost: nothing while none waits, else a keyed hash
 * lookup. */
int64_t recorder_pending_until(struct recorder *r, const struct addr *key, int64_t now);

/* Calls fn with the key and end of each of those sanctions (held, or in a
 * transaction not committed yet) still in force at now; a key may come
 * more than once. fn may read (recorder_pending_until, daemon_in_force)
 * but must not add, begin, commit or settle. */
typedef void (*recorder_pending_fn)(void *arg, const struct addr *key, int64_t until_us);
void recorder_each_pending(struct recorder *r, int64_t now, recorder_pending_fn fn, void *arg);

/* A lift by hand of exactly key at now, of the sanctions above (those in
 * force at now): none of them is in force any more (for
 * recorder_pending_until and recorder_each_pending), each is written late
 * as it was and lifted at now by `by` in the same transaction, and none
 * is reported to the allies (they would hear of the sanction after its
 * lift). Call with no transaction open (recorder_commit first): a
 * sanction already written into an open one would commit unlifted.
 * Returns how many it lifted. */
unsigned recorder_lift(struct recorder *r, const struct addr *key, int64_t now, const char *by);

/* Holds a lift the ledger refused: the ledger's sanctions rows[0..nrows)
 * (of exactly key, in force at now) are lifted at now by `by` when the
 * ledger takes writes again, after what was held before it; with report,
 * the allies are told of the lift then. Until it is recorded those rows
 * are not in force (recorder_lifted). Copies rows. Returns 0, or -1 when
 * RECORDER_MAX_HELD wait (nothing held). */
int recorder_hold_lift(struct recorder *r, const struct addr *key, int64_t now, const char *by, const int64_t *rows,
		       size_t nrows, bool report) __attribute__((warn_unused_result));

/* Whether the ledger's sanction id, of exactly key, is lifted by a held
 * lift (id < 0: whether a lift of key is held at all). Cost: nothing
 * while no lift waits, else a keyed hash lookup. */
bool recorder_lifted(struct recorder *r, const struct addr *key, int64_t id);

/* What the ledger does not show yet (for `pacto sanctions`): a sanction
 * held or in a transaction not committed, in force at now (its ledger
 * fields, id 0, no evidence), or a held lift (key, time and who lifted in
 * s; the ledger's sanctions it ends in rows). */
struct recorder_waiting {
	bool is_lift;
	struct ledger_sanction s;
	const int64_t *rows;
	size_t nrows;
};
typedef void (*recorder_waiting_fn)(void *arg, const struct recorder_waiting *w);
void recorder_each_waiting(struct recorder *r, int64_t now, recorder_waiting_fn fn, void *arg);

void recorder_get_stats(const struct recorder *r, struct recorder_stats *out);

#endif
