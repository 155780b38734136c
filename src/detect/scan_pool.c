/* scan_pool.c: a ring of line batches scanned by worker threads and applied
 * in order by the caller (see scan_pool.h).
 * A batch goes FILLING (the caller copies lines in) -> READY (waiting for a
 * scanner) -> SCANNING -> SCANNED -> applied by the caller -> FILLING
 * again. Batches are numbered; the caller applies them strictly by number.
 * One mutex guards the states; scanning and applying run outside it. While
 * the caller waits for the oldest batch it scans a READY one itself, so
 * `threads` CPUs are busy, not threads + 1. */
#include "detect/scan_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/lines.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "detect/journal_fmt.h"

enum batch_state { BATCH_FILLING, BATCH_READY, BATCH_SCANNING, BATCH_SCANNED };

struct line_ref {
	uint32_t offset, len;      /* in the batch's text */
	uint32_t first_hit;        /* in the batch's hits */
	bool direct;               /* applied by the direct function, not scanned */
	int64_t now_us;
};

struct batch {
	enum batch_state state;
	char *text;
	/* What is framed and scanned: text, or for a shared block the
	 * caller's own bytes (scan_pool_feed_block_shared), read in place. */
	const char *data;
	size_t text_used;          /* bytes of data in use */
	/* Lines fed since the last copy still lie in the caller's memory, one
	 * after another: [pending, pending + pending_len) goes to text[text_used]
	 * in one memcpy (scan_pool_hold), instead of one copy per line. */
	const char *pending;
	size_t pending_len;
	/* A batch of whole text (scan_pool_feed_block): the scanner frames it
	 * into lines itself, up to the batch's line room; what does not fit,
	 * from overflow_from on, is framed and fed by the applying thread. */
	bool block;
	bool shared;               /* data is the caller's, not text */
	int64_t block_now_us;
	size_t overflow_from;
	uint64_t records, oversized;   /* framed by the scanner */
	struct line_ref *lines;
	size_t nlines;
	struct engine_scanned *scanned;   /* of active[k] at scanned[k] */
	struct engine_hit *hits;   /* room for max_hits per line */
	/* Filled by the scanner: the lines with a hit, which applying visits,
	 * and what the others add to the counts (applying them one by one made
	 * the applying thread pull every line's record from the scanning CPU). */
	uint32_t *active;
	size_t nactive;
	struct engine_unmatched unmatched;
};

struct scan_pool {
	struct engine *engine;
	size_t max_hits;
	pthread_mutex_t lock;
	pthread_cond_t ready;      /* a batch became READY, or the pool stops */
	pthread_cond_t scanned;    /* a batch became SCANNED */
	struct batch *ring;
	size_t nbatches;
	uint64_t next_fill;        /* number of the batch being filled */
	uint64_t next_apply;       /* number of the oldest batch not yet applied */
	bool stopping;
	scan_pool_direct_fn direct;    /* NULL: engine_feed_line */
	void *direct_arg;
	uint64_t records, oversized;   /* of blocks */
	pthread_t workers[SCAN_POOL_MAX_THREADS];
	size_t nworkers;
	struct engine_scanner *own;   /* the caller's, for the batches it scans */
	struct engine_scanner *scanners[SCAN_POOL_MAX_THREADS];
};

struct worker_arg {
	struct scan_pool *pool;
	struct engine_scanner *scanner;
};

static struct batch *batch_of(const struct scan_pool *p, uint64_t number)
{
	return &p->ring[number % p->nbatches];
}

/* Frames text[from, end) (whole records, each ending in LF) as reader.c
 * does for LF streams: line_len_without_cr() for each, and a line longer
 * than ENGINE_MAX_LINE is counted and dropped. Calls fn for each line
 * kept, until it returns false; returns where framing stopped. */
