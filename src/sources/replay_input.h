/* replay_input.h: how `pacto replay` reads one input (a file or stdin).
 * Journal export format or lines, told apart by the first bytes; lines
 * framed as reader_lines() frames them (LF, or CR LF as sshd -E writes);
 * journal JSON lines parsed here, every other line fed to the engine,
 * through the scan pool when there is one (runs of whole LF lines as
 * blocks, framed on the scanning threads).
 * Why a module: the fuzz_pool harness drives this very code against
 * line-by-line feeding, so what it proves is what replay runs.
 * Ownership: the engine and the pool are the caller's. */
#ifndef PACTO_REPLAY_INPUT_H
#define PACTO_REPLAY_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/engine.h"
#include "detect/journal_fmt.h"
#include "detect/scan_pool.h"
#include "sources/reader.h"
#include "sources/reader_map.h"

enum replay_form { REPLAY_FORM_UNKNOWN, REPLAY_FORM_LINES, REPLAY_FORM_EXPORT };

struct replay_input {
	struct engine *engine;
	struct scan_pool *pool;          /* NULL: every line fed on this thread */
	struct journal_store jstore;
	enum replay_form form;           /* of the input being read, from its first bytes */
	struct reader_lines lines;
	/* Pass to reader_run_file_shared(): while the input is a mapping,
	 * blocks go to the pool unread (scan_pool_feed_block_shared), and
	 * the pool applies a retired mapping's lines before it goes. */
	struct reader_share share;
	uint64_t retired_mark;
	const char *line;                /* the line being fed on this thread (--explain's traces) */
	size_t line_len;
	int64_t now_us;                  /* the time of lines that carry none */
	uint64_t bad_journal;            /* journal entries refused, all inputs */
};

/* Sets in up for e and pool (NULL for none), and makes in the pool's
 * direct function (the lines its scanners leave to this thread). */
void replay_input_init(struct replay_input *in, struct engine *e, struct scan_pool *pool);

/* Starts an input: its form is not known yet, its lines are counted in
 * stats, and now_us is the time of its lines that carry none. */
void replay_input_start(struct replay_input *in, struct reader_stats *stats, int64_t now_us);

/* The framing function for reader_run(), arg a struct replay_input. With
 * a pool, call scan_pool_flush() at the input's end. */
long replay_input_frame(void *arg, const char *buf, size_t len, bool at_eof, bool full);

#endif
