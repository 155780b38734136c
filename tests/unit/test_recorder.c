/* test_recorder.c: the recorder (src/daemon/recorder.c) on a real ledger
 * whose writes another connection blocks (it holds the write lock), as
 * pactod meets a full disk or a lock: nothing held costs nothing; a held
 * sanction is in force until lifted by hand (recorder_lift), and is then
 * written late and lifted at the lift's time; a lift the ledger refused
 * (recorder_hold_lift) makes the ledger's rows it names not in force
 * (recorder_lifted) until it is written, in order: a sanction decided
 * after a lift is written after it and stays in force.
 * The recorder is a daemon part, not in libpacto: its source is compiled
 * here, with the two daemon functions it calls stubbed (no alliance). */
/* First: cmocka.h defines a macro fail(), a name recorder.c uses. */
#include "../../src/daemon/recorder.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC 1000000LL
#define HOUR (3600 * SEC)
#define T0 (1795737600LL * SEC)   /* 2026-11-27T00:00:00Z */

static int64_t now_us = T0;

int64_t daemon_now_us(void)
{
	return now_us;
}

/* Never called: the daemon of these tests is in no alliance. */
int alliance_report(struct daemon *d, const struct sanction *s, bool lift, const struct evidence_lines *ev,
		    char *err, size_t errlen)
{
	(void)d, (void)s, (void)lift, (void)ev;
	snprintf(err, errlen, "no alliance");
	return -1;
}

