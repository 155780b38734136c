/* test_scan_pool.c: lines fed through the scan pool (src/detect/scan_pool.c,
 * scanning on several threads, applying in order) give exactly what the
 * same lines fed one by one to engine_feed_line() give: the same sanctions
 * in the same order, with the same times and attempts, and the same
 * counts; across batch boundaries, a ring that wraps many times, lines
 * that fill a batch's text before its line count, oversized, bare and
 * garbage lines, and flushes in the middle; and the same for whole blocks
 * of text that the scanners frame (scan_pool_feed_block): CRs, journal
 * JSON lines left to the caller in order, lines past a batch's room; and
 * blocks read in place (scan_pool_feed_block_shared), never after the
 * mark they were fed before is applied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/lines.h"
#include "detect/journal_fmt.h"
#include "detect/scan_pool.h"
#include "harness.h"

#define NLINES 120000

/* One line of a mixed log, deterministic in i: sshd attempts of many
 * sources, closes, pam lines, other programs, a few bare, garbage and
 * oversized lines, and every 1000th line long enough that batches fill
 * their text before their line count. */
static unsigned source_of(unsigned i, char *src, size_t size)
{
	unsigned who = (i * 2654435761u) % 300;
	if (who % 3 == 0)
		snprintf(src, size, "2001:db8:%x::%x", who, i % 7);
	else
		snprintf(src, size, "198.51.%u.%u", who / 250, who % 250);
	return who;
}

static size_t make_line(unsigned i, char *buf, size_t size)
{
	static const char *const shapes[] = {
		"Failed password for root from %s port %u ssh2",
		"Invalid user admin from %s port %u",
		"Connection closed by invalid user admin %s port %u [preauth]",
		"Connection closed by %s port %u [preauth]",
		"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s port %u",
		"Received disconnect from %s port %u:11: Bye Bye [preauth]",
	};
	char src[64];
	unsigned who = source_of(i, src, sizeof(src));
	unsigned t = i / 20, pid = 1000 + who * 7 + i / 500;
	char when[32];
	snprintf(when, sizeof(when), "Nov 27 %02u:%02u:%02u", t / 3600 % 24, t / 60 % 60, t % 60);
	if (i % 997 == 0)
		return (size_t)snprintf(buf, size, "x%uy", i);                      /* bare garbage */
	if (i % 991 == 0)
		return (size_t)snprintf(buf, size, "%s web1 kernel: [UFW BLOCK] SRC=%s", when, src);
	if (i % 1000 == 0) {                                                       /* long, in bounds */
		int n = snprintf(buf, size, "%s web1 sshd[%u]: Failed password for ", when, pid);
		memset(buf + n, 'u', 7000);
		return (size_t)n + 7000 + (size_t)snprintf(buf + n + 7000, size - (size_t)n - 7000,
							   " from %s port 22 ssh2", src);
	}
	if (i % 4999 == 0) {                                                       /* oversized */
		memset(buf, 'z', ENGINE_MAX_LINE + 10);
		return ENGINE_MAX_LINE + 10;
	}
	int n = snprintf(buf, size, "%s web1 sshd[%u]: ", when, pid);
	return (size_t)n + (size_t)snprintf(buf + n, size - (size_t)n, shapes[i % 6], src, 40000 + who);
}

struct outcome {
	struct engine_stats stats;
	struct sanction *sanctions;
	size_t n;
};

static void on_sanction(void *arg, const struct sanction *s)
{
	struct outcome *o = arg;
	o->sanctions = realloc(o->sanctions, (o->n + 1) * sizeof(*o->sanctions));
	assert_non_null(o->sanctions);
	o->sanctions[o->n++] = *s;
}

/* Feeds lines [from, to) to the pool the way a reader does: written one
 * after another (newline-separated) into one buffer, then held. */
static void feed_run(struct scan_pool *p, unsigned from, unsigned to)
{
	static char buf[64 * 1024 + 2 * ENGINE_MAX_LINE];
	size_t used = 0;
	for (unsigned i = from; i < to; i++) {
		if (used + ENGINE_MAX_LINE + 64 > sizeof(buf)) {
			scan_pool_hold(p);              /* the buffer is about to be reused */
			used = 0;
		}
		size_t len = make_line(i, buf + used, sizeof(buf) - used);
		scan_pool_feed(p, buf + used, len, T0 * 1000000LL);
		used += len;
		buf[used++] = '\n';
	}
	scan_pool_hold(p);
}

