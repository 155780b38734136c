/* replay_input.c: one input of `pacto replay`, framed and fed (see
 * replay_input.h). */
#include "sources/replay_input.h"

#include <string.h>

/* A line fed on this thread: journal JSON, or any line without the pool.
 * Also the pool's direct function (its lines the scanners leave to this
 * thread, in order). */
static void feed_direct(void *arg, const char *line, size_t len, int64_t now_us)
{
	struct replay_input *in = arg;
	in->line = line;
	in->line_len = len;
	if (journal_json_line(line, len)) {
		struct log_event ev;
		if (journal_json_parse(line, len, &in->jstore, &ev) == 0) {
			engine_feed_event(in->engine, &ev, now_us);
			return;
		}
		in->bad_journal++;
	}
	engine_feed_line(in->engine, line, len, now_us);
}

static void on_line(void *arg, const char *line, size_t len, uint64_t offset)
{
	struct replay_input *in = arg;
	(void)offset;
	if (in->pool)
		scan_pool_feed(in->pool, line, len, in->now_us);
	else
		feed_direct(in, line, len, in->now_us);
}

/* One entry of journalctl -o export output. */
static long export_frame(struct replay_input *in, const char *buf, size_t len, bool at_eof, bool full)
{
	struct log_event ev;
	bool has_message;
	/* A buffer full of one entry cannot grow: parse it as if input ended. */
	long n = journal_export_parse(buf, len, at_eof || full, &in->jstore, &ev, &has_message);
	if (n == 0)
		return 0;
	in->lines.stats->records++;
	if (n < 0) {
		in->bad_journal++;
		return n == JOURNAL_EXPORT_SKIP_ALL ? -(long)len : n;
	}
	if (has_message) {
		in->line = ev.msg;
		in->line_len = ev.msg_len;
		engine_feed_event(in->engine, &ev, in->now_us);
	}
	return n;
}

long replay_input_frame(void *arg, const char *buf, size_t len, bool at_eof, bool full)
{
	struct replay_input *in = arg;
	if (in->form == REPLAY_FORM_UNKNOWN) {
		if (len < 32 && !at_eof && !full)
			return 0;
		in->form = journal_export_detect(buf, len) ? REPLAY_FORM_EXPORT : REPLAY_FORM_LINES;
	}
	if (in->form == REPLAY_FORM_EXPORT)
		return export_frame(in, buf, len, at_eof, full);
	/* With the pool, whole LF lines go in as blocks that the scanning
	 * threads frame: this thread only reads and applies. */
	size_t whole = in->pool ? reader_lines_whole(&in->lines, buf, len) : 0;
	if (whole && in->share.mapped)
		scan_pool_feed_block_shared(in->pool, buf, whole, in->now_us);
	else if (whole)
		scan_pool_feed_block(in->pool, buf, whole, in->now_us);
	if (whole)
		return (long)whole;
	long used = reader_lines(&in->lines, buf, len, at_eof, full);
	if (in->pool)
		scan_pool_hold(in->pool);   /* the reader moves or overwrites buf next */
	return used;
}

/* The mapping moves: the lines fed so far are from the old one. */
static void retire_mapping(void *arg)
{
	struct replay_input *in = arg;
	if (in->pool)
		in->retired_mark = scan_pool_mark(in->pool);
}

/* The old mapping goes: the scanners must be done with its lines. */
static void release_mapping(void *arg)
{
	struct replay_input *in = arg;
	if (in->pool)
		scan_pool_apply_to(in->pool, in->retired_mark);
}

void replay_input_init(struct replay_input *in, struct engine *e, struct scan_pool *pool)
{
	memset(in, 0, sizeof(*in));
	in->engine = e;
	in->pool = pool;
	in->share = (struct reader_share){.retire = retire_mapping, .release = release_mapping, .arg = in};
	if (pool)
		scan_pool_set_direct(pool, feed_direct, in);
}

void replay_input_start(struct replay_input *in, struct reader_stats *stats, int64_t now_us)
{
	in->now_us = now_us;
	in->form = REPLAY_FORM_UNKNOWN;
	in->lines = (struct reader_lines){.fn = on_line, .arg = in, .max_line = ENGINE_MAX_LINE, .stats = stats};
}
