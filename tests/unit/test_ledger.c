/* test_ledger.c: the ledger on real SQLite files (in a mkdtemp directory,
 * removed afterwards): every field round-trips, evidence stays bounded,
 * active/expired/lifted are told apart, history finds containing prefixes,
 * a batch and its cursor are stored together or not at all, a committed
 * sanction survives kill -9, foreign or newer files are refused untouched,
 * and lookups stay indexed at 200k sanctions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "ledger/ledger.h"
#include "ledger/ledger_int.h"
#include "ledger/migrate.h"

#define SEC 1000000LL
#define T0 (1795737600LL * SEC)   /* 2026-11-27T00:00:00Z */

struct fixture {
	char dir[256];
	char path[300];
};

/* ---- fixture and small helpers ------------------------------------------- */

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");
	snprintf(fx->dir, sizeof(fx->dir), "%s/pacto-ledger-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/ledger.db", fx->dir);
	*state = fx;
	return 0;
}

/* Removes every file in the directory (ledger, -wal, -shm, test files), then it. */
static int teardown(void **state)
{
	struct fixture *fx = *state;
	DIR *d = opendir(fx->dir);
	struct dirent *e;
	char path[600];
	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", fx->dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	int rc = rmdir(fx->dir);
	free(fx);
	return rc;
}

static struct addr ip(const char *text)
{
	struct addr a;
	assert_int_equal(addr_parse_cidr(text, &a), 0);
	return a;
}

/* For forked children, which must not use cmocka's asserts (a failing one
 * would longjmp back into the test runner inside the child). */
static struct addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct addr x = {.family = AF_INET, .prefix = 32, .bytes = {a, b, c, d}};
	return x;
}

static struct ledger *open_ok(const char *path)
{
	char err[512];
	struct ledger *l = NULL;
	if (ledger_open(path, &l, err, sizeof(err)) != 0)
		fail_msg("ledger_open: %s", err);
	return l;
}

/* A sanction of `text` for 10 minutes from `created`, with one evidence line. */
static struct ledger_sanction sanction_of(struct addr *a, int64_t created)
{
	static const struct ledger_line line = {"Failed password for root", 24, 0};
	struct ledger_sanction s = {
		.addr = *a, .scenario = "sshd", .origin = "local", .reason = "5 failures",
		.attempts = 5, .first_seen_us = created - 60 * SEC, .last_seen_us = created,
		.created_us = created, .expires_us = created + 600 * SEC, .offence = 1,
		.evidence = &line, .nevidence = 1,
	};
	return s;
}

static int64_t add_ok(struct ledger *l, const struct ledger_sanction *s)
{
	char err[512];
	int64_t id = 0;
	if (ledger_add_sanction(l, s, &id, err, sizeof(err)) != 0)
		fail_msg("ledger_add_sanction: %s", err);
	return id;
}

static int64_t add_addr(struct ledger *l, const char *text, int64_t created)
{
	struct addr a = ip(text);
	struct ledger_sanction s = sanction_of(&a, created);
	return add_ok(l, &s);
}

/* ---- collecting what the ledger reports ---------------------------------- */

/* A deep copy of one reported sanction: the ledger's pointers die with the callback. */
struct copy {
	int64_t id;
	struct addr addr;
	char scenario[LEDGER_MAX_NAME + 1], origin[LEDGER_MAX_NAME + 1];
	char reason[LEDGER_MAX_REASON + 1], lifted_by[LEDGER_MAX_NAME + 1];
	unsigned attempts, offence, evidence_dropped;
	int64_t first_seen_us, last_seen_us, created_us, expires_us, lifted_us;
	bool lifted;
	size_t nevidence;
	char lines[LEDGER_MAX_EVIDENCE][LEDGER_MAX_LINE];
	size_t lens[LEDGER_MAX_EVIDENCE], orig_lens[LEDGER_MAX_EVIDENCE];
};

struct seen {
	size_t n;
	struct copy c[32];
};

static void copy_sanction(struct copy *c, const struct ledger_sanction *s)
{
	c->id = s->id;
	c->addr = s->addr;
	snprintf(c->scenario, sizeof(c->scenario), "%s", s->scenario);
	snprintf(c->origin, sizeof(c->origin), "%s", s->origin);
	snprintf(c->reason, sizeof(c->reason), "%s", s->reason);
	snprintf(c->lifted_by, sizeof(c->lifted_by), "%s", s->lifted ? s->lifted_by : "");
	c->attempts = s->attempts, c->offence = s->offence, c->evidence_dropped = s->evidence_dropped;
	c->first_seen_us = s->first_seen_us, c->last_seen_us = s->last_seen_us;
	c->created_us = s->created_us, c->expires_us = s->expires_us;
	c->lifted = s->lifted, c->lifted_us = s->lifted_us;
	c->nevidence = s->nevidence;
	for (size_t i = 0; i < s->nevidence; i++) {
		memcpy(c->lines[i], s->evidence[i].text, s->evidence[i].len);
		c->lens[i] = s->evidence[i].len;
		c->orig_lens[i] = s->evidence[i].orig_len;
	}
}

