/* test_ledger_prune.c: the ledger's retention (ledger_prune.h) on real
 * SQLite files. A ledger filled through its API with rows older than the
 * retention is pruned, and what must stay stays: a sanction in force whose
 * rows are all older than the retention, with its evidence, its support and
 * the reports that explain it (what `pacto why` shows); reports not yet
 * acknowledged; cursors; the allies' state. What may go goes: ended
 * sanctions with their evidence and support, old reports, acknowledged
 * reports of the outbox, refusals past their cap (the oldest). Escalation
 * (the policy reading ledger_offences after a restart) decides the same
 * offence before and after a prune; the prune walks indexes in bounded
 * steps; a version 2 ledger gains the indexes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "detect/sanction.h"
#include "ledger/ledger.h"
#include "ledger/ledger_ally.h"
#include "ledger/ledger_prune.h"

#define SEC 1000000LL
#define DAY (86400 * SEC)
#define T0 (1795737600LL * SEC)   /* 2026-11-27T00:00:00Z: "now" */
#define WEEK (7 * DAY)

struct fixture {
	char dir[256];
	char path[300];
	struct ledger *l;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");
	char err[256];
	snprintf(fx->dir, sizeof(fx->dir), "%s/pacto-prune-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/ledger.db", fx->dir);
	if (ledger_open(fx->path, &fx->l, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[300];
	ledger_close(fx->l);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	int rc = system(cmd);
	free(fx);
	return rc == 0 ? 0 : -1;
}

static struct addr ip(const char *text)
{
	struct addr a;
	assert_int_equal(addr_parse_cidr(text, &a), 0);
	return a;
}

/* A sanction of text, created at created, ending at expires, with nlines
 * evidence lines; returns its id. */
static int64_t sanction(struct ledger *l, const char *text, const char *origin, int64_t created, int64_t expires,
			unsigned offence, size_t nlines)
{
	static const struct ledger_line lines[3] = {
		{"Failed password for root from 192.0.2.1", 39, 0},
		{"Failed password for admin from 192.0.2.1", 40, 0},
		{"Invalid user x from 192.0.2.1", 29, 0},
	};
	char err[256];
	int64_t id = 0;
	struct ledger_sanction s = {
		.addr = ip(text), .scenario = "sshd", .origin = origin, .reason = "5 failures", .attempts = 5,
		.first_seen_us = created - 60 * SEC, .last_seen_us = created, .created_us = created,
		.expires_us = expires, .offence = offence, .evidence = lines, .nevidence = nlines,
	};
	if (ledger_add_sanction(l, &s, &id, err, sizeof(err)) != 0)
		fail_msg("ledger_add_sanction: %s", err);
	return id;
}

static void report_in(struct ledger *l, const char *text, const char *member, int64_t received, const char *verdict,
		      int64_t sanction_id)
{
	char err[256];
	static uint64_t seq;
	struct addr a = ip(text);
	struct ledger_report_in r = {
		.received_us = received, .member = member, .seq = ++seq, .time_us = received, .action = 1,
		.addr = &a, .scenario = "sshd", .duration_s = 600, .verdict = verdict,
		.reason = strcmp(verdict, "refused") == 0 ? "bad_signature" : "", .sanction_id = sanction_id,
	};
	if (ledger_add_report_in(l, &r, err, sizeof(err)) != 0)
		fail_msg("ledger_add_report_in: %s", err);
}

static uint64_t outbox(struct ledger *l, const char *text, int64_t t, bool acked)
{
	char err[256];
	struct ledger_report r = {
		.time_us = t, .action = LEDGER_REPORT_SANCTION, .addr = ip(text), .scenario = "sshd",
		.duration_s = 600, .attempts = 5, .first_seen_us = t, .last_seen_us = t,
	};
	assert_int_equal(ledger_outbox_add(l, &r, err, sizeof(err)), 0);
	if (acked)
		assert_int_equal(ledger_outbox_ack(l, r.seq, t + SEC, err, sizeof(err)), 0);
	return r.seq;
}

static void begin(struct ledger *l)
{
	char err[256];
	assert_int_equal(ledger_begin(l, err, sizeof(err)), 0);
}

static void commit(struct ledger *l)
{
	char err[256];
	assert_int_equal(ledger_commit(l, err, sizeof(err)), 0);
}

static struct ledger_pruned prune(struct ledger *l, const struct ledger_retention *r)
{
	char err[256];
	struct ledger_pruned d = {0};
	if (ledger_prune(l, r, &d, err, sizeof(err)) != 0)
		fail_msg("ledger_prune: %s", err);
	return d;
}

/* The retention pactod uses by default: 7 days for everything. */
static struct ledger_retention week(void)
{
	return (struct ledger_retention){
		.now_us = T0, .reports_before_us = T0 - WEEK, .sanctions_before_us = T0 - WEEK,
	};
}

/* count(*) of a query, on a connection of its own. */
static int64_t rows(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* ---- what `pacto why` reads ----------------------------------------------- */

struct why {
	unsigned sanctions, lines, supports, reports;
	char verdicts[256];
};

static int why_sanction(void *arg, const struct ledger_sanction *s)
{
	struct why *w = arg;
	w->sanctions++;
	w->lines += (unsigned)s->nevidence;
	return 0;
}

static int why_support(void *arg, const struct ledger_support *s)
{
	(void)s;
	((struct why *)arg)->supports++;
	return 0;
}

static int why_report(void *arg, const struct ledger_report_in *r)
{
	struct why *w = arg;
	w->reports++;
	strncat(w->verdicts, r->verdict, sizeof(w->verdicts) - strlen(w->verdicts) - 2);
	strcat(w->verdicts, " ");
	return 0;
}

/* The history, support and reports of text, as pactod's "why" reads them. */
static struct why why(struct ledger *l, const char *text)
{
	char err[256];
	struct why w = {0};
	struct addr a = ip(text);
	assert_int_equal(ledger_each_history(l, &a, why_sanction, &w, err, sizeof(err)), 0);
	assert_int_equal(ledger_each_support_of(l, &a, why_support, &w, err, sizeof(err)), 0);
	assert_int_equal(ledger_each_report_in(l, &a, 1000, why_report, &w, err, sizeof(err)), 0);
	return w;
}

/* ---- tests ------------------------------------------------------------------- */

/* Rows older than the retention, some still needed, then a prune. */
static void test_prune_keeps_what_is_needed(void **state)
{
	struct fixture *fx = *state;
	struct ledger *l = fx->l;
	char err[256], cursor[LEDGER_MAX_CURSOR + 1];
	bool found;

	/* Ended a month ago: goes, with its 3 lines. */
	int64_t ended = sanction(l, "198.51.100.1", "local", T0 - 30 * DAY, T0 - 29 * DAY, 1, 3);
	/* An ally's, made 30 days ago and in force for one more: every row
	 * about it is older than the retention, and it all stays. */
	int64_t held = sanction(l, "198.51.100.2", "ally:bravo", T0 - 30 * DAY, T0 + DAY, 1, 2);
	assert_int_equal(ledger_add_support(l, held, "bravo", 7, T0 - 30 * DAY, T0 + DAY, err, sizeof(err)), 0);
	assert_int_equal(ledger_add_support(l, held, "charlie", 9, T0 - 29 * DAY, T0 + DAY, err, sizeof(err)), 0);
	report_in(l, "198.51.100.2", "delta", T0 - 31 * DAY, "pending", 0);
	report_in(l, "198.51.100.2", "delta", T0 - 20 * DAY, "unchanged", held);
	report_in(l, "198.51.100.2", "echo", T0 - 20 * DAY, "refused", 0);   /* explains nothing: goes */
	/* Ended a day ago: within the retention, stays. */
	int64_t recent = sanction(l, "198.51.100.3", "local", T0 - 2 * DAY, T0 - DAY, 1, 1);
	/* Made to last a year, lifted 10 days ago: it ended then, goes. */
	int64_t lifted = sanction(l, "198.51.100.4", "ally:bravo", T0 - 30 * DAY, T0 + 300 * DAY, 1, 1);
	assert_int_equal(ledger_add_support(l, lifted, "bravo", 3, T0 - 30 * DAY, T0 + 300 * DAY, err, sizeof(err)),
			 0);
	bool was;
	assert_int_equal(ledger_lift_id(l, lifted, T0 - 10 * DAY, "operator", &was, err, sizeof(err)), 0);
	assert_true(was);
	/* 300 old reports about addresses with nothing in force, 5 recent. */
	begin(l);
	for (int i = 0; i < 300; i++)
		report_in(l, "203.0.113.7", "delta", T0 - 8 * DAY - i * SEC, i % 2 ? "refused" : "pending", 0);
	for (int i = 0; i < 5; i++)
		report_in(l, "203.0.113.7", "delta", T0 - DAY + i * SEC, "pending", 0);
	commit(l);
	/* The outbox: acknowledged and old (goes), old but never
	 * acknowledged (stays: it is still owed), acknowledged and recent. */
	outbox(l, "192.0.2.1", T0 - 10 * DAY, true);
	uint64_t owed = outbox(l, "192.0.2.2", T0 - 10 * DAY, false);
	outbox(l, "192.0.2.3", T0 - DAY, true);
	assert_int_equal(ledger_set_cursor(l, "/var/log/auth.log", "ino=1 off=2", err, sizeof(err)), 0);
	assert_int_equal(ledger_ally_save(l, "bravo", 9, T0 - 29 * DAY, err, sizeof(err)), 0);

	struct ledger_pruned d = prune(l, &(struct ledger_retention){
		.now_us = T0, .reports_before_us = T0 - WEEK, .sanctions_before_us = T0 - WEEK});
	assert_int_equal(d.sanctions, 2);
	assert_int_equal(d.evidence, 4);
	assert_int_equal(d.support, 1);
	assert_int_equal(d.reports, 301);
	assert_int_equal(d.refusals, 0);
	assert_int_equal(d.outbox, 1);
	assert_int_equal(ledger_pruned_total(l), ledger_pruned_rows(&d));

	/* Gone. */
	struct why w = why(l, "198.51.100.1");
	assert_int_equal(w.sanctions, 0);
	w = why(l, "198.51.100.4");
	assert_int_equal(w.sanctions + w.supports, 0);
	w = why(l, "203.0.113.7");
	assert_int_equal(w.reports, 5);
	assert_string_equal(w.verdicts, "pending pending pending pending pending ");
	/* Held: the sanction in force, its evidence, support and reports. */
	w = why(l, "198.51.100.2");
	assert_int_equal(w.sanctions, 1);
	assert_int_equal(w.lines, 2);
	assert_int_equal(w.supports, 2);
	assert_string_equal(w.verdicts, "pending unchanged ");
	w = why(l, "198.51.100.3");
	assert_int_equal(w.sanctions, 1);
	assert_int_equal(w.lines, 1);
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM sanction"), 2);
	assert_int_equal(rows(fx->path, "SELECT min(id) FROM sanction"), held);
	assert_int_equal(rows(fx->path, "SELECT max(id) FROM sanction"), recent);
	(void)ended;
	/* The outbox: what is owed is still owed, numbering goes on. */
	uint64_t pending = 0;
	assert_int_equal(ledger_outbox_pending(l, &pending, err, sizeof(err)), 0);
	assert_int_equal(pending, 1);
	assert_int_equal(rows(fx->path, "SELECT min(seq) FROM outbox"), owed);
	assert_int_equal(outbox(l, "192.0.2.4", T0, false), 4);
	/* Cursors, allies. */
	assert_int_equal(ledger_get_cursor(l, "/var/log/auth.log", cursor, sizeof(cursor), &found, err, sizeof(err)), 0);
	assert_true(found);
	assert_string_equal(cursor, "ino=1 off=2");
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM ally WHERE last_seq = 9"), 1);
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM prefix_len"), 1);

	/* A second pass finds nothing more; the held sanction goes once it
	 * has ended longer than the retention ago. */
	d = prune(l, &(struct ledger_retention){
		.now_us = T0, .reports_before_us = T0 - WEEK, .sanctions_before_us = T0 - WEEK});
	assert_int_equal(ledger_pruned_rows(&d), 0);
	d = prune(l, &(struct ledger_retention){.now_us = T0 + 9 * DAY, .reports_before_us = T0 + 2 * DAY,
						.sanctions_before_us = T0 + 2 * DAY});
	assert_int_equal(d.sanctions, 2);
	assert_int_equal(d.support, 2);
	assert_int_equal(d.evidence, 3);
	assert_int_equal(d.reports, 7);
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM sanction"), 0);
}

/* 0: that kind is kept. */
static void test_prune_disabled_kinds(void **state)
{
	struct fixture *fx = *state;
	sanction(fx->l, "198.51.100.1", "local", T0 - 30 * DAY, T0 - 29 * DAY, 1, 3);
	report_in(fx->l, "203.0.113.7", "delta", T0 - 30 * DAY, "refused", 0);
	outbox(fx->l, "192.0.2.1", T0 - 30 * DAY, true);
	struct ledger_pruned d = prune(fx->l, &(struct ledger_retention){.now_us = T0});
	assert_int_equal(ledger_pruned_rows(&d), 0);
	d = prune(fx->l, &(struct ledger_retention){.now_us = T0, .reports_before_us = T0 - WEEK});
	assert_int_equal(d.reports, 1);
	assert_int_equal(d.outbox, 1);
	assert_int_equal(d.sanctions, 0);
	d = prune(fx->l, &(struct ledger_retention){.now_us = T0, .sanctions_before_us = T0 - WEEK});
	assert_int_equal(d.sanctions, 1);
}

/* Refusals past the cap go, the oldest first, whatever their age; other
 * reports are not counted against it. More refusals than one counting
 * step, so the cap's boundary is found over several steps. */
static void test_prune_refusal_cap(void **state)
{
	struct fixture *fx = *state;
	const uint64_t cap = LEDGER_PRUNE_COUNT_STEP + 1000;
	const int n = 3 * LEDGER_PRUNE_COUNT_STEP;
	begin(fx->l);
	for (int i = 0; i < n; i++) {
		report_in(fx->l, "203.0.113.7", "echo", T0 - 3600 * SEC + i, "refused", 0);
		if (i % 100 == 0)
			report_in(fx->l, "203.0.113.8", "delta", T0 - 3600 * SEC + i, "pending", 0);
	}
	commit(fx->l);
	int64_t newest = rows(fx->path, "SELECT max(id) FROM report_in WHERE verdict = 'refused'");
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT id FROM report_in WHERE verdict = 'refused' ORDER BY id DESC LIMIT 1 OFFSET %llu",
		 (unsigned long long)cap - 1);
	int64_t oldest_kept = rows(fx->path, sql);
	struct ledger_retention r = week();
	r.max_refusals = cap;
	struct ledger_pruned d = prune(fx->l, &r);
	assert_int_equal(d.refusals, (uint64_t)n - cap);
	assert_int_equal(d.reports, 0);
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM report_in WHERE verdict = 'refused'"), cap);
	assert_int_equal(rows(fx->path, "SELECT max(id) FROM report_in WHERE verdict = 'refused'"), newest);
	/* The kept ones are the newest. */
	assert_int_equal(rows(fx->path, "SELECT min(id) FROM report_in WHERE verdict = 'refused'"), oldest_kept);
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM report_in WHERE verdict = 'pending'"), (n + 99) / 100);
	/* At the cap: nothing more goes. */
	d = prune(fx->l, &r);
	assert_int_equal(ledger_pruned_rows(&d), 0);
}

/* ---- escalation ---------------------------------------------------------- */

struct history {
	struct ledger *l;
};

static int offence_history(void *arg, const struct addr *key, int64_t since_us, unsigned *offences,
			   int64_t *last_end_us)
{
	struct history *h = arg;
	struct ledger_offences lo;
	char err[256];
	if (ledger_offences(h->l, key, since_us, &lo, err, sizeof(err)) != 0)
		return -1;
	*offences = lo.last_offence;
	*last_end_us = lo.last_end_us;
	return 0;
}

/* The offence number a fresh policy (pactod after a restart) gives text
 * at now, the ledger being its only memory; sshd's stock escalation. */
static unsigned next_offence(struct ledger *l, const char *text, int64_t now)
{
	struct scenario s = {
		.name = "sshd", .sanction_us = 600 * SEC, .escalation_factor = 2, .escalation_max_us = WEEK,
		.escalation_memory_us = WEEK,
	};
	struct history h = {l};
	struct policy *p = policy_new(&(struct policy_config){
		.history = offence_history, .history_arg = &h, .max_offenders = 16, .seed = 1});
	struct addr key = ip(text);
	struct sanction out;
	policy_sanction(p, &s, &key, now, &out);
	policy_free(p);
	return out.offence;
}

static const char *const keys[] = {"198.51.100.10", "198.51.100.11", "198.51.100.12", "198.51.100.13",
				   "198.51.100.14"};

/* Histories whose rows lie on both sides of the retention. */
static void fill_histories(struct ledger *l)
{
	/* Repeat offender, the last sanction ended 3 days ago: escalates. */
	sanction(l, keys[0], "local", T0 - 40 * DAY, T0 - 40 * DAY + 600 * SEC, 1, 1);
	sanction(l, keys[0], "local", T0 - 20 * DAY, T0 - 20 * DAY + 1200 * SEC, 2, 1);
	sanction(l, keys[0], "local", T0 - 4 * DAY, T0 - 3 * DAY, 3, 1);
	/* Every sanction ended over a month ago: forgiven. */
	sanction(l, keys[1], "local", T0 - 60 * DAY, T0 - 59 * DAY, 1, 1);
	sanction(l, keys[1], "local", T0 - 40 * DAY, T0 - 39 * DAY, 2, 1);
	/* An ally's long sanction, then a short one of this host's made
	 * during it: the short one is the latest made, and it ended long ago
	 * (forgiven); deleting it alone would leave the long one, which ended
	 * 3 days ago, as the latest (escalation). */
	sanction(l, keys[2], "ally:bravo", T0 - 13 * DAY, T0 - 3 * DAY, 4, 1);
	sanction(l, keys[2], "local", T0 - 12 * DAY, T0 - 12 * DAY + 600 * SEC, 1, 1);
	/* The same, but the long one ended 8 days ago: both may go. */
	sanction(l, keys[3], "ally:bravo", T0 - 13 * DAY, T0 - 8 * DAY, 4, 1);
	sanction(l, keys[3], "local", T0 - 12 * DAY, T0 - 12 * DAY + 600 * SEC, 1, 1);
	/* Ended exactly at the retention's edge. */
	sanction(l, keys[4], "local", T0 - WEEK - DAY, T0 - WEEK, 5, 1);
}

/* The offence a restarted pactod gives each key, at now and later, is the
 * same before and after the prune (the retention is the memory). */
static void test_prune_leaves_escalation_alone(void **state)
{
	struct fixture *fx = *state;
	static const int64_t later[] = {0, 1 * SEC, DAY, 3 * DAY, 4 * DAY - SEC, 4 * DAY + SEC, 30 * DAY};
	enum { NKEYS = sizeof(keys) / sizeof(*keys), NLATER = sizeof(later) / sizeof(*later) };
	unsigned before[NKEYS][NLATER];
	fill_histories(fx->l);
	for (size_t k = 0; k < NKEYS; k++)
		for (size_t t = 0; t < NLATER; t++)
			before[k][t] = next_offence(fx->l, keys[k], T0 + later[t]);
	assert_int_equal(before[0][0], 4);   /* the histories do test something */
	assert_int_equal(before[1][0], 1);
	assert_int_equal(before[2][0], 1);
	struct ledger_pruned d = prune(fx->l, &(struct ledger_retention){.now_us = T0, .sanctions_before_us = T0 - WEEK});
	/* keys[0]'s first two, keys[1]'s two, keys[3]'s two; keys[2]'s short one is held. */
	assert_int_equal(d.sanctions, 6);
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM sanction"), 4);
	for (size_t k = 0; k < NKEYS; k++)
		for (size_t t = 0; t < NLATER; t++)
			if (next_offence(fx->l, keys[k], T0 + later[t]) != before[k][t])
				fail_msg("%s at T0 + %llds: offence %u after the prune, %u before", keys[k],
					 (long long)(later[t] / SEC), next_offence(fx->l, keys[k], T0 + later[t]),
					 before[k][t]);
}

/* ---- bounded steps ----------------------------------------------------------- */

/* Each step is one short transaction looking at LEDGER_PRUNE_BATCH rows
 * at most, through indexes (never a scan of a table). */
static void test_prune_steps_are_short(void **state)
{
	struct fixture *fx = *state;
	struct ledger *l = fx->l;
	char err[256];
	enum { N = 20000 };
	begin(l);
	for (int i = 0; i < N; i++) {
		char text[32];
		snprintf(text, sizeof(text), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		report_in(l, text, "echo", T0 - 30 * DAY + i * SEC, i % 3 ? "refused" : "pending", 0);
		if (i % 4 == 0)
			sanction(l, text, "local", T0 - 30 * DAY + i * SEC, T0 - 29 * DAY + i * SEC, 1, 3);
		/* A recent one per 100, kept. */
		if (i % 100 == 0)
			report_in(l, text, "echo", T0 - DAY, "pending", 0);
	}
	commit(l);
	/* As pactod: commits do not wait for the fsync (a thread does it). */
	assert_int_equal(ledger_defer_sync(l, err, sizeof(err)), 0);
	struct ledger_retention r = week();
	r.max_refusals = 1000;
	ledger_prune_start(l, &r);
	struct ledger_pruned d = {0};
	int64_t worst = 0, total = 0;
	unsigned steps = 0;
	int rc;
	do {
		int64_t t = clock_monotonic_us();
		rc = ledger_prune_step(l, &d, err, sizeof(err));
		int64_t took = clock_monotonic_us() - t;
		total += took;
		worst = took > worst ? took : worst;
		steps++;
		if (rc < 0)
			fail_msg("ledger_prune_step: %s", err);
		/* Inside a caller's transaction a step waits. */
		if (steps == 3) {
			begin(l);
			struct ledger_pruned none = {0};
			assert_int_equal(ledger_prune_step(l, &none, err, sizeof(err)), 1);
			assert_int_equal(ledger_pruned_rows(&none), 0);
			assert_true(ledger_in_transaction(l));
			commit(l);
		}
	} while (rc == 1);
	assert_false(ledger_prune_running(l));
	assert_int_equal(d.reports + d.refusals, N);
	assert_int_equal(d.sanctions, N / 4);
	assert_int_equal(d.evidence, 3 * N / 4);
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM report_in"), N / 100);
	/* Every row deleted came in batches: at least that many steps. */
	assert_true(steps >= (N + N / 4) / LEDGER_PRUNE_BATCH);
	print_message("# prune of %d reports and %d sanctions (3 lines each): %u steps, %.3f ms each on average, "
		      "%.3f ms at most\n", N, N / 4, steps, total / 1e3 / steps, worst / 1e3);

	/* The selects search indexes. */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	static const char *const plans[][2] = {
		{"SELECT s.id FROM sanction AS s WHERE min(s.expires_us, coalesce(s.lifted_us, s.expires_us)) < 1"
		 " AND min(s.expires_us, coalesce(s.lifted_us, s.expires_us)) >= 0"
		 " ORDER BY min(s.expires_us, coalesce(s.lifted_us, s.expires_us)), s.id LIMIT 64", "sanction_end"},
		{"SELECT id FROM report_in WHERE received_us < 1 AND received_us >= 0 ORDER BY received_us, id LIMIT 64",
		 "report_in_received"},
		{"SELECT id FROM report_in WHERE verdict = 'refused' AND id < 9 ORDER BY id DESC LIMIT 1 OFFSET 4095",
		 "report_in_refused"},
		{"SELECT seq FROM outbox WHERE acked_us IS NOT NULL AND time_us < 1 AND time_us >= 0"
		 " ORDER BY time_us, seq LIMIT 64", "outbox_acked"},
	};
	for (size_t i = 0; i < sizeof(plans) / sizeof(*plans); i++) {
		char sql[600];
		sqlite3_stmt *st;
		snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", plans[i][0]);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		const char *plan = (const char *)sqlite3_column_text(st, 3);
		if (!plan || !strstr(plan, "SEARCH") || !strstr(plan, plans[i][1]))
			fail_msg("%s: not a search of %s: %s", plans[i][0], plans[i][1], plan ? plan : "(none)");
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}

/* Another process holding the write lock (pacto lift) fails the pass at
 * once rather than making the caller wait the busy timeout (5 s here). */
static void test_prune_does_not_wait_for_a_lock(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	report_in(fx->l, "203.0.113.7", "delta", T0 - 30 * DAY, "pending", 0);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	struct ledger_retention r = week();
	ledger_prune_start(fx->l, &r);
	struct ledger_pruned d = {0};
	int64_t t = clock_monotonic_us();
	assert_int_equal(ledger_prune_step(fx->l, &d, err, sizeof(err)), -1);
	assert_true(clock_monotonic_us() - t < 1000000);
	assert_non_null(strstr(err, "locked"));
	assert_false(ledger_prune_running(fx->l));
	assert_false(ledger_in_transaction(fx->l));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	/* The busy timeout is back: the next pass does the work. */
	d = prune(fx->l, &r);
	assert_int_equal(d.reports, 1);
}

/* ---- migration ------------------------------------------------------------- */

/* A ledger of schema version 2 (before the retention) gains the indexes,
 * keeps its rows, and can be pruned. */
static void test_migration_from_v2(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	sanction(fx->l, "198.51.100.1", "local", T0 - 30 * DAY, T0 - 29 * DAY, 1, 3);
	sanction(fx->l, "198.51.100.2", "local", T0 - DAY, T0 + DAY, 1, 1);
	report_in(fx->l, "203.0.113.7", "delta", T0 - 30 * DAY, "refused", 0);
	outbox(fx->l, "192.0.2.1", T0 - 30 * DAY, true);
	ledger_close(fx->l);
	fx->l = NULL;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP INDEX sanction_end; DROP INDEX report_in_received; DROP INDEX report_in_refused;"
				      " DROP INDEX outbox_acked; ALTER TABLE ally DROP COLUMN seen;"
				      " ALTER TABLE ally DROP COLUMN taken; PRAGMA user_version = 2",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM sqlite_schema WHERE name IN ('sanction_end',"
				       " 'report_in_received', 'report_in_refused', 'outbox_acked')"), 0);
	assert_int_equal(ledger_open(fx->path, &fx->l, err, sizeof(err)), 0);
	assert_int_equal(rows(fx->path, "PRAGMA user_version"), 5);
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM sqlite_schema WHERE name IN ('sanction_end',"
				       " 'report_in_received', 'report_in_refused', 'outbox_acked')"), 4);
	assert_int_equal(rows(fx->path, "SELECT count(*) FROM sanction"), 2);
	struct ledger_pruned d = prune(fx->l, &(struct ledger_retention){.now_us = T0, .reports_before_us = T0 - WEEK,
									  .sanctions_before_us = T0 - WEEK});
	assert_int_equal(d.sanctions, 1);
	assert_int_equal(d.evidence, 3);
	assert_int_equal(d.reports, 1);
	assert_int_equal(d.outbox, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prune_keeps_what_is_needed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_disabled_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_refusal_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_leaves_escalation_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_steps_are_short, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_does_not_wait_for_a_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_v2, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
