/* receipt.h: the trust rules every ally's report must pass before it can
 * become a sanction here (DESIGN.md, "Trust rules").
 * Why: a report is hostile input until proven otherwise. Whatever reaches
 * pactod from the broker goes through these checks, in this order: sender
 * in the treaty, signature (report_decode), right alliance and treaty
 * version, not a replay (each member's window of sequence numbers), not
 * superseded (a later report of the member about the same address was
 * taken first), not from the future (clock skew), within the member's
 * rate, not in a protected range nor the local allowlist, no wider than
 * the treaty allows, and finally the weighted quorum of distinct
 * reporters.
 * Guarantees:
 *  - every refusal is counted per member and reason (receipt_stats);
 *  - a report's sequence number is consumed once it passes the signature
 *    and replay checks, even if a later rule refuses it, so no report is
 *    ever applied twice and no refused one can be replayed into force
 *    (a round undone, receipt_round_undo, gives its numbers back: what it
 *    decided was not kept either);
 *  - numbers may come out of order (JetStream delivers a message again
 *    only after its ack wait, when later ones may have been applied): a
 *    number above the member's highest taken, or one of the
 *    RECEIPT_WINDOW - 1 below it not taken yet, is taken; any other is a
 *    replay. Of one member's reports about one address, the one with the
 *    highest number taken decides: an older one arriving after it is
 *    refused (superseded), so a sanction delayed past its own lift is
 *    never applied;
 *  - an ally's sanction lasts as long as a quorum of unexpired reports
 *    supports it, and is lifted early only by the lift of a reporter
 *    (when the remaining support falls below the quorum);
 *  - memory is bounded: at most max_keys addresses are tracked (least
 *    recently reported forgotten first, counted: receipt_evictions; the
 *    votes of a sanction in force are in the ledger too, and the daemon
 *    puts them back before a lift, receipt_restore_vote), at most
 *    RECEIPT_MAX_VOTES reporters per address, RECEIPT_WINDOW sequence
 *    numbers per member (what falls below the window is refused, not
 *    remembered).
 * Never: does I/O or reads the clock (now is passed in). */
#ifndef PACTO_RECEIPT_H
#define PACTO_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alliance/report.h"
#include "alliance/treaty.h"
#include "common/addr.h"

#define RECEIPT_MAX_VOTES 16
#define RECEIPT_MAX_IDS 1024       /* distinct member ids remembered over treaty changes */
/* Sequence numbers below a member's highest taken that may still come
 * (each once): a member's window costs 4 bytes a number, allocated at its
 * first report (16 KiB; at most RECEIPT_MAX_IDS of them). */
#define RECEIPT_WINDOW 4096
/* receipt_member_window's bytes, at most: a bit a number, a tag for each
 * number taken above the lowest free one, a count and a checksum. */
#define RECEIPT_WINDOW_SAVED_MAX (3 + RECEIPT_WINDOW / 8 + 4 * (RECEIPT_WINDOW - 1) + 4)

/* Why a report (or a whole message) was refused. Names: receipt_reason_name. */
enum receipt_reason {
	RR_NONE = 0,
	RR_NOT_MEMBER,      /* the sender is not in our treaty */
	RR_TOO_BIG,         /* report_decode's refusals */
	RR_BAD_SIGNATURE,
	RR_MALFORMED,
	RR_BAD_VERSION,
	RR_NOT_CANONICAL,
	RR_WRONG_SENDER,    /* signed by the subject's member, but names another */
	RR_WRONG_ALLIANCE,
	RR_WRONG_TREATY,    /* another treaty version than ours */
	RR_REPLAY,          /* sequence number already seen */
	RR_FUTURE,          /* time beyond now + the treaty's skew */
	RR_EXPIRED,         /* its sanction would already be over */
	RR_RATE,            /* over the member's report rate */
	RR_PROTECTED,       /* inside (or covering) a member's protected range */
	RR_ALLOWLISTED,     /* inside (or covering) the local allowlist */
	RR_TOO_WIDE,        /* prefix wider than the treaty allows */
	RR_NOT_REPORTER,    /* a lift by a member that does not support the sanction */
	RR_SUPERSEDED,      /* a later report of that member about that address came first */
	RR_COUNT
};

