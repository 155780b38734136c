/* recorder.c: the ledger side of pactod's sanction path: written at once,
 * or held and written late (see recorder.h for the contract). */
#include "daemon/recorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/seed.h"
#include "common/xalloc.h"
#include "daemon/alliance.h"
#include "daemon/daemon.h"
#include "detect/rules.h"
#include "ledger/ledger.h"
#include "ledger/ledger_ally.h"

/* A scenario's name is kept whole (rules.c refuses a longer one). */
_Static_assert(RULES_MAX_NAME <= LEDGER_MAX_NAME, "a scenario name fits the ledger");

/* The index's buckets: at RECORDER_MAX_HELD waiting, chains of 16. */
#define BUCKETS 4096

/* One sanction as given, with its strings and evidence copied; or one
 * lift the ledger refused (recorder_hold_lift): s.addr is its key,
 * s.created_us its time, origin who lifted, rows the ledger's sanctions it
 * lifts, report whether the allies hear of it. */
struct entry {
	struct entry *next;
	struct entry *same_bucket;       /* the index's chain (recorder_pending_until) */
	bool is_lift;
	struct sanction s;               /* s.scenario is NULL: see scenario */
	char scenario[LEDGER_MAX_NAME + 1];
	char origin[LEDGER_MAX_NAME + 1];
	char *reason;                    /* NULL: none */
	bool report;
	bool late;                       /* was held at least once */
	struct evidence_lines ev;        /* its text is owned[] */
	char *owned[EVIDENCE_LINES];
	/* A sanction lifted before it was recorded (recorder_lift): written,
	 * then lifted at lifted_us by lifted_by, in the same transaction. */
	int64_t lifted_us;               /* 0: not lifted */
	char lifted_by[LEDGER_MAX_NAME + 1];
	int64_t *rows;                   /* a lift's */
	size_t nrows;
};

/* Two lists, oldest first: txn holds what the open transaction wrote
 * (lost if it fails), held what waits for a transaction. */
struct list {
	struct entry *head, **tail;
	size_t n;
};

/* Every entry of both lists is also in the index, by key: daemon_in_force
 * asks for a key's pending end on every sanction, and during an outage up
 * to RECORDER_MAX_HELD wait. The lists keep the order the sanctions and
 * lifts were decided in, which is the order they are written in. */
struct recorder {
	struct list txn, held;
	struct entry *index[BUCKETS];
	size_t lifts;                    /* lift entries in both lists: 0 makes recorder_lifted free */
	uint64_t seed;                   /* keyed: an attacker cannot make chains long */
	struct recorder_stats st;
};

static struct entry **bucket(struct recorder *r, const struct addr *key)
{
	return &r->index[addr_hash(key, r->seed) % BUCKETS];
}

static void index_add(struct recorder *r, struct entry *e)
{
	struct entry **b = bucket(r, &e->s.addr);
	e->same_bucket = *b;
	*b = e;
}

static void index_remove(struct recorder *r, struct entry *e)
{
	for (struct entry **p = bucket(r, &e->s.addr); *p; p = &(*p)->same_bucket)
		if (*p == e) {
			*p = e->same_bucket;
			return;
		}
}

static void list_init(struct list *l)
{
	l->head = NULL;
	l->tail = &l->head;
	l->n = 0;
}

static void list_push(struct list *l, struct entry *e)
{
	e->next = NULL;
	*l->tail = e;
	l->tail = &e->next;
	l->n++;
}

/* Moves every entry of from to the end of to. */
static void list_move(struct list *to, struct list *from)
{
	if (!from->head)
		return;
	*to->tail = from->head;
	to->tail = from->tail;
	to->n += from->n;
	list_init(from);
}

/* Frees e, which is in the index and in no list any more. */
static void entry_free(struct recorder *r, struct entry *e)
{
	index_remove(r, e);
	if (e->is_lift)
		r->lifts--;
	free(e->rows);
	for (size_t i = 0; i < e->ev.n; i++)
		free(e->owned[i]);
	free(e->reason);
	free(e);
}

static void list_clear(struct recorder *r, struct list *l)
{
	for (struct entry *e = l->head, *next; e; e = next) {
		next = e->next;
		entry_free(r, e);
	}
	list_init(l);
}

struct recorder *recorder_new(void)
{
	struct recorder *r = xcalloc(1, sizeof(*r));
	list_init(&r->txn);
	list_init(&r->held);
	r->seed = random_seed();
	return r;
}

