/* strbuf.h: a growing NUL-terminated string, for text built piece by
 * piece (converted rules, resolved settings). Cannot fail: it allocates
 * with xreallocarray, which ends the process when memory is out. */
#ifndef PACTO_STRBUF_H
#define PACTO_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *s;          /* NULL until the first append; the caller frees it */
	size_t len, cap;
};

/* Appends s[0..n) and keeps the string NUL-terminated. */
void strbuf_add(struct strbuf *b, const char *s, size_t n);

#endif
