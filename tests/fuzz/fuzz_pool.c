/* fuzz_pool.c: `pacto replay` on several threads gives exactly what it
 * gives on one: log text through the scan pool (src/detect/scan_pool.c:
 * lines framed and scanned on other threads, applied in order), mostly
 * its block path (scan_pool_feed_block), against the same text framed by
 * reader_lines and fed one line at a time to engine_feed_line.
 * Input: log text, any bytes (the first 64 KiB are read). A hash of it
 * picks the engines' settings (trusting bare lines, the IPv6 prefix) and
 * how the second pass cuts the text into blocks.
 * Two passes, each with two engines over the stock sshd and recidive
 * rules (log time, a fixed reference time, small tables so that
 * evictions happen), the pool with 2 threads:
 *   replay: the pool side is `pacto replay`'s own input code
 *     (src/sources/replay_input.c) on a file that one read() returns
 *     whole: its whole records as one block, then the part after the
 *     last LF, at the end of input, line by line; a stream that ends
 *     records in CR LF goes all line by line (an input replay reads as
 *     journal export format is not compared: the reference reads lines);
 *   blocks: the stream read as LF lines (the block path's rule: a CR
 *     before a LF dropped), its whole records cut after LFs into up to
 *     MAX_BLOCKS blocks, some at a later caller time (a new batch each),
 *     each from a copy freed as soon as scan_pool_feed_block returns, or
 *     (half the inputs) read in place, scan_pool_feed_block_shared, the
 *     buffer overwritten and freed once the pool has applied them.
 * On both sides a line starting with '{' is parsed as journal JSON on the
 * caller's thread (replay's feed_direct, the pool's direct function).
 * Properties: both sides emit the same sanctions (address, scenario,
 * attempts, first and last seen, time, duration, offence) and the same
 * traces (verdict, scenario, pattern, source, key, count, time, line), in
 * the same order; the engines' counters are all equal; the pool's records
 * and oversized lines plus the pool side's reader's equal the reader's
 * alone; the JSON lines reach the caller's thread in order, each at its
 * caller time. Each input frees all it made; the pool's threads are
 * started and joined per input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/cli.h"
#include "detect/journal_fmt.h"
#include "detect/scan_pool.h"
#include "fuzz.h"
#include "sources/reader.h"
#include "sources/replay_input.h"

#define T0_US (1795737600LL * 1000000)   /* 2026-11-27T00:00:00Z */
#define FUZZ_POOL_MAX_INPUT (64 * 1024)
#define POOL_THREADS 2
/* Each block at a new caller time is a batch of its own: a few dozen wrap
 * the ring (2 * threads + 1 batches) many times and keep a run fast. */
#define MAX_BLOCKS 64

/* How the whole records [0, whole) are cut into blocks, and the caller's
 * time for each block (the tail's is the last block's). */
struct plan {
	size_t whole;
	size_t nblocks;
	size_t end[MAX_BLOCKS];
	int64_t now_us[MAX_BLOCKS];
	int64_t tail_now_us;
	bool shared;                /* blocks read in place (scan_pool_feed_block_shared) */
};

struct trace_rec {
	enum verdict verdict;
	const struct scenario *scenario;
	const struct pattern *pattern;
	bool has_event;
	uint64_t event_hash;        /* the event's message, program, host, pid and time */
	struct addr source, key;
	unsigned in_window;
	int64_t time_us, until_us;
};

/* One engine and what came out of it. pool == NULL: the reference. in:
 * fed by replay's own input code (its JSON lines are not chained). */
struct side {
	struct engine *e;
	struct scan_pool *pool;
	struct replay_input *in;
	bool fed_blocks;
	const struct plan *plan;
	struct reader_lines lines;
	struct reader_stats rs;
	int64_t now_us;             /* the pool side's time for lines fed one by one */
	uint64_t mark;              /* shared blocks: applied before their buffer goes */
	struct journal_store *jstore;
	uint64_t bad_journal, json_lines, json_hash;
	struct sanction *sanctions;
	size_t nsanctions, sanctions_cap;
	struct trace_rec *traces;
	size_t ntraces, traces_cap;
	uint64_t pool_records, pool_oversized;
	struct engine_stats st;
};

static uint64_t chain(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	h = (h ^ len) * 1099511628211u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211u;
	return h;
}

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? 2 * *cap : 64;
	p = realloc(p, *cap * size);
	FUZZ_CHECK(p != NULL);
	return p;
}

static void on_sanction(void *arg, const struct sanction *s)
{
	struct side *d = arg;
	d->sanctions = grow(d->sanctions, &d->sanctions_cap, d->nsanctions, sizeof(*d->sanctions));
	d->sanctions[d->nsanctions++] = *s;
}