static int collect(void *arg, const struct ledger_sanction *s)
{
	struct seen *w = arg;
	if (w->n == sizeof(w->c) / sizeof(w->c[0]))
		return 1;
	copy_sanction(&w->c[w->n++], s);
	return 0;
}

static struct seen *history(struct ledger *l, const char *text)
{
	char err[512];
	struct seen *w = calloc(1, sizeof(*w));
	struct addr a = ip(text);
	if (ledger_each_history(l, &a, collect, w, err, sizeof(err)) != 0)
		fail_msg("ledger_each_history: %s", err);
	return w;
}

static struct seen *active(struct ledger *l, int64_t now)
{
	char err[512];
	struct seen *w = calloc(1, sizeof(*w));
	if (ledger_each_active(l, now, collect, w, err, sizeof(err)) != 0)
		fail_msg("ledger_each_active: %s", err);
	return w;
}

static void assert_addr(const struct addr *got, const char *want)
{
	char text[ADDR_STRLEN];
	assert_string_equal(addr_format(got, text, sizeof(text)), want);
}

static struct ledger_counts counts(struct ledger *l, int64_t now)
{
	char err[512];
	struct ledger_counts c;
	if (ledger_counts(l, now, &c, err, sizeof(err)) != 0)
		fail_msg("ledger_counts: %s", err);
	return c;
}

/* ---- raw SQLite, to look at the file from outside ------------------------ */

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void assert_integrity(const char *path)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	/* No evidence line without its sanction: no row at all. */
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* ---- round trip and bounds ----------------------------------------------- */

/* 17 lines: a 5000-byte one (cut to 1024, marked), an empty one, 15 short. */
static void make_evidence(struct ledger_line lines[17], char *big)
{
	memset(big, 'x', 5000);
	for (int i = 0; i < 5000; i += 100)
		big[i] = (char)('A' + i / 100 % 26);
	lines[0] = (struct ledger_line){big, 5000, 0};
	lines[1] = (struct ledger_line){NULL, 0, 0};
	for (int i = 2; i < 17; i++)
		lines[i] = (struct ledger_line){"Failed password for invalid user admin", 38, 0};
}

static void assert_round_trip(const struct copy *c, const char *big, int64_t id)
{
	assert_int_equal(c->id, id);
	assert_addr(&c->addr, "2001:db8:1:2::/64");
	assert_int_equal(c->addr.family, AF_INET6);
	assert_string_equal(c->scenario, "sshd-invalid-user");
	assert_string_equal(c->origin, "member:7f3a");
	assert_int_equal(strlen(c->reason), 511);   /* cut before the 2-byte "é" that straddles 512 */
	assert_int_equal(c->attempts, 9);
	assert_int_equal(c->first_seen_us, T0 - 90 * SEC);
	assert_int_equal(c->last_seen_us, T0 - 1);
	assert_int_equal(c->created_us, T0);
	assert_int_equal(c->expires_us, T0 + 3600 * SEC);
	assert_int_equal(c->offence, 3);
	assert_int_equal(c->evidence_dropped, 2 + 1);   /* 2 dropped upstream, the 17th here */
	assert_int_equal(c->nevidence, LEDGER_MAX_EVIDENCE);
	assert_int_equal(c->lens[0], LEDGER_MAX_LINE);
	assert_int_equal(c->orig_lens[0], 5000);
	assert_memory_equal(c->lines[0], big, LEDGER_MAX_LINE);
	assert_int_equal(c->lens[1], 0);
	assert_int_equal(c->orig_lens[1], 0);
	assert_int_equal(c->lens[15], 38);
	assert_int_equal(c->orig_lens[15], 38);
	assert_memory_equal(c->lines[15], "Failed password for invalid user admin", 38);
	assert_false(c->lifted);
}

