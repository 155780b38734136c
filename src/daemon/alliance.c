/* alliance.c: pactod's side of the alliance (see alliance.h).
 * Out: local sanction -> outbox row (same transaction) -> after commit,
 * batches of up to REPORT_MAX_ITEMS rows signed and published -> ack marks
 * the rows; a failed publish stops publishing until the rows from it on
 * are renumbered past every number published (republish_failed). In:
 * message -> sender in treaty -> signature and strict decode
 * -> receipt (trust rules) -> firewall (one commit per batch of messages)
 * -> ledger (one transaction) -> ack to the broker. A round whose ledger
 * transaction fails (a write or the commit) is undone: the receipt goes
 * back to its state before the round, the kernel back to what the ledger
 * holds, and the messages are not acked, so they come again (and are
 * taken then, whatever came meanwhile: the receipt's window of sequence
 * numbers, saved with each member's state in the round's transaction). */
#include "daemon/alliance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alliance/receipt.h"
#include "alliance/report.h"
#include "alliance/signer.h"
#include "alliance/transport.h"
#include "alliance/treaty.h"
#include "common/json_text.h"
#include "common/log.h"
#include "common/ranges.h"
#include "common/seed.h"
#include "common/xalloc.h"
#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "detect/logline.h"
#include "ledger/ledger_ally.h"

_Static_assert(RECEIPT_WINDOW_SAVED_MAX <= LEDGER_ALLY_TAKEN_MAX, "a member's window fits the ledger's ally row");

#define INBOUND_BATCH 64          /* messages handled per ledger transaction */
#define MAX_INFLIGHT 64           /* published batches awaiting their ack */
#define RETRY_US (1000000LL)      /* after a failed publish */
#define ROUND_LOGGED 8            /* sanctions logged one by one per round */
#define REFUSALS_LOGGED 8         /* refusals logged one by one per sender and minute */
#define ALLY_EVIDENCE_KEPT 2      /* evidence lines of an ally's report kept with its sanction */
#define UNVERIFIED TREATY_MAX_MEMBERS  /* the refusal cap and log of senders we cannot tell */

struct inflight {
	uint64_t first, last;         /* outbox sequence numbers in one message */
};

/* The refusal rows a sender wrote in the current minute (see record). */
struct refusal_cap {
	int64_t minute;
	unsigned rows;
};

/* The refusals of a sender logged in the current minute: the first
 * REFUSALS_LOGGED on a line each, the rest counted by reason for one
 * summary line once the minute is over (a line each gave 96,000 lines for
 * 3,000 replayed messages of 32 reports; a cap per round of messages did
 * not hold either, rounds being as small as the traffic is slow). */
struct refusal_log {
	int64_t minute;
	unsigned logged;
	uint64_t more[RR_COUNT];
};

struct alliance {
	struct treaty *treaty;
	struct signer *signer;
	char self[TREATY_MAX_ID + 1];
	struct receipt *receipt;
	struct transport *transport;
	struct report_batch *batch;   /* scratch: too big for the stack */
	uint8_t *wire;
	uint8_t *window;              /* scratch: a member's window for the ledger (RECEIPT_WINDOW_SAVED_MAX) */
	uint64_t next_publish;        /* lowest outbox seq not handed to the transport */
	uint64_t published_max;       /* highest seq ever handed to the transport */
	uint64_t failed_from;         /* first seq of the lowest failed publish, 0: none */
	struct inflight inflight[MAX_INFLIGHT];
	size_t ninflight;
	/* The numbers the broker acknowledged whose rows the ledger has not
	 * marked yet: written in each round (and on the tick, outside any
	 * transaction) until a commit keeps them. Written only once, in a
	 * round that was then rolled back, the rows stayed pending until a
	 * restart published them again. acks_written: those the open
	 * transaction marks, back to acks_due if it is rolled back. Merged
	 * ranges, never dropped (a fixed array of 1,024 batches dropped the
	 * oldest: needless resends at the next start). They stay few: every
	 * number handed to the transport is above all before it, so batches
	 * acknowledged in a row merge; a range starts above a gap of numbers
	 * not acknowledged: batches in flight (at most MAX_INFLIGHT), or a
	 * failed publish, which nothing is published after until
	 * republish_failed has renumbered it, and which marks every ack due
	 * first (acks_due is empty after it). */
	struct ranges acks_due, acks_written;
	bool acks_failing;            /* logged: marking them failed, not since */
	int64_t retry_at_us;
	uint64_t reports_out, acked, publish_failures, messages_in, applied, refusals;
	/* Per member of the treaty (its index), for what it signed, and one
	 * (UNVERIFIED) for every sender not in it and every message whose
	 * signature was not verified (anyone may publish on a member's
	 * subject): bounded whatever comes, and a forger's flood in alpha's
	 * name does not use up alpha's own. */
	struct refusal_cap caps[TREATY_MAX_MEMBERS + 1];
	struct refusal_log logs[TREATY_MAX_MEMBERS + 1];   /* the same way */
	bool firewall_dirty;          /* changes queued for one commit */
	bool round_failed;            /* a ledger write of this round failed: it is undone */
	/* Addresses whose kernel element this round changed: put back to what
	 * the ledger holds if the round's transaction fails. */
	struct addr *round_keys;
	size_t nround_keys, round_keys_cap;
	uint64_t round_applied_before, round_refusals_before;
	struct refusal_cap round_caps[TREATY_MAX_MEMBERS + 1];
	bool outbox_dirty;            /* reports added since the last flush */
	unsigned round_applied;       /* sanctions applied in this alliance_service round */
	const char *touched[TREATY_MAX_MEMBERS];  /* members whose state to save */
	size_t ntouched;
	/* Report times of what this round put in force: their propagation is
	 * observed once the round's firewall commit has returned. */
	int64_t round_times[INBOUND_BATCH * REPORT_MAX_ITEMS];
	size_t nround_times;
};

static void log_summaries(struct alliance *a, bool force);
static void mark_due_acks(struct daemon *d, struct alliance *a);

/* ---- opening ---- */

static bool allowlisted(void *arg, const struct addr *a)
{
	struct daemon *d = arg;
	return engine_allowlisted(d->engine, a);
}

/* The treaty at path, if in force and listing key's public key. */
static struct treaty *load_treaty(const char *path, const struct signer *s, char *self, char *err, size_t errlen)
{
	struct errors errs = {0};
	struct treaty *t = treaty_load(path, &errs);
	if (!t) {
		for (size_t i = 0; i < errs.n; i++)
			log_warnx("%s", errs.msgs[i]);
		snprintf(err, errlen, "%s", errs.n ? errs.msgs[0] : "treaty: unreadable");
		errors_clear(&errs);
		return NULL;
	}
	char why[512];
	const struct treaty_member *me = treaty_member_by_key(t, signer_public_key(s));
	if (!treaty_in_force(t, why, sizeof(why))) {
		snprintf(err, errlen, "%s: not in force: %s", path, why);
	} else if (!me) {
		char key[SIGNER_PUBLIC_TEXT];
		signer_key_format(signer_public_key(s), key);
		snprintf(err, errlen, "%s: our key %s is not a member's (pacto treaty add-member)", path, key);
	} else {
		snprintf(self, TREATY_MAX_ID + 1, "%s", me->id);
		return t;
	}
	treaty_free(t);
	return NULL;
}

/* A member's number and window as the ledger has them (a row of schema 4
 * not saved since: its form of the window). A damaged window costs what
 * it says nothing about: every number up to the highest counts as taken,
 * so a message of the member delivered again late is refused, not taken
 * twice; said once, as the ledger needs looking at. */
static int restore_ally(void *arg, const struct ledger_ally_state *s)
{
	int rc = s->taken || !s->seen
			 ? receipt_restore_member(arg, s->member, s->last_seq, s->last_time_us, s->taken, s->taken_len)
			 : receipt_restore_member_schema4(arg, s->member, s->last_seq, s->last_time_us, s->seen,
							  s->seen_len);
	if (rc != 0)
		log_warnx("ledger: the window of %s's sequence numbers (up to %llu, %zu bytes) is damaged: every number "
			  "up to it counts as taken (its messages delivered again late are refused as replays)",
			  s->member, (unsigned long long)s->last_seq, s->taken ? s->taken_len : s->seen_len);
	return 0;
}

struct restore_votes {
	struct receipt *receipt;
	int64_t now_us;
};