void recorder_free(struct recorder *r)
{
	if (!r)
		return;
	if (r->held.n + r->txn.n > r->lifts)
		log_warnx("ledger: stopping with %zu sanctions not recorded (their lines are read again at start)",
			  r->held.n + r->txn.n - r->lifts);
	if (r->lifts)
		log_warnx("ledger: stopping with %zu lift%s not recorded (the sanctions they end are restored at start)",
			  r->lifts, r->lifts == 1 ? "" : "s");
	list_clear(r, &r->txn);
	list_clear(r, &r->held);
	free(r);
}

/* A copy of s, in r's index (the caller puts it in a list). */
static struct entry *entry_new(struct recorder *r, const struct sanction *s, const char *origin,
			       const char *reason, const struct evidence_lines *ev, bool report)
{
	struct entry *e = xcalloc(1, sizeof(*e));
	e->s = *s;
	e->s.scenario = NULL;
	snprintf(e->scenario, sizeof(e->scenario), "%s", s->scenario ? s->scenario->name : "manual");
	snprintf(e->origin, sizeof(e->origin), "%s", origin);
	e->reason = reason ? xstrdup(reason) : NULL;
	e->report = report;
	for (size_t i = 0; ev && i < ev->n; i++) {
		char *t = xmalloc(ev->len[i] ? ev->len[i] : 1);
		memcpy(t, ev->text[i], ev->len[i]);
		e->ev.text[i] = e->owned[i] = t;
		e->ev.len[i] = ev->len[i];
		e->ev.n++;
	}
	index_add(r, e);
	return e;
}

void recorder_error(struct recorder *r, int64_t now_us, const char *what)
{
	r->st.errors++;
	r->st.last_error_us = now_us;
	snprintf(r->st.last_error, sizeof(r->st.last_error), "%s", what);
}

static void fail(struct daemon *d, const char *what)
{
	d->ledger_errors++;
	recorder_error(d->recorder, daemon_now_us(), what);
}

/* The transaction this recorder wrote into is gone (rolled back): what it
 * wrote waits again, ahead of what was held after it. */
static void txn_lost(struct recorder *r)
{
	if (!r->txn.n)
		return;
	for (struct entry *e = r->txn.head; e; e = e->next)
		e->late = true;
	list_move(&r->txn, &r->held);
	list_move(&r->held, &r->txn);
	size_t n = r->held.n - r->lifts;
	log_warnx("ledger: %zu sanction%s enforced but not recorded yet%s; retrying", n, n == 1 ? "" : "s",
		  r->lifts ? ", and lifts" : "");
}

/* Reports e (a sanction, or a lift) to the allies, when they are to hear
 * of it; a failure of the report alone is logged, one of the database
 * (the transaction is gone) returns -1. */
static int report_entry(struct daemon *d, struct entry *e, char *err, size_t errlen)
{
	if (!e->report || !d->alliance || !d->cfg->report)
		return 0;
	struct scenario sc = {.name = e->scenario};
	struct sanction s = e->s;
	s.scenario = &sc;
	char rerr[256];
	if (alliance_report(d, &s, e->is_lift, e->is_lift ? NULL : &e->ev, rerr, sizeof(rerr)) != 0) {
		log_warnx("alliance: %snot reported: %s", e->is_lift ? "lift " : "", rerr);
		/* A database failure took the transaction with it. */
		if (!ledger_in_transaction(d->ledger)) {
			snprintf(err, errlen, "%s", rerr);
			return -1;
		}
	}
	return 0;
}

/* Writes a held lift: each of the ledger's sanctions it ends is lifted at
 * the lift's time (one an ally's lift or the clock ended since is left
 * as it is), then its report. */
static int write_lift(struct daemon *d, struct entry *e, char *err, size_t errlen)
{
	for (size_t i = 0; i < e->nrows; i++) {
		bool lifted;
		if (ledger_lift_id(d->ledger, e->rows[i], e->s.created_us, e->origin, &lifted, err, errlen) != 0)
			return -1;
	}
	return report_entry(d, e, err, errlen);
}

/* Writes e (sanction, then its lift or its report; or a lift) into the
 * open transaction. */
static int write_entry(struct daemon *d, struct entry *e, char *err, size_t errlen)
{
	if (e->is_lift)
		return write_lift(d, e, err, errlen);
	struct ledger_line lines[EVIDENCE_LINES];
	for (size_t i = 0; i < e->ev.n; i++)
		lines[i] = (struct ledger_line){.text = e->ev.text[i], .len = e->ev.len[i]};
	struct ledger_sanction ls = {
		.addr = e->s.addr, .scenario = e->scenario, .origin = e->origin, .reason = e->reason,
		.attempts = e->s.attempts, .first_seen_us = e->s.first_seen_us, .last_seen_us = e->s.last_seen_us,
		.created_us = e->s.created_us, .expires_us = e->s.created_us + e->s.duration_us,
		.offence = e->s.offence ? e->s.offence : 1, .evidence = lines, .nevidence = e->ev.n,
	};
	int64_t id;
	if (ledger_add_sanction(d->ledger, &ls, &id, err, errlen) != 0)
		return -1;
	/* Lifted before it was recorded: its lift follows it in the same
	 * transaction, so the ledger never holds it in force (recorder_lift). */
	if (e->lifted_us) {
		bool lifted;
		return ledger_lift_id(d->ledger, id, e->lifted_us, e->lifted_by, &lifted, err, errlen);
	}
	return report_entry(d, e, err, errlen);
}

