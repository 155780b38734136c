/* ledger_prune.c: the ledger's retention (see ledger_prune.h; the indexes
 * it walks are schema version 3 in migrate.c).
 * How: a pass is a sequence of phases (reports received, the acknowledged
 * outbox, the refusal cap's boundary, refusals past the cap, sanctions);
 * each step looks at the next few rows (ledger_prune.h) of one phase in
 * index order, from where the last step stopped (a keyset, so
 * rows kept because something still needs them are stepped over once, not
 * at every step), and deletes those that may go, in one transaction. The
 * rows are chosen inside that transaction, so a sanction extended or a
 * report acknowledged meanwhile by another connection is judged as it is. */
#include "ledger/ledger_prune.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

enum phase { PH_IDLE, PH_COUNT, PH_REFUSALS, PH_REPORTS, PH_OUTBOX, PH_SANCTIONS };

enum prune_stmt {
	PS_COUNT,
	PS_REFUSALS,
	PS_REPORTS,
	PS_OUTBOX,
	PS_SANCTIONS,
	PS_DEL_REPORT,
	PS_DEL_OUTBOX,
	PS_DEL_EVIDENCE,
	PS_DEL_SUPPORT,
	PS_DEL_SANCTION,
	PS_N
};

/* When a sanction ended: its expiry, or its lift if earlier. Spelt as the
 * index sanction_end, so that SQLite uses it. */
#define END(t) "min(" t ".expires_us, coalesce(" t ".lifted_us, " t ".expires_us))"

/* The selects return (id, key, held) in index order; ?1 is the bound (a
 * time, or the refusal cap's last id), (?2, ?3) the keyset of the last row
 * looked at, ?4 the batch, ?5 now. "held": needed, kept. */
static const char *const prune_sql[PS_N] = {
	/* The id of the refusal ?2 rows below ?1 (counting down from the newest). */
	[PS_COUNT] = "SELECT id FROM report_in WHERE verdict = 'refused' AND id < ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
	[PS_REFUSALS] = "SELECT id, id, 0 FROM report_in WHERE verdict = 'refused' AND id <= ?1 AND id > ?3"
			" ORDER BY id LIMIT ?4",
	/* A report about an address in force, or naming a sanction in force,
	 * explains it (pacto why); a refusal explains nothing. */
	[PS_REPORTS] = "SELECT r.id, r.received_us, r.verdict <> 'refused' AND ("
		       "  EXISTS (SELECT 1 FROM sanction AS s WHERE s.id = r.sanction_id"
		       "          AND s.lifted_us IS NULL AND s.expires_us > ?5)"
		       "  OR EXISTS (SELECT 1 FROM sanction AS s WHERE s.family = r.family AND s.prefix = r.prefix"
		       "             AND s.net = r.net AND s.lifted_us IS NULL AND s.expires_us > ?5))"
		       " FROM report_in AS r WHERE r.received_us < ?1 AND r.received_us >= ?2"
		       " AND (r.received_us, r.id) > (?2, ?3) ORDER BY r.received_us, r.id LIMIT ?4",
	[PS_OUTBOX] = "SELECT seq, time_us, 0 FROM outbox WHERE acked_us IS NOT NULL AND time_us < ?1"
		      " AND time_us >= ?2 AND (time_us, seq) > (?2, ?3) ORDER BY time_us, seq LIMIT ?4",
	/* Held: in force, or an earlier sanction of the same key ended later
	 * (deleting this one could make ledger_offences return that one, and
	 * escalate where it would have forgiven). */
	[PS_SANCTIONS] = "SELECT s.id, " END("s") ", (s.lifted_us IS NULL AND s.expires_us > ?5)"
			 " OR EXISTS (SELECT 1 FROM sanction AS o WHERE o.family = s.family AND o.prefix = s.prefix"
			 "            AND o.net = s.net AND (o.created_us, o.id) < (s.created_us, s.id)"
			 "            AND " END("o") " >= ?1)"
			 " FROM sanction AS s WHERE " END("s") " < ?1 AND " END("s") " >= ?2"
			 " AND (" END("s") ", s.id) > (?2, ?3) ORDER BY " END("s") ", s.id LIMIT ?4",
	[PS_DEL_REPORT] = "DELETE FROM report_in WHERE id = ?1",
	[PS_DEL_OUTBOX] = "DELETE FROM outbox WHERE seq = ?1 AND acked_us IS NOT NULL",
	[PS_DEL_EVIDENCE] = "DELETE FROM evidence WHERE sanction_id = ?1",
	[PS_DEL_SUPPORT] = "DELETE FROM support WHERE sanction_id = ?1",
	[PS_DEL_SANCTION] = "DELETE FROM sanction WHERE id = ?1",
};

