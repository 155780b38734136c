/* journal_fmt.h: systemd journal entries in JSON form (journalctl -o json)
 * turned into log events.
 * Why: the journal carries the program, pid, host and microsecond time as
 * separate fields; using them beats re-parsing a formatted line.
 * Guarantees: strict: an entry without MESSAGE, or with fields of the wrong
 * type or size, is refused (-1) and nothing is guessed. The event points
 * into `store`, which lives as long as the caller keeps it. */
#ifndef PACTO_JOURNAL_FMT_H
#define PACTO_JOURNAL_FMT_H

#include "detect/engine.h"
#include "detect/logline.h"

struct journal_store {
	char msg[ENGINE_MAX_LINE];
	char prog[256];
	char host[256];
};

int journal_json_parse(const char *line, size_t len, struct journal_store *store, struct log_event *ev)
	__attribute__((warn_unused_result));

#endif