enum receipt_verdict {
	RECEIPT_REFUSED,    /* see reason */
	RECEIPT_PENDING,    /* counted towards the quorum; nothing to enforce yet */
	RECEIPT_SANCTION,   /* impose key until until_us (new, longer or shorter) */
	RECEIPT_LIFT,       /* the support fell below the quorum: lift key */
	RECEIPT_UNCHANGED,  /* accepted; what is enforced stays as it is */
};

struct receipt_decision {
	enum receipt_verdict verdict;
	enum receipt_reason reason;       /* RECEIPT_REFUSED only */
	struct addr key;                  /* the report's address or prefix */
	int64_t until_us;                 /* RECEIPT_SANCTION: the end the quorum supports */
	unsigned weight;                  /* weight of the unexpired support after this report */
};

/* The local allowlist, asked for each address (the daemon's policy). */
typedef bool (*receipt_allowlisted_fn)(void *arg, const struct addr *a);

struct receipt_config {
	const struct treaty *treaty;      /* must outlive the receipt, or be replaced by receipt_set_treaty */
	receipt_allowlisted_fn allowlisted;
	void *allowlisted_arg;
	size_t max_keys;                  /* addresses tracked; 0: 65536 */
	uint64_t seed;
};

struct receipt_member_stats {
	const char *id;
	uint64_t last_seq;
	int64_t last_report_us;           /* the time of its latest report (its clock) */
	int64_t last_received_us;         /* when we received it (our clock); 0: never */
	int64_t lag_us;                   /* received - report time, for that report */
	uint64_t accepted;
	uint64_t refused[RR_COUNT];
};

struct receipt;

struct receipt *receipt_new(const struct receipt_config *cfg);
void receipt_free(struct receipt *r);  /* accepts NULL */

/* A new treaty (a reload): weights, quorum and rules are taken from it;
 * the reports of members it no longer lists stop counting (for good: a
 * member listed again later starts with no votes, as the ledger's support
 * rows say), and so do those of a member whose key it replaced (signed by
 * the old key), and a shorter max_duration_s cuts the votes already cast.
 * Past RECEIPT_MAX_IDS ids ever seen, a new member takes the slot of one
 * no longer listed; that one's votes never count for it. */
void receipt_set_treaty(struct receipt *r, const struct treaty *t);

/* Counts a whole message refused before its reports could be read (not a
 * member, report_decode's refusals, wrong sender/alliance/treaty), against
 * member (any text; ids not in the treaty are counted under "unknown"). */
void receipt_refuse_message(struct receipt *r, const char *member, enum receipt_reason why);

/* Checks a decoded batch's header against the treaty and the member the
 * transport says it came from. RR_NONE when its reports may be applied. */
enum receipt_reason receipt_check_batch(const struct receipt *r, const char *member, const struct report_batch *b);

/* Applies one report of a batch that passed receipt_check_batch, received
 * at now_us, and says what to do: receipt_admit, then receipt_judge. */
void receipt_apply(struct receipt *r, const char *member, const struct report *rep, int64_t now_us,
		   struct receipt_decision *out);

/* receipt_apply in two steps, for a caller with something to do between
 * them (the daemon puts back, from its ledger, the votes of a sanction in
 * force before a lift, and only for a lift that is no replay: anyone can
 * publish an old signed message again). receipt_admit: the checks every
 * report passes first (its member, replay, superseded, future, rate); the
 * sequence number is consumed from the replay check on. false: refused (out says
 * why), and nothing more to do. receipt_judge: the rest (expired, too
 * wide, protected, allowlisted, the quorum, a lift's reporter), for a
 * report receipt_admit let through. */