/* Replays the mixed log with `threads` scanning (1: engine_feed_line()),
 * flushing every `flush_every` lines when nonzero; run: how many lines
 * are written into one buffer before it is held (1: each line alone). */
static void replay_runs(const struct ruleset *rs, unsigned threads, unsigned flush_every, unsigned run,
			struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	struct engine_config cfg = {.use_log_time = true, .reference_us = T0 * 1000000LL, .seed = 7,
				    .on_sanction = on_sanction, .arg = o};
	struct engine *e = engine_new(rs, &cfg);
	struct scan_pool *p = threads > 1 ? scan_pool_new(e, threads) : NULL;
	if (threads > 1)
		assert_non_null(p);
	static char line[ENGINE_MAX_LINE + 64];
	for (unsigned i = 0; i < NLINES; i += run) {
		unsigned to = i + run < NLINES ? i + run : NLINES;
		if (p) {
			feed_run(p, i, to);
		} else {
			for (unsigned j = i; j < to; j++)
				engine_feed_line(e, line, make_line(j, line, sizeof(line)), T0 * 1000000LL);
		}
		if (p && flush_every && i / run % flush_every == 0)
			scan_pool_flush(p);
	}
	scan_pool_free(p);
	engine_finish(e);
	engine_get_stats(e, &o->stats);
	engine_free(e);
}

static void replay(const struct ruleset *rs, unsigned threads, unsigned flush_every, struct outcome *o)
{
	replay_runs(rs, threads, flush_every, 1000, o);
}

static void assert_same(const struct outcome *a, const struct outcome *b)
{
	assert_int_equal(a->stats.lines, b->stats.lines);
	assert_int_equal(a->stats.matched, b->stats.matched);
	assert_int_equal(a->stats.failures, b->stats.failures);
	assert_int_equal(a->stats.sanctions, b->stats.sanctions);
	assert_int_equal(a->stats.oversized, b->stats.oversized);
	assert_int_equal(a->stats.bare_ignored, b->stats.bare_ignored);
	assert_int_equal(a->stats.bad_address, b->stats.bad_address);
	assert_int_equal(a->stats.while_sanctioned, b->stats.while_sanctioned);
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_true(addr_equal(&a->sanctions[i].addr, &b->sanctions[i].addr));
		assert_ptr_equal(a->sanctions[i].scenario, b->sanctions[i].scenario);
		assert_int_equal(a->sanctions[i].created_us, b->sanctions[i].created_us);
		assert_int_equal(a->sanctions[i].duration_us, b->sanctions[i].duration_us);
		assert_int_equal(a->sanctions[i].attempts, b->sanctions[i].attempts);
		assert_int_equal(a->sanctions[i].first_seen_us, b->sanctions[i].first_seen_us);
	}
}

static struct ruleset *stock(void)
{
	struct ruleset *rs = NULL;
	struct errors errs = {0};
	assert_int_equal(ruleset_load_texts(stock_rules, nstock_rules, &rs, &errs), 0);
	return rs;
}

static void test_same_as_one_thread(void **state)
{
	(void)state;
	struct ruleset *rs = stock();
	struct outcome one, many, flushed;
	replay(rs, 1, 0, &one);
	/* The log is meant to exercise the engine: sanctions, oversized, bare. */
	assert_true(one.n > 100);
	assert_int_equal(one.stats.lines, NLINES);
	assert_true(one.stats.oversized > 0 && one.stats.bare_ignored > 0);
	replay(rs, 3, 0, &many);
	assert_same(&one, &many);
	replay(rs, 2, 7, &flushed);
	assert_same(&one, &flushed);
	struct outcome single;
	replay_runs(rs, 2, 0, 1, &single);      /* every line in its own held buffer */
	assert_same(&one, &single);
	free(single.sanctions);
	free(one.sanctions);
	free(many.sanctions);
	free(flushed.sanctions);
	ruleset_free(rs);
}