static int restore_vote(void *arg, const struct ledger_support *s)
{
	struct restore_votes *r = arg;
	receipt_restore_vote(r->receipt, s->member, s->seq, s->time_us, &s->addr, s->until_us, r->now_us);
	return 0;
}

/* Sequence numbers skipped at each start (see ledger_outbox_skip): more
 * than a member can report between a commit and its sync to disk. */
#define SEQ_GAP_AT_START 100000

/* A report not acknowledged below one acknowledged: its publish failed
 * (or its ack was not recorded) and pactod stopped before it published it
 * again (republish_failed: what failed_from said is not kept). Allies may
 * have taken numbers above it, and refuse one below their window or, of a
 * pacto of before the window, below their highest: from it on, every
 * report goes again above every number given, in order, as
 * republish_failed does. */
static int republish_hole(struct daemon *d, char *err, size_t errlen)
{
	uint64_t from, last;
	if (ledger_outbox_hole(d->ledger, &from, &last, err, errlen) != 0)
		return -1;
	if (!from)
		return 0;
	if (ledger_begin(d->ledger, err, errlen) != 0 || ledger_outbox_shift(d->ledger, from, last + 1, daemon_now_us(), err, errlen) != 0 ||
	    ledger_commit(d->ledger, err, errlen) != 0) {
		ledger_rollback(d->ledger);
		return -1;
	}
	log_info("alliance: reports from %llu on published again from %llu (not all were acknowledged before the stop)",
		 (unsigned long long)from, (unsigned long long)last + 1);
	return 0;
}

static int restore_state(struct daemon *d, struct alliance *a, char *err, size_t errlen)
{
	struct restore_votes rv = {a->receipt, daemon_now_us()};
	if (ledger_outbox_skip(d->ledger, SEQ_GAP_AT_START, err, errlen) != 0 || republish_hole(d, err, errlen) != 0 ||
	    ledger_each_ally(d->ledger, restore_ally, a->receipt, err, errlen) != 0 ||
	    ledger_each_active_support(d->ledger, rv.now_us, restore_vote, &rv, err, errlen) != 0)
		return -1;
	return 0;
}

static int open_transport(struct daemon *d, struct alliance *a, char *err, size_t errlen)
{
	const struct config *c = d->cfg;
	const char *urls[DAEMON_MAX_NATS];
	size_t n = 0;
	if (d->opts.nnats)
		for (; n < d->opts.nnats; n++)
			urls[n] = d->opts.nats[n];
	else
		for (; n < c->nnats && n < DAEMON_MAX_NATS; n++)
			urls[n] = c->nats[n];
	struct transport_config tc = {
		.urls = urls, .nurls = n, .creds_file = c->nats_credentials, .tls_ca = c->nats_tls_ca,
		.tls_cert = c->nats_tls_cert, .tls_key = c->nats_tls_key, .alliance = a->treaty->alliance,
		.member = a->self, .replicas = (unsigned)c->nats_replicas,
	};
	return transport_open(&tc, &a->transport, err, errlen);
}

static void copy_scenario(char *dst, const char *src);

void alliance_warn_renamed(const struct daemon *d)
{
	char as[REPORT_MAX_SCENARIO + 1];
	for (size_t i = 0; i < d->rs->nscenarios; i++) {
		const struct scenario *s = &d->rs->scenarios[i];
		copy_scenario(as, s->name);
		if (strcmp(as, s->name) != 0)
			log_warnx("alliance: scenario '%s' (%s) is reported to the allies as '%s' (reports carry at "
				  "most %d bytes of A-Z a-z 0-9 _ . -)", s->name, s->file, as, REPORT_MAX_SCENARIO);
	}
}

int alliance_open(struct daemon *d, const char *treaty_path, const char *key_path, char *err, size_t errlen)
{
	struct alliance *a = xcalloc(1, sizeof(*a));
	d->alliance = a;
	if (signer_init() != 0) {
		snprintf(err, errlen, "libsodium: cannot initialise");
		return -1;
	}
	if (signer_load(key_path, &a->signer, err, errlen) != 0)
		return -1;
	if (!(a->treaty = load_treaty(treaty_path, a->signer, a->self, err, errlen)))
		return -1;
	struct receipt_config rc = {.treaty = a->treaty, .allowlisted = allowlisted, .allowlisted_arg = d,
				    .seed = random_seed()};
	a->receipt = receipt_new(&rc);
	a->batch = xcalloc(1, sizeof(*a->batch));
	a->wire = xmalloc(REPORT_MAX_MESSAGE);
	a->window = xmalloc(RECEIPT_WINDOW_SAVED_MAX);
	a->next_publish = 1;
	if (restore_state(d, a, err, errlen) != 0)
		return -1;
	log_info("alliance %s (treaty version %llu, %zu members): we are %s", a->treaty->alliance,
		 (unsigned long long)a->treaty->version, a->treaty->nmembers, a->self);
	alliance_warn_renamed(d);
	return 0;
}

int alliance_connect(struct daemon *d, char *err, size_t errlen)
{
	return open_transport(d, d->alliance, err, errlen);
}

void alliance_close(struct alliance *a)
{
	if (!a)
		return;
	log_summaries(a, true);
	transport_close(a->transport);
	receipt_free(a->receipt);
	treaty_free(a->treaty);
	signer_free(a->signer);
	free(a->batch);
	free(a->wire);
	free(a->window);
	free(a->round_keys);
	ranges_free(&a->acks_due);
	ranges_free(&a->acks_written);
	free(a);
}

int alliance_fd(const struct alliance *a)
{
	return a && a->transport ? transport_fd(a->transport) : -1;
}

/* ---- out: the outbox ---- */

int alliance_report(struct daemon *d, const struct sanction *s, bool lift, const struct evidence_lines *ev,
		    char *err, size_t errlen)
{
	struct ledger_line lines[LEDGER_REPORT_LINES];
	size_t n = 0;
	/* The last lines are the ones that decided it. */
	size_t from = ev && ev->n > LEDGER_REPORT_LINES ? ev->n - LEDGER_REPORT_LINES : 0;
	for (size_t i = from; ev && i < ev->n; i++)
		lines[n++] = (struct ledger_line){.text = ev->text[i], .len = ev->len[i]};
	struct ledger_report r = {
		.time_us = daemon_now_us(), .action = lift ? LEDGER_REPORT_LIFT : LEDGER_REPORT_SANCTION,
		.addr = s->addr, .scenario = s->scenario ? s->scenario->name : "manual",
		.duration_s = lift ? 0 : (uint32_t)((s->duration_us + 999999) / 1000000), .attempts = s->attempts,
		.first_seen_us = s->first_seen_us, .last_seen_us = s->last_seen_us, .lines = lines, .nlines = n,
	};
	struct alliance *a = d->alliance;
	if (ledger_outbox_add(d->ledger, &r, err, errlen) != 0)
		return -1;
	/* Reports are published before their transaction commits (the drop
	 * on allies must not wait for our disk); a transaction rolled back
	 * after that gives its numbers back, and allies would refuse a new
	 * report under one of them as a replay: renumber past them. */
	if (r.seq <= a->published_max && ledger_outbox_renumber(d->ledger, r.seq, a->published_max + 1, err, errlen) != 0)
		return -1;
	a->reports_out++;
	a->outbox_dirty = true;
	alliance_flush(d, false);
	return 0;
}

struct fill {
	struct alliance *a;
	struct report_batch *b;
};

static void copy_line(char *dst, const struct ledger_line *l)
{
	size_t n = l->len < REPORT_MAX_LINE ? l->len : REPORT_MAX_LINE;
	memcpy(dst, l->text, n);
	dst[n] = '\0';
}

/* Scenario names of other hosts' rules are labels; keep the safe part.
 * A name that changes here is logged at start and reload
 * (alliance_warn_renamed): the allies see the new one. */
