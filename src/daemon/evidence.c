/* evidence.c: a ring of recent lines per source, in a bounded LRU table (see evidence.h). */
#include "daemon/evidence.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "detect/lru.h"

struct ring {
	uint32_t head, n;                       /* oldest at head */
	uint16_t len[EVIDENCE_LINES];
	char text[EVIDENCE_LINES][EVIDENCE_LINE_MAX];
};

struct evidence {
	struct lru *table;
};

struct evidence *evidence_new(size_t capacity, uint64_t seed)
{
	struct evidence *ev = xcalloc(1, sizeof(*ev));
	ev->table = lru_new(capacity, sizeof(struct addr), sizeof(struct ring), seed, NULL, NULL);
	return ev;
}

void evidence_free(struct evidence *ev)
{
	if (!ev)
		return;
	lru_free(ev->table);
	free(ev);
}

void evidence_add(struct evidence *ev, const struct addr *key, const char *line, size_t len)
{
	struct ring *r = lru_get(ev->table, key, true, NULL);
	uint32_t slot = (r->head + r->n) % EVIDENCE_LINES;
	if (r->n == EVIDENCE_LINES) {
		slot = r->head;
		r->head = (r->head + 1) % EVIDENCE_LINES;
	} else {
		r->n++;
	}
	size_t keep = len < EVIDENCE_LINE_MAX ? len : EVIDENCE_LINE_MAX;
	memcpy(r->text[slot], line, keep);
	r->len[slot] = (uint16_t)keep;
}

void evidence_get(struct evidence *ev, const struct addr *key, struct evidence_lines *out)
{
	struct ring *r = lru_get(ev->table, key, false, NULL);
	out->n = r ? r->n : 0;
	for (size_t i = 0; i < out->n; i++) {
		uint32_t slot = (r->head + (uint32_t)i) % EVIDENCE_LINES;
		out->text[i] = r->text[slot];
		out->len[i] = r->len[slot];
	}
}

void evidence_forget(struct evidence *ev, const struct addr *key)
{
	lru_remove(ev->table, key);
}