static void test_round_trip(void **state)
{
	struct fixture *fx = *state;
	static char big[5000], reason[700];
	struct ledger_line lines[17];
	make_evidence(lines, big);
	memset(reason, 'r', sizeof(reason) - 1);
	memcpy(reason + 511, "\xc3\xa9", 2);
	struct ledger_sanction s = {
		.addr = ip("2001:db8:1:2::/64"), .scenario = "sshd-invalid-user",
		.origin = "member:7f3a", .reason = reason, .attempts = 9,
		.first_seen_us = T0 - 90 * SEC, .last_seen_us = T0 - 1, .created_us = T0,
		.expires_us = T0 + 3600 * SEC, .offence = 3, .evidence = lines, .nevidence = 17,
		.evidence_dropped = 2,
	};
	struct ledger *l = open_ok(fx->path);
	int64_t id = add_ok(l, &s);
	ledger_close(l);

	l = open_ok(fx->path);   /* from the file, not from a cache */
	struct seen *w = history(l, "2001:db8:1:2::42");
	assert_int_equal(w->n, 1);
	assert_round_trip(&w->c[0], big, id);
	free(w);
	w = active(l, T0);
	assert_int_equal(w->n, 1);
	assert_int_equal(w->c[0].id, id);
	assert_int_equal(w->c[0].nevidence, 0);   /* active sanctions come without evidence */
	assert_string_equal(w->c[0].origin, "member:7f3a");
	free(w);
	ledger_close(l);
}