bool receipt_admit(struct receipt *r, const char *member, const struct report *rep, int64_t now_us,
		   struct receipt_decision *out);
void receipt_judge(struct receipt *r, const char *member, const struct report *rep, int64_t now_us,
		   struct receipt_decision *out);

/* A round: the reports whose outcome is committed to the ledger together.
 * receipt_round_begin() starts an undo log of every change the round makes
 * (members' sequence numbers and windows, rate buckets and counts, votes, addresses
 * evicted to make room); receipt_round_undo() puts the receipt back as it
 * was at the begin (the commit failed: the messages are not acknowledged
 * and come again, and must not then be refused as replays);
 * receipt_round_keep() drops the log (the commit succeeded). Outside a
 * round nothing is logged. A round must not span receipt_set_treaty,
 * receipt_restore_member or receipt_forget (receipt_restore_vote is
 * logged). The log grows with the round (one
 * entry per address and member changed, and per slot of a member's
 * window written: one a report in order, the whole window when a member
 * skips past it) and is kept for the next. */
void receipt_round_begin(struct receipt *r);
void receipt_round_keep(struct receipt *r);
void receipt_round_undo(struct receipt *r);

/* State kept across restarts: a member's highest sequence number taken,
 * its latest report time, and its window (the daemon stores them in the
 * ledger with what it applied). */
bool receipt_member_state(const struct receipt *r, const char *member, uint64_t *last_seq, int64_t *last_time_us);
/* Whether member's state kept across restarts (receipt_member_state,
 * receipt_member_window) changed since receipt_member_saved (or its
 * restore): it changes where a sequence number is taken, and only there
 * (a replay, or a message refused before its reports were read, takes
 * none), so the daemon writes what changed whatever a verdict's reason. */
bool receipt_member_dirty(const struct receipt *r, const char *member);
/* The daemon wrote member's state (in a round: an undo makes it dirty
 * again if the round had changed it, as the write is rolled back too). */
void receipt_member_saved(struct receipt *r, const char *member);
/* The window as bytes, into out (RECEIPT_WINDOW_SAVED_MAX): which of the
 * RECEIPT_WINDOW numbers up to last_seq were taken (a bit each), the tags
 * of the addresses of those taken above the lowest free one (the only
 * ones a late report is checked against), a count and a checksum: 519
 * bytes when none is free. Returns the length (0: nothing taken). */
size_t receipt_member_window(const struct receipt *r, const char *member, uint8_t *out);
/* Puts back what receipt_member_state and receipt_member_window gave.
 * window NULL (a ledger of before the window): every number up to
 * last_seq counts as taken, as before the window. Returns -1 when the
 * bytes are not of that form (truncated, damaged) or last_seq is above
 * any a report carries: then too every number up to it counts as taken
 * (the caller says so in its log). */
int receipt_restore_member(struct receipt *r, const char *member, uint64_t last_seq, int64_t last_time_us,
			   const uint8_t *window, size_t len);
/* The same from the form a ledger of schema 4 kept (ally.seen): 4 bytes a
 * number from the lowest taken up to last_seq, the address's tag or 0
 * (free). A cut at a multiple of 4 bytes cannot be told from a shorter
 * window: that form is read once, after an upgrade. */
int receipt_restore_member_schema4(struct receipt *r, const char *member, uint64_t last_seq, int64_t last_time_us,
				   const uint8_t *tags, size_t len);

/* Puts back the support of a sanction still in force: member's report seq
 * asked for key until until_us. At start; and before a lift whose
 * reporter's vote the receipt no longer holds (receipt_has_vote false: the
 * address was evicted), from the ledger, so a reporter can always lift
 * its own report of a sanction in force (in a round: logged for undo). */
void receipt_restore_vote(struct receipt *r, const char *member, uint64_t seq, int64_t time_us,
			  const struct addr *key, int64_t until_us, int64_t now_us);

