/* ledger_ally.h: the ledger's part of the alliance: the outbox of reports
 * this member owes its allies, what it last applied from each ally, every
 * report it received and what became of it, and which allies' reports each
 * ally sanction rests on.
 * Why: "nothing is lost" and "nothing is applied twice" hold across
 * crashes only if they are written in the same transactions as the
 * sanctions they go with (ledger_begin/ledger_commit, as for sanctions).
 * Guarantees: a sequence number is given once (ledger_outbox_add), never
 * again even after a crash; text is bound with its length, addresses are
 * binary; every function returns 0, or -1 with "what: why" in err. */
#ifndef PACTO_LEDGER_ALLY_H
#define PACTO_LEDGER_ALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "ledger/ledger.h"

#define LEDGER_REPORT_LINES 4     /* evidence lines kept with a report */

enum ledger_action { LEDGER_REPORT_SANCTION = 1, LEDGER_REPORT_LIFT = 2 };

/* One report of the outbox. On read, pointers live until the callback returns. */
struct ledger_report {
	uint64_t seq;                     /* set by ledger_outbox_add */
	int64_t time_us;
	enum ledger_action action;
	struct addr addr;
	const char *scenario;
	uint32_t duration_s;
	unsigned attempts;
	int64_t first_seen_us, last_seen_us;
	const struct ledger_line *lines;  /* at most LEDGER_REPORT_LINES kept */
	size_t nlines;
};
typedef int (*ledger_report_fn)(void *arg, const struct ledger_report *r);

/* Appends r to the outbox with the next sequence number (in r->seq). */
int ledger_outbox_add(struct ledger *l, struct ledger_report *r, char *err, size_t errlen) LEDGER_WUR;
/* Unacknowledged reports with seq > after_seq, oldest first, at most limit. */
int ledger_outbox_each_pending(struct ledger *l, uint64_t after_seq, unsigned limit, ledger_report_fn fn,
			       void *arg, char *err, size_t errlen) LEDGER_WUR;
/* Moves the next sequence number gap further. pactod does it at start:
 * with deferred syncing (ledger_defer_sync) a power cut can lose the last
 * reports after they were published, and their numbers must not be given
 * again to other reports (allies would refuse those as replays). */
int ledger_outbox_skip(struct ledger *l, uint64_t gap, char *err, size_t errlen) LEDGER_WUR;
/* Gives report seq the number new_seq (greater), and makes sure no later
 * report is numbered below it. */
int ledger_outbox_renumber(struct ledger *l, uint64_t seq, uint64_t new_seq, char *err, size_t errlen) LEDGER_WUR;
/* Renumbers every report still owed from from_seq on from new_seq (not
 * below from_seq) on, keeping their order and the gaps between them, and
 * makes sure no later report is numbered below them; acknowledged ones
 * keep their numbers. First, an owed report that a later report of the
 * same address follows is marked done (acknowledged at now_us), not sent
 * again: above that later one it would undo it (a sanction after its own
 * lift). pactod does it when a publish failed after later ones may have
 * been stored: allies refuse a number below their window, or of a pacto
 * of before the window, below one they applied (replay). Sending the
 * acknowledged ones again too, as before, let their old copies spend the
 * allies' rate: a lift among them could be refused (rate) after its
 * sanction was taken. */
int ledger_outbox_shift(struct ledger *l, uint64_t from_seq, uint64_t new_seq, int64_t now_us, char *err,
			size_t errlen) LEDGER_WUR;
/* The lowest unacknowledged report below an acknowledged one (0: none)
 * and the highest number ever given. pactod asks at start: such a report
 * failed to publish, or its ack was not recorded, while later ones were
 * stored, and allies may have taken numbers above it (ledger_outbox_shift
 * then sends it again above them all). */
int ledger_outbox_hole(struct ledger *l, uint64_t *first_pending, uint64_t *last_given, char *err,
		       size_t errlen) LEDGER_WUR;
int ledger_outbox_ack(struct ledger *l, uint64_t seq, int64_t now_us, char *err, size_t errlen) LEDGER_WUR;
/* Marks every report owed numbered first..last as acknowledged (numbers
 * with no report, or one acknowledged already, are left as they are). */
int ledger_outbox_ack_range(struct ledger *l, uint64_t first, uint64_t last, int64_t now_us, char *err,
			    size_t errlen) LEDGER_WUR;
int ledger_outbox_pending(struct ledger *l, uint64_t *count, char *err, size_t errlen) LEDGER_WUR;

/* What pactod took from an ally: its highest report number and latest
 * report time, and its window of numbers (receipt_member_window: which of
 * the numbers below last_seq were taken; taken NULL when unknown, as in a
 * row of before schema 4; seen: a row of schema 4 not saved since, its
 * window in that version's form, receipt_restore_member_schema4). A save
 * writes taken and clears seen; one with a lower last_seq than the row's
 * changes neither the number nor the window. */
