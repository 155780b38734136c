/* counter.c: the ledger's row counts, off the caller's thread.
 * Why: `pacto status` and every /metrics scrape report how many sanctions
 * the ledger holds and how many are in force. Counting a million rows
 * takes 90-120 ms (bench/scale), and pactod answers those requests on the
 * thread that reads the logs: each scrape held back the reaction to every
 * line behind it. Here a thread counts on its own connection and the
 * requests read its last result.
 * How it learns of changes: PRAGMA data_version on its own connection
 * changes when another connection commits, so a poll every POLL_MS costs a
 * few µs and needs no hook in the writer.
 * Guarantees: counts are at most REFRESH_MS old, and follow a change within
 * about a second (longer only when counting itself takes over 100 ms: the
 * thread then waits ten times the count's duration, so it never spends
 * more than a tenth of a CPU). Never: writes to the database. */
#include "ledger/counter.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "ledger/ledger.h"

#define POLL_MS 250
#define MIN_GAP_MS 1000
#define REFRESH_MS 10000

struct counter {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* a count done, or stop */
	sqlite3 *db;                /* the thread's own connection */
	sqlite3_stmt *all, *active, *version;
	/* Guarded by mu: the last result. */
	bool counted, failed, stop;
	struct ledger_counts last;
	char error[256];
};

/* Steps a one-value statement; returns 0 with *out, or -1. */
static int step_int(sqlite3_stmt *st, int64_t *out)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Both counts in one read transaction, so they agree with each other. */
static void count_now(struct counter *c)
{
	struct ledger_counts n = {.counted_us = clock_realtime_us()};
	int64_t all = 0, active = 0;
	bool ok = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
		  sqlite3_bind_int64(c->active, 1, n.counted_us) == SQLITE_OK && step_int(c->active, &active) == 0 &&
		  step_int(c->all, &all) == 0;
	char why[sizeof(c->error)];
	snprintf(why, sizeof(why), "count: %s", sqlite3_errmsg(c->db));
	sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
	n.sanctions = (uint64_t)all;
	n.active = (uint64_t)active;
	pthread_mutex_lock(&c->mu);
	c->counted = true;
	c->failed = !ok;
	if (ok)
		c->last = n;
	else
		snprintf(c->error, sizeof(c->error), "%s", why);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Sleeps POLL_MS, or until stopped; returns false when stopped. */
static bool nap(struct counter *c)
{
	pthread_mutex_lock(&c->mu);
	if (!c->stop)
		clock_cond_wait_ms(&c->cv, &c->mu, POLL_MS);
	bool go_on = !c->stop;
	pthread_mutex_unlock(&c->mu);
	return go_on;
}

static void *counter_main(void *arg)
{
	struct counter *c = arg;
	int64_t version = -1, seen = -1, last_ms = 0, gap_ms = MIN_GAP_MS;
	do {
		if (step_int(c->version, &version) != 0)
			version = -1;   /* unknown: the refresh still comes */
		int64_t now = clock_monotonic_ms();
		bool changed = version != seen || version < 0;
		if (seen == -1 || (changed && now - last_ms >= gap_ms) || now - last_ms >= REFRESH_MS) {
			seen = version;
			count_now(c);
			last_ms = clock_monotonic_ms();
			gap_ms = 10 * (last_ms - now) > MIN_GAP_MS ? 10 * (last_ms - now) : MIN_GAP_MS;
		}
	} while (nap(c));
	return NULL;
}

static int prepare(struct counter *c, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "counter: %s", sqlite3_errmsg(c->db));
	return -1;
}

static void close_own(struct counter *c)
{
	sqlite3_finalize(c->all);
	sqlite3_finalize(c->active);
	sqlite3_finalize(c->version);
	sqlite3_close_v2(c->db);
}

static int open_own(struct counter *c, sqlite3 *db, const char *sql_all, const char *sql_active, char *err,
		    size_t errlen)
{
	const char *path = sqlite3_db_filename(db, "main");
	if (!path || sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "counter: open: %s", c->db ? sqlite3_errmsg(c->db) : "no file name");
		return -1;
	}
	/* A writer's transaction never blocks readers in WAL mode; a checkpoint
	 * that resets the WAL can, for a moment. */
	sqlite3_busy_timeout(c->db, 1000);
	if (prepare(c, sql_all, &c->all, err, errlen) != 0 || prepare(c, sql_active, &c->active, err, errlen) != 0 ||
	    prepare(c, "PRAGMA data_version", &c->version, err, errlen) != 0)
		return -1;
	return 0;
}

struct counter *counter_start(sqlite3 *db, const char *sql_all, const char *sql_active, char *err,
			      size_t errlen)
{
	struct counter *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "counter: out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	bool started = open_own(c, db, sql_all, sql_active, err, errlen) == 0;
	if (started && pthread_create(&c->thread, NULL, counter_main, c) != 0) {
		snprintf(err, errlen, "counter: cannot start its thread");
		started = false;
	}
	if (!started) {
		close_own(c);
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return NULL;
	}
	return c;
}

int counter_get(struct counter *c, struct ledger_counts *out, char *err, size_t errlen)
{
	pthread_mutex_lock(&c->mu);
	while (!c->counted)
		pthread_cond_wait(&c->cv, &c->mu);
	*out = c->last;
	bool failed = c->failed;
	if (failed)
		snprintf(err, errlen, "%s", c->error);
	pthread_mutex_unlock(&c->mu);
	return failed ? -1 : 0;
}

void counter_stop(struct counter *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	close_own(c);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