/* Inputs the ledger refuses, with a reason, storing nothing. */
static void test_refused_input(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	struct ledger *l = open_ok(fx->path);
	struct addr a = ip("192.0.2.1");
	struct ledger_sanction s = sanction_of(&a, T0);
	s.addr.prefix = 24;   /* bits set past the prefix */
	assert_int_equal(ledger_add_sanction(l, &s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bits set past the prefix"));
	s = sanction_of(&a, T0);
	s.origin = "";
	assert_int_equal(ledger_add_sanction(l, &s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "origin"));
	char longname[LEDGER_MAX_NAME + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	s = sanction_of(&a, T0);
	s.scenario = longname;
	assert_int_equal(ledger_add_sanction(l, &s, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "scenario"));
	s = sanction_of(&a, T0);
	s.offence = 0;
	assert_int_equal(ledger_add_sanction(l, &s, NULL, err, sizeof(err)), -1);
	assert_int_equal(counts(l, T0).sanctions, 0);
	ledger_close(l);
}

/* ---- active, expired, lifted ---------------------------------------------- */

static void test_active_expired_lifted(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	unsigned lifted = 99;
	struct ledger *l = open_ok(fx->path);
	int64_t now = T0 + 1000 * SEC;
	int64_t a = add_addr(l, "192.0.2.1", now - 10 * SEC);       /* active */
	add_addr(l, "192.0.2.2", now - 600 * SEC);                  /* expires exactly now */
	add_addr(l, "192.0.2.3", now - 900 * SEC);                  /* expired */
	int64_t d = add_addr(l, "2001:db8::/64", now - 5 * SEC);    /* to be lifted */

	/* Neither an address inside the /64 nor a prefix around 192.0.2.1 is "exactly". */
	struct addr inside = ip("2001:db8::1"), around = ip("192.0.2.0/24");
	assert_int_equal(ledger_lift(l, &inside, now, "operator", &lifted, err, sizeof(err)), 0);
	assert_int_equal(lifted, 0);
	assert_int_equal(ledger_lift(l, &around, now, "operator", &lifted, err, sizeof(err)), 0);
	assert_int_equal(lifted, 0);
	/* An expired sanction ended by itself: lifting it changes nothing. */
	struct addr gone = ip("192.0.2.3");
	assert_int_equal(ledger_lift(l, &gone, now, "operator", &lifted, err, sizeof(err)), 0);
	assert_int_equal(lifted, 0);
	struct addr net = ip("2001:db8::/64");
	assert_int_equal(ledger_lift(l, &net, now, "operator:uid=0", &lifted, err, sizeof(err)), 0);
	assert_int_equal(lifted, 1);

	struct seen *w = active(l, now);
	assert_int_equal(w->n, 1);
	assert_int_equal(w->c[0].id, a);
	free(w);
	struct ledger_counts c = counts(l, now);
	assert_int_equal(c.sanctions, 4);
	assert_int_equal(c.active, 1);
	/* The lift is history, not deletion. */
	w = history(l, "2001:db8::7");
	assert_int_equal(w->n, 1);
	assert_int_equal(w->c[0].id, d);
	assert_true(w->c[0].lifted);
	assert_int_equal(w->c[0].lifted_us, now);
	assert_string_equal(w->c[0].lifted_by, "operator:uid=0");
	free(w);
	ledger_close(l);
}

static int count_steps(void *arg)
{
	++*(unsigned long *)arg;
	return 0;
}

/* Polls the background counts (5 s at most) until there are `sanctions`. */
static struct ledger_counts counts_reaching(struct ledger *l, uint64_t sanctions)
{
	struct ledger_counts c = {0};
	for (int i = 0; i < 100; i++) {
		c = counts(l, 0);
		if (c.sanctions == sanctions)
			break;
		usleep(50000);
	}
	return c;
}

/* Counted on the ledger's own thread: right, following changes, and
 * without a single SQLite step on the caller's connection. */
static void test_counts_in_background(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	struct ledger *l = open_ok(fx->path);
	int64_t now = clock_realtime_us();
	add_addr(l, "192.0.2.1", now - 10 * SEC);
	add_addr(l, "192.0.2.2", now - 20 * SEC);
	add_addr(l, "192.0.2.3", now - 1000 * SEC);                 /* expired */
	unsigned long steps = 0;
	sqlite3_progress_handler(ledger_sqlite(l), 1, count_steps, &steps);
	if (ledger_count_in_background(l, err, sizeof(err)) != 0)
		fail_msg("ledger_count_in_background: %s", err);
	struct ledger_counts c = counts(l, 0);
	assert_int_equal(c.sanctions, 3);
	assert_int_equal(c.active, 2);
	assert_true(c.counted_us >= now && c.counted_us <= clock_realtime_us());
	assert_int_equal(steps, 0);
	sqlite3_progress_handler(ledger_sqlite(l), 0, NULL, NULL);

	add_addr(l, "192.0.2.4", now);
	add_addr(l, "2001:db8::/64", now);
	c = counts_reaching(l, 5);
	assert_int_equal(c.sanctions, 5);
	assert_int_equal(c.active, 4);
	unsigned lifted = 0;
	struct addr a = ip("192.0.2.4");
	assert_int_equal(ledger_lift(l, &a, clock_realtime_us(), "operator", &lifted, err, sizeof(err)), 0);
	add_addr(l, "192.0.2.5", now);
	c = counts_reaching(l, 6);
	assert_int_equal(c.active, 4);   /* one lifted, one added */
	ledger_close(l);
}

/* ---- history --------------------------------------------------------------- */

static void test_history_contains(void **state)
{
	struct fixture *fx = *state;
	struct ledger *l = open_ok(fx->path);
	/* Added out of time order: history is oldest first by creation. */
	int64_t host = add_addr(l, "2001:db8:1:2::5", T0 + 30 * SEC);
	int64_t net64 = add_addr(l, "2001:db8:1:2::/64", T0 + 20 * SEC);
	add_addr(l, "2001:db8:1:3::/64", T0 + 10 * SEC);             /* a neighbour */
	int64_t net48 = add_addr(l, "2001:db8:1::/48", T0 + 5 * SEC);
	add_addr(l, "2001:db8:1:2::6", T0 + 40 * SEC);               /* another host of the /64 */
	add_addr(l, "192.0.2.5", T0);                                /* other family */
	int64_t again = add_addr(l, "2001:db8:1:2::5", T0 + 50 * SEC);

	struct seen *w = history(l, "2001:db8:1:2::5");
	assert_int_equal(w->n, 4);
	assert_int_equal(w->c[0].id, net48);
	assert_int_equal(w->c[1].id, net64);
	assert_int_equal(w->c[2].id, host);
	assert_int_equal(w->c[3].id, again);
	assert_addr(&w->c[0].addr, "2001:db8:1::/48");
	assert_int_equal(w->c[0].nevidence, 1);
	free(w);
	/* A prefix: itself and what contains it, not the hosts inside it. */
	w = history(l, "2001:db8:1:2::/64");
	assert_int_equal(w->n, 2);
	assert_int_equal(w->c[0].id, net48);
	assert_int_equal(w->c[1].id, net64);
	free(w);
	w = history(l, "2001:db8:2::1");
	assert_int_equal(w->n, 0);
	free(w);
	w = history(l, "192.0.2.5");
	assert_int_equal(w->n, 1);
	assert_int_equal(w->c[0].addr.family, AF_INET);
	free(w);
	ledger_close(l);
}

static void test_offences(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	struct ledger_offences o;
	struct ledger *l = open_ok(fx->path);
	struct addr a = ip("198.51.100.7");
	for (unsigned i = 1; i <= 3; i++) {
		struct ledger_sanction s = sanction_of(&a, T0 + i * 3600 * SEC);
		s.offence = i;
		add_ok(l, &s);
	}
	add_addr(l, "198.51.100.8", T0 + 5 * 3600 * SEC);
	assert_int_equal(ledger_offences(l, &a, T0, &o, err, sizeof(err)), 0);
	assert_int_equal(o.count, 3);
	assert_int_equal(o.last_offence, 3);
	assert_int_equal(o.last_created_us, T0 + 3 * 3600 * SEC);
	assert_int_equal(o.last_end_us, T0 + 3 * 3600 * SEC + 600 * SEC);
	assert_int_equal(ledger_offences(l, &a, T0 + 2 * 3600 * SEC, &o, err, sizeof(err)), 0);
	assert_int_equal(o.count, 2);
	/* A lift ends the latest sanction early. */
	unsigned n;
	int64_t lift_at = T0 + 3 * 3600 * SEC + 60 * SEC;
	assert_int_equal(ledger_lift(l, &a, lift_at, "operator", &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ledger_offences(l, &a, T0, &o, err, sizeof(err)), 0);
	assert_int_equal(o.last_end_us, lift_at);
	assert_int_equal(o.last_expires_us, T0 + 3 * 3600 * SEC + 600 * SEC);
	struct addr never = ip("203.0.113.1");
	assert_int_equal(ledger_offences(l, &never, 0, &o, err, sizeof(err)), 0);
	assert_int_equal(o.count, 0);
	assert_int_equal(o.last_offence, 0);
	ledger_close(l);
}

/* ---- cursors and transactions ---------------------------------------------- */

static void test_cursors(void **state)
{
	struct fixture *fx = *state;
	char err[512], buf[LEDGER_MAX_CURSOR + 1];
	bool found = true;
	struct ledger *l = open_ok(fx->path);
	assert_int_equal(ledger_get_cursor(l, "/var/log/auth.log", buf, sizeof(buf), &found, err, sizeof(err)), 0);
	assert_false(found);
	assert_string_equal(buf, "");
	assert_int_equal(ledger_set_cursor(l, "/var/log/auth.log", "ino=1234 off=0", err, sizeof(err)), 0);
	assert_int_equal(ledger_set_cursor(l, "/var/log/auth.log", "ino=1234 off=98765", err, sizeof(err)), 0);
	assert_int_equal(ledger_set_cursor(l, "journal", "s=abc;i=42;b=def", err, sizeof(err)), 0);
	ledger_close(l);
	l = open_ok(fx->path);
	assert_int_equal(ledger_get_cursor(l, "/var/log/auth.log", buf, sizeof(buf), &found, err, sizeof(err)), 0);
	assert_true(found);
	assert_string_equal(buf, "ino=1234 off=98765");
	assert_int_equal(ledger_get_cursor(l, "journal", buf, sizeof(buf), &found, err, sizeof(err)), 0);
	assert_string_equal(buf, "s=abc;i=42;b=def");
	char small[4];
	assert_int_equal(ledger_get_cursor(l, "journal", small, sizeof(small), &found, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "do not fit"));
	ledger_close(l);
}

/* A chunk: n sanctions and the cursor after them, in one transaction. */
static void write_chunk(struct ledger *l, int n, const char *cursor)
{
	char err[512];
	assert_int_equal(ledger_begin(l, err, sizeof(err)), 0);
	for (int i = 0; i < n; i++) {
		struct addr a = ip("192.0.2.0");
		a.bytes[3] = (uint8_t)i;
		struct ledger_sanction s = sanction_of(&a, T0);
		add_ok(l, &s);
	}
	assert_int_equal(ledger_set_cursor(l, "auth", cursor, err, sizeof(err)), 0);
}

static void assert_cursor(struct ledger *l, const char *want)
{
	char err[512], buf[LEDGER_MAX_CURSOR + 1];
	bool found;
	assert_int_equal(ledger_get_cursor(l, "auth", buf, sizeof(buf), &found, err, sizeof(err)), 0);
	assert_int_equal(found, want != NULL);
	if (want)
		assert_string_equal(buf, want);
}

static void test_transaction_atomic(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	struct ledger *l = open_ok(fx->path);
	write_chunk(l, 5, "off=500");
	assert_int_equal(ledger_commit(l, err, sizeof(err)), 0);
	assert_false(ledger_in_transaction(l));

	write_chunk(l, 7, "off=1200");
	/* A refused sanction inside the batch leaves the batch usable. */
	struct addr bad = ip("192.0.2.1");
	struct ledger_sanction s = sanction_of(&bad, T0);
	s.origin = NULL;
	assert_int_equal(ledger_add_sanction(l, &s, NULL, err, sizeof(err)), -1);
	assert_true(ledger_in_transaction(l));
	ledger_rollback(l);
	assert_int_equal(counts(l, T0).sanctions, 5);
	assert_cursor(l, "off=500");

	/* Closing with a transaction open discards it too. */
	write_chunk(l, 3, "off=1500");
	ledger_close(l);
	l = open_ok(fx->path);
	assert_int_equal(counts(l, T0).sanctions, 5);
	assert_cursor(l, "off=500");
	assert_int_equal(ledger_commit(l, err, sizeof(err)), -1);   /* nothing open */
	ledger_close(l);
}

/* Writes a chunk and its cursor in a transaction, says so on fd, and waits
 * to be killed before committing. */
static _Noreturn void uncommitted_child(const char *path, int fd)
{
	char err[512];
	struct ledger *l;
	if (ledger_open(path, &l, err, sizeof(err)) != 0 || ledger_begin(l, err, sizeof(err)) != 0)
		_exit(2);
	for (uint8_t i = 0; i < 50; i++) {
		struct addr a = v4(192, 0, 2, i);
		struct ledger_sanction s = sanction_of(&a, T0);
		if (ledger_add_sanction(l, &s, NULL, err, sizeof(err)) != 0)
			_exit(3);
	}
	if (ledger_set_cursor(l, "auth", "off=9000", err, sizeof(err)) != 0 || write(fd, "r", 1) != 1)
		_exit(4);
	pause();
	_exit(5);
}

static void test_killed_before_commit(void **state)
{
	struct fixture *fx = *state;
	int fds[2], status;
	char byte = 0;
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		uncommitted_child(fx->path, fds[1]);
	}
	close(fds[1]);
	ssize_t got = read(fds[0], &byte, 1);
	close(fds[0]);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (got != 1)
		fail_msg("the child failed before the chunk was written (status %d)", WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	struct ledger *l = open_ok(fx->path);
	assert_int_equal(counts(l, T0).sanctions, 0);
	assert_cursor(l, NULL);
	ledger_close(l);
	assert_integrity(fx->path);
}

/* ---- kill -9 durability ------------------------------------------------------ */

/* Whether the committing child defers its fsyncs (ledger_defer_sync). */
static bool child_defers;

/* Adds sanctions one commit each, reporting each committed count on fd,
 * until killed. */
static _Noreturn void committing_child(const char *path, int fd)
{
	char err[512];
	struct ledger *l;
	if (ledger_open(path, &l, err, sizeof(err)) != 0)
		_exit(2);
	if (child_defers && ledger_defer_sync(l, err, sizeof(err)) != 0)
		_exit(2);
	for (uint32_t i = 1; i < 1000000; i++) {
		struct addr a = v4(10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
		struct ledger_sanction s = sanction_of(&a, T0 + i);
		if (ledger_add_sanction(l, &s, NULL, err, sizeof(err)) != 0)
			_exit(3);
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(4);
	}
	_exit(5);
}

/* Kills a committing child after delay_us; returns the last count it reported. */
static uint32_t kill_child_after(const char *path, long delay_us)
{
	int fds[2];
	uint32_t got, last = 0;
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		committing_child(path, fds[1]);
	}
	close(fds[1]);
	usleep((useconds_t)delay_us);
	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status))
		fail_msg("the child ended by itself with status %d", WEXITSTATUS(status));
	while (read(fds[0], &got, sizeof(got)) == (ssize_t)sizeof(got))
		last = got;
	close(fds[0]);
	return last;
}

static void test_kill9_durability(void **state)
{
	struct fixture *fx = *state;
	unsigned seed = (unsigned)time(NULL);
	uint64_t before = 0, reported_total = 0;
	srand(seed);
	print_message("# kill -9 rounds, seed %u\n", seed);
	for (int round = 0; round < 20; round++) {
		/* From "killed while opening" to "killed after ~tens of commits". */
		long delay = round == 0 ? 0 : rand() % 60000;
		uint32_t reported = kill_child_after(fx->path, delay);
		struct ledger *l = open_ok(fx->path);   /* recovers the hot WAL */
		uint64_t now = counts(l, T0).sanctions;
		ledger_close(l);
		assert_integrity(fx->path);
		/* Every reported commit is there; at most one more (killed between commit and report). */
		assert_true(now >= before + reported);
		assert_true(now <= before + reported + 1);
		reported_total += reported;
		before = now;
	}
	print_message("# %llu sanctions reported committed over 20 kills, %llu found\n",
		      (unsigned long long)reported_total, (unsigned long long)before);
}

/* With the fsyncs deferred to the checkpointer thread, a commit that
 * returned survives kill -9 all the same (the WAL is written at once). */
static void test_kill9_deferred_sync(void **state)
{
	child_defers = true;
	test_kill9_durability(state);
	child_defers = false;
}

/* Deferred sync: commits land, ledger_wait_durable() returns once the
 * checkpointer has them on disk, and close leaves an intact database. */
static void test_deferred_sync(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	struct ledger *l = open_ok(fx->path);
	assert_int_equal(ledger_defer_sync(l, err, sizeof(err)), 0);
	assert_int_equal(ledger_defer_sync(l, err, sizeof(err)), 0);  /* once is enough */
	for (uint32_t i = 1; i <= 200; i++) {
		struct addr a = v4(10, 1, (uint8_t)(i >> 8), (uint8_t)i);
		struct ledger_sanction s = sanction_of(&a, T0 + i);
		add_ok(l, &s);
		if (i % 50 == 0)
			ledger_wait_durable(l);
	}
	assert_int_equal(counts(l, T0).sanctions, 200);
	ledger_close(l);
	assert_integrity(fx->path);
	l = open_ok(fx->path);
	assert_int_equal(counts(l, T0).sanctions, 200);
	ledger_close(l);
}

/* ---- migrations and foreign files -------------------------------------------- */

/* Reads a whole small file into buf; returns its length. */
static size_t slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, size, f);
	fclose(f);
	return n;
}