struct ledger_prune {
	sqlite3_stmt *st[PS_N];
	struct ledger_retention r;
	enum phase phase;
	int64_t key, id;           /* keyset: the last row looked at in this phase */
	int64_t count_below;       /* PH_COUNT: refusals below this id are counted */
	uint64_t count_left;       /* PH_COUNT: refusals still to count down */
	int64_t refusal_last;      /* the newest refusal past the cap */
	uint64_t total;            /* rows deleted since open */
};

void ledger_prune_free(struct ledger_prune *p)
{
	if (!p)
		return;
	for (int i = 0; i < PS_N; i++)
		sqlite3_finalize(p->st[i]);
	free(p);
}

/* l's prune state, made on first use; NULL with err when out of memory. */
static struct ledger_prune *state(struct ledger *l, char *err, size_t errlen)
{
	struct ledger_prune **slot = ledger_prune_slot(l);
	if (!*slot && !(*slot = calloc(1, sizeof(**slot))))
		snprintf(err, errlen, "ledger prune: out of memory");
	return *slot;
}

static sqlite3_stmt *stmt(struct ledger *l, struct ledger_prune *p, enum prune_stmt id, char *err, size_t errlen)
{
	if (!p->st[id] && sqlite3_prepare_v3(ledger_sqlite(l), prune_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &p->st[id],
					     NULL) != SQLITE_OK) {
		ledger_fail_db(ledger_sqlite(l), err, errlen, prune_sql[id]);
		return NULL;
	}
	return p->st[id];
}

/* The phase after ph that this pass has work for. */
static enum phase next_phase(const struct ledger_retention *r, enum phase ph)
{
	/* The cap counts the refusals the retention left. */
	switch (ph) {
	case PH_IDLE:
		if (r->reports_before_us)
			return PH_REPORTS;
		/* fall through */
	case PH_REPORTS:
		if (r->reports_before_us)
			return PH_OUTBOX;
		/* fall through */
	case PH_OUTBOX:
		if (r->max_refusals)
			return PH_COUNT;
		/* fall through */
	case PH_COUNT:
	case PH_REFUSALS:
		if (r->sanctions_before_us)
			return PH_SANCTIONS;
		/* fall through */
	case PH_SANCTIONS:
		break;
	}
	return PH_IDLE;
}

static void enter(struct ledger_prune *p, enum phase ph)
{
	p->phase = ph;
	p->key = p->id = INT64_MIN;
	p->count_below = INT64_MAX;
	p->count_left = p->r.max_refusals + 1;   /* the first refusal past the cap */
}

void ledger_prune_start(struct ledger *l, const struct ledger_retention *r)
{
	struct ledger_prune *p = state(l, NULL, 0);
	if (!p)
		return;
	p->r = *r;
	enter(p, next_phase(r, PH_IDLE));
}

bool ledger_prune_running(struct ledger *l)
{
	struct ledger_prune *p = *ledger_prune_slot(l);
	return p && p->phase != PH_IDLE;
}

uint64_t ledger_pruned_total(struct ledger *l)
{
	struct ledger_prune *p = *ledger_prune_slot(l);
	return p ? p->total : 0;
}

uint64_t ledger_pruned_rows(const struct ledger_pruned *d)
{
	return d->reports + d->refusals + d->outbox + d->sanctions + d->evidence + d->support;
}

/* Rows a step of the current phase looks at. */
static unsigned batch_of(const struct ledger_prune *p)
{
	return p->phase == PH_SANCTIONS ? LEDGER_PRUNE_SANCTIONS : LEDGER_PRUNE_BATCH;
}