static void on_trace(void *arg, const struct trace *t)
{
	struct side *d = arg;
	struct trace_rec r = {
		.verdict = t->verdict, .scenario = t->scenario, .pattern = t->pattern, .has_event = t->event != NULL,
		.source = t->source, .key = t->key, .in_window = t->in_window, .time_us = t->time_us,
		.until_us = t->until_us,
	};
	if (t->event) {
		const struct log_event *ev = t->event;
		uint64_t h = chain(1469598103934665603u, ev->msg, ev->msg_len);
		h = chain(h, ev->prog, ev->prog ? ev->prog_len : 0);
		h = chain(h, ev->host, ev->host ? ev->host_len : 0);
		h = chain(h, &ev->pid, sizeof(ev->pid));
		r.event_hash = chain(h, &ev->time_us, sizeof(ev->time_us));
	}
	d->traces = grow(d->traces, &d->traces_cap, d->ntraces, sizeof(*d->traces));
	d->traces[d->ntraces++] = r;
}

/* As replay_input.c's feed_direct: journal JSON parsed here, any other
 * line to the engine. The JSON lines are chained with their time, in order. */
static void feed_direct(struct side *d, const char *line, size_t len, int64_t now_us)
{
	if (len > 0 && line[0] == '{') {
		d->json_lines++;
		d->json_hash = chain(chain(d->json_hash, line, len), &now_us, sizeof(now_us));
		struct log_event ev;
		if (journal_json_parse(line, len, d->jstore, &ev) == 0) {
			engine_feed_event(d->e, &ev, now_us);
			return;
		}
		d->bad_journal++;
	}
	engine_feed_line(d->e, line, len, now_us);
}

static void pool_direct(void *arg, const char *line, size_t len, int64_t now_us)
{
	feed_direct(arg, line, len, now_us);
}

/* The caller's time of the line at offset in the plan. */
static int64_t plan_now(const struct plan *p, uint64_t offset)
{
	for (size_t i = 0; i < p->nblocks; i++)
		if (offset < p->end[i])
			return p->now_us[i];
	return p->tail_now_us;
}

/* The reference: every line to feed_direct, at its block's time. */
static void on_line_ref(void *arg, const char *line, size_t len, uint64_t offset)
{
	struct side *d = arg;
	feed_direct(d, line, len, plan_now(d->plan, offset));
}

/* As replay_input.c's on_line: with the pool, every line goes to it
 * (journal JSON comes back through the direct function, in order). */
static void on_line_pool(void *arg, const char *line, size_t len, uint64_t offset)
{
	struct side *d = arg;
	(void)offset;
	scan_pool_feed(d->pool, line, len, d->now_us);
}

/* The whole records of the input, block by block, each from a copy freed
 * at once (the pool must have copied it), or shared: read in place until
 * the reader's buffer goes (release_blocks). */
static void feed_blocks(struct side *d, const char *buf, size_t whole)
{
	const struct plan *p = d->plan;
	FUZZ_CHECK(!d->fed_blocks && whole == p->whole);
	d->fed_blocks = true;
	size_t at = 0;
	for (size_t i = 0; i < p->nblocks; i++) {
		size_t n = p->end[i] - at;
		if (p->shared) {
			scan_pool_feed_block_shared(d->pool, buf + at, n, p->now_us[i]);
			at = p->end[i];
			continue;
		}
		char *copy = fuzz_copy((const uint8_t *)buf + at, n);
		scan_pool_feed_block(d->pool, copy, n, p->now_us[i]);
		memset(copy, 'X', n);
		free(copy);
		at = p->end[i];
	}
	FUZZ_CHECK(at == whole);
	d->now_us = p->tail_now_us;
	d->mark = scan_pool_mark(d->pool);
}

/* The reader's buffer goes: the shared blocks from it must be applied. */
static void release_blocks(void *arg)
{
	struct side *d = arg;
	scan_pool_apply_to(d->pool, d->mark);
}

/* The blocks pass: replay's framing of lines (replay_input_frame), with
 * the whole records cut into the plan's blocks. */
static long pool_frame(void *arg, const char *buf, size_t len, bool at_eof, bool full)
{
	struct side *d = arg;
	size_t whole = reader_lines_whole(&d->lines, buf, len);
	if (whole) {
		feed_blocks(d, buf, whole);
		return (long)whole;
	}
	long used = reader_lines(&d->lines, buf, len, at_eof, full);
	scan_pool_hold(d->pool);   /* the reader moves or overwrites buf next */
	return used;
}

