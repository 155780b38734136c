/* dispatch.h: which scenarios read a line, decided once per program name.
 * Why: asking every scenario in turn whether it reads a line's program
 * cost ~240 instructions per sshd line with the eight stock scenarios
 * (callgrind, bench/replay); a table built at start answers. It is a trie
 * of the listed names, walked as the line's program name is read
 * (dispatch_split_program): a name no scenario lists is known as such at
 * its first byte that leaves every listed name, where a hash of the name
 * had to find its end first (4.7% of replay's instructions, 0.967 of its
 * wall time on two CPUs: docs/performance.md, "Session 10").
 * Guarantees: the answer is exactly the scenarios, in file order, that
 * read the line: a header line's program is read by the scenarios that
 * list it and by those that list no program; a bare line (no syslog
 * header) by the headerless scenarios, or by all when bare lines are
 * trusted; a line with a time but no "prog[pid]:" by none; `input:
 * sanctions` scenarios read no line. The table is fixed after
 * dispatch_new(): nothing read from a log inserts into it, and a walk
 * reads each byte of the name once. */
#ifndef PACTO_DISPATCH_H
#define PACTO_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "detect/logline.h"
#include "detect/rules.h"

/* Scenario indexes, ascending. */
struct reader_list {
	const uint32_t *index;
	size_t n;
};

struct dispatch;

/* rs is borrowed and must outlive the table. */
struct dispatch *dispatch_new(const struct ruleset *rs);
void dispatch_free(struct dispatch *d);   /* accepts NULL */

/* The scenarios that read ev (split by logline_split_program()). */
struct reader_list dispatch_readers(const struct dispatch *d, const struct log_event *ev, bool trust_bare);

/* For a line split by logline_split_host(): its program name read as
 * logline_split_program() reads it, ev's has_header, prog_len, msg and
 * msg_len then set as it sets them, and the scenarios that read the line
 * (those of dispatch_readers()). When they are none, the name may be left
 * unread and ev unfinished. */
struct reader_list dispatch_split_program(const struct dispatch *d, struct log_event *ev, bool trust_bare);

/* The scenarios that read a header line of program prog[0..len). */
struct reader_list dispatch_program(const struct dispatch *d, const char *prog, size_t len);

#endif
