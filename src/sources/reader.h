/* reader.h: reads a byte stream from a file descriptor into one bounded
 * buffer and hands it to a framing function, one record at a time: lines
 * (reader_lines) or any other framing (journal export entries).
 * Why: replay today, file sources tomorrow; one bounded reader for all.
 * Guarantees: memory is one fixed buffer. A record that does not fit is
 * dropped whole, never cut into pieces (a piece could end in text an
 * attacker chose), and counted.
 * Ownership: the bytes passed to a callback are valid only during the call. */
#ifndef PACTO_READER_H
#define PACTO_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define READER_BUFFER (1024 * 1024)

struct reader_stats {
	uint64_t bytes, records, oversized;
	uint64_t eol_fallbacks;   /* CR LF streams read as LF after all (reader_lines) */
};

/* A framing function gets the unread bytes. It returns how many bytes it
 * used (> 0; it is called again with the rest), 0 when it needs more input,
 * or -n to drop n bytes it cannot use. at_eof: no more input will come.
 * full: the bytes fill the whole buffer, so asking for more cannot work. */
typedef long (*reader_frame_fn)(void *arg, const char *buf, size_t len, bool at_eof, bool full);

/* Reads fd to its end. Returns 0, or -1 with errno set on a read error. */
int reader_run(int fd, reader_frame_fn frame, void *arg, struct reader_stats *stats)
	__attribute__((warn_unused_result));

/* ---- lines ---- */

/* Called once per line (its end removed), with its offset. */
typedef void (*reader_line_fn)(void *arg, const char *line, size_t len, uint64_t offset);

/* How records end. sshd -E ends each record with CR LF and writes control
 * characters raw, so a user name holding LF splits a record into a line
 * the attacker wrote: in a stream that uses CR LF, a bare LF is not an end.
 * The rule is chosen from the first buffer that holds a newline: CR LF if
 * any CR LF is in it, else LF (a trailing CR is then dropped). A regular
 * file's first buffer is as full as the file allows; only a stream that
 * mixes both endings near its start (no logger writes one) could be read
 * either way depending on how its first bytes arrive. A stream taken as
 * CR LF goes back to LF for good when no CR LF ends a record within
 * max_line + 2 bytes but an LF does (counted in eol_fallbacks): one line
 * ending in CR LF at the start of an LF log must not turn every later line
 * into one endless record, dropped as too long. */
enum reader_eol { EOL_UNDECIDED, EOL_LF, EOL_CRLF };

struct reader_lines {
	reader_line_fn fn;
	void *arg;
	size_t max_line;          /* longer lines are dropped and counted */
	struct reader_stats *stats;
	uint64_t offset;          /* of the next unread byte */
	bool skipping;            /* inside a line too long for the buffer */
	enum reader_eol eol;
};

/* For a caller that frames LF lines itself (scan_pool_feed_block): how
 * many bytes at the start of buf are whole records, up to its last LF, and
 * consumed as such; 0 when the stream ends records in CR LF, no LF is in
 * buf, or the tail of an oversized line is being skipped (then frame with
 * reader_lines). Decides the stream's rule as reader_lines would. */
size_t reader_lines_whole(struct reader_lines *r, const char *buf, size_t len);

/* The framing function for lines: pass a struct reader_lines as arg. */
long reader_lines(void *arg, const char *buf, size_t len, bool at_eof, bool full);

#endif
