/* ledger_prune.h: the ledger's retention: old rows that nothing needs any
 * more are deleted, in small batches, so the file stops growing.
 * Why: every report received (a hostile member can have 600 refusals a
 * minute written), every sanction and its evidence were kept forever; the
 * file grew without bound (~108 MB a day at the refusal cap alone).
 * Guarantees: never deletes a sanction in force, its evidence, its
 * support (the allies' votes that hold it), the reports received that name
 * it or its address (refusals aside), a sanction that escalation may still
 * read (see ledger_retention.sanctions_before_us), a report not yet
 * acknowledged by the broker, the file and journal cursors, the allies'
 * last sequence numbers, or the prefix lengths in use. Each batch is its own
 * short transaction (a few dozen rows looked at), so the write lock is
 * never held for long and a writer in another process waits at most that.
 * Never: shrinks the file (SQLite reuses the freed pages: the file stays at
 * its largest size, and stops growing). */
#ifndef PACTO_LEDGER_PRUNE_H
#define PACTO_LEDGER_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

/* Rows looked at per step (one transaction): reports, refusals, outbox
 * reports; sanctions, each deleted with its evidence (up to 8 lines for
 * this host's, 2 for an ally's) and support. Measured with deferred
 * syncing (pactod's): ~5 us a row deleted, commit included, so a step is
 * ~0.25 ms (test_ledger_prune prints it). */
#define LEDGER_PRUNE_BATCH 48
#define LEDGER_PRUNE_SANCTIONS 8
/* Refusals counted per step while looking for the cap's boundary. */
#define LEDGER_PRUNE_COUNT_STEP 4096

/* What a pass deletes. A time of 0 deletes nothing of that kind. */
struct ledger_retention {
	int64_t now_us;               /* "in force" is judged at this time */
	/* Reports received before this go (refused ones too), unless they
	 * name, or are about the address of, a sanction in force (refusals
	 * always go); so do reports of the outbox acknowledged by the broker
	 * and made before it. */
	int64_t reports_before_us;
	/* Sanctions that ended (expired, or were lifted) before this go, with
	 * their evidence and support, unless an earlier sanction of the same
	 * address or prefix ended later. Escalation (ledger_offences) then
	 * gives the same answer as before for any policy whose memory is not
	 * longer than now_us - sanctions_before_us: such a sanction, or the
	 * earlier ones it would uncover, ended longer than the memory ago, and
	 * would be forgiven anyway. */
	int64_t sanctions_before_us;
	uint64_t max_refusals;        /* refused reports kept, the newest; 0: no cap */
};

/* Rows deleted, by kind. */
struct ledger_pruned {
	uint64_t reports;     /* reports received, past the retention */
	uint64_t refusals;    /* refused reports, past max_refusals */
	uint64_t outbox;
	uint64_t sanctions;
	uint64_t evidence;
	uint64_t support;
};

/* Starts a pass (an unfinished one is dropped). Deletes nothing yet. */
void ledger_prune_start(struct ledger *l, const struct ledger_retention *r);

/* Does one bounded step of the pass in its own transaction and adds what
 * it deleted to *done. Returns 1 when more remains, 0 when the pass is
 * over (or none was started), -1 on error with err filled (the pass is
 * dropped; rows deleted by earlier steps stay deleted). Inside a caller's
 * transaction it does nothing and returns 1. */
int ledger_prune_step(struct ledger *l, struct ledger_pruned *done, char *err, size_t errlen)
	__attribute__((warn_unused_result));

bool ledger_prune_running(struct ledger *l);

/* A whole pass at once (for tests and tools; pactod steps). */
int ledger_prune(struct ledger *l, const struct ledger_retention *r, struct ledger_pruned *done, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

/* Rows deleted through l since it was opened, all kinds. */
uint64_t ledger_pruned_total(struct ledger *l);

/* The sum of the kinds. */
uint64_t ledger_pruned_rows(const struct ledger_pruned *p);

/* "pruned N rows: ..." with each kind, into buf; returns buf. */
const char *ledger_pruned_text(const struct ledger_pruned *p, char *buf, size_t len);

#endif
