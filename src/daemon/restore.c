/* restore.c: the ledger's active sanctions put back into the kernel's sets
 * and into the engine (daemon_restore(), at start and when the table was
 * deleted behind pactod's back).
 * Why two threads: at a million sanctions the two halves cost about the
 * same (bench/scale, perf): reading the rows from SQLite and telling the
 * engine, and the kernel's work on each netlink batch, which runs on the
 * thread that sends it. The caller's thread reads; a helper thread feeds
 * the firewall, a chunk behind. A cold start then costs the longer half,
 * not their sum.
 * Guarantees: the same sanctions reach the firewall and the engine as with
 * one thread, in ledger order; an address the firewall would refuse is
 * skipped for both (checked before it is queued); only the helper touches
 * the firewall, and only until daemon_restore() returns; a failed commit
 * stops the reading too. Memory: NCHUNKS chunks, whatever the ledger.
 * What is in force but not in the ledger yet counts as the ledger's does
 * (daemon_in_force): a sanction lifted by hand whose lift the ledger
 * refused is left out, and this host's sanctions held by the recorder (the
 * ledger refusing writes) are put back after the ledger's, on the
 * caller's thread, once the helper is done. At start none is held. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/daemon.h"
#include "daemon/firewall.h"
#include "detect/engine.h"
#include "ledger/ledger.h"

#define CHUNK 4096
#define NCHUNKS 4
#define COMMIT_EVERY 1000   /* elements per netlink transaction */

struct chunk {
	struct addr keys[CHUNK];
	int64_t seconds[CHUNK];
	size_t n;
};

struct restore {
	struct daemon *d;
	int64_t now_us;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* a chunk filled or drained, the end, a failure */
	struct chunk *chunks;       /* a ring of NCHUNKS */
	uint64_t filled, drained;   /* chunks handed to the helper, and done by it */
	bool end, failed;           /* guarded by mu */
	/* The reader's: */
	size_t restored, skipped;
	/* The helper's, read after it ends: */
	size_t queued, refused;
	char err[256];
};

/* ---- the helper: chunks into the firewall ---- */

static bool add_chunk(struct restore *r, const struct chunk *c)
{
	for (size_t i = 0; i < c->n; i++) {
		if (firewall_add(r->d->fw, &c->keys[i], c->seconds[i], r->err, sizeof(r->err)) != 0) {
			log_warnx("firewall: restore: %s (skipped)", r->err);
			r->refused++;
			continue;
		}
		if (++r->queued % COMMIT_EVERY == 0 && firewall_commit(r->d->fw, r->err, sizeof(r->err)) != 0)
			return false;
	}
	return true;
}