static void hold(struct daemon *d, struct entry *e)
{
	struct recorder *r = d->recorder;
	if (r->held.n >= RECORDER_MAX_HELD) {
		char addr[ADDR_STRLEN];
		r->st.lost++;
		log_warnx("ledger: %s is enforced but will not be recorded: %d sanctions already wait",
			  addr_format(&e->s.addr, addr, sizeof(addr)), RECORDER_MAX_HELD);
		entry_free(r, e);
		return;
	}
	e->late = true;
	list_push(&r->held, e);
}

/* Writes the held entries into the open transaction; on a failure the
 * transaction is gone and everything waits again. */
static int write_held(struct daemon *d)
{
	struct recorder *r = d->recorder;
	char err[256];
	while (r->held.head) {
		struct entry *e = r->held.head;
		r->held.head = e->next;
		if (!r->held.head)
			r->held.tail = &r->held.head;
		r->held.n--;
		list_push(&r->txn, e);
		if (write_entry(d, e, err, sizeof(err)) != 0) {
			fail(d, err);
			ledger_rollback(d->ledger);
			txn_lost(r);
			return -1;
		}
	}
	return 0;
}

int recorder_begin(struct daemon *d)
{
	char err[256];
	if (d->recorder->txn.n && !ledger_in_transaction(d->ledger))
		txn_lost(d->recorder);
	if (!ledger_in_transaction(d->ledger) && ledger_begin(d->ledger, err, sizeof(err)) != 0) {
		fail(d, err);
		log_warnx("ledger: %s", err);
		return -1;
	}
	return write_held(d);
}

int recorder_add(struct daemon *d, const struct sanction *s, const char *origin, const char *reason,
		 const struct evidence_lines *ev, bool report)
{
	struct entry *e = entry_new(d->recorder, s, origin, reason, ev, report);
	char err[256];
	if (recorder_begin(d) != 0) {
		hold(d, e);
		return 1;
	}
	list_push(&d->recorder->txn, e);
	if (write_entry(d, e, err, sizeof(err)) != 0) {
		fail(d, err);
		log_warnx("ledger: %s (the sanction is enforced; it is recorded when the ledger takes writes again)",
			  err);
		ledger_rollback(d->ledger);
		txn_lost(d->recorder);
		return 1;
	}
	return 0;
}

/* The transaction is committed: what it wrote is recorded for good. */
static void committed(struct recorder *r)
{
	uint64_t late = 0, lifts = 0;
	for (struct entry *e = r->txn.head; e; e = e->next) {
		late += e->late && !e->is_lift;
		lifts += e->is_lift;
	}
	if (late) {
		r->st.recorded_late += late;
		log_info("ledger: %llu sanction%s recorded late (enforced since; nothing lost)%s",
			 (unsigned long long)late, late == 1 ? "" : "s", r->held.n ? "" : "; none waits");
	}
	if (lifts)
		log_info("ledger: %llu lift%s recorded late", (unsigned long long)lifts, lifts == 1 ? "" : "s");
	list_clear(r, &r->txn);
}

void recorder_settled(struct daemon *d, bool ok)
{
	struct recorder *r = d->recorder;
	if (ledger_in_transaction(d->ledger) || !r->txn.n)
		return;
	if (!ok) {
		txn_lost(r);
		return;
	}
	committed(r);
}

int recorder_commit(struct daemon *d)
{
	struct recorder *r = d->recorder;
	char err[256];
	if (!ledger_in_transaction(d->ledger)) {
		recorder_settled(d, false);
		return 0;
	}
	if (ledger_commit(d->ledger, err, sizeof(err)) != 0) {
		fail(d, err);
		log_warnx("ledger: %s", err);
		txn_lost(r);
		return -1;
	}
	committed(r);
	return 0;
}

/* Whether e is a sanction in force at now (not a lift, not lifted). */
static bool in_force(const struct entry *e, int64_t now)
{
	return !e->is_lift && !e->lifted_us && e->s.created_us + e->s.duration_us > now;
}