static size_t frame_text(const char *text, size_t from, size_t end, uint64_t *records, uint64_t *oversized,
			 bool (*fn)(void *arg, const char *line, size_t len, size_t offset), void *arg)
{
	while (from < end) {
		const char *nl = memchr(text + from, '\n', end - from);
		size_t n = nl ? (size_t)(nl - (text + from)) : end - from;
		size_t len = line_len_without_cr(text + from, n);
		if (len <= ENGINE_MAX_LINE && !fn(arg, text + from, len, from))
			break;
		++*records;
		*oversized += len > ENGINE_MAX_LINE;
		from += n + 1;
	}
	return from < end ? from : end;
}

/* Journal JSON lines (journal_json_line) are not scanned: the caller's
 * direct function parses them, in order, whether they came in a block or
 * one by one. */
static bool add_block_line(void *arg, const char *line, size_t len, size_t offset)
{
	struct batch *b = arg;
	if (b->nlines == SCAN_POOL_BATCH_LINES)
		return false;
	b->lines[b->nlines++] = (struct line_ref){
	    .offset = (uint32_t)offset, .len = (uint32_t)len, .direct = journal_json_line(line, len),
	    .now_us = b->block_now_us};
	return true;
}

static void frame_block(struct batch *b)
{
	b->records = b->oversized = 0;
	b->overflow_from = frame_text(b->data, 0, b->text_used, &b->records, &b->oversized, add_block_line, b);
}

/* Hits are packed one line after another: room for max_hits per line is
 * reserved, but only what lines use is touched. Records likewise: a line
 * is scanned into the next active line's record, which the next line
 * reuses when this one has no hit, so records are written only in the
 * first nactive + 1 places, not one per line (~110 bytes each, streamed
 * every batch's worth through the caches: 0.932 of the two-CPU wall
 * time, 15 rounds). A direct line's place holds no record: applying it
 * reads none. */
static void scan_batch(struct engine_scanner *sc, struct batch *b)
{
	size_t used = 0;
	b->nactive = 0;
	memset(&b->unmatched, 0, sizeof(b->unmatched));
	if (b->block)
		frame_block(b);
	for (size_t i = 0; i < b->nlines; i++) {
		struct line_ref *l = &b->lines[i];
		struct engine_scanned *s = &b->scanned[b->nactive];
		l->first_hit = (uint32_t)used;
		if (l->direct) {
			b->active[b->nactive++] = (uint32_t)i;
			continue;
		}
		engine_scan_line(sc, b->data + l->offset, l->len, s, &b->hits[used]);
		used += s->nhits;
		if (s->nhits) {
			engine_scanned_keep_time(s, b->data + l->offset, l->len);
			b->active[b->nactive++] = (uint32_t)i;
		}
		else
			engine_count_unmatched(&b->unmatched, s);
	}
}

/* The oldest READY batch, or NULL. Called with the lock held. */
static struct batch *take_ready(struct scan_pool *p)
{
	for (uint64_t n = p->next_apply; n < p->next_fill; n++) {
		struct batch *b = batch_of(p, n);
		if (b->state == BATCH_READY) {
			b->state = BATCH_SCANNING;
			return b;
		}
	}
	return NULL;
}

/* Scans b outside the lock, then marks it SCANNED. Called with the lock held. */
static void scan_unlocked(struct scan_pool *p, struct engine_scanner *sc, struct batch *b)
{
	pthread_mutex_unlock(&p->lock);
	scan_batch(sc, b);
	pthread_mutex_lock(&p->lock);
	b->state = BATCH_SCANNED;
	pthread_cond_broadcast(&p->scanned);
}

