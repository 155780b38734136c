/* lru.c: open-addressing hash table with an intrusive recency list (see lru.h).
 * Layout: entries live in one array; an index of twice as many slots, a
 * power of two, maps hashes to entries by linear probing. Deletion shifts
 * later probes back, so there are no tombstones and probe chains never rot
 * under churn.
 * Growth: both arrays start small and double when full, up to `capacity`,
 * then the table evicts instead. Measured (bench/replay): allocating the
 * whole bound up front cost ~40 ms of page faults per run and a cache miss
 * per lookup, for tables that mostly hold a few thousand sources.
 * Invariant: every used entry is in the index exactly once and in the
 * recency list exactly once; free entries are chained through `next`. */
#include "detect/lru.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define NIL UINT32_MAX

struct slot {
	uint32_t entry;   /* NIL when empty */
	uint32_t hash;    /* the entry's hash, to skip most key compares */
};

struct entry_head {
	uint32_t prev, next;  /* recency list (most recent at t->head), or free list */
	uint32_t hash;
	uint32_t pad;
};

#define INITIAL_ENTRIES 1024

struct lru {
	struct lru_hasher hasher;   /* its key_size is the table's */
	size_t capacity, key_stride, value_size, entry_size;
	size_t allocated;        /* entries allocated so far, <= capacity */
	size_t used_high;        /* entries [0, used_high) have been handed out */
	size_t count;
	uint64_t evictions;
	unsigned char *entries;
	struct slot *index;
	size_t index_mask;
	uint32_t head, tail, free_list;
	lru_evict_fn on_evict;
	void *evict_arg;
};

static size_t round_up(size_t n, size_t align)
{
	return (n + align - 1) / align * align;
}

static struct entry_head *entry_at(const struct lru *t, uint32_t i)
{
	return (struct entry_head *)(void *)(t->entries + (size_t)i * t->entry_size);
}

static unsigned char *entry_key(const struct lru *t, uint32_t i)
{
	return (unsigned char *)entry_at(t, i) + sizeof(struct entry_head);
}

static unsigned char *entry_value(const struct lru *t, uint32_t i)
{
	return entry_key(t, i) + t->key_stride;
}

/* A keyed mix of the key's bytes, eight at a time (keys are small). */
uint32_t lru_hasher_hash(const struct lru_hasher *hs, const void *key)
{
	const unsigned char *p = key;
	uint64_t h = hs->seed ^ (hs->key_size * 0x9e3779b97f4a7c15ULL);
	size_t n = hs->key_size;
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	h ^= h >> 29;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 32;
	return (uint32_t)h;
}

bool lru_hasher_same(const struct lru_hasher *a, const struct lru_hasher *b)
{
	return a->seed == b->seed && a->key_size == b->key_size;
}

static uint32_t key_hash(const struct lru *t, const void *key)
{
	return lru_hasher_hash(&t->hasher, key);
}

struct lru_hasher lru_hasher(const struct lru *t)
{
	return t->hasher;
}

static void index_alloc(struct lru *t, size_t entries)
{
	size_t slots = 2;
	while (slots < entries * 2)
		slots *= 2;
	t->index = xmalloc(slots * sizeof(*t->index));
	for (size_t i = 0; i < slots; i++)
		t->index[i].entry = NIL;
	t->index_mask = slots - 1;
}

struct lru *lru_new(size_t capacity, size_t key_size, size_t value_size, uint64_t seed,
		    lru_evict_fn on_evict, void *evict_arg)
{
	if (capacity < 1)
		capacity = 1;
	if (capacity > NIL / 4)
		capacity = NIL / 4;
	struct lru *t = xcalloc(1, sizeof(*t));
	t->capacity = capacity;
	t->key_stride = round_up(key_size, 8);   /* keeps values 8-byte aligned */
	t->value_size = value_size;
	t->entry_size = sizeof(struct entry_head) + t->key_stride + round_up(value_size, 8);
	t->hasher = (struct lru_hasher){.seed = seed, .key_size = key_size};
	t->on_evict = on_evict;
	t->evict_arg = evict_arg;
	t->allocated = capacity < INITIAL_ENTRIES ? capacity : INITIAL_ENTRIES;
	t->entries = xcalloc(t->allocated, t->entry_size);
	index_alloc(t, t->allocated);
	t->head = t->tail = NIL;
	t->free_list = NIL;
	return t;
}

/* Doubles the entry array (up to capacity) and rebuilds the index. Entries
 * keep their numbers, so the recency list stays valid. The new index is
 * filled from the old one, read in order: the slots hold every entry's
 * number and hash (walking the recency list instead missed the cache on
 * each entry: half of lru_get_hashed's time in replay, perf). */
static void grow(struct lru *t)
{
	size_t n = t->allocated * 2 < t->capacity ? t->allocated * 2 : t->capacity;
	t->entries = xreallocarray(t->entries, n, t->entry_size);
	t->allocated = n;
	struct slot *old = t->index;
	size_t old_slots = t->index_mask + 1;
	index_alloc(t, n);
	for (size_t k = 0; k < old_slots; k++) {
		if (old[k].entry == NIL)
			continue;
		size_t pos = old[k].hash & t->index_mask;
		while (t->index[pos].entry != NIL)
			pos = (pos + 1) & t->index_mask;
		t->index[pos] = old[k];
	}
	free(old);
}

void lru_free(struct lru *t)
{
	if (!t)
		return;
	free(t->entries);
	free(t->index);
	free(t);
}