static void copy_scenario(char *dst, const char *src)
{
	size_t n = 0;
	for (; src[n] && n < REPORT_MAX_SCENARIO; n++) {
		char c = src[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			  c == '-' || c == '.';
		dst[n] = ok ? c : '_';
	}
	dst[n] = '\0';
	if (n == 0)
		snprintf(dst, REPORT_MAX_SCENARIO + 1, "unknown");
}

static int fill_one(void *arg, const struct ledger_report *r)
{
	struct fill *f = arg;
	struct report *rep = &f->b->items[f->b->n++];
	memset(rep, 0, sizeof(*rep));
	rep->seq = r->seq;
	rep->time_us = r->time_us;
	rep->action = r->action == LEDGER_REPORT_LIFT ? REPORT_LIFT : REPORT_SANCTION;
	rep->addr = r->addr;
	copy_scenario(rep->scenario, r->scenario);
	rep->duration_s = r->duration_s;
	rep->attempts = r->attempts;
	rep->first_seen_us = r->first_seen_us;
	rep->last_seen_us = r->last_seen_us;
	for (size_t i = 0; i < r->nlines && i < REPORT_MAX_LINES; i++)
		copy_line(rep->lines[rep->nlines++], &r->lines[i]);
	return 0;
}

/* Reads the next batch of the outbox into a->batch; returns its size. */
static size_t next_batch(struct daemon *d, struct alliance *a)
{
	char err[256];
	struct report_batch *b = a->batch;
	memset(b, 0, offsetof(struct report_batch, items));
	snprintf(b->alliance, sizeof(b->alliance), "%s", a->treaty->alliance);
	snprintf(b->member, sizeof(b->member), "%s", a->self);
	b->treaty_version = a->treaty->version;
	struct fill f = {a, b};
	if (ledger_outbox_each_pending(d->ledger, a->next_publish - 1, REPORT_MAX_ITEMS, fill_one, &f, err,
				       sizeof(err)) != 0) {
		log_warnx("ledger: outbox: %s", err);
		return 0;
	}
	return b->n;
}

static bool publish_batch(struct alliance *a)
{
	char err[256];
	size_t len;
	struct report_batch *b = a->batch;
	if (report_encode(b, a->signer, a->wire, REPORT_MAX_MESSAGE, &len, err, sizeof(err)) != 0) {
		/* Cannot happen with what the outbox holds; skip it rather than
		 * block every later report behind it. */
		log_warnx("alliance: report %llu..%llu not encodable (%s); skipped",
			  (unsigned long long)b->items[0].seq, (unsigned long long)b->items[b->n - 1].seq, err);
		a->next_publish = b->items[b->n - 1].seq + 1;
		return true;
	}
	uint64_t last = b->items[b->n - 1].seq;
	if (transport_publish(a->transport, last, a->wire, len, err, sizeof(err)) != 0) {
		log_debug("alliance: publish deferred: %s", err);
		return false;
	}
	a->inflight[a->ninflight++] = (struct inflight){b->items[0].seq, last};
	a->next_publish = last + 1;
	if (last > a->published_max)
		a->published_max = last;
	return true;
}

static void forget_inflight(struct alliance *a, size_t i)
{
	a->inflight[i] = a->inflight[--a->ninflight];
}

static void write_acks(struct daemon *d, struct alliance *a);
static void acks_settled(struct alliance *a, bool kept);

/* A publish failed (a->failed_from) and later ones may have been stored:
 * allies applied their numbers and would refuse the failed reports under
 * their old, lower ones as replays. So every report still owed from the
 * failed one on is renumbered past published_max, in order; acknowledged
 * ones keep their numbers and are not sent again, and an owed one that a
 * later report of its address follows is marked done instead
 * (ledger_outbox_shift). Acks taken but not marked yet (acks_due: the
 * round that marked them was rolled back) are marked first, in the same
 * transaction: else their reports, owed in the ledger, would go again,
 * their old copies spending the allies' rate and a lift given by hand at
 * an ally undone. If they cannot all be marked, nothing is renumbered
 * yet. Only outside any transaction, in one of its own:
 * the rows are all committed, and a rollback cannot undo the renumbering
 * after it was published. The failed batch's in-flight entries and those
 * after it go: an ack of theirs comes under a number no longer in use.
 * Returns true when done (publishing may go on). */
static bool republish_failed(struct daemon *d, struct alliance *a)
{
	char err[256];
	if (ledger_in_transaction(d->ledger))
		return false;
	uint64_t from = a->failed_from, to = a->published_max + 1;
	bool begun = ledger_begin(d->ledger, err, sizeof(err)) == 0;
	if (begun)
		write_acks(d, a);
	if (begun && a->acks_due.n)
		snprintf(err, sizeof(err), "acknowledged reports could not be marked first");
	if (!begun || a->acks_due.n ||
	    ledger_outbox_shift(d->ledger, from, to, daemon_now_us(), err, sizeof(err)) != 0 ||
	    ledger_commit(d->ledger, err, sizeof(err)) != 0) {
		ledger_rollback(d->ledger);
		acks_settled(a, false);
		log_warnx("ledger: outbox: %s (reports from %llu on are held until it works)", err,
			  (unsigned long long)from);
		a->retry_at_us = daemon_now_us() + RETRY_US;
		return false;
	}
	acks_settled(a, true);
	for (size_t i = a->ninflight; i-- > 0;)
		if (a->inflight[i].first >= from)
			forget_inflight(a, i);
	a->next_publish = to;
	a->failed_from = 0;
	log_info("alliance: reports from %llu on published again from %llu (a publish failed)",
		 (unsigned long long)from, (unsigned long long)to);
	return true;
}

void alliance_flush(struct daemon *d, bool tick)
{
	struct alliance *a = d->alliance;
	if (a && tick) {
		log_summaries(a, false);
		mark_due_acks(d, a);
	}
	if (!a || (!a->outbox_dirty && !tick && !a->failed_from) || daemon_now_us() < a->retry_at_us)
		return;
	if (a->failed_from && !republish_failed(d, a))
		return;
	a->outbox_dirty = false;
	while (a->ninflight < MAX_INFLIGHT && next_batch(d, a) > 0)
		if (!publish_batch(a)) {
			a->retry_at_us = daemon_now_us() + RETRY_US;
			break;
		}
}

/* Acks are matched by the last seq of their batch: every seq handed to the
 * transport is above all before it (republish_failed), so it is one
 * batch's at most. */
static void handle_ack(struct alliance *a, const struct transport_ack *ack)
{
	for (size_t i = 0; i < a->ninflight; i++) {
		if (a->inflight[i].last != ack->seq)
			continue;
		struct inflight f = a->inflight[i];
		forget_inflight(a, i);
		if (!ack->ok) {
			/* Nothing more is published until republish_failed has
			 * renumbered it and what came after it. */
			a->publish_failures++;
			if (!a->failed_from || f.first < a->failed_from)
				a->failed_from = f.first;
			a->retry_at_us = daemon_now_us() + RETRY_US;
			log_debug("alliance: publish of %llu..%llu failed: %s", (unsigned long long)f.first,
				  (unsigned long long)f.last, ack->error);
			return;
		}
		ranges_add(&a->acks_due, f.first, f.last);
		a->acked += f.last - f.first + 1;
		return;
	}
}

/* Marks the acknowledged rows in the open transaction, a range at a time;
 * what is written moves to acks_written. A failed write stops there: what
 * is not marked stays due. */
static void write_acks(struct daemon *d, struct alliance *a)
{
	char err[256];
	int64_t now = daemon_now_us();
	size_t k = 0;
	for (; k < a->acks_due.n; k++) {
		const struct range *r = &a->acks_due.r[k];
		if (ledger_outbox_ack_range(d->ledger, r->first, r->last, now, err, sizeof(err)) != 0) {
			if (!a->acks_failing)
				log_warnx("ledger: outbox: %s (acknowledged reports marked later)", err);
			a->acks_failing = true;
			break;
		}
	}
	ranges_take_front(&a->acks_written, &a->acks_due, k);
}

/* The transaction that marked them committed (kept true) or was rolled
 * back: the marked ones are done, or due again. */
static void acks_settled(struct alliance *a, bool kept)
{
	if (kept && a->acks_written.n)
		a->acks_failing = false;
	if (kept)
		ranges_clear(&a->acks_written);
	else
		ranges_take_front(&a->acks_due, &a->acks_written, a->acks_written.n);
}

/* On the tick, outside any transaction: the acks a rolled-back round left
 * due are marked in a transaction of their own, not only when the next
 * message or ack comes. */
static void mark_due_acks(struct daemon *d, struct alliance *a)
{
	char err[256];
	if (!a->acks_due.n || ledger_in_transaction(d->ledger) || ledger_begin(d->ledger, err, sizeof(err)) != 0)
		return;
	write_acks(d, a);
	if (ledger_commit(d->ledger, err, sizeof(err)) == 0) {
		acks_settled(a, true);
		return;
	}
	if (!a->acks_failing)
		log_warnx("ledger: %s (acknowledged reports marked later)", err);
	a->acks_failing = true;
	acks_settled(a, false);
}

/* ---- in: allies' reports ---- */

static void touch(struct alliance *a, const char *member)
{
	for (size_t i = 0; i < a->ntouched; i++)
		if (strcmp(a->touched[i], member) == 0)
			return;
	const struct treaty_member *m = treaty_member_by_id(a->treaty, member);
	if (m && a->ntouched < TREATY_MAX_MEMBERS)
		a->touched[a->ntouched++] = m->id;
}

/* A ledger write of the round failed: the round is undone at its end
 * (finish_batch), whatever else it wrote, since a failed statement may
 * leave the transaction open without its row (a sanction without its
 * support, a sequence number without its report). */
static void write_failed(struct daemon *d, const char *err)
{
	log_warnx("ledger: %s", err);
	d->alliance->round_failed = true;
}

/* The round changed key's kernel element (and the engine's view of it). */
static void round_key(struct alliance *a, const struct addr *key)
{
	if (a->nround_keys == a->round_keys_cap) {
		a->round_keys_cap = a->round_keys_cap ? 2 * a->round_keys_cap : 64;
		a->round_keys = xreallocarray(a->round_keys, a->round_keys_cap, sizeof(*a->round_keys));
	}
	a->round_keys[a->nround_keys++] = *key;
}

/* Starts a round: what it changes in memory can be put back. */
static void round_begin(struct alliance *a)
{
	a->round_failed = false;
	a->nround_keys = 0;
	a->round_applied_before = a->applied;
	a->round_refusals_before = a->refusals;
	memcpy(a->round_caps, a->caps, sizeof(a->caps));
	receipt_round_begin(a->receipt);
}

/* The index of sender's refusal cap and log: its own if a member of the
 * treaty, else the one all non-members share (UNVERIFIED). Only for what
 * sender signed: a refusal before the signature is checked goes to
 * UNVERIFIED whatever the name (refuse_message). */
static size_t sender_index(const struct alliance *a, const char *sender)
{
	const struct treaty_member *m = treaty_member_by_id(a->treaty, sender);
	return m ? (size_t)(m - a->treaty->members) : UNVERIFIED;
}

/* Logs what log i did not say line by line in its minute, by reason. */
static void log_summary(struct alliance *a, size_t i)
{
	struct refusal_log *l = &a->logs[i];
	char text[512] = "", when[64];
	size_t len = 0;
	uint64_t total = 0;
	for (int r = 1; r < RR_COUNT; r++) {
		if (!l->more[r])
			continue;
		total += l->more[r];
		if (len < sizeof(text))
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s %llu", len ? ", " : "",
						 receipt_reason_name((enum receipt_reason)r), (unsigned long long)l->more[r]);
	}
	if (total)
		log_warnx("alliance: %llu more refusals of %s in the minute from %s, not logged one by one: %s",
			  (unsigned long long)total,
			  i < a->treaty->nmembers ? a->treaty->members[i].id
						  : "senders not in the treaty or not verified (no valid signature)",
			  format_time_utc(l->minute * 60000000, when, sizeof(when)), text);
	memset(l->more, 0, sizeof(l->more));
}

