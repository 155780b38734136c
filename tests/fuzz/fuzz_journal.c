/* fuzz_journal.c: systemd journal entries in both forms pacto reads
 * (src/detect/journal_fmt.c): `journalctl -o json` lines and the journal
 * export format, each entry then fed to the engine over the stock rules
 * (so the trust rule on _TRANSPORT/_COMM meets the matcher).
 * Input: one mode byte (engine settings; bit 7: read the rest as export
 * format, else as JSON lines), then the entries.
 * Properties: the export framer always makes progress and never claims
 * more bytes than it was given; events point into the caller's store and
 * fit it; every engine property of fuzz_engine_new holds. */
#include <stdlib.h>
#include <string.h>

#include "detect/journal_fmt.h"
#include "fuzz.h"

#define T0_US (1795737600LL * 1000000)

static void check_event(const struct journal_store *st, const struct log_event *ev)
{
	FUZZ_CHECK(ev->msg == st->msg && ev->msg_len < sizeof(st->msg));
	FUZZ_CHECK(ev->prog == st->prog && ev->prog_len < sizeof(st->prog));
	FUZZ_CHECK(ev->host == st->host && ev->host_len < sizeof(st->host));
	FUZZ_CHECK(ev->ts_format == TS_EPOCH_US);
	FUZZ_CHECK(ev->time_us == LOG_TIME_UNSET || ev->time_us >= 0);
	if (ev->has_header)
		FUZZ_CHECK(ev->prog_len > 0);
}

static void feed_json(struct engine *e, struct journal_store *st, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	int64_t now = T0_US;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		struct log_event ev;
		if (journal_json_parse(p, n, st, &ev) == 0) {
			check_event(st, &ev);
			engine_feed_event(e, &ev, now += 1000000);
		}
		p += n + (nl != NULL);
	}
}

static void feed_export(struct engine *e, struct journal_store *st, const char *buf, size_t len)
{
	size_t pos = 0;
	int64_t now = T0_US;
	(void)journal_export_detect(buf, len);
	while (pos < len) {
		struct log_event ev;
		bool has_message;
		long n = journal_export_parse(buf + pos, len - pos, true, st, &ev, &has_message);
		FUZZ_CHECK(n != 0);   /* at the end of input, an entry is taken or refused */
		if (n == JOURNAL_EXPORT_SKIP_ALL)
			break;
		size_t take = (size_t)(n > 0 ? n : -n);
		FUZZ_CHECK(take >= 1 && take <= len - pos);
		if (n > 0 && has_message) {
			check_event(st, &ev);
			engine_feed_event(e, &ev, now += 1000000);
		}
		pos += take;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct journal_store *st = malloc(sizeof(*st));
	FUZZ_CHECK(st != NULL);
	struct engine *e = fuzz_engine_new(fuzz_stock_rules(), data[0]);
	char *text = fuzz_copy(data + 1, size - 1);
	if (data[0] & 0x80)
		feed_export(e, st, text, size - 1);
	else
		feed_json(e, st, text, size - 1);
	free(text);
	fuzz_engine_free(e);
	free(st);
	return 0;
}