struct fixture {
	char dir[256], path[300];
	struct daemon d;
	struct config cfg;
	sqlite3 *blocker;   /* another connection, holding the write lock when blocking */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[256];
	const char *tmp = getenv("TMPDIR");
	snprintf(fx->dir, sizeof(fx->dir), "%s/pacto-recorder-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/ledger.db", fx->dir);
	if (ledger_open(fx->path, &fx->d.ledger, err, sizeof(err)) != 0)
		return -1;
	ledger_set_busy_timeout(fx->d.ledger, 10);
	fx->d.recorder = recorder_new();
	fx->d.cfg = &fx->cfg;
	if (sqlite3_open(fx->path, &fx->blocker) != SQLITE_OK)
		return -1;
	now_us = T0;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char path[400];
	sqlite3_close(fx->blocker);
	recorder_free(fx->d.recorder);
	ledger_close(fx->d.ledger);
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", fx->path, suffixes[i]);
		unlink(path);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void block(struct fixture *fx, bool on)
{
	assert_int_equal(sqlite3_exec(fx->blocker, on ? "BEGIN IMMEDIATE" : "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
}

static struct addr addr_of(const char *text)
{
	struct addr a;
	assert_int_equal(addr_parse_cidr(text, &a), 0);
	return a;
}

/* A manual sanction of key, decided at t, for an hour. */
static int sanction(struct fixture *fx, const struct addr *key, int64_t t)
{
	struct sanction s = {.addr = *key, .created_us = t, .duration_us = HOUR, .offence = 1,
			     .first_seen_us = t, .last_seen_us = t};
	now_us = t;
	return recorder_add(&fx->d, &s, "manual (uid 0)", NULL, NULL, false);
}

static void settle(struct fixture *fx)
{
	assert_int_equal(recorder_begin(&fx->d), 0);
	assert_int_equal(recorder_commit(&fx->d), 0);
}

/* The ledger's history of key, oldest first: created, lifted (0: not). */
struct row {
	int64_t created_us, lifted_us;
	char lifted_by[64];
};
struct rows {
	struct row r[8];
	size_t n;
};

static int note_row(void *arg, const struct ledger_sanction *s)
{
	struct rows *rows = arg;
	struct row *r = &rows->r[rows->n++];
	r->created_us = s->created_us;
	r->lifted_us = s->lifted ? s->lifted_us : 0;
	snprintf(r->lifted_by, sizeof(r->lifted_by), "%s", s->lifted ? s->lifted_by : "");
	return rows->n == 8;
}

static struct rows history(struct fixture *fx, const struct addr *key)
{
	struct rows rows = {0};
	char err[256];
	assert_int_equal(ledger_each_history(fx->d.ledger, key, note_row, &rows, err, sizeof(err)), 0);
	return rows;
}

static void each_counter(void *arg, const struct addr *key, int64_t until_us)
{
	(void)key, (void)until_us;
	++*(int *)arg;
}

static int pending_count(struct fixture *fx, int64_t now)
{
	int n = 0;
	recorder_each_pending(fx->d.recorder, now, each_counter, &n);
	return n;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_nothing_held(void **state)
{
	struct fixture *fx = *state;
	struct addr a = addr_of("192.0.2.1");
	assert_int_equal(sanction(fx, &a, T0), 0);          /* written at once */
	assert_int_equal(recorder_commit(&fx->d), 0);
	assert_int_equal(recorder_pending_until(fx->d.recorder, &a, T0 + SEC), 0);
	assert_false(recorder_lifted(fx->d.recorder, &a, -1));
	assert_int_equal(recorder_lift(fx->d.recorder, &a, T0 + SEC, "manual (uid 0)"), 0);
	struct recorder_stats st;
	recorder_get_stats(fx->d.recorder, &st);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.lifts_held, 0);
}

/* A held sanction lifted by hand: out of force at once, recorded late as
 * lifted at the lift's time; one decided after the lift is not touched. */
static void test_held_sanction_lifted(void **state)
{
	struct fixture *fx = *state;
	struct addr a = addr_of("192.0.2.2"), other = addr_of("192.0.2.3");
	block(fx, true);
	assert_int_equal(sanction(fx, &a, T0), 1);           /* held */
	assert_int_equal(sanction(fx, &other, T0 + SEC), 1);
	assert_int_equal(recorder_pending_until(fx->d.recorder, &a, T0 + 5 * SEC), T0 + HOUR);
	assert_int_equal(recorder_lift(fx->d.recorder, &a, T0 + 10 * SEC, "manual (uid 7)"), 1);
	assert_int_equal(recorder_pending_until(fx->d.recorder, &a, T0 + 11 * SEC), 0);
	assert_int_equal(recorder_pending_until(fx->d.recorder, &other, T0 + 11 * SEC), T0 + SEC + HOUR);
	assert_int_equal(pending_count(fx, T0 + 11 * SEC), 1);
	assert_int_equal(sanction(fx, &a, T0 + 20 * SEC), 1);   /* after the lift */
	assert_int_equal(recorder_pending_until(fx->d.recorder, &a, T0 + 21 * SEC), T0 + 20 * SEC + HOUR);
	struct recorder_stats st;
	recorder_get_stats(fx->d.recorder, &st);
	assert_int_equal(st.held, 3);
	block(fx, false);
	settle(fx);
	recorder_get_stats(fx->d.recorder, &st);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.recorded_late, 3);
	struct rows h = history(fx, &a);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.r[0].created_us, T0);
	assert_int_equal(h.r[0].lifted_us, T0 + 10 * SEC);
	assert_string_equal(h.r[0].lifted_by, "manual (uid 7)");
	assert_int_equal(h.r[1].created_us, T0 + 20 * SEC);
	assert_int_equal(h.r[1].lifted_us, 0);
	assert_int_equal(history(fx, &other).r[0].lifted_us, 0);
}

/* A lift the ledger refused: the rows it names are lifted meanwhile, and
 * when written, at the lift's time; a sanction held after it stays. */
static void test_held_lift(void **state)
{
	struct fixture *fx = *state;
	struct addr a = addr_of("192.0.2.4"), b = addr_of("192.0.2.5");
	char err[256];
	assert_int_equal(sanction(fx, &a, T0), 0);
	assert_int_equal(recorder_commit(&fx->d), 0);
	struct rows h = history(fx, &a);
	assert_int_equal(h.n, 1);
	/* The row's id: the only sanction of the ledger. */
	int64_t ids[1];
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(fx->blocker, "SELECT id FROM sanction", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	ids[0] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);

	block(fx, true);
	unsigned lifted = 0;
	assert_int_not_equal(ledger_lift(fx->d.ledger, &a, T0 + 10 * SEC, "manual (uid 7)", &lifted, err, sizeof(err)), 0);
	assert_int_equal(recorder_hold_lift(fx->d.recorder, &a, T0 + 10 * SEC, "manual (uid 7)", ids, 1, false), 0);
	assert_true(recorder_lifted(fx->d.recorder, &a, ids[0]));
	assert_true(recorder_lifted(fx->d.recorder, &a, -1));
	assert_false(recorder_lifted(fx->d.recorder, &a, ids[0] + 1));
	assert_false(recorder_lifted(fx->d.recorder, &b, ids[0]));
	struct recorder_stats rs;
	recorder_get_stats(fx->d.recorder, &rs);
	assert_int_equal(rs.held, 0);
	assert_int_equal(rs.lifts_held, 1);
	assert_int_equal(pending_count(fx, T0 + 11 * SEC), 0);
	/* A transaction that fails keeps it waiting, in its place. */
	assert_int_equal(sanction(fx, &a, T0 + 20 * SEC), 1);
	assert_int_not_equal(recorder_begin(&fx->d), 0);
	assert_true(recorder_lifted(fx->d.recorder, &a, ids[0]));
	block(fx, false);
	settle(fx);
	recorder_get_stats(fx->d.recorder, &rs);
	assert_int_equal(rs.lifts_held, 0);
	assert_int_equal(rs.held, 0);
	assert_false(recorder_lifted(fx->d.recorder, &a, ids[0]));
	h = history(fx, &a);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.r[0].lifted_us, T0 + 10 * SEC);
	assert_string_equal(h.r[0].lifted_by, "manual (uid 7)");
	assert_int_equal(h.r[1].created_us, T0 + 20 * SEC);
	assert_int_equal(h.r[1].lifted_us, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nothing_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_sanction_lifted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_lift, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