static int count_files(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ledger_open must fail with `why` in the message and leave the file, and
 * the directory, exactly as they were. */
static void assert_refused_untouched(const char *dir, const char *path, const char *why)
{
	static char before[65536], after[65536];
	char err[512];
	struct ledger *l = NULL;
	size_t n = slurp(path, before, sizeof(before));
	int files = count_files(dir);
	assert_int_equal(ledger_open(path, &l, err, sizeof(err)), -1);
	assert_null(l);
	if (!strstr(err, why) || !strstr(err, path))
		fail_msg("expected \"%s\" and the path in: %s", why, err);
	assert_int_equal(slurp(path, after, sizeof(after)), n);
	assert_memory_equal(before, after, n);
	assert_int_equal(count_files(dir), files);
}

/* Another program's WAL database, left by a crash: commits only in -wal. */
static void leave_wal(const char *path)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *db;
		if (sqlite3_open(path, &db) != SQLITE_OK ||
		    sqlite3_exec(db, "PRAGMA journal_mode = WAL; CREATE TABLE t (x);"
				 "INSERT INTO t VALUES (1)", NULL, NULL, NULL) != SQLITE_OK)
			_exit(1);
		_exit(0);   /* no sqlite3_close: no checkpoint */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_migrations(void **state)
{
	struct fixture *fx = *state;
	char path[400];
	struct ledger *l = open_ok(fx->path);
	ledger_close(l);
	sqlite3 *db = raw_open(fx->path);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), migrate_schema_version());
	assert_int_equal(raw_int(db, "PRAGMA application_id"), LEDGER_APPLICATION_ID);
	sqlite3_close(db);
	l = open_ok(fx->path);   /* an up-to-date file opens again */
	ledger_close(l);

	raw_exec(fx->path, "PRAGMA user_version = 99");
	assert_refused_untouched(fx->dir, fx->path, "newer than this pacto knows");

	snprintf(path, sizeof(path), "%s/notes.txt", fx->dir);
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 100; i++)
		fprintf(f, "line %d: this is not a database\n", i);
	fclose(f);
	assert_refused_untouched(fx->dir, path, "not a SQLite database");

	snprintf(path, sizeof(path), "%s/other.db", fx->dir);
	raw_exec(path, "CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('alice')");
	assert_refused_untouched(fx->dir, path, "not a pacto ledger");
	raw_exec(path, "PRAGMA application_id = 1234; PRAGMA journal_mode = WAL");
	assert_refused_untouched(fx->dir, path, "not a pacto ledger");

	/* Its program died with commits still in the -wal: they stay there. */
	snprintf(path, sizeof(path), "%s/crashed.db", fx->dir);
	leave_wal(path);
	assert_refused_untouched(fx->dir, path, "not a pacto ledger");
	char wal[420];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(access(wal, F_OK), 0);
}