/* Whether member (of the current treaty) has an unexpired vote for key. */
bool receipt_has_vote(struct receipt *r, const char *member, const struct addr *key, int64_t now_us);

/* Who supports key now: the unexpired reports of current members, at most
 * max of them (RECEIPT_MAX_VOTES is enough). Ids live until the next call
 * that changes the treaty. Returns how many. */
struct receipt_support {
	const char *member;
	uint64_t seq;
	int64_t time_us;                  /* of the report */
	int64_t until_us;
};
/* Forgets every vote for exactly key: the sanction they supported was
 * lifted here by hand (pacto lift), so a later report must count on its
 * own, as after a restart (only the votes of sanctions in force are put
 * back then). Kept, they made the next report "unchanged, already in
 * force" while nothing was. */
void receipt_forget(struct receipt *r, const struct addr *key);

size_t receipt_supporters(struct receipt *r, const struct addr *key, int64_t now_us, struct receipt_support *out,
			  size_t max);

/* The weight of the treaty's current members among ids (who supported a
 * sanction), for deciding what an expulsion leaves standing. */
unsigned receipt_support_weight(const struct receipt *r, const char *const *ids, size_t n);
unsigned receipt_quorum(const struct receipt *r);

/* Per member of the current treaty, in treaty order; false past the end. */
bool receipt_stats(const struct receipt *r, size_t i, struct receipt_member_stats *out);
/* Refusals of senders that are not members. */
uint64_t receipt_unknown_refusals(const struct receipt *r);
/* Addresses forgotten (least recently reported) to stay within max_keys. */
uint64_t receipt_evictions(const struct receipt *r);

/* The sanction in force for key on the allies' word ends at until_us now
 * (0: it was lifted): a later report is then measured against that, not
 * against what was enforced before (a reload cut or lifted it). In a
 * round: logged for undo. */
void receipt_set_enforced(struct receipt *r, const struct addr *key, int64_t until_us);

/* A treaty amendment re-checks the allies' sanctions in force (pacto
 * reload). One report a sanction rests on, from the ledger's support: */
struct receipt_vote_row {
	const char *member;
	int64_t time_us;                  /* of the report */
	int64_t until_us;                 /* the end it asked for (cut to the treaty of its time) */
};

#define RECEIPT_WHY_MAX 128           /* fits the ledger's lifted-by */

enum receipt_recheck_verdict {
	RECHECK_STANDS,                   /* the amendment takes nothing from it */
	RECHECK_CUT,                      /* it may run until until_us only */
	RECHECK_FALLS,                    /* lift it */
};

struct receipt_recheck {
	enum receipt_recheck_verdict verdict;
	int64_t until_us;                 /* RECHECK_CUT: the new end */
	char why[RECEIPT_WHY_MAX];        /* CUT, FALLS: "treaty version N: ..." */
};

/* What treaty t (which replaced old) leaves of a sanction of key, in force
 * until expires_us on votes[0..n): it falls when t protects or forbids key
 * (protect, widest_v4/widest_v6), or when its votes that t still counts
 * (members left, a replaced key's votes do not count, max_duration_s cuts
 * each) reach the quorum no more; it is cut when they reach it for less
 * time than old allowed and than expires_us. An end old did not hold up
 * either (a longer end of this host's own, a sanction never shortened by
 * a later report) is no business of the amendment: it stands. revoked
 * (n entries, or NULL) says which votes t no longer counts at all (left,
 * key replaced). Pure: reads the treaties only. */
void receipt_recheck(const struct treaty *old, const struct treaty *t, const struct addr *key,
		     const struct receipt_vote_row *votes, size_t n, int64_t expires_us, int64_t now_us,
		     struct receipt_recheck *out, bool *revoked);

const char *receipt_reason_name(enum receipt_reason why);
enum receipt_reason receipt_reason_from_report(enum report_error e);

#endif
