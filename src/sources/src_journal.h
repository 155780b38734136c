/* src_journal.h: sshd's messages read from the systemd journal (sd-journal).
 * Why: on most systems the journal, not a file, holds sshd's messages, with
 * the pid, program and time as separate fields the kernel vouches for.
 * Guarantees: only entries of the wanted identifiers are read (journal
 * matches), and an entry counts as the program's only when its _TRANSPORT
 * and _COMM back its identifier (journal_identity_trusted); the cursor of
 * the last delivered entry lets a restart resume exactly. */
#ifndef PACTO_SRC_JOURNAL_H
#define PACTO_SRC_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/logline.h"

struct journal_source;

/* ev points into the source; line is "IDENT[PID]: MESSAGE" for evidence. */
typedef void (*journal_event_fn)(void *arg, struct log_event *ev, const char *line, size_t len);

struct journal_config {
	const char *directory;          /* NULL: the system journal */
	const char *const *identifiers; /* SYSLOG_IDENTIFIER values to read */
	size_t nidentifiers;
	const char *cursor;             /* resume after this entry; NULL: see from_start */
	bool from_start;                /* without a cursor: all entries, not only new ones */
	journal_event_fn on_event;
	void *arg;
};

int journal_source_open(const struct journal_config *cfg, struct journal_source **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void journal_source_close(struct journal_source *js);  /* accepts NULL */

/* The descriptor to poll (sd_journal_get_fd). */
int journal_source_fd(struct journal_source *js);

/* Delivers every new entry. Returns 0, or -1 with err. */
int journal_source_process(struct journal_source *js, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The cursor of the last delivered entry; false when none yet. */
bool journal_source_cursor(struct journal_source *js, char *buf, size_t len);

uint64_t journal_source_entries(const struct journal_source *js);

/* Entries whose MESSAGE is longer than ENGINE_MAX_LINE: skipped whole,
 * as a file's line that long is (follower_stats.oversized). */
uint64_t journal_source_oversized(const struct journal_source *js);

/* True when the system journal exists here (for journal: auto). */
bool journal_source_available(void);

#endif