/* The summaries of the minutes that are over (each tick), or of all
 * (force: before a new treaty changes the members' indexes). */
static void log_summaries(struct alliance *a, bool force)
{
	int64_t minute = daemon_now_us() / 60000000;
	for (size_t i = 0; i <= TREATY_MAX_MEMBERS; i++)
		if (force || a->logs[i].minute != minute)
			log_summary(a, i);
}

/* Whether to log this refusal on a line of its own, by log i (a member's,
 * or UNVERIFIED); if not, it is counted for the summary of the minute
 * (log_summary). */
static bool log_refusal(struct alliance *a, size_t i, enum receipt_reason why)
{
	struct refusal_log *l = &a->logs[i];
	int64_t minute = daemon_now_us() / 60000000;
	if (l->minute != minute) {
		log_summary(a, i);
		l->minute = minute;
		l->logged = 0;
	}
	if (l->logged < REFUSALS_LOGGED) {
		l->logged++;
		return true;
	}
	l->more[why]++;
	return false;
}

/* Records a report received, a refusal against cap i (a member's, or
 * UNVERIFIED): the refusals of each are written at most
 * ALLIANCE_REFUSALS_PER_MINUTE a minute (they are always counted), so
 * that one hostile sender's flood cannot hide the others' refusals. */
static void record_in(struct daemon *d, size_t i, const char *member, const struct report *rep, const char *verdict,
		      const char *reason, int64_t sanction_id)
{
	struct alliance *a = d->alliance;
	int64_t now = daemon_now_us();
	if (strcmp(verdict, "refused") == 0) {
		struct refusal_cap *cap = &a->caps[i];
		a->refusals++;
		if (now / 60000000 != cap->minute) {
			cap->minute = now / 60000000;
			cap->rows = 0;
		}
		if (cap->rows++ >= ALLIANCE_REFUSALS_PER_MINUTE)
			return;
	}
	char err[256];
	struct ledger_report_in in = {
		.received_us = now, .member = member, .seq = rep ? rep->seq : 0, .time_us = rep ? rep->time_us : 0,
		.action = rep ? (int)rep->action : 0, .addr = rep ? &rep->addr : NULL,
		.scenario = rep ? rep->scenario : "", .duration_s = rep ? rep->duration_s : 0, .verdict = verdict,
		.reason = reason, .sanction_id = sanction_id,
	};
	if (ledger_add_report_in(d->ledger, &in, err, sizeof(err)) != 0)
		write_failed(d, err);
}

/* record_in, against the cap of member, for what member signed. */
static void record(struct daemon *d, const char *member, const struct report *rep, const char *verdict,
		   const char *reason, int64_t sanction_id)
{
	record_in(d, sender_index(d->alliance, member), member, rep, verdict, reason, sanction_id);
}

/* A whole message refused, in the name of member (counted against it in
 * the receipt: pacto allies). verified: its signature was checked, so
 * member sent it, and the row and the log line go against member's cap;
 * if not (not a member, too big, a bad signature: anyone may publish on
 * any subject), against the one UNVERIFIED cap: 601 forgeries a minute
 * in alpha's name filled alpha's cap and log, and hid alpha's own
 * refusals. */
static void refuse_message(struct daemon *d, const char *member, bool verified, enum receipt_reason why,
			   const char *detail)
{
	struct alliance *a = d->alliance;
	size_t i = verified ? sender_index(a, member) : UNVERIFIED;
	receipt_refuse_message(a->receipt, member, why);
	char reason[300];
	snprintf(reason, sizeof(reason), "%s%s%s", receipt_reason_name(why), detail && *detail ? ": " : "",
		 detail ? detail : "");
	if (log_refusal(a, i, why))
		log_warnx("alliance: message %s %.64s refused: %s", verified ? "from" : "claimed to be from", member,
			  reason);
	record_in(d, i, member, NULL, "refused", reason, 0);
}

void alliance_forget(struct daemon *d, const struct addr *a)
{
	if (d->alliance)
		receipt_forget(d->alliance->receipt, a);
}

bool alliance_is_ours(struct daemon *d, const struct addr *a)
{
	return daemon_in_force(d, a, daemon_now_us()).local;
}

static void add_supports(struct daemon *d, const struct addr *key, int64_t id, int64_t now)
{
	struct receipt_support sup[RECEIPT_MAX_VOTES];
	char err[256];
	size_t n = receipt_supporters(d->alliance->receipt, key, now, sup, RECEIPT_MAX_VOTES);
	for (size_t i = 0; i < n; i++)
		if (ledger_add_support(d->ledger, id, sup[i].member, sup[i].seq, sup[i].time_us, sup[i].until_us, err,
				       sizeof(err)) != 0)
			write_failed(d, err);
}