static void *worker_main(void *arg)
{
	struct scan_pool *p = ((struct worker_arg *)arg)->pool;
	struct engine_scanner *sc = ((struct worker_arg *)arg)->scanner;
	free(arg);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct batch *b = take_ready(p);
		if (b) {
			scan_unlocked(p, sc, b);
			continue;
		}
		if (p->stopping)
			break;
		pthread_cond_wait(&p->ready, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void batch_init(struct batch *b, size_t max_hits)
{
	b->text = xmalloc(SCAN_POOL_BATCH_BYTES);
	b->data = b->text;
	b->lines = xcalloc(SCAN_POOL_BATCH_LINES, sizeof(*b->lines));
	b->scanned = xcalloc(SCAN_POOL_BATCH_LINES, sizeof(*b->scanned));
	b->hits = xcalloc(SCAN_POOL_BATCH_LINES * max_hits, sizeof(*b->hits));
	b->active = xcalloc(SCAN_POOL_BATCH_LINES, sizeof(*b->active));
}

static void batch_fini(struct batch *b)
{
	free(b->text);
	free(b->lines);
	free(b->scanned);
	free(b->hits);
	free(b->active);
}

static bool start_workers(struct scan_pool *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct worker_arg *a = xmalloc(sizeof(*a));
		p->scanners[i] = engine_scanner_new(p->engine);
		*a = (struct worker_arg){p, p->scanners[i]};
		int rc = pthread_create(&p->workers[i], NULL, worker_main, a);
		if (rc != 0) {
			log_warnx("cannot start a scanning thread: %s", strerror(rc));
			engine_scanner_free(p->scanners[i]);
			p->scanners[i] = NULL;
			free(a);
			return false;
		}
		p->nworkers++;
	}
	return true;
}

struct scan_pool *scan_pool_new(struct engine *e, unsigned threads)
{
	if (threads < 1)
		threads = 1;
	if (threads > SCAN_POOL_MAX_THREADS)
		threads = SCAN_POOL_MAX_THREADS;
	struct scan_pool *p = xcalloc(1, sizeof(*p));
	p->engine = e;
	p->max_hits = engine_max_hits(e);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->ready, NULL);
	pthread_cond_init(&p->scanned, NULL);
	/* Two batches per thread: one being scanned, one waiting. */
	p->nbatches = 2 * (size_t)threads + 1;
	p->ring = xcalloc(p->nbatches, sizeof(*p->ring));
	for (size_t i = 0; i < p->nbatches; i++)
		batch_init(&p->ring[i], p->max_hits);
	p->own = engine_scanner_new(e);
	if (!start_workers(p, threads - 1)) {
		scan_pool_free(p);
		return NULL;
	}
	return p;
}

static void feed_direct(struct scan_pool *p, const char *line, size_t len, int64_t now_us)
{
	if (p->direct)
		p->direct(p->direct_arg, line, len, now_us);
	else
		engine_feed_line(p->engine, line, len, now_us);
}

struct overflow {
	struct scan_pool *pool;
	int64_t now_us;
};

static bool feed_overflow_line(void *arg, const char *line, size_t len, size_t offset)
{
	struct overflow *o = arg;
	(void)offset;
	feed_direct(o->pool, line, len, o->now_us);
	return true;
}

/* The block's counts, and the lines past its line room, fed here in order. */
static void apply_block_rest(struct scan_pool *p, struct batch *b)
{
	p->records += b->records;
	p->oversized += b->oversized;
	struct overflow o = {p, b->block_now_us};
	frame_text(b->data, b->overflow_from, b->text_used, &p->records, &p->oversized, feed_overflow_line, &o);
	b->block = false;
}

/* Lines without a hit change nothing but counts, so they are applied all
 * at once; the others in order. */
static void apply_batch(struct scan_pool *p, struct batch *b)
{
	engine_add_unmatched(p->engine, &b->unmatched);
	for (size_t k = 0; k < b->nactive; k++) {
		uint32_t i = b->active[k];
		const struct line_ref *l = &b->lines[i];
		if (l->direct)
			feed_direct(p, b->data + l->offset, l->len, l->now_us);
		else
			engine_apply_line(p->engine, &b->scanned[k], &b->hits[l->first_hit], l->now_us);
	}
	if (b->block)
		apply_block_rest(p, b);
	b->nlines = 0;
	b->text_used = 0;
	b->shared = false;
	b->data = b->text;
}

