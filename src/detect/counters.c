/* counters.c: sliding windows of failure times per source (see counters.h).
 * Each entry is a ring of the last `threshold` failure times: a failure
 * older than the window falls out when the next one arrives. */
#include "detect/counters.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "detect/lru.h"

struct counters {
	struct lru *table;
	unsigned threshold;
	int64_t window_us;
};

/* The value stored per source; times[] has `threshold` slots. */
struct window {
	uint32_t head;   /* index of the oldest time */
	uint32_t n;      /* times held */
	int64_t times[];
};

struct counters *counters_new(size_t capacity, unsigned threshold, int64_t window_us, uint64_t seed)
{
	struct counters *c = xcalloc(1, sizeof(*c));
	c->threshold = threshold ? threshold : 1;
	c->window_us = window_us;
	c->table = lru_new(capacity, sizeof(struct addr),
			   sizeof(struct window) + c->threshold * sizeof(int64_t), seed, NULL, NULL);
	return c;
}

void counters_free(struct counters *c)
{
	if (!c)
		return;
	lru_free(c->table);
	free(c);
}

static void window_drop_old(struct window *w, unsigned cap, int64_t now_us, int64_t window_us)
{
	while (w->n > 0 && now_us - w->times[w->head] >= window_us) {
		w->head = (w->head + 1) % cap;
		w->n--;
	}
}

static void window_push(struct window *w, unsigned cap, int64_t t)
{
	if (w->n == cap) {               /* full: the oldest makes room */
		w->head = (w->head + 1) % cap;
		w->n--;
	}
	w->times[(w->head + w->n) % cap] = t;
	w->n++;
}

struct window_result counters_hit(struct counters *c, const struct addr *key, int64_t now_us)
{
	struct window *w = lru_get(c->table, key, true, NULL);
	window_drop_old(w, c->threshold, now_us, c->window_us);
	window_push(w, c->threshold, now_us);
	struct window_result r = {
		.in_window = w->n,
		.first_us = w->times[w->head],
		.reached = w->n >= c->threshold,
	};
	if (r.reached)
		lru_remove(c->table, key);
	return r;
}

void counters_forget(struct counters *c, const struct addr *key)
{
	lru_remove(c->table, key);
}

size_t counters_count(const struct counters *c)
{
	return lru_count(c->table);
}

uint64_t counters_evictions(const struct counters *c)
{
	return lru_evictions(c->table);
}

size_t counters_memory(const struct counters *c)
{
	return lru_memory(c->table);
}

size_t counters_max_memory(const struct counters *c)
{
	return lru_max_memory(c->table);
}