static int64_t new_ally_sanction(struct daemon *d, const char *member, const struct report *rep, int64_t until,
				 int64_t now)
{
	char origin[LEDGER_MAX_NAME], reason[160], err[256];
	struct ledger_line lines[ALLY_EVIDENCE_KEPT];
	/* The last lines are the ones that decided it; each line kept costs
	 * as much to write as a quarter of the rest of the sanction. */
	size_t from = rep->nlines > ALLY_EVIDENCE_KEPT ? rep->nlines - ALLY_EVIDENCE_KEPT : 0, n = 0;
	for (size_t i = from; i < rep->nlines; i++)
		lines[n++] = (struct ledger_line){.text = rep->lines[i], .len = strlen(rep->lines[i])};
	snprintf(origin, sizeof(origin), ALLY_ORIGIN_PREFIX "%s", member);
	snprintf(reason, sizeof(reason), "reported by %s (report %llu)", member, (unsigned long long)rep->seq);
	struct ledger_sanction s = {
		.addr = rep->addr, .scenario = rep->scenario, .origin = origin, .reason = reason,
		.attempts = rep->attempts, .first_seen_us = rep->first_seen_us, .last_seen_us = rep->last_seen_us,
		.created_us = now, .expires_us = until, .offence = 1, .evidence = lines, .nevidence = n,
		.evidence_dropped = (unsigned)from,
	};
	int64_t id = 0;
	if (ledger_add_sanction(d->ledger, &s, &id, err, sizeof(err)) != 0)
		write_failed(d, err);
	return id;
}

/* The quorum supports key until until: enforce it (never shortening what
 * is in force) and record it. Returns the ledger id of the ally sanction,
 * or -1 when the enforcer refuses the address (a reserved network): then
 * why says so. */
static int64_t impose(struct daemon *d, const char *member, const struct report *rep, int64_t until, int64_t now,
		      char *why, size_t whylen)
{
	char err[256], text[ADDR_STRLEN];
	struct daemon_in_force f = daemon_in_force(d, &rep->addr, now);
	if (until > f.until_us) {
		if (firewall_add(d->fw, &rep->addr, (until - now + 999999) / 1000000, err, sizeof(err)) != 0) {
			snprintf(why, whylen, "firewall: %s", err);
			log_warnx("alliance: report %llu of %s: %s", (unsigned long long)rep->seq, member, why);
			return -1;
		}
		d->alliance->firewall_dirty = true;
		round_key(d->alliance, &rep->addr);
		engine_impose(d->engine, &rep->addr, until);
	}
	int64_t id = f.ally_id;
	if (id && until > f.until_us && ledger_set_expiry(d->ledger, id, until, err, sizeof(err)) != 0)
		write_failed(d, err);
	if (!id)
		id = new_ally_sanction(d, member, rep, until > f.until_us ? until : f.until_us, now);
	if (id)
		add_supports(d, &rep->addr, id, now);
	d->sanctions++;
	d->alliance->applied++;
	char origin[TREATY_MAX_ID + sizeof(ALLY_ORIGIN_PREFIX)];
	snprintf(origin, sizeof(origin), ALLY_ORIGIN_PREFIX "%s", member);
	metrics_sanction(&d->metrics, rep->scenario, origin);
	/* A line each for the first few of a round; under a flood of reports
	 * a line each would cost more than applying them: the rest are summed
	 * up at the end of the round (alliance_service). */
	if (d->alliance->round_applied++ < ROUND_LOGGED)
		log_info("sanction %s until +%llds: reported by %s (%s)", addr_format(&rep->addr, text, sizeof(text)),
			 (long long)((until - now) / 1000000), member, rep->scenario);
	return id;
}

/* An ally's sanction of key was just lifted in the ledger. impose() may
 * have stretched the kernel element and the engine to the ally's end,
 * past a shorter sanction of this host's own: set both back to what still
 * holds key (the ledger says, now the ally's row is lifted), or drop key
 * when nothing does (daemon_follow_ledger, as `pacto lift` does). Left at
 * the ally's end, the address would stay dropped, and its failures
 * uncounted, long after `pacto sanctions` stops listing it. */
static void fall_back(struct daemon *d, const struct addr *key, int64_t now)
{
	char err[256];
	round_key(d->alliance, key);
	if (daemon_follow_ledger(d, key, now, err, sizeof(err)) != 0)
		log_warnx("firewall: %s", err);
	else
		d->alliance->firewall_dirty = true;
}

/* The support of an ally's sanction fell below the quorum: lift it, and
 * bring the key back to a sanction of this host's own that still holds it,
 * or drop it (fall_back). */
static int64_t lift(struct daemon *d, const char *member, const struct report *rep, int64_t now)
{
	char by[LEDGER_MAX_NAME], err[256], text[ADDR_STRLEN];
	struct daemon_in_force f = daemon_in_force(d, &rep->addr, now);
	bool lifted = false;
	snprintf(by, sizeof(by), ALLY_ORIGIN_PREFIX "%s (report %llu)", member, (unsigned long long)rep->seq);
	if (f.ally_id && ledger_lift_id(d->ledger, f.ally_id, now, by, &lifted, err, sizeof(err)) != 0)
		write_failed(d, err);
	fall_back(d, &rep->addr, now);
	log_info("lift %s: %s", addr_format(&rep->addr, text, sizeof(text)), by);
	d->alliance->applied++;
	return f.ally_id;
}

static void remember_time(struct alliance *a, int64_t report_us)
{
	if (a->nround_times < sizeof(a->round_times) / sizeof(*a->round_times))
		a->round_times[a->nround_times++] = report_us;
}

/* The round's reports are in force (the firewall commit returned). */
static void observe_propagation(struct daemon *d, struct alliance *a)
{
	int64_t now = daemon_now_us();
	for (size_t i = 0; i < a->nround_times; i++)
		prom_histogram_observe(&d->metrics.propagation, (double)(now - a->round_times[i]) / 1e6);
	a->nround_times = 0;
}

struct revive {
	struct receipt *receipt;
	const char *member;               /* the lifter */
	const struct addr *key;
	int64_t now;
	bool lifter_votes;                /* the ledger holds the lifter's unexpired vote */
};

static int find_lifter(void *arg, const struct ledger_support *s)
{
	struct revive *v = arg;
	if (strcmp(s->member, v->member) == 0 && s->until_us > v->now)
		v->lifter_votes = true;
	return 0;
}

static int revive_vote(void *arg, const struct ledger_support *s)
{
	struct revive *v = arg;
	if (!receipt_has_vote(v->receipt, s->member, v->key, v->now))
		receipt_restore_vote(v->receipt, s->member, s->seq, s->time_us, v->key, s->until_us, v->now);
	return 0;
}

/* A lift of key by member, whose vote the receipt does not hold: the
 * receipt may have evicted key (it tracks a bounded number of addresses,
 * which a member's pending reports can fill). The ledger knows who
 * supports the ally sanction in force: when it holds the lifter's vote,
 * the votes are put back, so that a reporter can still lift its own
 * report (it was refused as not_reporter). Only for a lift the receipt
 * admitted (no replay, within the rate: receipt_admit), and only when the
 * lifter has a vote to withdraw: a lift anyone may send, or send again,
 * must not bring back what the ledger holds (withdrawn votes end there,
 * end_support; before, every vote the receipt lacked came back). */
static void revive_votes(struct daemon *d, const char *member, const struct addr *key, int64_t now)
{
	struct revive v = {d->alliance->receipt, member, key, now, false};
	char err[256];
	if (receipt_has_vote(v.receipt, member, key, now))
		return;
	struct daemon_in_force f = daemon_in_force(d, key, now);
	if (!f.ally_id)
		return;
	if (ledger_each_support(d->ledger, f.ally_id, find_lifter, &v, err, sizeof(err)) != 0 ||
	    (v.lifter_votes && ledger_each_support(d->ledger, f.ally_id, revive_vote, &v, err, sizeof(err)) != 0))
		log_warnx("ledger: %s", err);
}

struct lifter_row {
	const char *member;
	bool found;
	uint64_t seq;
	int64_t time_us, until_us;
};

static int find_row(void *arg, const struct ledger_support *s)
{
	struct lifter_row *w = arg;
	if (strcmp(s->member, w->member) == 0) {
		w->found = true;
		w->seq = s->seq;
		w->time_us = s->time_us;
		w->until_us = s->until_us;
	}
	return 0;
}

/* member lifted its report of the ally sanction id, which the others'
 * votes keep in force: its support row ends now (as end_revoked does), or
 * a restart (restore_vote), the reload's re-check (recheck_sanctions) and
 * a later lift that puts the votes back (revive_votes) would count it
 * again. */
static void end_support(struct daemon *d, int64_t id, const char *member, int64_t now)
{
	struct lifter_row w = {.member = member};
	char err[256];
	if (ledger_each_support(d->ledger, id, find_row, &w, err, sizeof(err)) != 0)
		return write_failed(d, err);
	if (w.found && w.until_us > now &&
	    ledger_add_support(d->ledger, id, member, w.seq, w.time_us, now, err, sizeof(err)) != 0)
		write_failed(d, err);
}

