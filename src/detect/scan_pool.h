/* scan_pool.h: feeds lines to an engine with the scanning half (splitting
 * and the regexes, engine_scan_line()) on several threads and the applying
 * half (engine_apply_line()) on the caller's thread, in line order.
 * Why: scanning is ~60% of replay's time and needs no state, so a replay
 * of a big log uses every CPU for it; counting, connections and sanctions
 * stay in one thread and see the lines in log order, so the result is
 * exactly that of engine_feed_line() on each line (tests/unit/test_scan_pool.c).
 * Guarantees: memory is a fixed ring of batches (each up to
 * SCAN_POOL_BATCH_LINES lines and SCAN_POOL_BATCH_BYTES bytes), whatever
 * the input; lines are copied into them, in one memcpy per run of lines
 * that lie one after another in the caller's buffer (one copy per line
 * was 7% of replay's time), so the caller keeps each line's bytes
 * unchanged until scan_pool_hold() or scan_pool_flush(). Or whole blocks
 * of text go in (scan_pool_feed_block), framed on the scanning threads:
 * the caller then does little more than read and apply. The engine's
 * callbacks (on_sanction...) run on the caller's thread, during
 * scan_pool_feed(), scan_pool_feed_block(), scan_pool_feed_block_shared(),
 * scan_pool_mark(), scan_pool_apply_to() or scan_pool_flush().
 * Never: touches the engine from another thread. */
#ifndef PACTO_SCAN_POOL_H
#define PACTO_SCAN_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "detect/engine.h"

#define SCAN_POOL_BATCH_LINES 4096
#define SCAN_POOL_BATCH_BYTES (512 * 1024)
#define SCAN_POOL_MAX_THREADS 16
/* The text of a block batch: room for SCAN_POOL_BATCH_LINES lines of 64
 * bytes, so a log's lines fit unless they average under 64 bytes. */
#define SCAN_POOL_BLOCK_BYTES (SCAN_POOL_BATCH_LINES * 64)

struct scan_pool;

/* threads: how many threads scan, the caller's included (the caller scans
 * too while it waits; with 1 it scans every batch itself). e must outlive
 * the pool. Returns NULL when a thread cannot be started (then feed lines
 * to the engine directly). */
struct scan_pool *scan_pool_new(struct engine *e, unsigned threads);

/* Frees the pool; lines fed and not yet applied are applied first. */
void scan_pool_free(struct scan_pool *p);   /* accepts NULL */

/* Adds a line (without its newline) at caller time now_us; it is applied
 * later, in order. Lines longer than ENGINE_MAX_LINE are counted as
 * oversized, as engine_feed_line() does. The bytes must stay as they are
 * until the next scan_pool_hold() or scan_pool_flush(), and the lines fed
 * between two holds must lie in one buffer, in order (a reader's lines):
 * the up to two bytes between consecutive lines are copied with them. */
void scan_pool_feed(struct scan_pool *p, const char *line, size_t len, int64_t now_us);

/* Copies the lines fed so far out of the caller's memory, which may then
 * be reused. */
void scan_pool_hold(struct scan_pool *p);

/* Called on the caller's thread, in order, for the lines the scanners do
 * not take: journal JSON lines (starting with '{'), fed one by one or in
 * blocks, and the lines of a block past its batch's line room. */
typedef void (*scan_pool_direct_fn)(void *arg, const char *line, size_t len, int64_t now_us);

/* Sets the direct function; without one, such lines go to engine_feed_line(). */
void scan_pool_set_direct(struct scan_pool *p, scan_pool_direct_fn fn, void *arg);

/* Adds buf[0, len): whole records, each ending in LF, copied at once and
 * framed by the scanners, off the caller's thread, as reader_lines()
 * frames an LF stream (a CR before the LF is dropped; a line longer than
 * ENGINE_MAX_LINE is counted in scan_pool_counts() and dropped). The
 * caller may reuse buf on return. Applied in order with scan_pool_feed()'s
 * lines. */
void scan_pool_feed_block(struct scan_pool *p, const char *buf, size_t len, int64_t now_us);

/* As scan_pool_feed_block(), but buf is not copied: the scanners read it
 * where it lies, so it must stay readable and unchanged until every
 * line fed so far is applied (scan_pool_apply_to() a later mark, or
 * scan_pool_flush()). For a mapped file (reader_map.h's
 * reader_share): the copy was ~16% of the applying thread's time, which
 * bounds the wall time on several CPUs. Consecutive calls whose bytes
 * follow one another fill one batch. */
void scan_pool_feed_block_shared(struct scan_pool *p, const char *buf, size_t len, int64_t now_us);

/* Submits the lines fed so far and returns a mark for them. */
uint64_t scan_pool_mark(struct scan_pool *p);

/* Returns once every line fed before mark was taken is applied. */
void scan_pool_apply_to(struct scan_pool *p, uint64_t mark);

/* The records and oversized lines of blocks applied so far. */
void scan_pool_counts(const struct scan_pool *p, uint64_t *records, uint64_t *oversized);

/* Applies every line fed so far before returning. */
void scan_pool_flush(struct scan_pool *p);

#endif
