/* json_text.c: JSON strings of arbitrary bytes (see json_text.h). */
#include "common/json_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

json_t *json_text(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	if (j)
		return j;
	/* Each byte at most 4 characters ("\xff"); well-formed characters and
	 * controls are kept as they are (jansson escapes controls itself). */
	char *buf = malloc(len * 4 + 1);
	size_t n = 0;
	for (size_t i = 0; buf && i < len;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t c = utf8_len(p, len - i);
		if (c) {
			memcpy(buf + n, p, c);
			n += c;
			i += c;
		} else {
			n += (size_t)sprintf(buf + n, "\\x%02x", *p);
			i++;
		}
	}
	j = buf ? json_stringn(buf, n) : NULL;
	free(buf);
	return j ? j : json_string("(unreadable)");
}

json_t *json_text_cstr(const char *s)
{
	return json_text(s, strlen(s));
}