static long ref_frame(void *arg, const char *buf, size_t len, bool at_eof, bool full)
{
	struct side *d = arg;
	return reader_lines(&d->lines, buf, len, at_eof, full);
}

/* reader.c's frame_all: returns where framing stopped. */
static size_t frame_loop(reader_frame_fn frame, void *arg, const char *buf, size_t len, bool at_eof)
{
	size_t start = 0;
	while (start < len) {
		long n = frame(arg, buf + start, len - start, at_eof, len - start == READER_BUFFER);
		if (n == 0)
			break;
		size_t take = (size_t)(n > 0 ? n : -n);
		start += take < len - start ? take : len - start;
	}
	return start;
}

/* What reader_run does with an input one read() returns whole: frame
 * with more to come, then move the rest to the start of its buffer and
 * frame it at the end of input. Each buffer is freed when the reader is
 * done with it, so the pool must have copied what it keeps, or applied
 * it when release (NULL: none) returns, as reader_map's release. */
static void frame_input(reader_frame_fn frame, void *arg, const char *text, size_t len, void (*release)(void *arg))
{
	char *buf = fuzz_copy((const uint8_t *)text, len);
	size_t start = frame_loop(frame, arg, buf, len, false);
	if (release)
		release(arg);
	char *rest = fuzz_copy((const uint8_t *)buf + start, len - start);
	memset(buf, 'X', len);
	free(buf);
	size_t used = frame_loop(frame, arg, rest, len - start, true);
	FUZZ_CHECK(used == len - start);
	memset(rest, 'X', len - start);
	free(rest);
}

/* The stock sshd rules and recidive (which reads sanctions, so their
 * order), loaded once: fewer scenarios than all the stock rules make a
 * pool's batches (room for one hit per scenario per line) several times
 * smaller, and a pool is made for every input. */
static struct ruleset *rules;

static void free_rules(void)
{
	ruleset_free(rules);
}

static const struct ruleset *sshd_rules(void)
{
	if (!rules) {
		struct rule_text texts[2];
		size_t n = 0;
		for (size_t i = 0; i < nstock_rules; i++) {
			const char *name = stock_rules[i].name;
			size_t len = strlen(name);
			if ((len >= 9 && strcmp(name + len - 9, "sshd.yaml") == 0) ||
			    (len >= 13 && strcmp(name + len - 13, "recidive.yaml") == 0)) {
				FUZZ_CHECK(n < 2);
				texts[n++] = stock_rules[i];
			}
		}
		FUZZ_CHECK(n == 2);
		struct errors errs = {0};
		FUZZ_CHECK(ruleset_load_texts(texts, n, &rules, &errs) == 0);
		atexit(free_rules);
	}
	return rules;
}

static const struct addr *allowlist(void)
{
	static struct addr a[2];
	if (!a[0].family) {
		FUZZ_CHECK(addr_parse_cidr("10.0.0.0/8", &a[0]) == 0);
		FUZZ_CHECK(addr_parse_cidr("2001:db8:a11::/48", &a[1]) == 0);
	}
	return a;
}

static void side_init(struct side *d, bool pooled, bool replay, const struct plan *plan,
		      enum reader_eol eol, bool bare, unsigned ipv6_prefix)
{
	memset(d, 0, sizeof(*d));
	d->plan = plan;
	d->now_us = T0_US;
	d->jstore = malloc(sizeof(*d->jstore));
	FUZZ_CHECK(d->jstore != NULL);
	struct engine_config cfg = {
		.allowlist = allowlist(), .nallowlist = 2, .ipv6_prefix = ipv6_prefix,
		.max_sources = 16, .max_connections = 16, .use_log_time = true, .trust_bare = bare,
		.reference_us = T0_US, .seed = 1, .on_sanction = on_sanction, .on_trace = on_trace, .arg = d,
		.trace_all = true,
	};
	d->e = engine_new(sshd_rules(), &cfg);
	FUZZ_CHECK(d->e != NULL);
	engine_set_reference(d->e, T0_US);   /* as replay_fd does for each input */
	d->lines = (struct reader_lines){.fn = pooled ? on_line_pool : on_line_ref, .arg = d,
					 .max_line = ENGINE_MAX_LINE, .stats = &d->rs, .eol = eol};
	if (pooled) {
		d->pool = scan_pool_new(d->e, POOL_THREADS);
		FUZZ_CHECK(d->pool != NULL);
		scan_pool_set_direct(d->pool, pool_direct, d);
	}
	if (replay) {
		d->in = malloc(sizeof(*d->in));
		FUZZ_CHECK(d->in != NULL);
		replay_input_init(d->in, d->e, d->pool);
		replay_input_start(d->in, &d->rs, T0_US);
	}
}