/* ---- blocks: whole text framed by the scanners ---- */

/* The lines the direct function saw, in order, as one running hash. */
struct direct_seen {
	struct engine *engine;
	uint64_t hash, calls;
};

static uint64_t chain(uint64_t h, const char *line, size_t len)
{
	h = h * 1099511628211u + len;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)line[i]) * 1099511628211u;
	return h;
}

/* As replay's: journal JSON lines parsed and fed here, the rest as lines.
 * The JSON lines are sshd failures of the log's own sources, without a
 * time (they take the latest one): applied out of place, they would count
 * in another order and at another time, and the sanctions would differ. */
static void on_direct(void *arg, const char *line, size_t len, int64_t now_us)
{
	struct direct_seen *d = arg;
	if (len > 0 && line[0] == '{') {   /* what the scanners leave for the caller */
		d->hash = chain(d->hash, line, len);
		d->calls++;
		static struct journal_store store;
		struct log_event ev;
		assert_int_equal(journal_json_parse(line, len, &store, &ev), 0);
		engine_feed_event(d->engine, &ev, now_us);
		return;
	}
	engine_feed_line(d->engine, line, len, now_us);
}

/* The mixed log as one text, LF after each line, with what blocks must
 * cope with: a stray CR before some LFs, journal JSON lines (the direct
 * function's), and a stretch of 3-byte lines that overflows batches'
 * line room (the applying thread frames the rest). */
static char *make_text(size_t *len)
{
	size_t cap = (size_t)NLINES * 200 + 40000 * 4 + 64 * 1024 * 1024 / 8, used = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	for (unsigned i = 0; i < NLINES; i++) {
		assert_true(used + ENGINE_MAX_LINE + 256 < cap);
		if (i % 503 == 0) {
			char src[64];
			source_of(i, src, sizeof(src));
			used += (size_t)snprintf(text + used, cap - used,
						 "{\"_PID\":\"%u\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"_HOSTNAME\":\"web1\","
						 "\"MESSAGE\":\"Failed password for root from %s port 2222 ssh2\"}",
						 70000 + i, src);
		} else {
			used += make_line(i, text + used, cap - used);
		}
		if (i % 13 == 0)
			text[used++] = '\r';
		text[used++] = '\n';
		if (i == NLINES / 2)
			for (unsigned j = 0; j < 40000; j++)
				used += (size_t)snprintf(text + used, cap - used, "%c\n", 'a' + j % 26);
	}
	*len = used;
	return text;
}

struct block_outcome {
	struct outcome o;
	struct direct_seen direct;
	uint64_t records, oversized;
};

/* The reference: each record framed as reader.c does, fed one by one. */
static void feed_text_by_line(const char *text, size_t len, struct block_outcome *b)
{
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = (size_t)(nl - (text + at)), l = n && text[at + n - 1] == '\r' ? n - 1 : n;
		b->records++;
		if (l > ENGINE_MAX_LINE)
			b->oversized++;
		else
			on_direct(&b->direct, text + at, l, T0 * 1000000LL);
		at += n + 1;
	}
}

/* The length of the next block of text[at, len): a pseudo-random size
 * (one in four up to big, the others up to 4 KiB) cut after a LF. */
static size_t next_block(const char *text, size_t at, size_t len, uint32_t *x, size_t big)
{
	*x ^= *x << 13, *x ^= *x >> 17, *x ^= *x << 5;
	size_t want = 1 + *x % (*x % 4 == 0 ? big : 4096);
	if (want > len - at)
		want = len - at;
	const char *cut = memrchr(text + at, '\n', want);
	if (!cut)
		cut = memchr(text + at + want, '\n', len - at - want);
	return (size_t)(cut - (text + at)) + 1;
}

/* Blocks of pseudo-random sizes, each cut after a LF, from a scratch
 * buffer overwritten after each call (the pool must have copied it). */
