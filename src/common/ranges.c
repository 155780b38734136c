/* ranges.c: a set of sequence numbers as sorted, merged ranges (see
 * ranges.h). Numbers mostly come in increasing order (the outbox hands
 * them out so), so an add looks for its place from the end: one step in
 * the usual case. */
#include "common/ranges.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* Whether range x ends before first, with a number between them. */
static bool ends_before(const struct range *x, uint64_t first)
{
	return first > 0 && x->last < first - 1;
}

/* Whether range x starts after last, with a number between them. */
static bool starts_after(const struct range *x, uint64_t last)
{
	return last < UINT64_MAX && x->first > last + 1;
}

void ranges_add(struct ranges *s, uint64_t first, uint64_t last)
{
	size_t lo = s->n, hi;
	while (lo > 0 && !ends_before(&s->r[lo - 1], first))
		lo--;
	/* r[lo..hi) touch first..last: they become one range. */
	for (hi = lo; hi < s->n && !starts_after(&s->r[hi], last); hi++) {
		if (s->r[hi].first < first)
			first = s->r[hi].first;
		if (s->r[hi].last > last)
			last = s->r[hi].last;
	}
	if (hi == lo) {
		if (s->n == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 16;
			s->r = xreallocarray(s->r, s->cap, sizeof(*s->r));
		}
		memmove(s->r + lo + 1, s->r + lo, (s->n - lo) * sizeof(*s->r));
		s->n++;
	} else {
		memmove(s->r + lo + 1, s->r + hi, (s->n - hi) * sizeof(*s->r));
		s->n -= hi - lo - 1;
	}
	s->r[lo] = (struct range){first, last};
}

void ranges_take_front(struct ranges *to, struct ranges *from, size_t k)
{
	if (k > from->n)
		k = from->n;
	if (k == 0)
		return;
	for (size_t i = 0; i < k; i++)
		ranges_add(to, from->r[i].first, from->r[i].last);
	memmove(from->r, from->r + k, (from->n - k) * sizeof(*from->r));
	from->n -= k;
}

uint64_t ranges_count(const struct ranges *s)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < s->n; i++) {
		uint64_t len = s->r[i].last - s->r[i].first;   /* + 1, without overflow */
		if (len >= UINT64_MAX - sum)
			return UINT64_MAX;
		sum += len + 1;
	}
	return sum;
}

void ranges_clear(struct ranges *s)
{
	s->n = 0;
}

void ranges_free(struct ranges *s)
{
	free(s->r);
	*s = (struct ranges){0};
}