static void list_unlink(struct lru *t, uint32_t i)
{
	struct entry_head *e = entry_at(t, i);
	if (e->prev != NIL)
		entry_at(t, e->prev)->next = e->next;
	else
		t->head = e->next;
	if (e->next != NIL)
		entry_at(t, e->next)->prev = e->prev;
	else
		t->tail = e->prev;
}

static void list_push_front(struct lru *t, uint32_t i)
{
	struct entry_head *e = entry_at(t, i);
	e->prev = NIL;
	e->next = t->head;
	if (t->head != NIL)
		entry_at(t, t->head)->prev = i;
	t->head = i;
	if (t->tail == NIL)
		t->tail = i;
}

/* Keys are a few words: compared inline, a memcmp call showed in the
 * profile (struct addr keys are 18 bytes: two words and a short tail). */
static bool key_equal(const struct lru *t, const unsigned char *a, const unsigned char *b)
{
	size_t i = 0;
	for (; i + 8 <= t->hasher.key_size; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	for (; i < t->hasher.key_size; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Index slot holding key, or the empty slot where it would go. */
static size_t index_find(const struct lru *t, const void *key, uint32_t hash)
{
	size_t pos = hash & t->index_mask;
	for (;;) {
		const struct slot *s = &t->index[pos];
		if (s->entry == NIL)
			return pos;
		if (s->hash == hash && key_equal(t, entry_key(t, s->entry), key))
			return pos;
		pos = (pos + 1) & t->index_mask;
	}
}

/* Empties slot pos and moves later members of the probe run back into the hole. */
static void index_delete(struct lru *t, size_t pos)
{
	size_t hole = pos;
	for (size_t next = (pos + 1) & t->index_mask; t->index[next].entry != NIL;
	     next = (next + 1) & t->index_mask) {
		size_t home = t->index[next].hash & t->index_mask;
		/* Move it only if its home is not between the hole and its slot. */
		bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
		if (!stays) {
			t->index[hole] = t->index[next];
			hole = next;
		}
	}
	t->index[hole].entry = NIL;
}

static void entry_release(struct lru *t, uint32_t i)
{
	struct entry_head *e = entry_at(t, i);
	index_delete(t, index_find(t, entry_key(t, i), e->hash));
	list_unlink(t, i);
	e->next = t->free_list;
	t->free_list = i;
	t->count--;
}

static void evict_oldest(struct lru *t)
{
	uint32_t victim = t->tail;
	if (t->on_evict)
		t->on_evict(t->evict_arg, entry_key(t, victim), entry_value(t, victim));
	entry_release(t, victim);
	t->evictions++;
}

/* A free entry: a released one, a never used one, or room made by growing
 * or, at capacity, by evicting the least recently used. */
static uint32_t entry_take(struct lru *t)
{
	if (t->free_list != NIL) {
		uint32_t i = t->free_list;
		t->free_list = entry_at(t, i)->next;
		return i;
	}
	if (t->used_high == t->allocated && t->allocated < t->capacity)
		grow(t);
	if (t->used_high < t->allocated)
		return (uint32_t)t->used_high++;
	evict_oldest(t);
	return entry_take(t);
}

static uint32_t entry_insert(struct lru *t, const void *key, uint32_t hash)
{
	uint32_t i = entry_take(t);
	struct entry_head *e = entry_at(t, i);
	e->hash = hash;
	memcpy(entry_key(t, i), key, t->hasher.key_size);
	memset(entry_value(t, i), 0, t->value_size);
	size_t pos = index_find(t, key, hash);
	t->index[pos].entry = i;
	t->index[pos].hash = hash;
	list_push_front(t, i);
	t->count++;
	return i;
}

void *lru_get(struct lru *t, const void *key, bool create, bool *created)
{
	return lru_get_hashed(t, key, key_hash(t, key), create, created);
}

void *lru_get_hashed(struct lru *t, const void *key, uint32_t hash, bool create, bool *created)
{
	size_t pos = index_find(t, key, hash);
	if (created)
		*created = false;
	if (t->index[pos].entry != NIL) {
		uint32_t i = t->index[pos].entry;
		if (t->head != i) {
			list_unlink(t, i);
			list_push_front(t, i);
		}
		return entry_value(t, i);
	}
	if (!create)
		return NULL;
	if (created)
		*created = true;
	return entry_value(t, entry_insert(t, key, hash));
}

uint32_t lru_hash(const struct lru *t, const void *key)
{
	return key_hash(t, key);
}

void lru_remove(struct lru *t, const void *key)
{
	uint32_t hash = key_hash(t, key);
	size_t pos = index_find(t, key, hash);
	if (t->index[pos].entry != NIL)
		entry_release(t, t->index[pos].entry);
}

void lru_remove_value(struct lru *t, void *value)
{
	size_t offset = (size_t)((unsigned char *)value - t->entries);
	entry_release(t, (uint32_t)(offset / t->entry_size));
}

void *lru_oldest(struct lru *t, const void **key)
{
	if (t->tail == NIL)
		return NULL;
	if (key)
		*key = entry_key(t, t->tail);
	return entry_value(t, t->tail);
}

size_t lru_count(const struct lru *t)
{
	return t->count;
}

size_t lru_capacity(const struct lru *t)
{
	return t->capacity;
}

uint64_t lru_evictions(const struct lru *t)
{
	return t->evictions;
}

size_t lru_memory(const struct lru *t)
{
	return sizeof(*t) + t->allocated * t->entry_size + (t->index_mask + 1) * sizeof(struct slot);
}

size_t lru_max_memory(const struct lru *t)
{
	size_t slots = 2;
	while (slots < t->capacity * 2)
		slots *= 2;
	return sizeof(*t) + t->capacity * t->entry_size + slots * sizeof(struct slot);
}
