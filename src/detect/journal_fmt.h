/* journal_fmt.h: systemd journal entries, in JSON form (journalctl -o json)
 * or in export form (journalctl -o export), turned into log events.
 * Why: the journal carries the program, pid, host and microsecond time as
 * separate fields; using them beats re-parsing a formatted line.
 * Guarantees: strict: an entry without MESSAGE, or with fields of the wrong
 * type or size, is refused (-1) and nothing is guessed. The event points
 * into `store`, which lives as long as the caller keeps it.
 * Trust: an entry is a program's message (has_header) only when its
 * identifier is backed by the kernel: _TRANSPORT is syslog or journal (a
 * program's stdout is split on newlines a user name can hold, so it is
 * not), and _COMM, when present, is the identifier (any user can write
 * "logger -t sshd"). Other entries are kept as events no scenario reads. */
#ifndef PACTO_JOURNAL_FMT_H
#define PACTO_JOURNAL_FMT_H

#include <limits.h>
#include <stdbool.h>

#include "detect/engine.h"
#include "detect/logline.h"

struct journal_store {
	char msg[ENGINE_MAX_LINE];
	char prog[256];
	char host[256];
};

/* A journal number field ("_PID", "__REALTIME_TIMESTAMP"): decimal digits
 * only, at most 17 of them (nothing computed from it can overflow); -1 else. */
int64_t journal_decimal(const char *s, size_t len);

/* The trust rule for journal entries, whatever their form: the identifier
 * names the program only when _TRANSPORT (if present) is syslog or journal
 * and _COMM (if present) is the identifier, cut at 15 bytes as the kernel
 * cuts it. Absent fields are NULL. */
bool journal_identity_trusted(const char *transport, size_t transport_len, const char *comm, size_t comm_len,
			      const char *ident, size_t ident_len);

/* Whether a line of a log is a journal entry in JSON (journalctl -o json):
 * it starts with '{', which no syslog header or program line does. The one
 * rule replay's reader and its scan pool both go by. */
static inline bool journal_json_line(const char *line, size_t len)
{
	return len > 0 && line[0] == '{';
}

int journal_json_parse(const char *line, size_t len, struct journal_store *store, struct log_event *ev)
	__attribute__((warn_unused_result));

/* Export format (systemd's "Journal Export Format"): an entry is lines
 * "NAME=value", or "NAME" then a 64-bit little-endian length, that many
 * bytes and a newline (binary fields), and ends with an empty line.
 * Parses the entry at the start of buf[0..len):
 *   > 0  the entry's length (its empty line included); *has_message says
 *        whether it carried a MESSAGE (then ev is filled)
 *   0    buf holds no complete entry yet (at_eof: treat the rest as one)
 *   < 0  malformed: -(bytes to skip to resynchronise after the next empty
 *        line), or JOURNAL_EXPORT_SKIP_ALL when there is no empty line left. */
#define JOURNAL_EXPORT_SKIP_ALL LONG_MIN
long journal_export_parse(const char *buf, size_t len, bool at_eof, struct journal_store *store,
			  struct log_event *ev, bool *has_message) __attribute__((warn_unused_result));

/* True when data starts like export format (its first field is a known
 * journal field written "NAME=" and NAME is in capitals). */
bool journal_export_detect(const char *data, size_t len);

#endif
