/* counters.h: per-source failure counts over sliding windows.
 * Why: decide when a source becomes an aggression, in bounded memory.
 * Guarantees: at most `capacity` sources per table; the least recently seen
 * is evicted and counted. A window holds the times of the last `threshold`
 * failures, so the decision is exact, not a bucket approximation. While
 * the failures' times keep in order, a source whose newest failure lies
 * more than window + late_us behind the latest may be forgotten (checked
 * as time moves on; not counted as an eviction): a failure up to late_us
 * behind the latest still counts exactly as if nothing were forgotten.
 * Times out of order by more than late_us turn forgetting off for good.
 * Never: does I/O or reads the clock (time is passed in). */
#ifndef PACTO_COUNTERS_H
#define PACTO_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"
#include "detect/lru.h"

struct counters;

/* late_us: how far behind the latest failure a failure may legitimately
 * come (a pending failure counts at its connection's last line): at least
 * the window is used. */
struct counters *counters_new(size_t capacity, unsigned threshold, int64_t window_us, int64_t late_us,
			      uint64_t seed);
void counters_free(struct counters *c);  /* accepts NULL */

struct window_result {
	unsigned in_window;     /* failures of this source inside the window, this one included */
	int64_t first_us;       /* the oldest of them */
	bool reached;           /* in_window reached the threshold */
};

/* Records one failure of key at now_us. When the threshold is reached the
 * source's window is cleared (the caller sanctions it). */
struct window_result counters_hit(struct counters *c, const struct addr *key, int64_t now_us);

/* counters_hit() in two steps, for a caller that knows its keys ahead (see
 * lru_hasher): the hash (lru_hasher_hash with this hasher), then the hit
 * with the hash known. */
struct lru_hasher counters_hasher(const struct counters *c);
struct window_result counters_hit_hashed(struct counters *c, const struct addr *key, uint32_t hash,
					 int64_t now_us);

/* Forgets key (after a sanction was lifted, for instance). */
void counters_forget(struct counters *c, const struct addr *key);

size_t counters_count(const struct counters *c);
uint64_t counters_evictions(const struct counters *c);
size_t counters_memory(const struct counters *c);
size_t counters_max_memory(const struct counters *c);

#endif
