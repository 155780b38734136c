/* test_ledger_ally.c: the alliance's tables of the ledger on real SQLite
 * files: the outbox numbers reports in order, keeps numbering across a
 * reopen and forgets nothing unacknowledged, and a shift moves the
 * reports from a number on past another, in order, owed again; the
 * per-ally state only moves forward, and a window kept by schema 4 is
 * read back until replaced; received reports and the support of
 * allies' sanctions read back as written; a version 1 ledger is migrated
 * with its sanctions kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "ledger/ledger_ally.h"

#define SEC 1000000LL
#define T0 (1795737600LL * SEC)   /* 2026-11-27T00:00:00Z */

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
	snprintf(fx->dir, sizeof(fx->dir), "%s/pacto-ally-XXXXXX", tmp && *tmp ? tmp : "/tmp");
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

static struct addr v4(const char *text)
{
	struct addr a;
	assert_int_equal(addr_parse_cidr(text, &a), 0);
	return a;
}

static struct ledger_report report(const char *address, int64_t t)
{
	static const struct ledger_line lines[2] = {
		{.text = "sshd[1]: Failed password for root from 192.0.2.9 port 1 ssh2", .len = 60},
		{.text = "not \xff UTF-8", .len = 11},
	};
	return (struct ledger_report){
		.time_us = t, .action = LEDGER_REPORT_SANCTION, .addr = v4(address), .scenario = "sshd",
		.duration_s = 600, .attempts = 5, .first_seen_us = t - 10 * SEC, .last_seen_us = t, .lines = lines,
		.nlines = 2,
	};
}

struct seen {
	uint64_t seqs[64];
	size_t n;
	char line1[64];
};

static int collect(void *arg, const struct ledger_report *r)
{
	struct seen *s = arg;
	s->seqs[s->n++] = r->seq;
	if (r->nlines == 2)
		snprintf(s->line1, sizeof(s->line1), "%s", r->lines[1].text);
	return 0;
}

