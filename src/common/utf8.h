/* utf8.h: where one UTF-8 character ends, for code that must tell text
 * from arbitrary bytes (fail2ban filters, which are UTF-8; messages printed
 * to a terminal, where a stray byte may be a control; a long name quoted in
 * a message, cut between two characters).
 * Why here: two modules need the same rule; one copy of it. */
#ifndef PACTO_UTF8_H
#define PACTO_UTF8_H

#include <stddef.h>

/* The length of the well-formed UTF-8 character at p (1 to 4 bytes, of the
 * n available; n >= 1), or 0 when the bytes there are not one (overlong
 * forms, surrogates and code points past U+10FFFF are not). */
size_t utf8_len(const unsigned char *p, size_t n);

/* The length of the longest start of s that is at most max bytes and does
 * not end inside a character: where to cut s when quoting it in a message
 * (bytes that are not UTF-8 count as one character each). */
size_t utf8_prefix(const char *s, size_t max);

#endif