/* Applies the oldest batch, scanning READY ones meanwhile; false when
 * every batch fed has been applied. */
static bool apply_oldest(struct scan_pool *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->next_apply == p->next_fill) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	struct batch *oldest = batch_of(p, p->next_apply);
	while (oldest->state != BATCH_SCANNED) {
		struct batch *b = take_ready(p);
		if (b)
			scan_unlocked(p, p->own, b);
		else
			pthread_cond_wait(&p->scanned, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	apply_batch(p, oldest);
	pthread_mutex_lock(&p->lock);
	oldest->state = BATCH_FILLING;
	p->next_apply++;
	pthread_mutex_unlock(&p->lock);
	return true;
}

/* Applies every SCANNED batch at the head of the queue, without waiting. */
static void apply_done(struct scan_pool *p)
{
	for (;;) {
		pthread_mutex_lock(&p->lock);
		bool done = p->next_apply < p->next_fill && batch_of(p, p->next_apply)->state == BATCH_SCANNED;
		pthread_mutex_unlock(&p->lock);
		if (!done || !apply_oldest(p))
			return;
	}
}

/* The most bytes between two lines of one run: CR LF. */
#define MAX_SEPARATOR 2

/* Copies the lines still in the caller's memory into the batch. */
static void hold_batch(struct batch *b)
{
	if (!b->pending_len)
		return;
	memcpy(b->text + b->text_used, b->pending, b->pending_len);
	b->text_used += b->pending_len;
	b->pending = NULL;
	b->pending_len = 0;
}

void scan_pool_hold(struct scan_pool *p)
{
	hold_batch(batch_of(p, p->next_fill));
}

/* Hands the batch being filled to the scanners and starts the next one,
 * first applying the one it reuses if that is still pending. */
static void submit(struct scan_pool *p)
{
	struct batch *b = batch_of(p, p->next_fill);
	hold_batch(b);
	if (b->nlines == 0 && !b->block)
		return;
	pthread_mutex_lock(&p->lock);
	b->state = BATCH_READY;
	p->next_fill++;
	pthread_cond_signal(&p->ready);
	pthread_mutex_unlock(&p->lock);
	apply_done(p);
	while (p->next_fill - p->next_apply >= p->nbatches)
		apply_oldest(p);
}

void scan_pool_feed(struct scan_pool *p, const char *line, size_t len, int64_t now_us)
{
	struct batch *b = batch_of(p, p->next_fill);
	if (b->block) {
		submit(p);
		b = batch_of(p, p->next_fill);
	}
	size_t stored = len > ENGINE_MAX_LINE ? 0 : len;   /* an oversized line is counted, not kept */
	/* A line that follows the pending ones after at most its separator
	 * (LF, or CR LF) extends their run, separator included; anything else
	 * (a skipped oversized line, out of order) copies the run first. */
	size_t gap = 0;
	if (b->pending_len) {
		/* As integers: line may lie in another buffer, where comparing
		 * or subtracting pointers is undefined. */
		gap = (uintptr_t)line - ((uintptr_t)b->pending + b->pending_len);
		if (gap > MAX_SEPARATOR) {
			hold_batch(b);
			gap = 0;
		}
	}
	if (b->nlines == SCAN_POOL_BATCH_LINES ||
	    b->text_used + b->pending_len + gap + stored > SCAN_POOL_BATCH_BYTES) {
		submit(p);
		b = batch_of(p, p->next_fill);
	}
	if (!b->pending_len)
		b->pending = line;
	struct line_ref *l = &b->lines[b->nlines++];
	l->offset = (uint32_t)(b->text_used + (size_t)(line - b->pending));
	l->len = (uint32_t)len;
	l->direct = journal_json_line(line, stored);
	l->now_us = now_us;
	b->pending_len = (size_t)(line - b->pending) + stored;
}

void scan_pool_set_direct(struct scan_pool *p, scan_pool_direct_fn fn, void *arg)
{
	p->direct = fn;
	p->direct_arg = arg;
}

/* A line longer than a batch's text, at the start of buf: counted, dropped;
 * returns its length with its LF. */
static size_t drop_huge_line(struct scan_pool *p, const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	p->records++;
	p->oversized++;
	return nl ? (size_t)(nl - buf) + 1 : len;
}

/* How much of buf (whole records) goes into b, cut after a LF: 0 when b
 * must be submitted first. */
static size_t block_take(const struct batch *b, const char *buf, size_t len)
{
	size_t room = SCAN_POOL_BLOCK_BYTES - b->text_used;
	if (len <= room)
		return len;
	const char *cut = room ? memrchr(buf, '\n', room) : NULL;
	return cut ? (size_t)(cut - buf) + 1 : 0;
}

/* Whether b can take a block of buf at now_us: an empty batch can; one of
 * lines cannot; a copied block takes copied bytes of its time; a shared
 * block, the bytes that follow its own (as integers: buf may lie in
 * another buffer, where comparing pointers is undefined). */
static bool block_fits(const struct batch *b, const char *buf, int64_t now_us, bool shared)
{
	if (!b->block)
		return !b->nlines && !b->pending_len;
	if (b->shared != shared || b->block_now_us != now_us)
		return false;
	return !shared || (uintptr_t)buf == (uintptr_t)b->data + b->text_used;
}

static void block_add(struct batch *b, const char *buf, size_t take, int64_t now_us, bool shared)
{
	if (!shared)
		memcpy(b->text + b->text_used, buf, take);
	else if (!b->block)
		b->data = buf;
	b->text_used += take;
	b->block = true;
	b->shared = shared;
	b->block_now_us = now_us;
}

static void feed_block(struct scan_pool *p, const char *buf, size_t len, int64_t now_us, bool shared)
{
	while (len > 0) {
		struct batch *b = batch_of(p, p->next_fill);
		if (!block_fits(b, buf, now_us, shared)) {
			submit(p);
			continue;
		}
		size_t take = block_take(b, buf, len);
		if (take == 0 && b->text_used == 0)
			take = drop_huge_line(p, buf, len);
		else if (take == 0) {
			submit(p);
			continue;
		} else {
			block_add(b, buf, take, now_us, shared);
		}
		buf += take;
		len -= take;
		if (b->text_used == SCAN_POOL_BLOCK_BYTES)
			submit(p);
	}
}

void scan_pool_feed_block(struct scan_pool *p, const char *buf, size_t len, int64_t now_us)
{
	feed_block(p, buf, len, now_us, false);
}

void scan_pool_feed_block_shared(struct scan_pool *p, const char *buf, size_t len, int64_t now_us)
{
	feed_block(p, buf, len, now_us, true);
}

uint64_t scan_pool_mark(struct scan_pool *p)
{
	submit(p);
	return p->next_fill;
}

void scan_pool_apply_to(struct scan_pool *p, uint64_t mark)
{
	/* next_apply changes only on this thread. */
	while (p->next_apply < mark && apply_oldest(p))
		;
}

void scan_pool_counts(const struct scan_pool *p, uint64_t *records, uint64_t *oversized)
{
	*records = p->records;
	*oversized = p->oversized;
}

void scan_pool_flush(struct scan_pool *p)
{
	submit(p);
	while (apply_oldest(p))
		;
}

void scan_pool_free(struct scan_pool *p)
{
	if (!p)
		return;
	scan_pool_flush(p);
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->ready);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i], NULL);
	for (size_t i = 0; i < SCAN_POOL_MAX_THREADS; i++)
		engine_scanner_free(p->scanners[i]);
	engine_scanner_free(p->own);
	for (size_t i = 0; i < p->nbatches; i++)
		batch_fini(&p->ring[i]);
	free(p->ring);
	pthread_cond_destroy(&p->ready);
	pthread_cond_destroy(&p->scanned);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