/* What the receipt says of rep (receipt_admit, then receipt_judge). */
static void judge_report(struct daemon *d, const char *member, const struct report *rep, int64_t now,
			 struct receipt_decision *dec)
{
	struct receipt *r = d->alliance->receipt;
	if (!receipt_admit(r, member, rep, now, dec))
		return;
	if (rep->action == REPORT_LIFT)
		revive_votes(d, member, &rep->addr, now);
	receipt_judge(r, member, rep, now, dec);
}

static void apply_report(struct daemon *d, const char *member, const struct report *rep, int64_t now)
{
	struct receipt_decision dec;
	judge_report(d, member, rep, now, &dec);
	/* The receipt says whether the report changed what the ledger keeps
	 * of its member (it took a number): a replay does not, so copies of
	 * captured messages cost no write. */
	if (receipt_member_dirty(d->alliance->receipt, member))
		touch(d->alliance, member);
	switch (dec.verdict) {
	case RECEIPT_REFUSED: {
		char text[ADDR_STRLEN];
		if (log_refusal(d->alliance, sender_index(d->alliance, member), dec.reason))
			log_warnx("alliance: report %llu of %s about %s refused: %s", (unsigned long long)rep->seq,
				  member, addr_format(&rep->addr, text, sizeof(text)), receipt_reason_name(dec.reason));
		record(d, member, rep, "refused", receipt_reason_name(dec.reason), 0);
		break;
	}
	case RECEIPT_PENDING:
		record(d, member, rep, "pending", "below the quorum", 0);
		break;
	case RECEIPT_UNCHANGED: {
		struct daemon_in_force f = daemon_in_force(d, &rep->addr, now);
		if (f.ally_id && rep->action == REPORT_SANCTION)
			add_supports(d, &rep->addr, f.ally_id, now);
		if (f.ally_id && rep->action == REPORT_LIFT)
			end_support(d, f.ally_id, member, now);
		const char *why = "already in force";
		if (rep->action == REPORT_LIFT)
			why = f.ally_id ? "vote withdrawn, the others' still reach the quorum"
					: "vote withdrawn before the quorum";
		record(d, member, rep, "unchanged", why, f.ally_id);
		break;
	}
	case RECEIPT_SANCTION: {
		char why[300];
		int64_t id = impose(d, member, rep, dec.until_us, now, why, sizeof(why));
		if (id < 0) {
			record(d, member, rep, "refused", why, 0);
			break;
		}
		if (id == 0)
			record(d, member, rep, "applied", "", 0);
		/* else: its support row (add_supports) is its record. */
		remember_time(d->alliance, rep->time_us);
		break;
	}
	case RECEIPT_LIFT:
		record(d, member, rep, "applied", "", lift(d, member, rep, now));
		remember_time(d->alliance, rep->time_us);
		break;
	}
}

static void handle_message(struct daemon *d, const struct transport_msg *m)
{
	struct alliance *a = d->alliance;
	char why[256];
	a->messages_in++;
	if (strcmp(m->sender, a->self) == 0)
		return;   /* our own reports come back on the stream */
	const struct treaty_member *member = treaty_member_by_id(a->treaty, m->sender);
	if (!member)
		return refuse_message(d, m->sender, false, RR_NOT_MEMBER, NULL);
	enum report_error e = report_decode(m->data, m->len, member->key, a->batch, why, sizeof(why));
	/* too_big and bad_signature are found before the signature holds:
	 * anyone may have sent them. */
	bool verified = e != REPORT_TOO_BIG && e != REPORT_BAD_SIGNATURE;
	if (e != REPORT_OK)
		return refuse_message(d, member->id, verified, receipt_reason_from_report(e), why);
	enum receipt_reason rr = receipt_check_batch(a->receipt, member->id, a->batch);
	if (rr != RR_NONE)
		return refuse_message(d, member->id, true, rr, NULL);
	int64_t now = daemon_now_us();
	/* Past a failed write the round is undone: the rest would be too. */
	for (size_t i = 0; i < a->batch->n && !a->round_failed; i++)
		apply_report(d, member->id, &a->batch->items[i], now);
}

/* Each member the round heard from: its highest number, latest report
 * time and window (which numbers below were taken), so that after a
 * restart a message delivered again is still taken once, and only once. */
static void save_touched(struct daemon *d, struct alliance *a)
{
	char err[256];
	for (size_t i = 0; i < a->ntouched; i++) {
		struct ledger_ally_state s = {.member = a->touched[i], .taken = a->window};
		if (!receipt_member_state(a->receipt, s.member, &s.last_seq, &s.last_time_us))
			continue;
		s.taken_len = receipt_member_window(a->receipt, s.member, a->window);
		if (ledger_ally_save_state(d->ledger, &s, err, sizeof(err)) != 0)
			write_failed(d, err);
		else
			receipt_member_saved(a->receipt, s.member);
	}
	a->ntouched = 0;
}

static void commit_firewall(struct daemon *d, struct alliance *a)
{
	char err[256];
	if (!a->firewall_dirty)
		return;
	a->firewall_dirty = false;
	if (firewall_commit(d->fw, err, sizeof(err)) != 0) {
		d->firewall_errors++;
		log_warnx("firewall: %s", err);
		a->nround_times = 0;
	}
}

/* The round's transaction failed and is rolled back: the receipt goes back
 * to its state before the round (undo log), so the messages, not acked,
 * are taken again when they come, not refused as replays; the kernel
 * elements the round added or removed go back to what the ledger holds
 * (the ledger is the truth: an address dropped with nothing recorded
 * would be in no `pacto sanctions`, `pacto why` would say it was never
 * sanctioned, and nothing would ever lift it). */
static void undo_round(struct daemon *d, struct alliance *a)
{
	char err[256];
	int64_t now = daemon_now_us();
	receipt_round_undo(a->receipt);
	acks_settled(a, false);
	a->applied = a->round_applied_before;
	a->refusals = a->round_refusals_before;
	memcpy(a->caps, a->round_caps, sizeof(a->caps));
	a->ntouched = 0;
	a->nround_times = 0;
	for (size_t i = 0; i < a->nround_keys; i++) {
		bool seen = false;   /* rounds are small: a scan, not a set */
		for (size_t j = 0; j < i && !seen; j++)
			seen = addr_equal(&a->round_keys[j], &a->round_keys[i]);
		if (seen)
			continue;
		if (daemon_follow_ledger(d, &a->round_keys[i], now, err, sizeof(err)) != 0)
			log_warnx("firewall: %s", err);
		else
			a->firewall_dirty = true;
	}
	if (a->nround_keys)
		log_warnx("alliance: the round's %zu firewall change%s set back to what the ledger holds", a->nround_keys,
			  a->nround_keys == 1 ? "" : "s");
	a->nround_keys = 0;
	commit_firewall(d, a);
}

/* Firewall first (the drops do not wait for the fsync), then the ledger;
 * the broker hears "done" only when both are. A round with a failed
 * write is rolled back instead of committed. Returns whether committed. */
static bool finish_batch(struct daemon *d, struct alliance *a)
{
	char err[256];
	commit_firewall(d, a);
	if (!a->round_failed && ledger_in_transaction(d->ledger))
		save_touched(d, a);
	bool ok = false;
	if (a->round_failed) {
		snprintf(err, sizeof(err), "a write failed; the round is rolled back");
		ledger_rollback(d->ledger);
	} else {
		ok = ledger_commit(d->ledger, err, sizeof(err)) == 0;
	}
	a->round_failed = false;
	if (!ok) {
		d->ledger_errors++;
		recorder_error(d->recorder, daemon_now_us(), err);
		log_warnx("ledger: %s (the allies' messages will be delivered again)", err);
		recorder_settled(d, false);
		undo_round(d, a);
		return false;
	}
	observe_propagation(d, a);
	acks_settled(a, true);
	receipt_round_keep(a->receipt);
	a->nround_keys = 0;
	recorder_settled(d, true);
	return true;
}

static void take_acks(struct alliance *a)
{
	struct transport_ack acks[64];
	size_t n;
	while ((n = transport_take_acks(a->transport, acks, 64)) > 0)
		for (size_t i = 0; i < n; i++)
			handle_ack(a, &acks[i]);
}

