/* json_text.c: JSON strings of arbitrary bytes (see json_text.h). */
#include "common/json_text.h"

#include <stdio.h>
#include <stdlib.h>

json_t *json_text(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	if (j)
		return j;
	char *buf = malloc(len * 4 + 1);
	size_t n = 0;
	for (size_t i = 0; buf && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		n += c < 0x80 ? (size_t)(buf[n] = (char)c, 1) : (size_t)sprintf(buf + n, "\\x%02x", c);
	}
	j = buf ? json_stringn(buf, n) : NULL;
	free(buf);
	return j ? j : json_string("(unreadable)");
}
