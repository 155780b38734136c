/* ctl_emit.c: JSON written straight to a stream (see ctl_emit.h).
 * Each value is built in a small buffer with plain byte copies (stdio's
 * locked putc/fprintf per field cost more than the rest together) and
 * written with one unlocked fwrite. */
#include "ctl/ctl_emit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "common/utf8.h"

/* Room for one sanction: bounded fields (ledger.h: names <= 128 bytes,
 * reason <= 512), each byte at most 6 once escaped, plus the fixed text. */
#define SANCTION_MAX (6 * (3 * LEDGER_MAX_NAME + LEDGER_MAX_REASON) + 1024)

struct out {
	char *p;
	size_t n, cap;
};

static void put(struct out *o, const void *s, size_t len)
{
	if (o->n + len <= o->cap)
		memcpy(o->p + o->n, s, len);
	o->n += len;   /* past cap: counted, not written; callers size for the bound */
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_uint(struct out *o, uint64_t v)
{
	char digits[20];
	size_t n = 0;
	do {
		digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, digits + sizeof(digits) - n, n);
}

static void put_int(struct out *o, int64_t v)
{
	if (v < 0) {
		put(o, "-", 1);
		put_uint(o, (uint64_t)0 - (uint64_t)v);
	} else {
		put_uint(o, (uint64_t)v);
	}
}

static void put_json_string(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	put(o, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			put(o, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			put(o, esc, 6);
			i++;
		} else if (c < 0x80) {
			size_t run = i + 1;
			while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\')
				run++;
			put(o, p + i, run - i);
			i = run;
		} else {
			size_t len = utf8_len(p + i, n - i);
			if (len == 0) {
				put_str(o, "\\ufffd");
				i++;
			} else {
				put(o, p + i, len);
				i += len;
			}
		}
	}
	put(o, "\"", 1);
}

/* Civil date of a day count since 1970-01-01 (proleptic Gregorian): the
 * usual era arithmetic, 400-year eras of 146097 days. */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void two(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

static void put_time_text(struct out *o, int64_t time_us);

/* The four times of a sanction are often the same second, and neighbours
 * in a listing often share it too: the last text is kept. */
static void put_time(struct out *o, int64_t time_us)
{
	static int64_t last_s = INT64_MIN;
	static char last[24];
	static size_t last_len;
	int64_t t = time_us / 1000000;
	if (t != last_s) {
		struct out tmp = {last, 0, sizeof(last)};
		put_time_text(&tmp, time_us);
		last_s = t;
		last_len = tmp.n;
	}
	put(o, last, last_len);
}

static void put_time_text(struct out *o, int64_t time_us)
{
	/* Whole seconds as format_time_utc takes them (C division). */
	int64_t t = time_us / 1000000;
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	unsigned secs = (unsigned)(t - days * 86400);
	int64_t y;
	unsigned m, d;
	civil(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		put_str(o, "\"?\"");
		return;
	}
	char text[22] = "\"YYYY-MM-DDTHH:MM:SSZ\"";
	two(text + 1, (unsigned)(y / 100));
	two(text + 3, (unsigned)(y % 100));
	two(text + 6, m);
	two(text + 9, d);
	two(text + 12, secs / 3600);
	two(text + 15, secs / 60 % 60);
	two(text + 18, secs % 60);
	put(o, text, sizeof(text));
}

static void flush(FILE *f, struct out *o)
{
	fwrite_unlocked(o->p, 1, o->n < o->cap ? o->n : o->cap, f);
}

void json_emit_string(FILE *f, const char *s)
{
	size_t cap = 6 * strlen(s) + 2;   /* every byte escaped at worst, and the quotes */
	char *buf = malloc(cap);
	if (!buf)
		return;
	struct out o = {buf, 0, cap};
	put_json_string(&o, s);
	flush(f, &o);
	free(buf);
}

void json_emit_time(FILE *f, int64_t time_us)
{
	char small[32];
	struct out o = {small, 0, sizeof(small)};
	put_time(&o, time_us);
	flush(f, &o);
}

void json_emit_sanction(FILE *f, const struct ledger_sanction *s, int64_t now_us)
{
	static char buf[SANCTION_MAX];
	char addr[ADDR_STRLEN];
	struct out o = {buf, 0, sizeof(buf)};
	int64_t remaining = s->expires_us > now_us && !s->lifted ? (s->expires_us - now_us) / 1000000 : 0;
	put_str(&o, "{\"id\":");
	put_int(&o, s->id);
	put_str(&o, ",\"address\":\"");
	if (s->addr.family == AF_INET && s->addr.prefix == 32) {
		for (int i = 0; i < 4; i++) {
			if (i)
				put(&o, ".", 1);
			put_uint(&o, s->addr.bytes[i]);
		}
	} else {
		put_str(&o, addr_format(&s->addr, addr, sizeof(addr)));
	}
	put_str(&o, "\",\"scenario\":");
	put_json_string(&o, s->scenario ? s->scenario : "");
	put_str(&o, ",\"origin\":");
	put_json_string(&o, s->origin ? s->origin : "");
	put_str(&o, ",\"attempts\":");
	put_uint(&o, s->attempts);
	put_str(&o, ",\"offence\":");
	put_uint(&o, s->offence);
	put_str(&o, ",\"first_seen\":");
	put_time(&o, s->first_seen_us);
	put_str(&o, ",\"last_seen\":");
	put_time(&o, s->last_seen_us);
	put_str(&o, ",\"created\":");
	put_time(&o, s->created_us);
	put_str(&o, ",\"expires\":");
	put_time(&o, s->expires_us);
	put_str(&o, ",\"remaining_s\":");
	put_int(&o, remaining);
	if (s->reason) {
		put_str(&o, ",\"reason\":");
		put_json_string(&o, s->reason);
	}
	if (s->lifted) {
		put_str(&o, ",\"lifted\":{\"at\":");
		put_time(&o, s->lifted_us);
		put_str(&o, ",\"by\":");
		put_json_string(&o, s->lifted_by ? s->lifted_by : "");
		put(&o, "}", 1);
	}
	put(&o, "}", 1);
	flush(f, &o);
}