void alliance_service(struct daemon *d)
{
	struct alliance *a = d->alliance;
	struct transport_msg *msgs[INBOUND_BATCH];
	char err[256];
	if (!a)
		return;
	if (!ledger_in_transaction(d->ledger) && ledger_begin(d->ledger, err, sizeof(err)) != 0) {
		log_warnx("ledger: %s", err);
		return;
	}
	take_acks(a);
	write_acks(d, a);
	size_t n = transport_take_messages(a->transport, msgs, INBOUND_BATCH);
	a->round_applied = 0;
	round_begin(a);
	/* Past a failed write (the transaction may be gone: later writes
	 * would each commit on their own) the round is undone: stop. */
	for (size_t i = 0; i < n && !a->round_failed && ledger_in_transaction(d->ledger); i++)
		handle_message(d, msgs[i]);
	if (a->round_applied > ROUND_LOGGED)
		log_info("alliance: %u more sanctions applied from %zu messages", a->round_applied - ROUND_LOGGED, n);
	bool committed = finish_batch(d, a);
	for (size_t i = 0; i < n; i++) {
		if (committed)
			transport_ack(a->transport, msgs[i]);
		else
			transport_release(a->transport, msgs[i]);
	}
	alliance_flush(d, false);
}

/* ---- reload: a new treaty ---- */

/* One row of support of an active ally sanction. */
struct support_row {
	int64_t id, expires_us;
	struct addr addr;
	char member[TREATY_MAX_ID + 1];
	uint64_t seq;
	int64_t time_us, until_us;
};

struct support_rows {
	struct support_row *rows;
	size_t n, cap;
};

static int collect_support(void *arg, const struct ledger_support *s)
{
	struct support_rows *c = arg;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->rows = xreallocarray(c->rows, c->cap, sizeof(*c->rows));
	}
	struct support_row *r = &c->rows[c->n++];
	r->id = s->sanction_id;
	r->expires_us = s->expires_us;
	r->addr = s->addr;
	snprintf(r->member, sizeof(r->member), "%s", s->member);
	r->seq = s->seq;
	r->time_us = s->time_us;
	r->until_us = s->until_us;
	return 0;
}

/* What a reload's re-check did. */
struct recheck_counts {
	unsigned checked, lifted, cut;
};

/* The votes of rows[0..n) that the new treaty no longer counts at all (a
 * member left, or its key was replaced) end now in the ledger too: put
 * back at a restart, a replaced key's would count again. */
static void end_revoked(struct daemon *d, const struct support_row *rows, const bool *revoked, size_t n, int64_t now)
{
	char err[256];
	for (size_t i = 0; i < n; i++)
		if (revoked[i] && rows[i].until_us > now &&
		    ledger_add_support(d->ledger, rows[i].id, rows[i].member, rows[i].seq, rows[i].time_us, now, err,
				       sizeof(err)) != 0)
			write_failed(d, err);
}

/* Re-checks ally sanction rows[0..n) (one sanction) against the new treaty
 * (old: the one it replaced): lifts it, or cuts it short, when the new
 * one would refuse it or support it for less time (receipt_recheck); the
 * kernel and the engine follow the ledger (fall_back). */
static void settle(struct daemon *d, const struct treaty *old, const struct support_row *rows, size_t n, int64_t now,
		   struct recheck_counts *c)
{
	struct alliance *a = d->alliance;
	/* Zeroed: the sanitizer build's gcc cannot tell that k bounds the reads. */
	struct receipt_vote_row votes[TREATY_MAX_MEMBERS] = {{0}};
	bool revoked[TREATY_MAX_MEMBERS] = {0};
	struct receipt_recheck rc;
	char err[256], text[ADDR_STRLEN];
	size_t k = 0;
	for (size_t i = 0; i < n && k < TREATY_MAX_MEMBERS; i++, k++)
		votes[k] = (struct receipt_vote_row){rows[i].member, rows[i].time_us, rows[i].until_us};
	receipt_recheck(old, a->treaty, &rows[0].addr, votes, k, rows[0].expires_us, now, &rc, revoked);
	c->checked++;
	end_revoked(d, rows, revoked, k, now);
	if (rc.verdict == RECHECK_STANDS)
		return;
	bool lifted = false;
	int rv = rc.verdict == RECHECK_FALLS
			 ? ledger_lift_id(d->ledger, rows[0].id, now, rc.why, &lifted, err, sizeof(err))
			 : ledger_cut_sanction(d->ledger, rows[0].id, rc.until_us, rc.why, err, sizeof(err));
	if (rv != 0)
		return write_failed(d, err);
	if (rc.verdict == RECHECK_FALLS && !lifted)
		return;
	receipt_set_enforced(a->receipt, &rows[0].addr, rc.verdict == RECHECK_FALLS ? 0 : rc.until_us);
	fall_back(d, &rows[0].addr, now);
	addr_format(&rows[0].addr, text, sizeof(text));
	if (rc.verdict == RECHECK_FALLS) {
		c->lifted++;
		log_info("lift %s: %s", text, rc.why);
	} else {
		c->cut++;
		log_info("sanction %s cut to +%llds: %s", text, (long long)((rc.until_us - now) / 1000000), rc.why);
	}
}

/* Re-checks every active ally sanction against the new treaty (old: the
 * one it replaced). Sanctions of this host's own are not touched. The
 * support is read whole first: the ledger is not written while a query
 * runs. Returns -1 when the ledger failed (nothing of it is kept). */
static int recheck_sanctions(struct daemon *d, const struct treaty *old, struct recheck_counts *counts)
{
	char err[256];
	struct support_rows c = {0};
	int64_t now = daemon_now_us();
	if (!ledger_in_transaction(d->ledger) && ledger_begin(d->ledger, err, sizeof(err)) != 0) {
		log_warnx("ledger: %s", err);
		return -1;
	}
	round_begin(d->alliance);
	if (ledger_each_active_support(d->ledger, now, collect_support, &c, err, sizeof(err)) != 0)
		write_failed(d, err);
	for (size_t i = 0, j; i < c.n && !d->alliance->round_failed; i = j) {
		for (j = i; j < c.n && c.rows[j].id == c.rows[i].id; j++)
			;
		settle(d, old, &c.rows[i], j - i, now, counts);
	}
	free(c.rows);
	return finish_batch(d, d->alliance) ? 0 : -1;
}

int alliance_reload(struct daemon *d, const char *treaty_path, char *message, size_t len)
{
	struct alliance *a = d->alliance;
	char self[TREATY_MAX_ID + 1], err[512];
	struct treaty *t = load_treaty(treaty_path, a->signer, self, err, sizeof(err));
	if (!t) {
		snprintf(message, len, "treaty refused, the running one stays: %s", err);
		return -1;
	}
	if (strcmp(t->alliance, a->treaty->alliance) != 0 || strcmp(self, a->self) != 0) {
		snprintf(message, len, "treaty refused: another alliance or another id for us needs a restart");
		treaty_free(t);
		return -1;
	}
	struct treaty *old = a->treaty;
	log_summaries(a, true);
	receipt_set_treaty(a->receipt, t);
	/* The caps and logs are by member index, which the new treaty may
	 * change: what the old treaty's indexes counted is said or dropped. */
	memset(a->caps, 0, sizeof(a->caps));
	memset(a->logs, 0, sizeof(a->logs));
	a->treaty = t;
	struct recheck_counts c = {0};
	bool amended = t->version != old->version;
	int rc = amended ? recheck_sanctions(d, old, &c) : 0;
	treaty_free(old);
	if (rc != 0)
		snprintf(message, len, "treaty version %llu taken; the allies' sanctions in force could not be re-checked "
			 "against it (ledger), they stay as they were", (unsigned long long)t->version);
	else
		snprintf(message, len, "treaty version %llu%s, %u sanction%s lifted, %u shortened (%u allies' sanction%s "
			 "in force re-checked)", (unsigned long long)t->version, amended ? " taken" : " unchanged",
			 c.lifted, c.lifted == 1 ? "" : "s", c.cut, c.checked, c.checked == 1 ? "" : "s");
	log_info("%s", message);
	return 0;
}

/* ---- what `pacto allies`, `pacto status` and `pacto why` show ---- */

json_t *alliance_status_json(struct daemon *d)
{
	struct alliance *a = d->alliance;
	if (!a)
		return json_null();
	return json_pack("{s:I, s:I, s:I}", "receipt_evictions", (json_int_t)receipt_evictions(a->receipt),
			 "applied", (json_int_t)a->applied, "refused", (json_int_t)a->refusals);
}

