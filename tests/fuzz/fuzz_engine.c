/* fuzz_engine.c: the detection engine over the stock rules, fed log text
 * the way a file source and `pacto replay` feed it: framed into lines by
 * reader_lines (LF or CR LF records, oversized lines dropped), then split,
 * matched, counted and sanctioned (src/detect/engine.c and the matcher).
 * Input: one mode byte (log time or caller's clock, trusting bare lines,
 * the IPv6 prefix: see fuzz_engine_new), then the log text.
 * Properties (fuzz_engine_new's callbacks and fuzz_engine_free): every
 * sanction names a valid key outside the allowlist, with a positive
 * duration, decided by at least one failure; counted sources lie inside
 * their keys; memory stays within the configured bound; the reader hands
 * out every byte exactly once. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sources/reader.h"

#define T0_US (1795737600LL * 1000000)

struct feed {
	struct engine *e;
	const struct reader_lines *r;
	int64_t now_us;
	uint64_t lines, bytes;
};

static void on_line(void *arg, const char *line, size_t len, uint64_t offset)
{
	struct feed *f = arg;
	(void)offset;
	FUZZ_CHECK(len <= ENGINE_MAX_LINE);
	/* A record holds an LF only where records end in CR LF (sshd -E). */
	FUZZ_CHECK(f->r->eol == EOL_CRLF || memchr(line, '\n', len) == NULL);
	f->lines++;
	f->bytes += len;
	engine_feed_line(f->e, line, len, f->now_us);
	f->now_us += 1000000;
	if (f->lines % 16 == 0)
		engine_advance(f->e, f->now_us);
}

/* What reader_run does at the end of input: frame until all is used. */
static void frame_all(struct reader_lines *r, const char *buf, size_t len)
{
	size_t start = 0;
	while (start < len) {
		long n = reader_lines(r, buf + start, len - start, true, false);
		FUZZ_CHECK(n != 0);
		size_t take = (size_t)(n > 0 ? n : -n);
		FUZZ_CHECK(take <= len - start);
		start += take;
	}
	FUZZ_CHECK(r->offset == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct feed f = {.e = fuzz_engine_new(fuzz_stock_rules(), data[0]), .now_us = T0_US};
	struct reader_stats stats = {0};
	struct reader_lines r = {.fn = on_line, .arg = &f, .max_line = ENGINE_MAX_LINE, .stats = &stats};
	f.r = &r;
	char *text = fuzz_copy(data + 1, size - 1);
	frame_all(&r, text, size - 1);
	FUZZ_CHECK(stats.records >= f.lines);
	FUZZ_CHECK(f.bytes <= size - 1);
	free(text);
	fuzz_engine_free(f.e);
	return 0;
}
