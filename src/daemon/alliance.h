/* alliance.h: pactod's side of the alliance: what it tells its allies and
 * what it does with what they tell it.
 * Why: a local sanction and an ally's report must end in the same sanction
 * step (DESIGN.md data path), so this file joins the alliance's parts
 * (treaty, signer, receipt, transport) to the daemon's (ledger, firewall,
 * engine), and nothing else does.
 * Guarantees:
 *  - out: every reported sanction or lift is written to the ledger's outbox
 *    in the transaction of the sanction itself, published at once (before
 *    that commit: the allies' drop does not wait for our disk; numbers are
 *    never reused, see alliance_report), and published again until the
 *    broker acknowledges it: after a failed publish, under a number above
 *    all published before (allies refuse a lower one as a replay), also
 *    when pactod stopped in between (at start, what is not acknowledged
 *    below an acknowledged report goes again above every number given);
 *    an ack is marked in the ledger, once a commit keeps it (an ack taken
 *    in a round rolled back is marked in a later one);
 *  - in: a message is acknowledged to the broker only after what it caused
 *    is committed to the ledger (and in force in the firewall); a batch
 *    whose ledger transaction fails is undone (the receipt's state, and the
 *    kernel elements it changed back to what the ledger holds) and not
 *    acknowledged, so it is applied when delivered again (once, even after
 *    later messages of the same member: the receipt's window); anything
 *    refused is counted, recorded (at most ALLIANCE_REFUSALS_PER_MINUTE rows
 *    a minute per member, and as many for all non-members together, so a
 *    hostile sender slows the ledger's growth without hiding the others'
 *    refusals), logged (on a line each at most 8 times a minute per
 *    sender, the rest summed up once the minute is over) and acknowledged,
 *    so it is not delivered again;
 *  - an ally's report never shortens a sanction in force here, and an ally's
 *    lift never lifts a sanction this host decided itself. */
#ifndef PACTO_DAEMON_ALLIANCE_H
#define PACTO_DAEMON_ALLIANCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/addr.h"
#include "daemon/evidence.h"
#include "detect/sanction.h"

#define ALLIANCE_REFUSALS_PER_MINUTE 600

struct daemon;
struct alliance;

/* Loads the treaty (in force, listing key's public key), the key, the
 * allies' state and the support of their sanctions from the ledger. Starts
 * no thread. Returns 0, or -1 with err. */
int alliance_open(struct daemon *d, const char *treaty_path, const char *key_path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Logs each scenario of d's rules whose name the reports change (only
 * [A-Za-z0-9_.-], at most REPORT_MAX_SCENARIO bytes) and what the allies
 * see instead: at alliance_open and after a reload of the rules. */
void alliance_warn_renamed(const struct daemon *d);

/* Starts the link (nats.c's threads; it may connect later): after
 * alliance_open and before the loop, once sandboxed. 0, or -1 with err. */
int alliance_connect(struct daemon *d, char *err, size_t errlen) __attribute__((warn_unused_result));
void alliance_close(struct alliance *a);  /* accepts NULL */

/* The transport's descriptor for poll, or -1. */
int alliance_fd(const struct alliance *a);

/* Handles what the link has for us: publish acknowledgements and allies'
 * messages. Opens and commits its own ledger transactions. */
void alliance_service(struct daemon *d);

/* Publishes what the outbox holds and is not in flight: after a commit
 * that added reports, and on each tick (tick true: retries, and reports
 * left from before a restart; and, outside any transaction, the acks a
 * rolled-back round could not mark). After a failed publish it publishes
 * nothing until, called outside any transaction, it has renumbered the
 * reports from the failed one on past every number published (a
 * transaction of its own). */
void alliance_flush(struct daemon *d, bool tick);

/* Writes a report of a local sanction (or of its lift, when lift) to the
 * outbox, inside the caller's ledger transaction. */
int alliance_report(struct daemon *d, const struct sanction *s, bool lift, const struct evidence_lines *ev,
		    char *err, size_t errlen) __attribute__((warn_unused_result));

/* A sanction of exactly a was lifted here by hand: the allies' votes for
 * it are forgotten (receipt_forget). Does nothing without an alliance. */
void alliance_forget(struct daemon *d, const struct addr *a);

/* True when a sanction of exactly a that this host decided (detected or
 * manual, not an ally's) is active: lifting it is ours to report. */
bool alliance_is_ours(struct daemon *d, const struct addr *a);

/* Takes a new version of the treaty (pacto reload): refuses one not in
 * force or without us; re-checks the allies' sanctions in force against
 * it (receipt_recheck): lifts what it would refuse (protected, too wide)
 * or no longer supports up to the quorum (a member removed, a replaced
 * key's reports), cuts what exceeds a shorter max_duration_s, each with
 * its reason in the ledger, and brings the kernel to the ledger. Local
 * sanctions are not touched. message says what happened, with counts. */
int alliance_reload(struct daemon *d, const char *treaty_path, char *message, size_t len);

/* `pacto allies`: the treaty, the link, each member's last report, lag and
 * refusals by reason. */
json_t *alliance_json(struct daemon *d);

/* `pacto status`: the alliance's counters (reports applied, refused, and
 * addresses the receipt evicted); null without an alliance. */
json_t *alliance_status_json(struct daemon *d);

/* /metrics: per-ally lag, accepted and refused reports by reason, the
 * outbox and the link. */
struct prom_buf;
void alliance_metrics(struct daemon *d, struct prom_buf *b);

/* For `pacto why`: every report received about exactly a (who, when, what
 * became of it), as "reports" in out. */
void alliance_why(struct daemon *d, const struct addr *a, json_t *out);

#endif
