/* utf8.h: where one UTF-8 character ends, for code that must tell text
 * from arbitrary bytes (fail2ban filters, which are UTF-8; messages printed
 * to a terminal, where a stray byte may be a control).
 * Why here: two modules need the same rule; one copy of it. */
#ifndef PACTO_UTF8_H
#define PACTO_UTF8_H

#include <stddef.h>

/* The length of the well-formed UTF-8 character at p (1 to 4 bytes, of the
 * n available; n >= 1), or 0 when the bytes there are not one (overlong
 * forms, surrogates and code points past U+10FFFF are not). */
size_t utf8_len(const unsigned char *p, size_t n);

#endif