/* ---- 200k sanctions ---------------------------------------------------------- */

enum { LOAD_N = 200000, LOAD_BATCH = 10000 };

/* Sanction i: even ones IPv4 hosts, odd ones IPv6 /64s; every third expired. */
static struct addr load_addr(uint32_t i)
{
	struct addr a;
	if (i % 2 == 0) {
		a = ip("10.0.0.0");
		memcpy(a.bytes + 1, &i, 3);
	} else {
		a = ip("2001:db8::/64");
		memcpy(a.bytes + 4, &i, 4);
	}
	return a;
}

static void load(struct ledger *l)
{
	char err[512], text[3][160];
	struct ledger_line lines[3];
	for (uint32_t i = 0; i < LOAD_N; i++) {
		if (i % LOAD_BATCH == 0)
			assert_int_equal(ledger_begin(l, err, sizeof(err)), 0);
		struct addr a = load_addr(i);
		struct ledger_sanction s = sanction_of(&a, T0 + i);
		if (i % 3 == 0)
			s.expires_us = T0 - 1;
		for (int k = 0; k < 3; k++)
			lines[k] = (struct ledger_line){text[k], (size_t)snprintf(text[k], sizeof(text[k]),
				"2026-11-27T00:13:1%d.807341+00:00 web1 sshd[%u]: Failed password for root "
				"from 10.%u.%u.%u port 36584 ssh2", k, i, i & 255, (i >> 8) & 255, k), 0};
		s.evidence = lines;
		s.nevidence = 3;
		add_ok(l, &s);
		if (i % LOAD_BATCH == LOAD_BATCH - 1)
			assert_int_equal(ledger_commit(l, err, sizeof(err)), 0);
	}
}