static void feed_text_by_block(struct scan_pool *p, const char *text, size_t len)
{
	static char scratch[3 * 1024 * 1024];
	uint32_t x = 12345;
	for (size_t at = 0; at < len;) {
		size_t n = next_block(text, at, len, &x, sizeof(scratch) - 1);
		assert_true(n <= sizeof(scratch));
		memcpy(scratch, text + at, n);
		scan_pool_feed_block(p, scratch, n, T0 * 1000000LL);
		memset(scratch, 'X', n);
		at += n;
	}
}

/* Blocks of pseudo-random sizes fed where they lie in text, which the
 * scanners read in place (scan_pool_feed_block_shared), as replay feeds a
 * mapped file; now and then a mark, and the lines before the previous
 * mark applied and their bytes overwritten, as the mapping they came from
 * would go (reader_map.h's retire and release): a scanner that read them
 * later would see the X's. Every 7th block comes from a scratch copy,
 * copied by the pool (scan_pool_feed_block) among the shared ones. */
static void feed_text_shared(struct scan_pool *p, char *text, size_t len)
{
	static char scratch[4096];
	uint32_t x = 54321;
	uint64_t mark = scan_pool_mark(p);
	size_t released = 0, marked_at = 0, marks = 0, blocks = 0;
	for (size_t at = 0; at < len;) {
		size_t n = next_block(text, at, len, &x, 1024 * 1024);
		if (x % 7 == 0 && n <= sizeof(scratch)) {
			memcpy(scratch, text + at, n);
			scan_pool_feed_block(p, scratch, n, T0 * 1000000LL);
			memset(scratch, 'X', n);
		} else {
			scan_pool_feed_block_shared(p, text + at, n, T0 * 1000000LL);
		}
		at += n;
		if (++blocks % 5 == 0) {
			scan_pool_apply_to(p, mark);
			memset(text + released, 'X', marked_at - released);
			released = marked_at;
			mark = scan_pool_mark(p);
			marked_at = at;
			marks++;
		}
	}
	assert_true(marks > 10);
}

/* The same text framed here and fed one line at a time (as replay does
 * for CR LF streams): journal JSON lines go to the direct function too,
 * in their place, and the pool stays in use. */
static void feed_text_line_by_line(struct scan_pool *p, const char *text, size_t len, struct block_outcome *b)
{
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = (size_t)(nl - (text + at)), l = line_len_without_cr(text + at, n);
		b->records++;
		if (l > ENGINE_MAX_LINE)
			b->oversized++;   /* dropped by the reader, as reader_lines() does */
		else
			scan_pool_feed(p, text + at, l, T0 * 1000000LL);
		at += n + 1;
	}
}

enum feeding { BY_LINE, BLOCKS, SHARED };

/* One thread: framed here, fed one by one (the reference). More: through
 * a pool, in blocks (copied or shared) or line by line. */
static void replay_text(const struct ruleset *rs, const char *text, size_t len, unsigned threads, enum feeding how,
			struct block_outcome *b)
{
	memset(b, 0, sizeof(*b));
	struct engine_config cfg = {.use_log_time = true, .reference_us = T0 * 1000000LL, .seed = 7,
				    .on_sanction = on_sanction, .arg = &b->o};
	struct engine *e = engine_new(rs, &cfg);
	b->direct.engine = e;
	if (threads > 1) {
		struct scan_pool *p = scan_pool_new(e, threads);
		assert_non_null(p);
		scan_pool_set_direct(p, on_direct, &b->direct);
		char *copy = how == SHARED ? malloc(len) : NULL;
		if (how == SHARED) {
			assert_non_null(copy);
			feed_text_shared(p, memcpy(copy, text, len), len);
		} else if (how == BLOCKS) {
			feed_text_by_block(p, text, len);
		} else {
			feed_text_line_by_line(p, text, len, b);
		}
		scan_pool_flush(p);
		uint64_t records = 0, oversized = 0;
		scan_pool_counts(p, &records, &oversized);
		b->records += records;
		b->oversized += oversized;
		scan_pool_free(p);
		free(copy);
	} else {
		feed_text_by_line(text, len, b);
	}
	engine_finish(e);
	engine_get_stats(e, &b->o.stats);
	engine_free(e);
}