const char *ledger_pruned_text(const struct ledger_pruned *d, char *buf, size_t len)
{
	snprintf(buf, len,
		 "pruned %llu rows: %llu reports received, %llu refusals past the cap, %llu outbox reports, "
		 "%llu sanctions with %llu evidence lines and %llu supports",
		 (unsigned long long)ledger_pruned_rows(d), (unsigned long long)d->reports,
		 (unsigned long long)d->refusals, (unsigned long long)d->outbox, (unsigned long long)d->sanctions,
		 (unsigned long long)d->evidence, (unsigned long long)d->support);
	return buf;
}

/* Binds ?1..?5 as far as the statement has them. */
static int bind_select(sqlite3_stmt *st, int64_t bound, const struct ledger_prune *p)
{
	int64_t v[5] = {bound, p->key, p->id, batch_of(p), p->r.now_us};
	int n = sqlite3_bind_parameter_count(st), rc = SQLITE_OK;
	for (int i = 0; i < 5 && i < n && rc == SQLITE_OK; i++)
		rc = sqlite3_bind_int64(st, i + 1, v[i]);
	return rc;
}

/* PH_COUNT, one step: counts up to LEDGER_PRUNE_COUNT_STEP refusals down
 * from count_below; outside a transaction (it only reads). */
static int count_step(struct ledger *l, struct ledger_prune *p, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, p, PS_COUNT, err, errlen);
	if (!st)
		return -1;
	uint64_t n = p->count_left < LEDGER_PRUNE_COUNT_STEP ? p->count_left : LEDGER_PRUNE_COUNT_STEP;
	int rc = sqlite3_bind_int64(st, 1, p->count_below);
	rc = rc ? rc : sqlite3_bind_int64(st, 2, (int64_t)n - 1);
	rc = rc ? rc : sqlite3_step(st);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	ledger_finish(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ledger_fail_db(ledger_sqlite(l), err, errlen, "prune: counting refusals");
	if (rc == SQLITE_DONE) {   /* no more than the cap: nothing to cut */
		enter(p, next_phase(&p->r, PH_REFUSALS));
		return 0;
	}
	p->count_below = id;
	p->count_left -= n;
	if (p->count_left == 0) {
		enter(p, PH_REFUSALS);
		p->refusal_last = id;
	}
	return 0;
}

struct batch {
	int64_t ids[LEDGER_PRUNE_BATCH];
	size_t n;          /* ids to delete */
	size_t seen;       /* rows looked at */
};

/* Reads the phase's next rows, moving the keyset past them. */
static int select_batch(struct ledger *l, struct ledger_prune *p, enum prune_stmt id, int64_t bound, struct batch *b,
			char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, p, id, err, errlen);
	if (!st)
		return -1;
	int rc = bind_select(st, bound, p);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		p->id = sqlite3_column_int64(st, 0);
		p->key = sqlite3_column_int64(st, 1);
		b->seen++;
		if (!sqlite3_column_int(st, 2) && b->n < LEDGER_PRUNE_BATCH)
			b->ids[b->n++] = p->id;
	}
	ledger_finish(st);
	return rc == SQLITE_DONE ? 0 : ledger_fail_db(ledger_sqlite(l), err, errlen, "prune: choosing rows");
}

/* Deletes row id with statement sid; adds the rows deleted to *count. */
static int delete_one(struct ledger *l, struct ledger_prune *p, enum prune_stmt sid, int64_t id, uint64_t *count,
		      char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, p, sid, err, errlen);
	if (!st)
		return -1;
	int rc = sqlite3_bind_int64(st, 1, id);
	rc = rc ? rc : sqlite3_step(st);
	ledger_finish(st);
	if (rc != SQLITE_DONE)
		return ledger_fail_db(ledger_sqlite(l), err, errlen, "prune: deleting");
	*count += (uint64_t)sqlite3_changes(ledger_sqlite(l));
	return 0;
}