static void *helper_main(void *arg)
{
	struct restore *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->drained == r->filled && !r->end && !r->failed)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->failed || r->drained == r->filled)
			break;      /* the end, with every chunk done */
		struct chunk *c = &r->chunks[r->drained % NCHUNKS];
		pthread_mutex_unlock(&r->mu);
		bool ok = add_chunk(r, c);
		pthread_mutex_lock(&r->mu);
		r->drained++;
		r->failed |= !ok;
		pthread_cond_broadcast(&r->cv);
	}
	bool failed = r->failed;
	pthread_mutex_unlock(&r->mu);
	if (!failed && firewall_commit(r->d->fw, r->err, sizeof(r->err)) != 0) {
		pthread_mutex_lock(&r->mu);
		r->failed = true;
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

/* ---- the reader: ledger rows into chunks and the engine ---- */

/* Hands the chunk being filled to the helper, waiting for room; false once
 * the helper failed. */
static bool hand_over(struct restore *r)
{
	pthread_mutex_lock(&r->mu);
	r->filled++;
	pthread_cond_broadcast(&r->cv);
	while (r->filled - r->drained == NCHUNKS && !r->failed)
		pthread_cond_wait(&r->cv, &r->mu);
	bool go_on = !r->failed;
	pthread_mutex_unlock(&r->mu);
	if (go_on)
		r->chunks[r->filled % NCHUNKS].n = 0;
	return go_on;
}

static int restore_one(void *arg, const struct ledger_sanction *s)
{
	struct restore *r = arg;
	int64_t seconds = (s->expires_us - r->now_us + 999999) / 1000000;
	if (seconds <= 0 || recorder_lifted(r->d->recorder, &s->addr, s->id))
		return 0;
	const char *why = firewall_check(r->d->fw, &s->addr);
	if (why) {
		char text[ADDR_STRLEN];
		log_warnx("firewall: restore: %s refused: %s (skipped)", addr_format(&s->addr, text, sizeof(text)), why);
		r->skipped++;
		return 0;
	}
	struct chunk *c = &r->chunks[r->filled % NCHUNKS];
	c->keys[c->n] = s->addr;
	c->seconds[c->n++] = seconds;
	engine_impose(r->d->engine, &s->addr, s->expires_us);
	r->restored++;
	return c->n == CHUNK && !hand_over(r) ? 1 : 0;
}

/* Reads the ledger with the helper running; false when reading failed. */
static bool read_ledger(struct restore *r, pthread_t helper, char *err, size_t errlen)
{
	bool read = ledger_each_active(r->d->ledger, r->now_us, restore_one, r, err, errlen) == 0;
	pthread_mutex_lock(&r->mu);
	if (r->chunks[r->filled % NCHUNKS].n)
		r->filled++;                /* the last, partly filled chunk */
	r->end = true;
	r->failed |= !read;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(helper, NULL);
	return read;
}

/* ---- then the sanctions not recorded yet ---- */

struct pending {
	struct daemon *d;
	int64_t now_us;
	size_t restored, refused;
	char err[256];
};

/* Each to the latest end in force for its key (the ledger's too: added
 * after the ledger's, this add is the one the kernel keeps). */
static void restore_pending(void *arg, const struct addr *key, int64_t until_us)
{
	struct pending *p = arg;
	(void)until_us;
	struct daemon_in_force f = daemon_in_force(p->d, key, p->now_us);
	if (firewall_add(p->d->fw, key, (f.until_us - p->now_us + 999999) / 1000000, p->err, sizeof(p->err)) != 0) {
		log_warnx("firewall: restore: %s (skipped)", p->err);
		p->refused++;
		return;
	}
	engine_impose(p->d->engine, key, f.until_us);
	p->restored++;
}

static int restore_held(struct daemon *d, int64_t now_us, char *err, size_t errlen)
{
	struct pending p = {.d = d, .now_us = now_us};
	recorder_each_pending(d->recorder, now_us, restore_pending, &p);
	if (p.restored && firewall_commit(d->fw, err, errlen) != 0)
		return -1;
	if (p.restored || p.refused)
		log_info("firewall: %zu sanction%s not recorded yet restored%s", p.restored, p.restored == 1 ? "" : "s",
			 p.refused ? " (some skipped)" : "");
	return 0;
}

int daemon_restore(struct daemon *d, char *err, size_t errlen)
{
	if (firewall_reset(d->fw, err, errlen) != 0)
		return -1;
	struct restore *r = xcalloc(1, sizeof(*r));
	r->d = d;
	r->now_us = daemon_now_us();
	r->chunks = xcalloc(NCHUNKS, sizeof(*r->chunks));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	pthread_t helper;
	int rc = -1;
	if (pthread_create(&helper, NULL, helper_main, r) != 0)
		snprintf(err, errlen, "restore: cannot start a thread");
	else if (read_ledger(r, helper, err, errlen) && r->failed)
		snprintf(err, errlen, "%s", r->err);     /* the firewall's error */
	else if (!r->failed)
		rc = 0;
	if (rc == 0) {
		log_info("firewall: %zu sanctions restored from the ledger%s", r->restored - r->refused,
			 r->skipped + r->refused ? " (some skipped)" : "");
		rc = restore_held(d, r->now_us, err, errlen);
	}
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->chunks);
	free(r);
	return rc;
}