/* Two replays of one text: the same sanctions, counts, and JSON lines seen. */
static void assert_same_replay(const struct block_outcome *a, const struct block_outcome *b)
{
	assert_same(&a->o, &b->o);
	assert_int_equal(a->records, b->records);
	assert_int_equal(a->oversized, b->oversized);
	assert_int_equal(a->direct.calls, b->direct.calls);
	assert_true(a->direct.hash == b->direct.hash);
}

static void test_blocks_same_as_one_thread(void **state)
{
	(void)state;
	struct ruleset *rs = stock();
	size_t len;
	char *text = make_text(&len);
	struct block_outcome one, many;
	replay_text(rs, text, len, 1, BY_LINE, &one);
	assert_true(one.o.n > 100);
	assert_int_equal(one.records, NLINES + 40000);
	assert_true(one.oversized > 0 && one.direct.calls > 200);
	for (unsigned threads = 2; threads <= 4; threads += 2) {
		replay_text(rs, text, len, threads, BLOCKS, &many);
		assert_same_replay(&one, &many);
		free(many.o.sanctions);
		replay_text(rs, text, len, threads, SHARED, &many);
		assert_same_replay(&one, &many);
		free(many.o.sanctions);
	}
	free(one.o.sanctions);
	free(text);
	ruleset_free(rs);
}

static void test_json_lines_direct_when_fed_by_line(void **state)
{
	(void)state;
	struct ruleset *rs = stock();
	size_t len;
	char *text = make_text(&len);
	struct block_outcome one, lines;
	replay_text(rs, text, len, 1, BY_LINE, &one);
	replay_text(rs, text, len, 3, BY_LINE, &lines);
	assert_true(one.direct.calls > 200);
	assert_same_replay(&one, &lines);
	free(one.o.sanctions);
	free(lines.o.sanctions);
	free(text);
	ruleset_free(rs);
}

/* Blocks and single lines mixed: each applied in the order fed. */
static void test_blocks_and_lines_in_order(void **state)
{
	(void)state;
	struct ruleset *rs = stock();
	struct outcome ref, mixed;
	replay(rs, 1, 0, &ref);
	memset(&mixed, 0, sizeof(mixed));
	struct engine_config cfg = {.use_log_time = true, .reference_us = T0 * 1000000LL, .seed = 7,
				    .on_sanction = on_sanction, .arg = &mixed};
	struct engine *e = engine_new(rs, &cfg);
	struct scan_pool *p = scan_pool_new(e, 3);
	assert_non_null(p);
	static char buf[ENGINE_MAX_LINE + 64];
	for (unsigned i = 0; i < NLINES; i++) {
		size_t n = make_line(i, buf, sizeof(buf) - 1);
		if (n > ENGINE_MAX_LINE || i / 700 % 2 == 0) {
			scan_pool_feed(p, buf, n, T0 * 1000000LL);   /* oversized: counted by the engine */
			scan_pool_hold(p);
		} else {
			buf[n] = '\n';
			scan_pool_feed_block(p, buf, n + 1, T0 * 1000000LL);
		}
	}
	scan_pool_free(p);
	engine_finish(e);
	engine_get_stats(e, &mixed.stats);
	engine_free(e);
	assert_same(&ref, &mixed);
	free(ref.sanctions);
	free(mixed.sanctions);
	ruleset_free(rs);
}

static void test_empty_and_tiny(void **state)
{
	(void)state;
	struct ruleset *rs = stock();
	struct engine_config cfg = {.use_log_time = true, .reference_us = T0 * 1000000LL, .seed = 7};
	struct engine *e = engine_new(rs, &cfg);
	struct scan_pool *p = scan_pool_new(e, 4);
	assert_non_null(p);
	scan_pool_flush(p);                 /* nothing fed */
	scan_pool_feed(p, "", 0, 0);
	scan_pool_hold(p);
	scan_pool_flush(p);
	struct engine_stats st;
	engine_get_stats(e, &st);
	assert_int_equal(st.lines, 1);
	scan_pool_free(p);
	engine_free(e);
	ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_one_thread),
		cmocka_unit_test(test_empty_and_tiny),
		cmocka_unit_test(test_blocks_same_as_one_thread),
		cmocka_unit_test(test_blocks_and_lines_in_order),
		cmocka_unit_test(test_json_lines_direct_when_fed_by_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