/* Ends the input as cmd_replay.c does: the pool flushed and counted, the
 * engine finished. */
static void side_finish(struct side *d)
{
	if (d->pool) {
		scan_pool_flush(d->pool);
		scan_pool_counts(d->pool, &d->pool_records, &d->pool_oversized);
		scan_pool_free(d->pool);
		d->pool = NULL;
	}
	engine_finish(d->e);
	engine_get_stats(d->e, &d->st);
	if (d->in) {
		d->bad_journal = d->in->bad_journal;
		d->lines.offset = d->in->lines.offset;
	}
}

static void side_free(struct side *d)
{
	engine_free(d->e);
	free(d->in);
	free(d->jstore);
	free(d->sanctions);
	free(d->traces);
}

/* ---- comparing ---- */

static void same(int line, const char *what, uint64_t ref, uint64_t pool)
{
	if (ref == pool)
		return;
	fprintf(stderr, "fuzz_pool: %s: %llu line by line, %llu through the pool\n", what,
		(unsigned long long)ref, (unsigned long long)pool);
	fuzz_fail(__FILE__, line, what);
}

#define SAME(field) same(__LINE__, #field, (uint64_t)(ref->field), (uint64_t)(pool->field))

static void print_sanction(const char *who, size_t i, const struct sanction *s)
{
	char a[ADDR_STRLEN], f[32], l[32], c[32];
	fprintf(stderr, "fuzz_pool: %s sanction %zu: %s %s attempts %u first %s last %s at %s for %llds offence %u\n",
		who, i, addr_format(&s->addr, a, sizeof(a)), s->scenario->name, s->attempts,
		format_time_utc(s->first_seen_us, f, sizeof(f)), format_time_utc(s->last_seen_us, l, sizeof(l)),
		format_time_utc(s->created_us, c, sizeof(c)), (long long)(s->duration_us / 1000000), s->offence);
}

static void compare_sanctions(const struct side *ref, const struct side *pool)
{
	size_t n = ref->nsanctions < pool->nsanctions ? ref->nsanctions : pool->nsanctions;
	for (size_t i = 0; i < n; i++) {
		const struct sanction *a = &ref->sanctions[i], *b = &pool->sanctions[i];
		if (addr_equal(&a->addr, &b->addr) && a->scenario == b->scenario && a->attempts == b->attempts &&
		    a->first_seen_us == b->first_seen_us && a->last_seen_us == b->last_seen_us &&
		    a->created_us == b->created_us && a->duration_us == b->duration_us && a->offence == b->offence)
			continue;
		print_sanction("line by line", i, a);
		print_sanction("pool", i, b);
		fuzz_fail(__FILE__, __LINE__, "the same sanctions in the same order");
	}
	SAME(nsanctions);
}

static bool same_trace(const struct trace_rec *a, const struct trace_rec *b)
{
	return a->verdict == b->verdict && a->scenario == b->scenario && a->pattern == b->pattern &&
	       a->has_event == b->has_event && a->event_hash == b->event_hash &&
	       addr_equal(&a->source, &b->source) && addr_equal(&a->key, &b->key) &&
	       a->in_window == b->in_window && a->time_us == b->time_us && a->until_us == b->until_us;
}

static void print_trace(const char *who, size_t i, const struct trace_rec *t)
{
	char s[ADDR_STRLEN], k[ADDR_STRLEN], when[32];
	fprintf(stderr, "fuzz_pool: %s trace %zu: %s %s/%s %s key %s in window %u at %s, line %016llx\n", who, i,
		verdict_text(t->verdict), t->scenario->name, t->pattern ? t->pattern->name : "-",
		addr_format(&t->source, s, sizeof(s)), addr_format(&t->key, k, sizeof(k)), t->in_window,
		format_time_utc(t->time_us, when, sizeof(when)), (unsigned long long)t->event_hash);
}

static void compare_traces(const struct side *ref, const struct side *pool)
{
	size_t n = ref->ntraces < pool->ntraces ? ref->ntraces : pool->ntraces;
	for (size_t i = 0; i < n; i++) {
		if (same_trace(&ref->traces[i], &pool->traces[i]))
			continue;
		print_trace("line by line", i, &ref->traces[i]);
		print_trace("pool", i, &pool->traces[i]);
		fuzz_fail(__FILE__, __LINE__, "the same traces in the same order");
	}
	SAME(ntraces);
}

