/* lines.h: the one rule for where a log line ends, shared by every framing
 * of lines (sources/reader.c for every input, detect/scan_pool.c for the
 * blocks that replay's scanning threads frame).
 * Why one header: the rule was written twice and the copies could drift;
 * detect/ may not include sources/ (the data path runs the other way). */
#ifndef PACTO_LINES_H
#define PACTO_LINES_H

#include <stddef.h>

/* The length of a record's line once its LF is gone: a CR before the LF
 * (of CR LF, or a stray one) goes too. */
static inline size_t line_len_without_cr(const char *line, size_t n)
{
	return n > 0 && line[n - 1] == '\r' ? n - 1 : n;
}

#endif