/* A sanction goes with its evidence and support (they reference it). */
static int delete_sanction(struct ledger *l, struct ledger_prune *p, int64_t id, struct ledger_pruned *d, char *err,
			   size_t errlen)
{
	if (delete_one(l, p, PS_DEL_EVIDENCE, id, &d->evidence, err, errlen) != 0 ||
	    delete_one(l, p, PS_DEL_SUPPORT, id, &d->support, err, errlen) != 0)
		return -1;
	return delete_one(l, p, PS_DEL_SANCTION, id, &d->sanctions, err, errlen);
}

static int delete_batch(struct ledger *l, struct ledger_prune *p, const struct batch *b, struct ledger_pruned *d,
			char *err, size_t errlen)
{
	for (size_t i = 0; i < b->n; i++) {
		int rc;
		switch (p->phase) {
		case PH_REFUSALS: rc = delete_one(l, p, PS_DEL_REPORT, b->ids[i], &d->refusals, err, errlen); break;
		case PH_REPORTS: rc = delete_one(l, p, PS_DEL_REPORT, b->ids[i], &d->reports, err, errlen); break;
		case PH_OUTBOX: rc = delete_one(l, p, PS_DEL_OUTBOX, b->ids[i], &d->outbox, err, errlen); break;
		default: rc = delete_sanction(l, p, b->ids[i], d, err, errlen); break;
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* One batch of a deleting phase, in one transaction. */
static int delete_step(struct ledger *l, struct ledger_prune *p, struct ledger_pruned *done, char *err, size_t errlen)
{
	static const enum prune_stmt select_of[] = {
		[PH_REFUSALS] = PS_REFUSALS, [PH_REPORTS] = PS_REPORTS, [PH_OUTBOX] = PS_OUTBOX,
		[PH_SANCTIONS] = PS_SANCTIONS,
	};
	int64_t bound = p->phase == PH_REFUSALS ? p->refusal_last
			: p->phase == PH_SANCTIONS ? p->r.sanctions_before_us : p->r.reports_before_us;
	struct batch b = {.n = 0};
	struct ledger_pruned d = {0};
	/* Not a moment's wait for another process's lock: the caller's loop
	 * would wait with it; the pass fails, and the next one does the rest. */
	sqlite3_busy_timeout(ledger_sqlite(l), 0);
	int rc = ledger_begin(l, err, errlen);
	sqlite3_busy_timeout(ledger_sqlite(l), ledger_busy_timeout(l));
	if (rc != 0)
		return -1;
	if (select_batch(l, p, select_of[p->phase], bound, &b, err, errlen) != 0 ||
	    delete_batch(l, p, &b, &d, err, errlen) != 0) {
		ledger_rollback(l);
		return -1;
	}
	if (ledger_commit(l, err, errlen) != 0)
		return -1;
	uint64_t rows = ledger_pruned_rows(&d);
	p->total += rows;
	done->reports += d.reports;
	done->refusals += d.refusals;
	done->outbox += d.outbox;
	done->sanctions += d.sanctions;
	done->evidence += d.evidence;
	done->support += d.support;
	if (b.seen < batch_of(p))
		enter(p, next_phase(&p->r, p->phase));
	return 0;
}

int ledger_prune_step(struct ledger *l, struct ledger_pruned *done, char *err, size_t errlen)
{
	struct ledger_prune *p = *ledger_prune_slot(l);
	if (!p || p->phase == PH_IDLE)
		return 0;
	if (ledger_in_transaction(l))
		return 1;   /* the caller's batch first */
	int rc = p->phase == PH_COUNT ? count_step(l, p, err, errlen) : delete_step(l, p, done, err, errlen);
	if (rc != 0) {
		p->phase = PH_IDLE;
		return -1;
	}
	return p->phase != PH_IDLE;
}

int ledger_prune(struct ledger *l, const struct ledger_retention *r, struct ledger_pruned *done, char *err,
		 size_t errlen)
{
	if (!state(l, err, errlen))
		return -1;
	ledger_prune_start(l, r);
	int rc;
	while ((rc = ledger_prune_step(l, done, err, errlen)) == 1)
		if (ledger_in_transaction(l)) {
			snprintf(err, errlen, "prune: a transaction is open");
			return -1;
		}
	return rc;
}
