/* lru.h: a bounded hash table that forgets its least recently used entry.
 * Why: per-source counters, open sshd connections and offenders are keyed by
 * what attackers choose (addresses, pids, ports); memory must stay bounded
 * whatever they send, and lookups must be cheap on the hot path.
 * Guarantees: at most `capacity` entries, fixed-size keys and values; the
 * table grows with use up to that bound and never past it; an insert into
 * a full table evicts the least recently used entry, hands it to the evict
 * callback first (which must not touch the table), and counts it. Keys are compared as bytes, so
 * callers zero any padding.
 * Ownership: the table owns its storage; value pointers stay valid until the
 * next lru_get(create=true) or lru_remove(). */
#ifndef PACTO_LRU_H
#define PACTO_LRU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lru;

typedef void (*lru_evict_fn)(void *arg, const void *key, void *value);

/* capacity >= 1; key_size >= 1. The seed keys the hash (pick it at random). */
struct lru *lru_new(size_t capacity, size_t key_size, size_t value_size, uint64_t seed,
		    lru_evict_fn on_evict, void *evict_arg);
void lru_free(struct lru *t);  /* accepts NULL */

/* Returns the value for key, marking it most recently used, or NULL when
 * absent and !create. A created value is zeroed and *created set. */
void *lru_get(struct lru *t, const void *key, bool create, bool *created);

/* Lookups in two steps, for callers that know their keys ahead (replay's
 * batches): lru_hash() is the key's hash (pure: the seed never changes);
 * lru_get_hashed() is lru_get() with the hash known.
 * (Prefetching the slots and entries ahead was tried and removed: no gain
 * in interleaved A/B runs, docs/performance.md.) */
uint32_t lru_hash(const struct lru *t, const void *key);
void *lru_get_hashed(struct lru *t, const void *key, uint32_t hash, bool create, bool *created);

/* What hashing a key takes, as a value: another thread that hashes keys
 * ahead (replay's scanners) keeps its own copy and never reads the table,
 * whose header the applying thread writes on every lookup (read from
 * another CPU, that cache line went back and forth: docs/performance.md,
 * "Session 6"). lru_hasher_hash(&h, key) == lru_hash(t, key). */
struct lru_hasher {
	uint64_t seed;
	size_t key_size;
};
struct lru_hasher lru_hasher(const struct lru *t);
uint32_t lru_hasher_hash(const struct lru_hasher *h, const void *key);
/* a and b give every key the same hash. */
bool lru_hasher_same(const struct lru_hasher *a, const struct lru_hasher *b);

/* Removes key if present (no callback). */
void lru_remove(struct lru *t, const void *key);

/* Removes the entry whose value lru_get() returned (still valid: no
 * lru_get(create=true) or removal since), without hashing its key again. */
void lru_remove_value(struct lru *t, void *value);

/* The least recently used entry, or NULL when empty. */
void *lru_oldest(struct lru *t, const void **key);

size_t lru_count(const struct lru *t);
size_t lru_capacity(const struct lru *t);
uint64_t lru_evictions(const struct lru *t);

/* Bytes the table holds now, and the most it can ever hold. */
size_t lru_memory(const struct lru *t);
size_t lru_max_memory(const struct lru *t);

#endif