static void test_outbox(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	uint64_t pending;
	for (int i = 0; i < 3; i++) {
		struct ledger_report r = report("192.0.2.9", T0 + i);
		assert_int_equal(ledger_outbox_add(fx->l, &r, err, sizeof(err)), 0);
		assert_int_equal(r.seq, (uint64_t)i + 1);
	}
	/* A report added in a transaction that is rolled back leaves nothing
	 * (it is published only after its commit, so no ally saw its number). */
	assert_int_equal(ledger_begin(fx->l, err, sizeof(err)), 0);
	struct ledger_report r = report("192.0.2.10", T0);
	assert_int_equal(ledger_outbox_add(fx->l, &r, err, sizeof(err)), 0);
	assert_int_equal(r.seq, 4);
	ledger_rollback(fx->l);

	assert_int_equal(ledger_outbox_ack(fx->l, 2, T0, err, sizeof(err)), 0);
	struct seen s = {0};
	assert_int_equal(ledger_outbox_each_pending(fx->l, 0, 10, collect, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seqs[0], 1);
	assert_int_equal(s.seqs[1], 3);
	assert_string_equal(s.line1, "not ? UTF-8");
	memset(&s, 0, sizeof(s));
	assert_int_equal(ledger_outbox_each_pending(fx->l, 1, 10, collect, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(ledger_outbox_pending(fx->l, &pending, err, sizeof(err)), 0);
	assert_int_equal(pending, 2);

	/* Reopened: what was not acknowledged is still owed, numbering goes on. */
	ledger_close(fx->l);
	assert_int_equal(ledger_open(fx->path, &fx->l, err, sizeof(err)), 0);
	assert_int_equal(ledger_outbox_pending(fx->l, &pending, err, sizeof(err)), 0);
	assert_int_equal(pending, 2);
	r = report("192.0.2.11", T0);
	assert_int_equal(ledger_outbox_add(fx->l, &r, err, sizeof(err)), 0);
	assert_true(r.seq >= 4);
	/* A range marks what it holds, across numbers with no report. */
	assert_int_equal(ledger_outbox_ack_range(fx->l, 3, r.seq - 1, T0, err, sizeof(err)), 0);
	assert_int_equal(ledger_outbox_pending(fx->l, &pending, err, sizeof(err)), 0);
	assert_int_equal(pending, 2);   /* 1 and the new one */
	assert_int_equal(ledger_outbox_ack_range(fx->l, 1, r.seq, T0, err, sizeof(err)), 0);
	assert_int_equal(ledger_outbox_pending(fx->l, &pending, err, sizeof(err)), 0);
	assert_int_equal(pending, 0);
	/* A skip leaves a gap before the next number. */
	uint64_t last = r.seq;
	assert_int_equal(ledger_outbox_skip(fx->l, 1000, err, sizeof(err)), 0);
	assert_int_equal(ledger_outbox_add(fx->l, &r, err, sizeof(err)), 0);
	assert_int_equal(r.seq, last + 1001);
	/* Renumbered past what allies may have seen: later numbers follow it. */
	assert_int_equal(ledger_outbox_renumber(fx->l, r.seq, r.seq + 50, err, sizeof(err)), 0);
	uint64_t moved = r.seq + 50;
	assert_int_equal(ledger_outbox_add(fx->l, &r, err, sizeof(err)), 0);
	assert_int_equal(r.seq, moved + 1);
}

/* The number and time of each report collected, in order (the shift keeps it). */
struct order {
	uint64_t seqs[16];
	int64_t times[16];
	size_t n;
};

static int collect_order(void *arg, const struct ledger_report *r)
{
	struct order *o = arg;
	o->seqs[o->n] = r->seq;
	o->times[o->n++] = r->time_us;
	return 0;
}

static void test_outbox_shift(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	uint64_t pending;
	/* 1..7: 1, 2 acknowledged (before the failed batch), 3 failed, 4
	 * acknowledged (a later batch stored), 5 and 6 not yet, 7 (the
	 * address of 3 again, its lift say) acknowledged. */
	static const char *const addrs[] = {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4",
					    "192.0.2.5", "192.0.2.6", "192.0.2.3"};
	for (int i = 1; i <= 7; i++) {
		struct ledger_report r = report(addrs[i - 1], T0 + i);
		assert_int_equal(ledger_outbox_add(fx->l, &r, err, sizeof(err)), 0);
	}
	for (uint64_t s = 1; s <= 7; s++)
		if (s != 3 && s != 5 && s != 6)
			assert_int_equal(ledger_outbox_ack(fx->l, s, T0, err, sizeof(err)), 0);
	/* From 3 on, past 7: 3 is done (7 is about its address: sent above 7
	 * it would undo it); 5 and 6 go again as 10 and 11 (the gaps kept),
	 * in order; the acknowledged 4 and 7 are not owed again. The old 6 is
	 * in the way of the new numbers' path, which the two steps avoid. */
	assert_int_equal(ledger_outbox_shift(fx->l, 3, 8, T0 + 100, err, sizeof(err)), 0);
	struct order o = {0};
	assert_int_equal(ledger_outbox_each_pending(fx->l, 0, 16, collect_order, &o, err, sizeof(err)), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.seqs[0], 10);
	assert_int_equal(o.times[0], T0 + 5);
	assert_int_equal(o.seqs[1], 11);
	assert_int_equal(o.times[1], T0 + 6);
	assert_int_equal(ledger_outbox_pending(fx->l, &pending, err, sizeof(err)), 0);
	assert_int_equal(pending, 2);
	/* The next report comes after them, even after a reopen. */
	ledger_close(fx->l);
	assert_int_equal(ledger_open(fx->path, &fx->l, err, sizeof(err)), 0);
	struct ledger_report r = report("192.0.2.10", T0 + 8);
	assert_int_equal(ledger_outbox_add(fx->l, &r, err, sizeof(err)), 0);
	assert_int_equal(r.seq, 12);
	/* Backwards is refused: numbers are never given twice. */
	assert_int_equal(ledger_outbox_shift(fx->l, 8, 7, T0 + 100, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "outbox shift"));
}

/* The hole pactod looks for at start: the lowest report not acknowledged
 * below an acknowledged one, with the highest number ever given. */
static void test_outbox_hole(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	uint64_t from = 99, last = 99;
	assert_int_equal(ledger_outbox_hole(fx->l, &from, &last, err, sizeof(err)), 0);
	assert_int_equal(from, 0);
	assert_int_equal(last, 0);
	for (int i = 1; i <= 6; i++) {
		struct ledger_report r = report("192.0.2.9", T0 + i);
		assert_int_equal(ledger_outbox_add(fx->l, &r, err, sizeof(err)), 0);
	}
	/* Pending at the end only (in flight): no hole. */
	for (uint64_t s = 1; s <= 3; s++)
		assert_int_equal(ledger_outbox_ack(fx->l, s, T0, err, sizeof(err)), 0);
	assert_int_equal(ledger_outbox_hole(fx->l, &from, &last, err, sizeof(err)), 0);
	assert_int_equal(from, 0);
	assert_int_equal(last, 6);
	/* 4 failed, 5 stored: a hole from 4; the sequence skipped at start
	 * counts in the highest given. */
	assert_int_equal(ledger_outbox_ack(fx->l, 5, T0, err, sizeof(err)), 0);
	assert_int_equal(ledger_outbox_skip(fx->l, 100, err, sizeof(err)), 0);
	assert_int_equal(ledger_outbox_hole(fx->l, &from, &last, err, sizeof(err)), 0);
	assert_int_equal(from, 4);
	assert_int_equal(last, 106);
	/* Sent again from 107 on: no hole left. */
	assert_int_equal(ledger_outbox_shift(fx->l, from, last + 1, T0 + 100, err, sizeof(err)), 0);
	assert_int_equal(ledger_outbox_hole(fx->l, &from, &last, err, sizeof(err)), 0);
	assert_int_equal(from, 0);
	assert_int_equal(last, 109);
}

struct allies {
	char member[8][32];
	uint64_t seq[8];
	int64_t time[8];
	uint8_t taken[8][16], seen[8][16];
	size_t taken_len[8], seen_len[8];
	size_t n;
};

static int collect_ally(void *arg, const struct ledger_ally_state *s)
{
	struct allies *a = arg;
	snprintf(a->member[a->n], sizeof(a->member[0]), "%s", s->member);
	a->seq[a->n] = s->last_seq;
	a->taken_len[a->n] = s->taken_len;
	if (s->taken && s->taken_len <= sizeof(a->taken[0]))
		memcpy(a->taken[a->n], s->taken, s->taken_len);
	a->seen_len[a->n] = s->seen_len;
	if (s->seen && s->seen_len <= sizeof(a->seen[0]))
		memcpy(a->seen[a->n], s->seen, s->seen_len);
	a->time[a->n++] = s->last_time_us;
	return 0;
}

static void test_ally_state_moves_forward(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	assert_int_equal(ledger_ally_save(fx->l, "bravo", 10, T0, err, sizeof(err)), 0);
	assert_int_equal(ledger_ally_save(fx->l, "alpha", 3, T0, err, sizeof(err)), 0);
	assert_int_equal(ledger_ally_save(fx->l, "bravo", 7, T0 - SEC, err, sizeof(err)), 0);
	assert_int_equal(ledger_ally_save(fx->l, "bravo", 12, T0 + SEC, err, sizeof(err)), 0);
	assert_int_not_equal(ledger_ally_save(fx->l, "", 1, T0, err, sizeof(err)), 0);
	struct allies a = {0};
	assert_int_equal(ledger_each_ally(fx->l, collect_ally, &a, err, sizeof(err)), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.member[0], "alpha");
	assert_string_equal(a.member[1], "bravo");
	assert_int_equal(a.seq[1], 12);
	assert_int_equal(a.time[1], T0 + SEC);
	assert_int_equal(a.taken_len[1], 0);   /* no window: unknown */
}

/* The window of numbers goes with the number it was taken up to: a save
 * of a lower number keeps both; a save without one makes it unknown. */
static void test_ally_window(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	uint8_t taken[8] = {1, 2, 3, 4, 5, 6, 7, 8}, other[3] = {9, 9, 9};
	struct ledger_ally_state s = {.member = "bravo", .last_seq = 20, .last_time_us = T0, .taken = taken,
				      .taken_len = sizeof(taken)};
	assert_int_equal(ledger_ally_save_state(fx->l, &s, err, sizeof(err)), 0);
	s = (struct ledger_ally_state){.member = "bravo", .last_seq = 19, .last_time_us = T0, .taken = other,
				       .taken_len = sizeof(other)};
	assert_int_equal(ledger_ally_save_state(fx->l, &s, err, sizeof(err)), 0);
	struct allies a = {0};
	assert_int_equal(ledger_each_ally(fx->l, collect_ally, &a, err, sizeof(err)), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.seq[0], 20);
	assert_int_equal(a.taken_len[0], sizeof(taken));
	assert_memory_equal(a.taken[0], taken, sizeof(taken));
	/* The same number, a new window (a late number taken). */
	s = (struct ledger_ally_state){.member = "bravo", .last_seq = 20, .last_time_us = T0, .taken = other,
				       .taken_len = sizeof(other)};
	assert_int_equal(ledger_ally_save_state(fx->l, &s, err, sizeof(err)), 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(ledger_each_ally(fx->l, collect_ally, &a, err, sizeof(err)), 0);
	assert_int_equal(a.taken_len[0], sizeof(other));
	assert_memory_equal(a.taken[0], other, sizeof(other));
	assert_int_equal(ledger_ally_save(fx->l, "bravo", 21, T0, err, sizeof(err)), 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(ledger_each_ally(fx->l, collect_ally, &a, err, sizeof(err)), 0);
	assert_int_equal(a.seq[0], 21);
	assert_int_equal(a.taken_len[0], 0);
	/* Bounded. */
	static uint8_t big[LEDGER_ALLY_TAKEN_MAX + 4];
	s = (struct ledger_ally_state){.member = "bravo", .last_seq = 30, .taken = big, .taken_len = sizeof(big)};
	assert_int_not_equal(ledger_ally_save_state(fx->l, &s, err, sizeof(err)), 0);
}

/* A ledger of schema 4 kept the window in its own form (ally.seen): read
 * back as such, and replaced by the member's next save in the form of
 * schema 5 (ally.taken). */
/* Closes the fixture's ledger, runs sql on the file as another program
 * would (an older schema made by hand), and opens it again (migrating). */
static void reopen_after(struct fixture *fx, const char *sql)
{
	char err[256];
	ledger_close(fx->l);
	fx->l = NULL;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(ledger_open(fx->path, &fx->l, err, sizeof(err)), 0);
}

static void test_ally_window_schema4(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	assert_int_equal(ledger_ally_save(fx->l, "bravo", 20, T0, err, sizeof(err)), 0);
	reopen_after(fx, "ALTER TABLE ally DROP COLUMN taken; PRAGMA user_version = 4;"
			 " UPDATE ally SET seen = x'0102030405060708'");
	struct allies a = {0};
	assert_int_equal(ledger_each_ally(fx->l, collect_ally, &a, err, sizeof(err)), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.taken_len[0], 0);
	assert_int_equal(a.seen_len[0], 8);
	assert_int_equal(a.seen[0][7], 8);
	uint8_t taken[3] = {7, 7, 7};
	struct ledger_ally_state s = {.member = "bravo", .last_seq = 21, .last_time_us = T0, .taken = taken,
				      .taken_len = sizeof(taken)};
	assert_int_equal(ledger_ally_save_state(fx->l, &s, err, sizeof(err)), 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(ledger_each_ally(fx->l, collect_ally, &a, err, sizeof(err)), 0);
	assert_int_equal(a.seen_len[0], 0);
	assert_int_equal(a.taken_len[0], 3);
}

struct got_in {
	char verdicts[8][32];
	char reasons[8][32];
	int64_t sanction[8];
	size_t n;
};

static int collect_in(void *arg, const struct ledger_report_in *r)
{
	struct got_in *g = arg;
	snprintf(g->verdicts[g->n], sizeof(g->verdicts[0]), "%s:%s", r->member, r->verdict);
	snprintf(g->reasons[g->n], sizeof(g->reasons[0]), "%s", r->reason);
	g->sanction[g->n++] = r->sanction_id;
	return 0;
}

static void test_reports_received(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	struct addr a = v4("198.51.100.7"), other = v4("198.51.100.8");
	struct ledger_report_in in = {
		.received_us = T0, .member = "alpha", .seq = 1, .time_us = T0, .action = 1, .addr = &a,
		.scenario = "sshd", .duration_s = 600, .verdict = "applied", .reason = "", .sanction_id = 42,
	};
	assert_int_equal(ledger_add_report_in(fx->l, &in, err, sizeof(err)), 0);
	in.member = "mallory";
	in.verdict = "refused";
	in.reason = "protected";
	in.sanction_id = 0;
	assert_int_equal(ledger_add_report_in(fx->l, &in, err, sizeof(err)), 0);
	in.addr = &other;
	assert_int_equal(ledger_add_report_in(fx->l, &in, err, sizeof(err)), 0);
	in.addr = NULL;   /* a message refused whole: no address */
	in.reason = "bad_signature";
	assert_int_equal(ledger_add_report_in(fx->l, &in, err, sizeof(err)), 0);

	struct got_in g = {0};
	assert_int_equal(ledger_each_report_in(fx->l, &a, 10, collect_in, &g, err, sizeof(err)), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.verdicts[0], "alpha:applied");
	assert_int_equal(g.sanction[0], 42);
	assert_string_equal(g.verdicts[1], "mallory:refused");
	assert_string_equal(g.reasons[1], "protected");
}

struct supports {
	char rows[8][64];
	size_t n;
};

static int collect_support(void *arg, const struct ledger_support *s)
{
	struct supports *g = arg;
	char text[ADDR_STRLEN];
	snprintf(g->rows[g->n++], sizeof(g->rows[0]), "%lld %s %s %llu", (long long)s->sanction_id,
		 addr_format(&s->addr, text, sizeof(text)), s->member, (unsigned long long)s->seq);
	return 0;
}

static int64_t add_sanction(struct ledger *l, const char *address, const char *origin, int64_t expires)
{
	char err[256];
	int64_t id;
	struct ledger_sanction s = {
		.addr = v4(address), .scenario = "sshd", .origin = origin, .attempts = 5, .first_seen_us = T0,
		.last_seen_us = T0, .created_us = T0, .expires_us = expires, .offence = 1,
	};
	assert_int_equal(ledger_add_sanction(l, &s, &id, err, sizeof(err)), 0);
	return id;
}

static void test_support(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	bool lifted;
	int64_t a = add_sanction(fx->l, "203.0.113.1", "ally:alpha", T0 + 600 * SEC);
	int64_t b = add_sanction(fx->l, "203.0.113.2", "ally:bravo", T0 + 600 * SEC);
	int64_t old = add_sanction(fx->l, "203.0.113.3", "ally:bravo", T0 + 1 * SEC);
	assert_int_equal(ledger_add_support(fx->l, a, "alpha", 5, T0, T0 + 600 * SEC, err, sizeof(err)), 0);
	assert_int_equal(ledger_add_support(fx->l, a, "bravo", 9, T0, T0 + 300 * SEC, err, sizeof(err)), 0);
	assert_int_equal(ledger_add_support(fx->l, a, "bravo", 11, T0, T0 + 600 * SEC, err, sizeof(err)), 0);
	assert_int_equal(ledger_add_support(fx->l, b, "bravo", 10, T0, T0 + 600 * SEC, err, sizeof(err)), 0);
	assert_int_equal(ledger_add_support(fx->l, old, "bravo", 1, T0, T0 + 1 * SEC, err, sizeof(err)), 0);

	struct supports g = {0};
	assert_int_equal(ledger_each_support(fx->l, a, collect_support, &g, err, sizeof(err)), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.rows[1], "1 203.0.113.1 bravo 11");

	/* Active at T0 + 10 s: the expired third sanction is not there. */
	memset(&g, 0, sizeof(g));
	assert_int_equal(ledger_each_active_support(fx->l, T0 + 10 * SEC, collect_support, &g, err, sizeof(err)), 0);
	assert_int_equal(g.n, 3);

	assert_int_equal(ledger_set_expiry(fx->l, b, T0 + 1200 * SEC, err, sizeof(err)), 0);
	assert_int_equal(ledger_lift_id(fx->l, a, T0 + 20 * SEC, "expelled member bravo", &lifted, err, sizeof(err)), 0);
	assert_true(lifted);
	assert_int_equal(ledger_lift_id(fx->l, a, T0 + 21 * SEC, "again", &lifted, err, sizeof(err)), 0);
	assert_false(lifted);
	memset(&g, 0, sizeof(g));
	assert_int_equal(ledger_each_active_support(fx->l, T0 + 900 * SEC, collect_support, &g, err, sizeof(err)), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.rows[0], "2 203.0.113.2 bravo 10");
}

/* A sanction read back: its end, whether lifted, its reason. */
struct kept {
	int64_t expires_us;
	bool lifted;
	char reason[256];
};

static int keep_sanction(void *arg, const struct ledger_sanction *s)
{
	struct kept *k = arg;
	k->expires_us = s->expires_us;
	k->lifted = s->lifted;
	snprintf(k->reason, sizeof(k->reason), "%s", s->reason ? s->reason : "");
	return 0;
}

/* A treaty amendment cuts an ally's sanction short: the end moves back
 * (never forward), the reason says why, a lifted one stays lifted. */
static void test_cut_sanction(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	bool lifted;
	struct kept got;
	int64_t a = add_sanction(fx->l, "203.0.113.1", "ally:alpha", T0 + 3600 * SEC);
	assert_int_equal(ledger_cut_sanction(fx->l, a, T0 + 600 * SEC, "treaty version 9: max_duration_s 600", err,
					     sizeof(err)), 0);
	struct addr k = v4("203.0.113.1");
	assert_int_equal(ledger_each_history(fx->l, &k, keep_sanction, &got, err, sizeof(err)), 0);
	assert_true(got.expires_us == T0 + 600 * SEC);
	assert_non_null(strstr(got.reason, "; cut short, treaty version 9: max_duration_s 600"));
	assert_int_equal(ledger_cut_sanction(fx->l, a, T0 + 900 * SEC, "later", err, sizeof(err)), 0);
	assert_int_equal(ledger_each_history(fx->l, &k, keep_sanction, &got, err, sizeof(err)), 0);
	assert_true(got.expires_us == T0 + 600 * SEC);
	assert_null(strstr(got.reason, "later"));
	assert_int_equal(ledger_lift_id(fx->l, a, T0 + 10 * SEC, "by hand", &lifted, err, sizeof(err)), 0);
	assert_int_equal(ledger_cut_sanction(fx->l, a, T0 + 300 * SEC, "after", err, sizeof(err)), 0);
	assert_int_equal(ledger_each_history(fx->l, &k, keep_sanction, &got, err, sizeof(err)), 0);
	assert_true(got.expires_us == T0 + 600 * SEC && got.lifted);
}

/* A ledger written by the first schema (without version 3's index on
 * sanction either) gains the alliance's tables and keeps its sanctions. */
static void test_migration_from_v1(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	add_sanction(fx->l, "203.0.113.1", "local", T0 + 600 * SEC);
	reopen_after(fx, "DROP TABLE outbox; DROP TABLE ally; DROP TABLE report_in; DROP TABLE support;"
			 " DROP INDEX sanction_end; PRAGMA user_version = 1");
	struct ledger_counts c;
	assert_int_equal(ledger_counts(fx->l, T0, &c, err, sizeof(err)), 0);
	assert_int_equal(c.sanctions, 1);
	struct ledger_report r = report("192.0.2.9", T0);
	assert_int_equal(ledger_outbox_add(fx->l, &r, err, sizeof(err)), 0);
	assert_int_equal(r.seq, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_shift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ally_state_moves_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ally_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ally_window_schema4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports_received, setup, teardown),
		cmocka_unit_test_setup_teardown(test_support, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_sanction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