static void compare(const struct side *ref, const struct side *pool)
{
	/* The reference's own bookkeeping: each line framed is fed once. */
	FUZZ_CHECK(ref->st.lines + ref->rs.oversized == ref->rs.records);
	FUZZ_CHECK(ref->pool_records == 0 && ref->pool_oversized == 0);
	compare_sanctions(ref, pool);
	compare_traces(ref, pool);
	SAME(st.lines);
	SAME(st.oversized);
	SAME(st.matched);
	SAME(st.failures);
	SAME(st.sanctions);
	SAME(st.allowlisted);
	SAME(st.while_sanctioned);
	SAME(st.bad_address);
	SAME(st.match_errors);
	SAME(st.bad_time);
	SAME(st.pending_expired);
	SAME(st.recidives);
	SAME(st.bare_ignored);
	SAME(st.backwards);
	SAME(st.source_evictions);
	SAME(st.connection_evictions);
	SAME(st.offender_evictions);
	SAME(st.memory_bytes);
	same(__LINE__, "records", ref->rs.records, pool->rs.records + pool->pool_records);
	same(__LINE__, "oversized lines", ref->rs.oversized, pool->rs.oversized + pool->pool_oversized);
	if (!pool->in) {
		SAME(json_lines);
		SAME(json_hash);
	}
	SAME(bad_journal);
	SAME(lines.offset);
}

/* ---- the passes ---- */

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* The whole records of text in one block at T0 (what replay does). */
static void plan_one(struct plan *p, const char *text, size_t len)
{
	const char *last = len ? memrchr(text, '\n', len) : NULL;
	p->whole = last ? (size_t)(last - text) + 1 : 0;
	p->nblocks = p->whole ? 1 : 0;
	p->end[0] = p->whole;
	p->now_us[0] = p->tail_now_us = T0_US;
	p->shared = false;
}

/* The whole records of text cut after LFs: about one LF in 2^k ends a
 * block (k from the seed), and about half the blocks come a second later
 * than the one before. */
static void plan_cut(struct plan *p, const char *text, size_t len, uint32_t seed)
{
	plan_one(p, text, len);
	uint32_t x = seed * 2654435761u | 1;
	unsigned k = xorshift(&x) % 8;
	int64_t now = T0_US;
	size_t at = 0;
	p->nblocks = 0;
	while (at < p->whole) {
		size_t end = p->whole;
		if (p->nblocks < MAX_BLOCKS - 1) {
			uint32_t skip = xorshift(&x) % (2u << k);
			const char *nl = memchr(text + at, '\n', p->whole - at);
			while (skip-- && (size_t)(nl + 1 - text) < p->whole)
				nl = memchr(nl + 1, '\n', p->whole - (size_t)(nl + 1 - text));
			end = (size_t)(nl + 1 - text);
		}
		if (xorshift(&x) & 0x100)
			now += 1000000;
		p->end[p->nblocks] = end;
		p->now_us[p->nblocks++] = now;
		at = end;
	}
	p->tail_now_us = now;
	p->shared = xorshift(&x) & 1;
}

/* replay: the pool side through replay_input_frame (plan: one block). */
static void run_pass(const char *text, size_t len, const struct plan *plan, bool replay, enum reader_eol eol,
		     bool bare, unsigned ipv6_prefix)
{
	struct side ref, pool;
	side_init(&ref, false, false, plan, eol, bare, ipv6_prefix);
	side_init(&pool, true, replay, plan, eol, bare, ipv6_prefix);
	frame_input(ref_frame, &ref, text, len, NULL);
	if (replay)
		frame_input(replay_input_frame, pool.in, text, len, NULL);
	else
		frame_input(pool_frame, &pool, text, len, plan->shared ? release_blocks : NULL);
	side_finish(&ref);
	side_finish(&pool);
	if (!pool.in || pool.in->form == REPLAY_FORM_LINES)
		compare(&ref, &pool);
	side_free(&ref);
	side_free(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_POOL_MAX_INPUT)
		size = FUZZ_POOL_MAX_INPUT;
	static const unsigned prefixes[4] = {64, 128, 48, 56};
	uint32_t h = (uint32_t)chain(1469598103934665603u, data, size);
	bool bare = h & 1;
	unsigned ipv6_prefix = prefixes[(h >> 1) & 3];
	char *text = fuzz_copy(data, size);
	struct plan *plan = malloc(sizeof(*plan));
	FUZZ_CHECK(plan != NULL);
	plan_one(plan, text, size);
	run_pass(text, size, plan, true, EOL_UNDECIDED, bare, ipv6_prefix);
	plan_cut(plan, text, size, h >> 3);
	run_pass(text, size, plan, false, EOL_LF, bare, ipv6_prefix);
	free(plan);
	free(text);
	return 0;
}