static int count_one(void *arg, const struct ledger_sanction *s)
{
	(void)s;
	(*(size_t *)arg)++;
	return 0;
}

/* What one sanction costs when it is its own transaction: one fsync. */
static void print_commit_latency(struct ledger *l)
{
	int64_t t = clock_monotonic_us();
	for (int i = 0; i < 200; i++)
		add_addr(l, "203.0.113.9", T0 - 3600 * SEC - i);   /* expired at T0 */
	print_message("# one sanction per transaction (synchronous=FULL): %.2f ms each\n",
		      (clock_monotonic_us() - t) / 200 / 1e3);
}

static void test_load_200k(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	struct ledger *l = open_ok(fx->path);
	print_commit_latency(l);
	int64_t t = clock_monotonic_us();
	load(l);
	int64_t insert_us = clock_monotonic_us() - t;
	ledger_close(l);

	t = clock_monotonic_us();
	l = open_ok(fx->path);
	int64_t open_us = clock_monotonic_us() - t;
	size_t n = 0;
	t = clock_monotonic_us();
	assert_int_equal(ledger_each_active(l, T0, count_one, &n, err, sizeof(err)), 0);
	int64_t active_us = clock_monotonic_us() - t;
	assert_int_equal(n, LOAD_N - (LOAD_N + 2) / 3);   /* the 200 above have expired */
	t = clock_monotonic_us();
	struct ledger_counts c = counts(l, T0);
	int64_t counts_us = clock_monotonic_us() - t;
	assert_int_equal(c.sanctions, LOAD_N + 200);
	assert_int_equal(c.active, n);

	/* 1000 lookups: IPv6 hosts inside stored /64s, and IPv4 hosts. */
	t = clock_monotonic_us();
	for (uint32_t i = 0; i < 1000; i++) {
		uint32_t k = (i * 7919u) % LOAD_N;
		struct addr a = load_addr(k);
		if (a.family == AF_INET6) {
			a.prefix = 128;
			a.bytes[15] = 1;
		}
		struct seen *w = calloc(1, sizeof(*w));
		assert_int_equal(ledger_each_history(l, &a, collect, w, err, sizeof(err)), 0);
		assert_int_equal(w->n, 1);
		assert_int_equal(w->c[0].nevidence, 3);
		free(w);
	}
	int64_t history_us = clock_monotonic_us() - t;
	ledger_close(l);
	struct stat st;
	assert_int_equal(stat(fx->path, &st), 0);

	print_message("# 200k sanctions (3 evidence lines each, batches of %d): insert %.0f sanctions/s "
		      "(%.2f s)\n", LOAD_BATCH, LOAD_N / (insert_us / 1e6), insert_us / 1e6);
	print_message("# reopen %.1f ms; each_active %zu in %.1f ms; counts %.1f ms; "
		      "1000 history lookups %.1f ms\n", open_us / 1e3, n, active_us / 1e3,
		      counts_us / 1e3, history_us / 1e3);
	print_message("# file %.1f MB, %.0f bytes per sanction\n", st.st_size / 1e6,
		      (double)st.st_size / LOAD_N);
	/* A missing index would show as a scan, whatever the machine's speed:
	 * the lookup by address must be a search of sanction_net. */
	sqlite3 *db = raw_open(fx->path);
	sqlite3_stmt *plan_st;
	assert_int_equal(sqlite3_prepare_v2(db,
					    "EXPLAIN QUERY PLAN SELECT id FROM sanction"
					    " WHERE family = 4 AND prefix = 32 AND net = x'00'",
					    -1, &plan_st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(plan_st), SQLITE_ROW);
	const char *plan = (const char *)sqlite3_column_text(plan_st, 3);
	if (!plan || !strstr(plan, "SEARCH") || !strstr(plan, "sanction_net"))
		fail_msg("lookup by address is not a search of sanction_net: %s", plan ? plan : "(none)");
	sqlite3_finalize(plan_st);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_expired_lifted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_in_background, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_contains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offences, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_before_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_deferred_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_200k, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
