/* fuzz_logline.c: log lines split into header and message, and their
 * timestamps (classic syslog with a guessed year, RFC 3339), as every file
 * source and `pacto replay` read them (src/detect/logline.c).
 * Input: lines separated by '\n', read in order (the year guess and the
 * minute cache carry state from line to line).
 * Properties: every field points inside its line; the one-step split and
 * the two-step split (program, then the rest) agree; a parsed time is the
 * same with and without the minute cache (the cache is only a shortcut),
 * and formats without failing. */
#include <stdlib.h>
#include <string.h>

#include "detect/logline.h"
#include "fuzz.h"

#define REFERENCE_US (1795737600LL * 1000000)   /* 2026-11-27T00:00:00Z */
#define MAX_LINES 64

static void check_inside(const char *line, size_t len, const char *p, size_t n)
{
	if (!p) {
		FUZZ_CHECK(n == 0);
		return;
	}
	FUZZ_CHECK(p >= line && p <= line + len);
	FUZZ_CHECK(n <= (size_t)(line + len - p));
}

static void check_event(const char *line, size_t len, const struct log_event *ev)
{
	check_inside(line, len, ev->ts, ev->ts_len);
	check_inside(line, len, ev->host, ev->host_len);
	check_inside(line, len, ev->prog, ev->prog_len);
	check_inside(line, len, ev->msg, ev->msg_len);
	FUZZ_CHECK(ev->msg != NULL);
	FUZZ_CHECK(ev->time_us == LOG_TIME_UNSET);
	FUZZ_CHECK(ev->pid >= -1 && ev->pid <= 9999999999LL);
	if (ev->has_header)
		FUZZ_CHECK(ev->prog_len > 0 && ev->ts_format != TS_NONE);
	if (ev->ts_format == TS_NONE)
		FUZZ_CHECK(!ev->has_header && ev->msg == line && ev->msg_len == len);
}

/* logline_split and the two-step split used on the hot path agree. */
static void check_two_step(const char *line, size_t len, const struct log_event *one)
{
	struct log_event two;
	logline_split_program(line, len, &two);
	if (!two.has_header || !logline_split_rest(&two))
		return;   /* logline_split then falls back to a header-less line */
	FUZZ_CHECK(one->has_header);
	FUZZ_CHECK(one->msg == two.msg && one->msg_len == two.msg_len);
	FUZZ_CHECK(one->prog == two.prog && one->prog_len == two.prog_len);
	FUZZ_CHECK(one->pid == two.pid);
}

/* The time with the minute cache (cached) and without (plain: its cache
 * emptied first) must be the same. */
static void check_time(struct log_event *ev, struct year_guess *cached, struct year_guess *plain)
{
	struct log_event ev2 = *ev;
	plain->minute_len = 0;
	int rc = logline_time(ev, cached);
	int rc2 = logline_time(&ev2, plain);
	FUZZ_CHECK(rc == rc2);
	FUZZ_CHECK(ev->time_us == ev2.time_us);
	FUZZ_CHECK((rc == 0) == (ev->time_us != LOG_TIME_UNSET));
	if (rc == 0) {
		char buf[32];
		format_time_utc(ev->time_us, buf, sizeof(buf));
		FUZZ_CHECK(strlen(buf) < sizeof(buf));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct year_guess cached, plain;
	year_guess_init(&cached, REFERENCE_US);
	year_guess_init(&plain, REFERENCE_US);
	const uint8_t *p = data, *end = data + size;
	for (int i = 0; i < MAX_LINES && p <= end; i++) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char *line = fuzz_copy(p, len);
		struct log_event ev;
		logline_split(line, len, &ev);
		check_event(line, len, &ev);
		check_two_step(line, len, &ev);
		check_time(&ev, &cached, &plain);
		free(line);
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}
