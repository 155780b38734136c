/* json_text.h: a JSON string of bytes that may not be UTF-8.
 * Why: log lines and evidence are whatever an attacker or a misbehaving
 * program wrote; jansson refuses a string that is not UTF-8, and a refused
 * string used to make a whole reply or trace vanish. Here nothing vanishes:
 * when the bytes are not UTF-8, each byte that is not part of a well-formed
 * character is written as \xHH; the rest is kept. */
#ifndef PACTO_JSON_TEXT_H
#define PACTO_JSON_TEXT_H

#include <jansson.h>
#include <stddef.h>

/* A new reference (never NULL unless memory runs out twice over). */
json_t *json_text(const char *s, size_t len);

/* json_text of a NUL-terminated string: for text that comes from outside
 * (paths from the command line, messages quoting a file or a request,
 * names cut to fit a buffer, maybe inside a character). */
json_t *json_text_cstr(const char *s);

#endif
