/* ranges.h: a set of sequence numbers kept as sorted, merged ranges.
 * Why: the alliance's outbox keeps the batches the broker acknowledged
 * until the ledger marks their rows; a fixed array of batches dropped the
 * oldest when a long run of rolled-back rounds filled it (a hole that the
 * next start published again). As ranges they take one entry per gap
 * between them, whatever their count.
 * Guarantees: ranges sorted by number, disjoint and never adjacent (an
 * add merges what touches or overlaps); nothing added is ever dropped
 * but by ranges_take_front and ranges_clear; 16 bytes a range.
 * Ownership: the set owns its array (ranges_free); the struct is the
 * caller's, zeroed to start empty. Cannot fail: it grows with
 * xreallocarray, which ends the process when memory is out. */
#ifndef PACTO_RANGES_H
#define PACTO_RANGES_H

#include <stddef.h>
#include <stdint.h>

struct range {
	uint64_t first, last;             /* first <= last */
};

struct ranges {
	struct range *r;                  /* sorted, disjoint, not adjacent */
	size_t n, cap;
};

/* Adds first..last (first <= last), merged with the ranges it touches. */
void ranges_add(struct ranges *s, uint64_t first, uint64_t last);
/* Moves the first k ranges of from into to (merged there). */
void ranges_take_front(struct ranges *to, struct ranges *from, size_t k);
/* How many numbers the set holds (saturates at UINT64_MAX). */
uint64_t ranges_count(const struct ranges *s);
void ranges_clear(struct ranges *s);
void ranges_free(struct ranges *s);   /* empties it, and frees its array */

#endif
