/* harness.h: a detection engine over the stock rules for unit tests, with
 * lines stamped at chosen times and every verdict and sanction recorded.
 * Why: tests state what a log means (sanctions, failures per source), not
 * how the engine computes it. Header-only so each test binary owns one. */
#ifndef PACTO_TEST_HARNESS_H
#define PACTO_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/cli.h"
#include "detect/engine.h"

#define H_MAX 4096
#define T0 1795737600LL   /* 2026-11-27T00:00:00Z */

struct harness {
	struct ruleset *rs;
	struct engine *e;
	struct engine_config cfg;
	struct sanction sanctions[H_MAX];
	size_t nsanctions;
	struct { char key[ADDR_STRLEN]; unsigned failures; } keys[H_MAX];
	size_t nkeys;
	enum verdict last_verdict;
	size_t ntraces;
	bool overflowed;          /* more than H_MAX sources: per-source counts incomplete */
};

/* Counts are asked for only when they are complete. */
static inline void h_check_complete(const struct harness *h)
{
	if (h->overflowed) {
		fprintf(stderr, "harness: more than %d sources were counted; raise H_MAX\n", H_MAX);
		abort();
	}
}

static inline void h_count(struct harness *h, const struct addr *key)
{
	char text[ADDR_STRLEN];
	addr_format(key, text, sizeof(text));
	for (size_t i = 0; i < h->nkeys; i++)
		if (strcmp(h->keys[i].key, text) == 0) {
			h->keys[i].failures++;
			return;
		}
	if (h->nkeys == H_MAX) {
		h->overflowed = true;   /* counts are no longer complete: see h_failures */
		return;
	}
	snprintf(h->keys[h->nkeys].key, ADDR_STRLEN, "%s", text);
	h->keys[h->nkeys++].failures = 1;
}

static inline void h_on_trace(void *arg, const struct trace *t)
{
	struct harness *h = arg;
	h->last_verdict = t->verdict;
	h->ntraces++;
	if (t->verdict == VERDICT_COUNTED || t->verdict == VERDICT_PENDING_COUNTED ||
	    t->verdict == VERDICT_SANCTIONED)
		h_count(h, &t->key);
}

static inline void h_on_sanction(void *arg, const struct sanction *s)
{
	struct harness *h = arg;
	if (h->nsanctions < H_MAX)
		h->sanctions[h->nsanctions++] = *s;
}

/* threshold 0 keeps the stock threshold; a large one lets a test count
 * failures without sanctions getting in the way. */
static inline void h_start_with(struct harness *h, unsigned threshold, const struct engine_config *base)
{
	memset(h, 0, sizeof(*h));
	struct errors errs = {0};
	if (ruleset_load_texts(stock_rules, nstock_rules, &h->rs, &errs) != 0)
		abort();
	for (size_t i = 0; threshold && i < h->rs->nscenarios; i++)
		if (!h->rs->scenarios[i].counts_sanctions)
			h->rs->scenarios[i].threshold = threshold;
	if (base)
		h->cfg = *base;
	h->cfg.use_log_time = true;
	h->cfg.trust_bare = !base || base->trust_bare;
	h->cfg.reference_us = T0 * 1000000LL;
	h->cfg.seed = 1;
	h->cfg.on_trace = h_on_trace;
	h->cfg.on_sanction = h_on_sanction;
	h->cfg.trace_all = true;
	h->cfg.arg = h;
	h->e = engine_new(h->rs, &h->cfg);
}

static inline void h_start(struct harness *h, unsigned threshold)
{
	h_start_with(h, threshold, NULL);
}

static inline void h_stop(struct harness *h)
{
	engine_free(h->e);
	ruleset_free(h->rs);
}

/* Feeds "<RFC 3339 time T0+t> web1 PROG[pid]: msg". */
static inline void h_line_prog(struct harness *h, long t, const char *prog, int pid, const char *msg)
{
	char line[ENGINE_MAX_LINE + 64], when[32];
	time_t secs = (time_t)(T0 + t);
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	int n = snprintf(line, sizeof(line), "%s web1 %s[%d]: %s", when, prog, pid, msg);
	engine_feed_line(h->e, line, (size_t)n, (T0 + t) * 1000000LL);
}

static inline void h_line(struct harness *h, long t, int pid, const char *msg)
{
	h_line_prog(h, t, "sshd", pid, msg);
}

/* A stock scenario by name (aborts when there is none). */
static inline struct scenario *h_scenario(struct harness *h, const char *name)
{
	for (size_t i = 0; i < h->rs->nscenarios; i++)
		if (strcmp(h->rs->scenarios[i].name, name) == 0)
			return &h->rs->scenarios[i];
	abort();
}

/* Feeds a line as it is (a server's own log: no syslog header added). */
static inline void h_raw(struct harness *h, const char *line)
{
	engine_feed_line(h->e, line, strlen(line), T0 * 1000000LL);
}

/* Failures counted so far under key ("192.0.2.1", "2001:db8::/64"). */
static inline unsigned h_failures(const struct harness *h, const char *key)
{
	h_check_complete(h);
	for (size_t i = 0; i < h->nkeys; i++)
		if (strcmp(h->keys[i].key, key) == 0)
			return h->keys[i].failures;
	return 0;
}

static inline unsigned h_total_failures(const struct harness *h)
{
	h_check_complete(h);
	unsigned n = 0;
	for (size_t i = 0; i < h->nkeys; i++)
		n += h->keys[i].failures;
	return n;
}

#endif