struct ledger_ally_state {
	const char *member;
	uint64_t last_seq;
	int64_t last_time_us;
	const void *taken;                /* on read, lives until the callback returns */
	size_t taken_len;                 /* at most LEDGER_ALLY_TAKEN_MAX */
	const void *seen;                 /* read only: schema 4's form, NULL once saved */
	size_t seen_len;
};
#define LEDGER_ALLY_TAKEN_MAX 17408
int ledger_ally_save_state(struct ledger *l, const struct ledger_ally_state *s, char *err, size_t errlen) LEDGER_WUR;
/* ledger_ally_save_state without the window (unknown). */
int ledger_ally_save(struct ledger *l, const char *member, uint64_t last_seq, int64_t last_time_us, char *err,
		     size_t errlen) LEDGER_WUR;
typedef int (*ledger_ally_fn)(void *arg, const struct ledger_ally_state *s);
int ledger_each_ally(struct ledger *l, ledger_ally_fn fn, void *arg, char *err, size_t errlen) LEDGER_WUR;

/* A report received, and its verdict ("applied", "pending", "unchanged",
 * "refused") and reason. addr NULL: a message refused before its reports
 * could be read (then seq, time, action, scenario, duration are zero/""). */
struct ledger_report_in {
	int64_t received_us;
	const char *member;
	uint64_t seq;
	int64_t time_us;
	int action;
	const struct addr *addr;
	const char *scenario;
	uint32_t duration_s;
	const char *verdict;
	const char *reason;
	int64_t sanction_id;              /* the sanction it made or supports; 0: none */
};
typedef int (*ledger_report_in_fn)(void *arg, const struct ledger_report_in *r);
int ledger_add_report_in(struct ledger *l, const struct ledger_report_in *r, char *err, size_t errlen) LEDGER_WUR;
/* Reports received about exactly a, oldest first, at most limit. */
int ledger_each_report_in(struct ledger *l, const struct addr *a, unsigned limit, ledger_report_in_fn fn, void *arg,
			  char *err, size_t errlen) LEDGER_WUR;

/* member's report seq, made at time_us, supports sanction_id until
 * until_us (replaces that member's earlier support of the same sanction).
 * This is the record of an applied report. */
int ledger_add_support(struct ledger *l, int64_t sanction_id, const char *member, uint64_t seq, int64_t time_us,
		       int64_t until_us, char *err, size_t errlen) LEDGER_WUR;
struct ledger_support {
	int64_t sanction_id;
	struct addr addr;
	int64_t expires_us;               /* the sanction's */
	const char *member;
	uint64_t seq;
	int64_t time_us;                  /* of the report */
	int64_t until_us;
	const char *scenario;             /* the sanction's */
};
typedef int (*ledger_support_fn)(void *arg, const struct ledger_support *s);
/* The support of one sanction. */
int ledger_each_support(struct ledger *l, int64_t sanction_id, ledger_support_fn fn, void *arg, char *err,
			size_t errlen) LEDGER_WUR;
/* The support of every sanction of exactly a, ever (pacto why). */
int ledger_each_support_of(struct ledger *l, const struct addr *a, ledger_support_fn fn, void *arg, char *err,
			   size_t errlen) LEDGER_WUR;
/* The support of every sanction active at now_us, grouped by sanction. */
int ledger_each_active_support(struct ledger *l, int64_t now_us, ledger_support_fn fn, void *arg, char *err,
			       size_t errlen) LEDGER_WUR;

/* Moves an active sanction's end (an ally's sanction extended). */
int ledger_set_expiry(struct ledger *l, int64_t sanction_id, int64_t expires_us, char *err, size_t errlen) LEDGER_WUR;
/* Brings an active sanction's end back to expires_us (if later), and adds
 * "; cut short, WHY" to its reason (a treaty amendment allows less). */
int ledger_cut_sanction(struct ledger *l, int64_t sanction_id, int64_t expires_us, const char *why, char *err,
			size_t errlen) LEDGER_WUR;
/* Lifts one sanction by id, if still active at now_us; *lifted says if it was. */
int ledger_lift_id(struct ledger *l, int64_t sanction_id, int64_t now_us, const char *by, bool *lifted, char *err,
		   size_t errlen) LEDGER_WUR;

/* The sanctions of exactly a active at now_us (an indexed probe, no
 * evidence read): id, origin, end. */
typedef int (*ledger_active_fn)(void *arg, int64_t id, const char *origin, int64_t expires_us);
int ledger_each_active_exact(struct ledger *l, const struct addr *a, int64_t now_us, ledger_active_fn fn, void *arg,
			     char *err, size_t errlen) LEDGER_WUR;

#endif
