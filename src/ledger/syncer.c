/* syncer.c: the ledger's background checkpointer: durability off the
 * caller's thread.
 * Why: with synchronous=FULL each commit waits for an fsync of the WAL:
 * 1.4 ms on a quiet disk, tens of ms on a busy one. pactod commits after
 * every sanction on the thread that reads the logs, so the next line waited
 * behind the previous sanction's fsync: the worst reaction times of pactod
 * were that wait (docs/performance.md). Here the daemon's connection
 * commits with synchronous=NORMAL (no fsync; still atomic and consistent,
 * and safe from kill -9 once the commit returns, since the WAL is written),
 * and this thread makes each commit durable against power loss a moment
 * later, with a PASSIVE checkpoint on its own connection, which never
 * blocks the writer.
 * How it learns of commits: sqlite3_wal_hook on the owner's connection,
 * called after every commit (which also turns SQLite's automatic
 * checkpoints off there: checkpoints, and their fsyncs, happen only here).
 * Guarantees: a commit counts as durable only after a checkpoint that
 * copied every frame of the WAL (the WAL was fsynced first and the database
 * after); a partial checkpoint (a reader holding an old snapshot) is
 * retried. Never: touches the owner's connection from its own thread. */
#include "ledger/syncer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/log.h"

/* Between attempts when a checkpoint could not copy every frame. */
#define RETRY_MS 10
/* Attempts in a row before syncer_wait() stops waiting for this round. */
#define MAX_FAILURES 50

/* committed counts the owner's commits, durable those known to be on disk;
 * durable <= committed, both guarded by mu. */
struct syncer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;   /* new commit, stop, or progress */
	sqlite3 *db;         /* the thread's own connection */
	uint64_t committed, durable;
	unsigned failures;   /* checkpoints in a row that did not complete */
	bool stop;
};

static int on_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct syncer *s = arg;
	(void)db;
	(void)name;
	(void)frames;
	pthread_mutex_lock(&s->mu);
	s->committed++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return SQLITE_OK;
}

/* True when every frame of the WAL is now in the database, on disk. */
static bool checkpoint(struct syncer *s)
{
	int frames = 0, copied = 0;
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		log_warnx("ledger: checkpoint: %s", sqlite3_errmsg(s->db));
	return rc == SQLITE_OK && copied >= frames;
}

static void pause_retry(struct syncer *s)
{
	clock_cond_wait_ms(&s->cv, &s->mu, RETRY_MS);
}

static void *syncer_main(void *arg)
{
	struct syncer *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && s->durable == s->committed)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->durable == s->committed || (s->stop && s->failures >= MAX_FAILURES))
			break;  /* stopping: done, or giving up (closing the last connection checkpoints) */
		uint64_t target = s->committed;
		pthread_mutex_unlock(&s->mu);
		bool done = checkpoint(s);
		pthread_mutex_lock(&s->mu);
		if (done) {
			s->durable = target;
			s->failures = 0;
		} else if (++s->failures % MAX_FAILURES != 0) {
			pause_retry(s);
		} else {
			s->durable = target;  /* let waiters go; the next commit tries again */
		}
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int open_own(struct syncer *s, sqlite3 *db, char *err, size_t errlen)
{
	const char *path = sqlite3_db_filename(db, "main");
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	if (!path || sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "checkpointer: open: %s", s->db ? sqlite3_errmsg(s->db) : "out of memory");
		return -1;
	}
	return 0;
}

struct syncer *syncer_start(sqlite3 *db, char *err, size_t errlen)
{
	struct syncer *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "checkpointer: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (open_own(s, db, err, errlen) != 0)
		goto fail;
	if (pthread_create(&s->thread, NULL, syncer_main, s) != 0) {
		snprintf(err, errlen, "checkpointer: cannot start its thread");
		goto fail;
	}
	sqlite3_wal_hook(db, on_commit, s);
	if (sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
		log_warnx("ledger: PRAGMA synchronous = NORMAL: %s (commits keep their fsync)", sqlite3_errmsg(db));
	return s;
fail:
	sqlite3_close_v2(s->db);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return NULL;
}

void syncer_wait(struct syncer *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t target = s->committed;
	while (s->durable < target)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

void syncer_stop(struct syncer *s, sqlite3 *db)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	sqlite3_wal_autocheckpoint(db, 1000);  /* SQLite's default hook again */
	sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
	sqlite3_close_v2(s->db);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