static json_t *time_or_null(int64_t us)
{
	char buf[64];
	return us ? json_string(format_time_utc(us, buf, sizeof(buf))) : json_null();
}

static json_t *refusals_json(const uint64_t refused[RR_COUNT])
{
	json_t *o = json_object();
	for (int r = 1; r < RR_COUNT; r++)
		if (refused[r])
			json_object_set_new(o, receipt_reason_name((enum receipt_reason)r), json_integer((json_int_t)refused[r]));
	return o;
}

static json_t *member_json(const struct alliance *a, size_t i)
{
	struct receipt_member_stats st;
	if (!receipt_stats(a->receipt, i, &st))
		return NULL;
	const struct treaty_member *m = &a->treaty->members[i];
	char key[SIGNER_PUBLIC_TEXT];
	signer_key_format(m->key, key);
	return json_pack("{s:s, s:s, s:i, s:b, s:I, s:o, s:o, s:I, s:I, s:o}", "id", m->id, "key", key, "weight",
			 (int)m->weight, "self", strcmp(m->id, a->self) == 0, "last_seq", (json_int_t)st.last_seq,
			 "last_report", time_or_null(st.last_report_us), "last_received",
			 time_or_null(st.last_received_us), "lag_ms", (json_int_t)(st.lag_us / 1000), "accepted",
			 (json_int_t)st.accepted, "refused", refusals_json(st.refused));
}

static json_t *link_json(struct alliance *a)
{
	struct transport_status ts;
	transport_status(a->transport, &ts);
	return json_pack("{s:b, s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connected", ts.connected, "ready",
			 ts.ready, "server", json_text_cstr(ts.server), "published", (json_int_t)ts.published, "acked",
			 (json_int_t)ts.acked, "failed", (json_int_t)ts.failed, "received", (json_int_t)ts.received,
			 "redelivered", (json_int_t)ts.redelivered, "reconnects", (json_int_t)ts.reconnects, "oversized",
			 (json_int_t)ts.oversized);
}

json_t *alliance_json(struct daemon *d)
{
	struct alliance *a = d->alliance;
	uint64_t pending = 0;
	char err[256];
	if (!a)
		return json_null();
	if (ledger_outbox_pending(d->ledger, &pending, err, sizeof(err)) != 0)
		log_warnx("ledger: %s", err);
	json_t *members = json_array();
	for (size_t i = 0; i < a->treaty->nmembers; i++)
		json_array_append_new(members, member_json(a, i));
	json_t *j = json_pack("{s:s, s:I, s:s, s:i, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "alliance",
			 a->treaty->alliance, "treaty_version", (json_int_t)a->treaty->version, "self", a->self,
			 "quorum", (int)a->treaty->quorum, "link", link_json(a), "outbox_pending", (json_int_t)pending,
			 "reported", (json_int_t)a->reports_out, "messages_received", (json_int_t)a->messages_in,
			 "applied", (json_int_t)a->applied, "refused", (json_int_t)a->refusals, "unknown_senders",
			 (json_int_t)receipt_unknown_refusals(a->receipt), "members", members);
	json_object_set_new(j, "receipt_evictions", json_integer((json_int_t)receipt_evictions(a->receipt)));
	return j;
}

static int report_in_json(void *arg, const struct ledger_report_in *r)
{
	char buf[64];
	json_array_append_new(arg, json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:s}", "member", r->member,
					     "received", format_time_utc(r->received_us, buf, sizeof(buf)), "seq",
					     (json_int_t)r->seq, "action", r->action == REPORT_LIFT ? "lift" : "sanction",
					     "scenario", r->scenario, "duration_s", (json_int_t)r->duration_s, "verdict",
					     r->verdict, "reason", r->reason));
	return 0;
}

/* An applied report, from its support row. */
static int support_json(void *arg, const struct ledger_support *s)
{
	char buf[64];
	json_array_append_new(arg, json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:s, s:I}", "member", s->member,
					     "received", format_time_utc(s->time_us, buf, sizeof(buf)), "seq",
					     (json_int_t)s->seq, "action", "sanction", "scenario", s->scenario,
					     "duration_s", (json_int_t)((s->until_us - s->time_us) / 1000000), "verdict",
					     "applied", "reason", "", "sanction_id", (json_int_t)s->sanction_id));
	return 0;
}

void alliance_why(struct daemon *d, const struct addr *a, json_t *out)
{
	char err[256];
	json_t *reports = json_array();
	if (ledger_each_support_of(d->ledger, a, support_json, reports, err, sizeof(err)) != 0 ||
	    ledger_each_report_in(d->ledger, a, 1000, report_in_json, reports, err, sizeof(err)) != 0)
		log_warnx("ledger: %s", err);
	json_object_set_new(out, "reports", reports);
}

/* ---- /metrics ---- */

static void member_metrics(const struct alliance *a, struct prom_buf *lag, struct prom_buf *accepted,
			   struct prom_buf *refused)
{
	for (size_t i = 0; i < a->treaty->nmembers; i++) {
		struct receipt_member_stats st;
		const char *id = a->treaty->members[i].id;
		if (!receipt_stats(a->receipt, i, &st) || strcmp(id, a->self) == 0)
			continue;
		struct prom_label m = {"member", id};
		prom_double(lag, "pacto_ally_lag_seconds", &m, 1, (double)st.lag_us / 1e6);
		prom_u64(accepted, "pacto_ally_reports_accepted_total", &m, 1, st.accepted);
		for (int r = 1; r < RR_COUNT; r++)
			if (st.refused[r]) {
				struct prom_label l[2] = {m, {"reason", receipt_reason_name((enum receipt_reason)r)}};
				prom_u64(refused, "pacto_ally_refusals_total", l, 2, st.refused[r]);
			}
	}
}

/* Families are written whole, one after another: the format wants a
 * family's samples together, hence one buffer per family here. */
static void append(struct prom_buf *b, struct prom_buf *part)
{
	if (part->text)
		prom_raw(b, part->text, part->len);
	prom_buf_free(part);
}

void alliance_metrics(struct daemon *d, struct prom_buf *b)
{
	struct alliance *a = d->alliance;
	struct prom_buf lag = {0}, accepted = {0}, refused = {0};
	struct transport_status ts;
	uint64_t pending = 0;
	char err[256];
	if (ledger_outbox_pending(d->ledger, &pending, err, sizeof(err)) != 0)
		log_warnx("ledger: %s", err);
	transport_status(a->transport, &ts);
	member_metrics(a, &lag, &accepted, &refused);
	prom_family(b, "pacto_ally_lag_seconds", "gauge",
		    "Receipt time minus report time of each ally's latest report (includes clock skew)");
	append(b, &lag);
	prom_family(b, "pacto_ally_reports_accepted_total", "counter", "Reports of each ally that passed the trust rules");
	append(b, &accepted);
	prom_family(b, "pacto_ally_refusals_total", "counter", "Reports and messages of each ally refused, by reason");
	append(b, &refused);
	prom_family(b, "pacto_alliance_receipt_evictions_total", "counter",
		    "Reported addresses whose votes were forgotten to make room (a reporter's lift of a sanction in force "
		    "still works: the ledger has its vote)");
	prom_u64(b, "pacto_alliance_receipt_evictions_total", NULL, 0, receipt_evictions(a->receipt));
	prom_family(b, "pacto_alliance_unknown_sender_refusals_total", "counter", "Messages from senders not in the treaty");
	prom_u64(b, "pacto_alliance_unknown_sender_refusals_total", NULL, 0, receipt_unknown_refusals(a->receipt));
	prom_family(b, "pacto_alliance_reports_sent_total", "counter", "Reports of this host's sanctions put in the outbox");
	prom_u64(b, "pacto_alliance_reports_sent_total", NULL, 0, a->reports_out);
	prom_family(b, "pacto_alliance_outbox_pending", "gauge", "Reports not yet acknowledged by the broker");
	prom_u64(b, "pacto_alliance_outbox_pending", NULL, 0, pending);
	prom_family(b, "pacto_alliance_oversized_messages_total", "counter",
		    "Messages over the stream's size limit (66048 bytes) dropped unread when received");
	prom_u64(b, "pacto_alliance_oversized_messages_total", NULL, 0, ts.oversized);
	prom_family(b, "pacto_alliance_link_up", "gauge", "1 when the link to the broker is ready");
	prom_u64(b, "pacto_alliance_link_up", NULL, 0, ts.ready ? 1 : 0);
}
