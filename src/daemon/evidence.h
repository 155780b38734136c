/* evidence.h: the last log lines counted against each source, kept so that
 * a sanction can be recorded with the lines that caused it.
 * Why: the engine sees one line at a time; the ledger wants the evidence.
 * Guarantees: bounded: at most `capacity` sources (least recently seen
 * forgotten first), EVIDENCE_LINES lines of at most EVIDENCE_LINE_MAX bytes
 * each per source (longer lines are cut; the ledger marks none of this as
 * complete evidence, it is a sample of the latest lines). */
#ifndef PACTO_EVIDENCE_H
#define PACTO_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

#define EVIDENCE_LINES 8
#define EVIDENCE_LINE_MAX 512

struct evidence;

struct evidence_lines {
	const char *text[EVIDENCE_LINES];   /* oldest first */
	size_t len[EVIDENCE_LINES];
	size_t n;
};

struct evidence *evidence_new(size_t capacity, uint64_t seed);
void evidence_free(struct evidence *ev);  /* accepts NULL */

/* Remembers line as the newest evidence against key. */
void evidence_add(struct evidence *ev, const struct addr *key, const char *line, size_t len);

/* The lines kept for key (pointers valid until the next evidence_add or
 * evidence_forget); out->n is 0 when none. */
void evidence_get(struct evidence *ev, const struct addr *key, struct evidence_lines *out);

void evidence_forget(struct evidence *ev, const struct addr *key);

#endif
