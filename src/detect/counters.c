/* counters.c: sliding windows of failure times per source (see counters.h).
 * Each entry is a ring of the last `threshold` failure times: a failure
 * more than a window away from the newest one falls out when it arrives,
 * whichever side it is on. Logs can go back in time (files replayed newest
 * first, hosts whose clocks disagree): a failure from the "future" must not
 * join a window it is not part of. */
#include "detect/counters.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "detect/lru.h"

struct counters {
	struct lru *table;
	unsigned threshold;
	int64_t window_us;
	/* Forgetting stale sources (forget_stale): */
	int64_t late_us;     /* how far behind the latest a failure may come and count exactly */
	int64_t latest_us;   /* the latest failure time taken as now; INT64_MIN before the first */
	int64_t ahead_us;    /* a failure far ahead of latest, until the next confirms it; INT64_MIN: none */
	int64_t calm_until;  /* the oldest source kept at the last check stays until latest passes this */
	bool disordered;     /* the times were not in order: forgetting is off for good */
};

/* The value stored per source; times[] has `threshold` slots. */
struct window {
	uint32_t head;   /* index of the oldest time */
	uint32_t n;      /* times held */
	int64_t times[];
};

struct counters *counters_new(size_t capacity, unsigned threshold, int64_t window_us, int64_t late_us,
			      uint64_t seed)
{
	struct counters *c = xcalloc(1, sizeof(*c));
	c->threshold = threshold ? threshold : 1;
	c->window_us = window_us;
	c->late_us = late_us > window_us ? late_us : window_us;
	c->latest_us = c->ahead_us = c->calm_until = INT64_MIN;
	/* Sums below must not overflow; no configurable duration comes near. */
	c->disordered = c->window_us > INT64_MAX / 8 || c->late_us > INT64_MAX / 8;
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

/* Keeps, in order, only the times less than a window away from now. */
static void window_drop_far(struct window *w, unsigned cap, int64_t now_us, int64_t window_us)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < w->n; i++) {
		int64_t t = w->times[(w->head + i) % cap];
		if (now_us - t < window_us && t - now_us < window_us)
			w->times[(w->head + kept++) % cap] = t;
	}
	w->n = kept;
}

/* The oldest (or newest) time of a window that holds at least one. */
static int64_t window_end(const struct window *w, unsigned cap, bool newest)
{
	int64_t end = w->times[w->head];
	for (uint32_t i = 1; i < w->n; i++) {
		int64_t t = w->times[(w->head + i) % cap];
		if (newest ? t > end : t < end)
			end = t;
	}
	return end;
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
	return counters_hit_hashed(c, key, lru_hash(c->table, key), now_us);
}

/* Follows the failures' times. The latest moves on with them; a time more
 * than late_us ahead becomes the latest only when the next failure comes
 * near it (one misdated line must not age every other source), and a
 * failure more than late_us behind, or a time far ahead that the next
 * failure does not confirm, shows times out of order: forgetting is then
 * off for the rest of the input. Returns whether the latest moved on. */
static bool follow_time(struct counters *c, int64_t t)
{
	if (c->disordered)
		return false;
	if (c->latest_us == INT64_MIN) {
		c->latest_us = t;
		return false;
	}
	if (c->ahead_us != INT64_MIN) {
		if (t <= c->ahead_us - c->late_us || t >= c->ahead_us + c->late_us) {
			c->disordered = true;   /* a time far ahead, then one that is not near it */
			return false;
		}
		c->latest_us = t > c->ahead_us ? t : c->ahead_us;
		c->ahead_us = INT64_MIN;
		return true;
	}
	if (t < c->latest_us - c->late_us) {
		c->disordered = true;
		return false;
	}
	if (t <= c->latest_us)
		return false;
	if (t - c->latest_us > c->late_us) {
		c->ahead_us = t;
		return false;
	}
	c->latest_us = t;
	return true;
}

/* Forgets the least recently seen sources whose newest failure lies more
 * than window + late_us behind the latest: a failure up to late_us behind
 * the latest would find none of their times in its window, so forgetting
 * them changes no count. Why: without it the table kept every source seen
 * until it filled (63,000 sources, 7 MB, in bench/replay's log), and every
 * lookup missed the cache. Sources more recently seen than a stale one
 * wait for it to go first. The oldest source kept is not looked at again
 * (a miss per failure when the table is large) until the latest time has
 * passed the point where it goes stale: forgetting later is always safe. */
static void forget_stale(struct counters *c)
{
	if (c->latest_us <= c->calm_until)
		return;
	int64_t stale_before = c->latest_us - c->window_us - c->late_us;
	struct window *w;
	while ((w = lru_oldest(c->table, NULL))) {
		int64_t newest = w->n ? window_end(w, c->threshold, true) : INT64_MIN;
		if (newest >= stale_before) {
			c->calm_until = newest + c->window_us + c->late_us;
			return;
		}
		lru_remove_value(c->table, w);
	}
}

struct window_result counters_hit_hashed(struct counters *c, const struct addr *key, uint32_t hash,
					 int64_t now_us)
{
	if (follow_time(c, now_us))
		forget_stale(c);
	struct window *w = lru_get_hashed(c->table, key, hash, true, NULL);
	window_drop_far(w, c->threshold, now_us, c->window_us);
	window_push(w, c->threshold, now_us);
	struct window_result r = {
		.in_window = w->n,
		.first_us = window_end(w, c->threshold, false),
		.reached = w->n >= c->threshold,
	};
	if (r.reached)
		lru_remove(c->table, key);
	return r;
}

struct lru_hasher counters_hasher(const struct counters *c)
{
	return lru_hasher(c->table);
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
