/* ctl_emit.h: JSON written straight to a stream, for listings too big to
 * build as a jansson tree (`pacto sanctions` of a million sanctions).
 * Why hand-written: measured, jansson costs ~6.6 µs per sanction object
 * (build + dump), 6.6 s for a million, against a 2 s target; this writer
 * costs well under a microsecond. Everything else in pacto uses jansson.
 * Guarantees: the output is valid JSON whatever the bytes of a string
 * (control characters escaped, bytes that are not UTF-8 written as
 * U+FFFD), proven against jansson by tests/unit/test_emit.c. */
#ifndef PACTO_CTL_EMIT_H
#define PACTO_CTL_EMIT_H

#include <stdint.h>
#include <stdio.h>

#include "ledger/ledger.h"

/* A JSON string of s (NUL-terminated). */
void json_emit_string(FILE *f, const char *s);

/* "YYYY-MM-DDTHH:MM:SSZ" of µs since the epoch, as a JSON string; the
 * same text as format_time_utc() (detect/logline.h). */
void json_emit_time(FILE *f, int64_t time_us);

/* One sanction as pactod's control socket describes it (without evidence). */
void json_emit_sanction(FILE *f, const struct ledger_sanction *s, int64_t now_us);

#endif