int64_t recorder_pending_until(struct recorder *r, const struct addr *key, int64_t now)
{
	int64_t until = 0;
	if (!r->held.n && !r->txn.n)
		return 0;   /* the usual case: the ledger takes writes */
	for (const struct entry *e = *bucket(r, key); e; e = e->same_bucket) {
		int64_t end = e->s.created_us + e->s.duration_us;
		if (in_force(e, now) && end > until && addr_equal(&e->s.addr, key))
			until = end;
	}
	return until;
}

unsigned recorder_lift(struct recorder *r, const struct addr *key, int64_t now, const char *by)
{
	unsigned n = 0;
	if (!r->held.n && !r->txn.n)
		return 0;
	for (struct entry *e = *bucket(r, key); e; e = e->same_bucket) {
		if (!in_force(e, now) || !addr_equal(&e->s.addr, key))
			continue;
		e->lifted_us = now;
		snprintf(e->lifted_by, sizeof(e->lifted_by), "%s", by);
		/* The allies never heard of it (a report is written with its
		 * sanction): they hear of neither, rather than of a sanction
		 * after its lift. */
		e->report = false;
		n++;
	}
	return n;
}

int recorder_hold_lift(struct recorder *r, const struct addr *key, int64_t now, const char *by, const int64_t *rows,
		       size_t nrows, bool report)
{
	if (r->held.n >= RECORDER_MAX_HELD)
		return -1;
	struct entry *e = xcalloc(1, sizeof(*e));
	e->is_lift = true;
	e->s.addr = *key;
	e->s.created_us = now;
	snprintf(e->scenario, sizeof(e->scenario), "manual");
	snprintf(e->origin, sizeof(e->origin), "%s", by);
	e->report = report;
	e->late = true;
	e->rows = xmalloc((nrows ? nrows : 1) * sizeof(*e->rows));
	memcpy(e->rows, rows, nrows * sizeof(*rows));
	e->nrows = nrows;
	index_add(r, e);
	r->lifts++;
	list_push(&r->held, e);
	return 0;
}

bool recorder_lifted(struct recorder *r, const struct addr *key, int64_t id)
{
	if (!r->lifts)
		return false;   /* the usual case */
	for (const struct entry *e = *bucket(r, key); e; e = e->same_bucket) {
		if (!e->is_lift || !addr_equal(&e->s.addr, key))
			continue;
		if (id < 0)
			return true;
		for (size_t i = 0; i < e->nrows; i++)
			if (e->rows[i] == id)
				return true;
	}
	return false;
}

static void each_in(const struct list *l, int64_t now, recorder_pending_fn fn, void *arg)
{
	for (const struct entry *e = l->head; e; e = e->next)
		if (in_force(e, now))
			fn(arg, &e->s.addr, e->s.created_us + e->s.duration_us);
}

void recorder_each_pending(struct recorder *r, int64_t now, recorder_pending_fn fn, void *arg)
{
	each_in(&r->txn, now, fn, arg);
	each_in(&r->held, now, fn, arg);
}

static struct recorder_waiting waiting_of(const struct entry *e)
{
	struct recorder_waiting w = {.is_lift = e->is_lift, .rows = e->rows, .nrows = e->nrows};
	w.s = (struct ledger_sanction){.addr = e->s.addr, .scenario = e->scenario, .origin = e->origin,
				       .reason = e->reason, .attempts = e->s.attempts,
				       .first_seen_us = e->s.first_seen_us, .last_seen_us = e->s.last_seen_us,
				       .created_us = e->s.created_us, .offence = e->s.offence};
	if (e->is_lift) {
		w.s.lifted = true;
		w.s.lifted_us = e->s.created_us;
		w.s.lifted_by = e->origin;
	} else {
		w.s.expires_us = e->s.created_us + e->s.duration_us;
	}
	return w;
}

static void each_waiting_in(const struct list *l, int64_t now, recorder_waiting_fn fn, void *arg)
{
	for (const struct entry *e = l->head; e; e = e->next) {
		if (!e->is_lift && !in_force(e, now))
			continue;
		struct recorder_waiting w = waiting_of(e);
		fn(arg, &w);
	}
}

void recorder_each_waiting(struct recorder *r, int64_t now, recorder_waiting_fn fn, void *arg)
{
	each_waiting_in(&r->txn, now, fn, arg);
	each_waiting_in(&r->held, now, fn, arg);
}

void recorder_get_stats(const struct recorder *r, struct recorder_stats *out)
{
	*out = r->st;
	out->held = r->held.n + r->txn.n - r->lifts;
	out->lifts_held = r->lifts;
}
