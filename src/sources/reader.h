/* reader.h: splits a byte stream from a file descriptor into lines.
 * Why: replay today, file sources tomorrow; one bounded reader for both.
 * Guarantees: memory is one fixed buffer; a line longer than the buffer is
 * reported as oversized and skipped whole, never cut into pieces (a piece
 * could end in attacker-chosen text). A last line without a newline is
 * delivered at end of input. Each line comes with its byte offset.
 * Ownership: the line pointer is valid only during the callback. */
#ifndef PACTO_READER_H
#define PACTO_READER_H

#include <stddef.h>
#include <stdint.h>

#define READER_BUFFER (1024 * 1024)

struct reader_stats {
	uint64_t bytes, lines, oversized;
};

/* Called once per line (newline removed, a trailing \r too). */
typedef void (*reader_line_fn)(void *arg, const char *line, size_t len, uint64_t offset);

/* Reads fd to its end. Returns 0, or -1 with errno set on a read error. */
int reader_run(int fd, size_t max_line, reader_line_fn fn, void *arg, struct reader_stats *stats)
	__attribute__((warn_unused_result));

#endif
