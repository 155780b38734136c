/* report_canon.h: the canonical payload of a report batch, written and read
 * by hand: the hot path of report_decode() (report.c).
 * Why: with jansson, parsing a payload and encoding it again to check its
 * canonical form cost ~37 µs per report of four evidence lines, over half
 * of what applying an ally's report costs (docs/performance.md). The wire
 * form is one fixed shape, so a reader of exactly that shape is short.
 * Contract: report_canon_write() writes the very bytes jansson's json_dumpb()
 * with JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII writes for report.c's
 * tree of the batch (tests/unit/test_report_canon.c and the fuzz harnesses
 * compare them). report_canon_read() accepts only that shape; report.c
 * trusts what it read only once the batch has passed its checks and
 * report_canon_write() gives back the payload byte for byte. Anything the
 * reader refuses goes to jansson, which says why (or, were the two ever to
 * disagree, accepts what is canonical: the reader only saves time).
 * Never: allocates, or reads outside p[0..len). */
#ifndef PACTO_REPORT_CANON_H
#define PACTO_REPORT_CANON_H

#include <stddef.h>

#include "alliance/report.h"

/* Writes b's canonical payload into out[0..cap). Returns its length, or 0
 * when it does not fit or a line is not valid UTF-8 (a decoded batch's lines
 * always are). b's fields must be within report.c's bounds. */
size_t report_canon_write(const struct report_batch *b, char *out, size_t cap);

/* Reads p[0..len) into out if it has the canonical shape: every key in its
 * place, integers in shortest decimal within their field's range, strings
 * with only the escapes the writer uses and within their field's length,
 * action "sanction" or "lift", an address that addr_parse_cidr() takes,
 * 1..REPORT_MAX_ITEMS reports of at most REPORT_MAX_LINES lines. Returns 0,
 * or -1 (out is then partly written). Ids, seq order and the address's form
 * are left to report.c's checks and the comparison with the writer's bytes. */
int report_canon_read(const char *p, size_t len, struct report_batch *out);

#endif
