/* logline.c: syslog header splitting and timestamp parsing (see logline.h).
 * Why hand-written: this runs on every line of every log, before any regex;
 * the formats are fixed-width or nearly so, and a general parser would cost
 * more than the whole rest of the pipeline (measured in bench/replay).
 * Never: reads past len, allocates, or trusts the message part. */
#include "detect/logline.h"

#include <endian.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads n digits at s; returns -1 if any is not a digit. */
static int read_digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "Jan".."Dec" -> 1..12, else 0. Hot: runs on every line of a classic log.
 * The sum of the second and third letters differs between the twelve
 * names, so it picks the one candidate; a compare of the three bytes
 * confirms it (a switch on the three bytes cost twice as much). Inlined:
 * gcc kept it a call, as two functions use it (1% of replay's instructions). */
static inline __attribute__((always_inline)) int month_from_name(const char *s)
{
	static const char names[13][4] = {"", "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	static const uint8_t by_sum[512] = {
		[207] = 1, [199] = 2, [211] = 3, [226] = 4, [218] = 5, [227] = 6,
		[225] = 7, [220] = 8, [213] = 9, [215] = 10, [229] = 11, [200] = 12,
	};
	int m = by_sum[(unsigned char)s[1] + (unsigned char)s[2]];
	return m && s[0] == names[m][0] && s[1] == names[m][1] && s[2] == names[m][2] ? m : 0;
}

/* Length of "Mmm dd hh:mm:ss[.frac]" at s, or 0. Only the shape is
 * checked here; the digits are checked when (and if) the time is parsed. */
static size_t syslog_ts_len(const char *s, size_t len)
{
	if (len < 16 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':' || !month_from_name(s))
		return 0;
	size_t n = 15;
	if (n < len && s[n] == '.') {
		n++;
		while (n < len && is_digit(s[n]))
			n++;
	}
	return n;
}

/* Length of "YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|+hhmm)" at s, or 0. */
static size_t rfc3339_ts_len(const char *s, size_t len)
{
	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':' || read_digits(s, 4) < 0)
		return 0;
	size_t n = 19;
	if (n < len && s[n] == '.') {
		n++;
		while (n < len && is_digit(s[n]))
			n++;
	}
	if (n < len && s[n] == 'Z')
		return n + 1;
	if (n + 5 <= len && (s[n] == '+' || s[n] == '-')) {
		if (n + 6 <= len && s[n + 3] == ':')
			return n + 6;
		return n + 5;
	}
	return 0;
}

/* Bytes that end a program name; one table load per byte instead of three
 * compares (this loop runs on every line). */
static const bool ends_program[256] = {['['] = true, [':'] = true, [' '] = true};

/* Finds "host " at s: host set, and prog, msg and msg_len on the rest,
 * where the program name starts. */
static bool split_host(const char *s, const char *end, struct log_event *ev)
{
	const char *p = s;
	while (p < end && *p != ' ')
		p++;
	if (p == s || p >= end)
		return false;
	ev->host = s;
	ev->host_len = (size_t)(p - s);
	ev->prog = ev->msg = p + 1;
	ev->msg_len = (size_t)(end - ev->msg);
	return true;
}

/* The program name at ev->prog (split_host) runs to '[', ':' or ' '. */
static bool split_name(struct log_event *ev)
{
	const char *prog = ev->prog, *end = ev->msg + ev->msg_len, *p = prog;
	while (p < end && !ends_program[(unsigned char)*p])
		p++;
	if (p == prog || p >= end)
		return false;
	ev->prog_len = (size_t)(p - prog);
	ev->msg = p;     /* until logline_split_rest(): what follows the program */
	ev->msg_len = (size_t)(end - p);
	return true;
}

bool logline_ends_program(unsigned char c)
{
	return ends_program[c];
}

/* How many of 8 bytes of text (the first in the low byte of v) are digits
 * before the first that is not. Per byte: its high nibble is 3 and adding
 * 6 keeps it 3. A carry out of a byte starts only at one of 0xfa..0xff,
 * not a digit, and reaches only bytes after it. */
static unsigned leading_digits8(uint64_t v)
{
	const uint64_t high = 0xf0f0f0f0f0f0f0f0ULL, threes = 0x3030303030303030ULL;
	uint64_t bad = ((v & high) ^ threes) | (((v + 0x0606060606060606ULL) & high) ^ threes);
	return bad ? (unsigned)__builtin_ctzll(bad) / 8 : 8;
}

/* The value of the first n (1..7: 8 - n must be a valid shift below 64)
 * digits of the text in v, laid out as for leading_digits8(): the digits
 * moved to the high bytes (what follows them shifted out, zeros before
 * them), then pairs, fours and eights of digits combined. */
static int64_t digits8_value(uint64_t v, unsigned n)
{
	v = ((v & 0x0f0f0f0f0f0f0f0fULL) << (8 * (8 - n)));
	v = (v * 10 + (v >> 8)) & 0x00ff00ff00ff00ffULL;
	v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffULL;
	return (int64_t)((v * 10000 + (v >> 32)) & 0xffffffffULL);
}

/* "[pid]" at p (p[0] == '['): where it ends, pid set; NULL when it is not
 * 1 to 10 digits and ']'. Hot: sshd lines carry 5- to 7-digit pids, read
 * 8 bytes at a time when the line has them (a loop over bytes was ~3% of
 * replay's instructions). */
static const char *split_pid(const char *p, const char *end, int64_t *pid)
{
	const char *digits = ++p;
	if (end - p >= 8) {
		uint64_t v;
		memcpy(&v, p, sizeof(v));
		v = le64toh(v);   /* p[0] in the low byte on every CPU */
		unsigned n = leading_digits8(v);
		if (n > 0 && n < 8) {
			if (p[n] != ']')
				return NULL;
			*pid = digits8_value(v, n);
			return p + n + 1;
		}
	}
	int64_t value = 0;
	const char *stop = end - p > 10 ? p + 10 : end;   /* at most 10 digits */
	unsigned d;
	while (p < stop && (d = (unsigned)(unsigned char)*p - '0') <= 9) {
		value = value * 10 + d;
		p++;
	}
	if (p == digits || p >= end || *p != ']')
		return NULL;
	*pid = value;
	return p + 1;
}

bool logline_split_rest(struct log_event *ev)
{
	const char *p = ev->msg, *end = ev->msg + ev->msg_len;
	if (*p == '[') {
		p = split_pid(p, end, &ev->pid);
		if (!p)
			return false;
	}
	if (p + 1 >= end || p[0] != ':' || p[1] != ' ')
		return false;
	ev->msg = p + 2;
	ev->msg_len = (size_t)(end - ev->msg);
	return true;
}

/* Sets every field to "nothing found" (a memset of the struct showed in the profile). */
static void event_reset(const char *line, size_t len, struct log_event *ev)
{
	ev->time_us = LOG_TIME_UNSET;
	ev->ts = NULL;
	ev->ts_len = 0;
	ev->has_header = false;
	ev->host = ev->prog = NULL;
	ev->host_len = ev->prog_len = 0;
	ev->pid = -1;
	ev->msg = line;
	ev->msg_len = len;
}

/* The timestamp at the start of line: its length (ev->ts set), or 0 for a
 * bare line (ev->ts_format TS_NONE). */
static size_t split_time(const char *line, size_t len, struct log_event *ev)
{
	size_t tl = syslog_ts_len(line, len);
	ev->ts_format = TS_SYSLOG;
	if (tl == 0) {
		tl = rfc3339_ts_len(line, len);
		ev->ts_format = TS_RFC3339;
	}
	if (tl == 0 || tl >= len || line[tl] != ' ') {
		ev->ts_format = TS_NONE;
		return 0;
	}
	ev->ts = line;
	ev->ts_len = tl;
	return tl;
}

void logline_split_host(const char *line, size_t len, struct log_event *ev)
{
	event_reset(line, len, ev);
	size_t tl = split_time(line, len, ev);
	if (tl != 0 && !split_host(line + tl + 1, line + len, ev))
		ev->msg = NULL;
}

void logline_split_program(const char *line, size_t len, struct log_event *ev)
{
	logline_split_host(line, len, ev);
	if (!ev->prog)
		return;
	if (split_name(ev)) {
		ev->has_header = true;
	} else {
		ev->prog = NULL;
		ev->msg = NULL;
	}
}

void logline_split(const char *line, size_t len, struct log_event *ev)
{
	logline_split_program(line, len, ev);
	if (ev->has_header && logline_split_rest(ev))
		return;
	if (ev->ts_format == TS_NONE)
		return;
	/* A timestamp but no "prog[pid]: ": not a message of any program we know. */
	ev->has_header = false;
	ev->pid = -1;
	ev->prog = NULL;
	ev->prog_len = 0;
	ev->msg = line + ev->ts_len + 1;
	ev->msg_len = len - ev->ts_len - 1;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Shift the year to start in March so that Feb 29 is the last day. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

static bool valid_clock(int y, int mo, int d, int h, int mi, int s)
{
	return mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) &&
	       h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 60;
}

/* Microseconds from a fraction ".123456..." (any number of digits). */
static int64_t fraction_us(const char *s, const char *end)
{
	int64_t us = 0;
	int n = 0;
	for (s++; s < end && is_digit(*s); s++)
		if (n < 6) {
			us = us * 10 + (*s - '0');
			n++;
		}
	for (; n < 6; n++)
		us *= 10;
	return us;
}

static int64_t civil_to_us(int y, int mo, int d, int h, int mi, int s)
{
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	return ((days * 24 + h) * 60 + mi) * 60 * 1000000LL + (int64_t)s * 1000000LL;
}

/* A local wall-clock hour's offsets from UTC, in seconds: for its first
 * pass and its second (they differ only in the hour repeated when clocks
 * go back). */
struct local_offsets {
	long first, second;
};

/* Offset from UTC of the local time t stands for, in seconds, given as
 * the wall-clock hour y-mo-d h it was asked for. */
static long offset_at(time_t t, int y, int mo, int d, int h)
{
	struct tm utc;
	if (t == (time_t)-1 || !gmtime_r(&t, &utc))
		return 0;
	return (long)((civil_to_us(y, mo, d, h, 0, 0) -
		       civil_to_us(utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, 0)) /
		      1000000);
}

/* mktime of the wall-clock hour with the given DST flag, or -1 when no
 * such local time exists (mktime moved it to another hour or flag). */
static time_t local_hour(int y, int mo, int d, int h, int isdst)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_isdst = isdst};
	time_t t = mktime(&tm);
	struct tm back;
	if (t == (time_t)-1 || !localtime_r(&t, &back) || back.tm_hour != h || back.tm_isdst != isdst)
		return (time_t)-1;
	return t;
}

/* The zone's offset from UTC at t, in seconds (LONG_MIN if unknown). */
static long zone_offset(time_t t)
{
	struct tm tm;
	return localtime_r(&t, &tm) ? tm.tm_gmtoff : LONG_MIN;
}

/* Whether the zone's offset is the same three hours before t and three
 * hours after: then no clock change is near, and the hour at t is not one
 * that comes twice (both of its passes lie within two hours of the
 * change, and no zone changes its clocks twice within six hours). */
static bool no_change_near(time_t t)
{
	if (t == (time_t)-1)
		return false;
	long before = zone_offset(t - 3 * 3600);
	return before != LONG_MIN && before == zone_offset(t + 3 * 3600);
}

/* Offsets of a local wall-clock hour from UTC, in seconds. mktime is slow
 * and takes a lock, so the last hour's answer is kept. */
static struct local_offsets local_utc_offsets(int y, int mo, int d, int h)
{
	static int64_t cached_key = -1;
	static struct local_offsets cached;
	int64_t key = ((int64_t)y * 13 + mo) * 32 * 24 + d * 24 + h;
	if (key == cached_key)
		return cached;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_isdst = -1};
	time_t usual_t = mktime(&tm);
	long usual = offset_at(usual_t, y, mo, d, h);
	struct local_offsets o = {usual, usual};
	/* The hour repeated when clocks go back exists with DST and without.
	 * Asking mktime for a DST flag the zone does not use near that date
	 * makes it search months of times (~200,000 instructions an hour,
	 * 3% of replay's: callgrind), so it is asked only near a change. */
	time_t summer = -1, winter = -1;
	if (!no_change_near(usual_t)) {
		summer = local_hour(y, mo, d, h, 1);
		winter = local_hour(y, mo, d, h, 0);
	}
	if (summer != (time_t)-1 && winter != (time_t)-1 && summer != winter) {
		o.first = offset_at(summer < winter ? summer : winter, y, mo, d, h);
		o.second = offset_at(summer < winter ? winter : summer, y, mo, d, h);
	}
	cached_key = key;
	cached = o;
	return o;
}

/* How far a time may lie behind the latest one in the hour repeated when
 * clocks go back and still be read as that hour's first pass (lines come
 * a few seconds out of order; the second pass lies ~an hour behind). */
#define REPEATED_HOUR_SLACK_US (30 * 60 * 1000000LL)

/* Local wall-clock time in microseconds since the epoch. In the hour
 * repeated when clocks go back: its first pass, unless latest_us (the
 * latest time known, or LOG_TIME_UNSET) is past that reading by more
 * than the slack; then its second. *ambiguous (may be NULL) tells whether
 * it was. */
static int64_t local_to_us(int y, int mo, int d, int h, int mi, int s, int64_t latest_us, bool *ambiguous)
{
	struct local_offsets off = local_utc_offsets(y, mo, d, h);
	int64_t local = civil_to_us(y, mo, d, h, mi, s);
	int64_t us = local - (int64_t)off.first * 1000000;
	bool repeated = off.first != off.second;
	if (ambiguous)
		*ambiguous = repeated;
	if (repeated && latest_us != LOG_TIME_UNSET && latest_us > us + REPEATED_HOUR_SLACK_US)
		us = local - (int64_t)off.second * 1000000;
	return us;
}

void year_guess_init(struct year_guess *yg, int64_t reference_us)
{
	yg->reference_us = reference_us;
	yg->year = 0;
	yg->last_month = 0;
	yg->minute_len = 0;
	yg->last_us = LOG_TIME_UNSET;
	yg->last_ambiguous = false;
}

static int guess_year(struct year_guess *yg, int month, int day)
{
	if (yg->last_month == 0) {
		time_t ref = (time_t)(yg->reference_us / 1000000);
		struct tm tm;
		gmtime_r(&ref, &tm);
		yg->year = tm.tm_year + 1900;
		/* A date later in the year than the reference (plus a day) is last year's. */
		int64_t ref_day = days_from_civil(yg->year, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
		if (day <= days_in_month(yg->year, month) &&
		    days_from_civil(yg->year, (unsigned)month, (unsigned)day) > ref_day + 1)
			yg->year--;
	} else if (month <= yg->last_month - 6) {
		yg->year++;
	} else if (month >= yg->last_month + 6) {
		yg->year--;
	}
	yg->last_month = month;
	return yg->year;
}

static int parse_syslog_time(struct log_event *ev, struct year_guess *yg)
{
	const char *s = ev->ts;
	if (!(s[4] == ' ' || is_digit(s[4])) || !is_digit(s[5]))
		return -1;
	int mo = month_from_name(s);
	int d = (s[4] == ' ' ? 0 : s[4] - '0') * 10 + (s[5] - '0');
	int h = read_digits(s + 7, 2), mi = read_digits(s + 10, 2), sec = read_digits(s + 13, 2);
	int y = guess_year(yg, mo, d);
	if (!valid_clock(y, mo, d, h, mi, sec))
		return -1;
	int64_t us = local_to_us(y, mo, d, h, mi, sec, yg->last_us, &yg->last_ambiguous);
	if (ev->ts_len > 15)
		us += fraction_us(s + 15, s + ev->ts_len);
	ev->time_us = us;
	return 0;
}

static int parse_rfc3339_time(struct log_event *ev)
{
	const char *s = ev->ts, *end = ev->ts + ev->ts_len;
	int y = read_digits(s, 4), mo = read_digits(s + 5, 2), d = read_digits(s + 8, 2);
	int h = read_digits(s + 11, 2), mi = read_digits(s + 14, 2), sec = read_digits(s + 17, 2);
	if (y < 0 || !valid_clock(y, mo, d, h, mi, sec))
		return -1;
	int64_t us = civil_to_us(y, mo, d, h, mi, sec);
	const char *p = s + 19;
	if (*p == '.') {
		us += fraction_us(p, end);
		for (p++; p < end && is_digit(*p); p++)
			;
	}
	if (*p != 'Z') {
		int oh = read_digits(p + 1, 2);
		int om = read_digits(p + (p[3] == ':' ? 4 : 3), 2);
		if (oh < 0 || om < 0 || oh > 23 || om > 59)
			return -1;
		int64_t offset = ((int64_t)oh * 60 + om) * 60 * 1000000;
		us -= *p == '+' ? offset : -offset;
	}
	ev->time_us = us;
	return 0;
}

/* Where the seconds are: "Mmm dd hh:mm:SS", "YYYY-MM-DDThh:mm:SS". */
#define SYSLOG_MINUTE_LEN 13
static size_t seconds_at(enum ts_format f)
{
	return f == TS_SYSLOG ? SYSLOG_MINUTE_LEN : 17;
}

/* The zone of an RFC 3339 time: what follows the seconds and fraction. */
static const char *zone_of(const struct log_event *ev)
{
	const char *z = ev->ts + 19, *end = ev->ts + ev->ts_len;
	if (z < end && *z == '.')
		for (z++; z < end && is_digit(*z); z++)
			;
	return z;
}

/* What lines of one minute share: the text before the seconds, and the
 * zone. Returns its length, 0 when it does not fit. */
static size_t minute_key(const struct log_event *ev, char key[32])
{
	size_t head = seconds_at(ev->ts_format);
	memcpy(key, ev->ts, head);
	if (ev->ts_format != TS_RFC3339)
		return head;
	const char *z = zone_of(ev);
	size_t zone_len = (size_t)(ev->ts + ev->ts_len - z);
	if (head + zone_len > 32)
		return 0;
	memcpy(key + head, z, zone_len);
	return head + zone_len;
}

/* Seconds and fraction, in microseconds; -1 when not 00..60. */
static int64_t seconds_us(const struct log_event *ev)
{
	const char *s = ev->ts + seconds_at(ev->ts_format), *end = ev->ts + ev->ts_len;
	int sec = read_digits(s, 2);
	if (sec < 0 || sec > 60)
		return -1;
	int64_t us = sec * 1000000LL;
	if (s + 2 < end && s[2] == '.')
		us += fraction_us(s + 2, end);
	return us;
}

static int logline_time_full(struct log_event *ev, struct year_guess *yg);

/* Parses ev's time, reusing the last minute's result when the line is in
 * the same minute (measured: half of replay's time parsing went to
 * recomputing dates that had not changed). */
static int logline_time_cached(struct log_event *ev, struct year_guess *yg)
{
	yg->last_ambiguous = false;
	/* The common case first, without building a key: a classic time in
	 * the minute kept (whose key is its first 13 bytes; an RFC 3339 key is
	 * longer). A compare of constant size is a few loads. */
	if (ev->ts_format == TS_SYSLOG && yg->minute_len == SYSLOG_MINUTE_LEN &&
	    memcmp(ev->ts, yg->minute, SYSLOG_MINUTE_LEN) == 0) {
		int64_t sec = seconds_us(ev);
		if (sec >= 0) {
			ev->time_us = yg->minute_us + sec;
			return 0;
		}
	}
	if (ev->ts_format != TS_SYSLOG && ev->ts_format != TS_RFC3339)
		return logline_time_full(ev, yg);
	char key[32];
	size_t len = minute_key(ev, key);
	int64_t sec = seconds_us(ev);
	if (len && sec >= 0 && len == yg->minute_len && memcmp(key, yg->minute, len) == 0) {
		ev->time_us = yg->minute_us + sec;
		return 0;
	}
	if (logline_time_full(ev, yg) != 0)
		return -1;
	/* A minute of the repeated hour is not kept: its text comes back an
	 * hour later meaning another time. */
	if (len && !yg->last_ambiguous) {
		memcpy(yg->minute, key, len);
		yg->minute_len = len;
		yg->minute_us = ev->time_us - sec;
	}
	return 0;
}

/* Remembers the time parsed: the next times in the hour repeated when
 * clocks go back are read by it. */
int logline_time(struct log_event *ev, struct year_guess *yg)
{
	if (logline_time_cached(ev, yg) != 0)
		return -1;
	yg->last_us = ev->time_us;
	return 0;
}

static int logline_time_full(struct log_event *ev, struct year_guess *yg)
{
	switch (ev->ts_format) {
	case TS_SYSLOG:
		return parse_syslog_time(ev, yg);
	case TS_RFC3339:
		return parse_rfc3339_time(ev);
	case TS_EPOCH_US:
		return ev->time_us == LOG_TIME_UNSET ? -1 : 0;
	case TS_NONE:
		break;
	}
	return -1;
}

/* "27/Nov/2026:10:00:00 +0000" */
static int clf_time(const char *s, size_t len, int64_t *out_us)
{
	if (len != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' ||
	    s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
		return -1;
	int d = read_digits(s, 2), mo = month_from_name(s + 3), y = read_digits(s + 7, 4);
	int h = read_digits(s + 12, 2), mi = read_digits(s + 15, 2), sec = read_digits(s + 18, 2);
	int oh = read_digits(s + 22, 2), om = read_digits(s + 24, 2);
	if (y < 0 || oh < 0 || om < 0 || oh > 23 || om > 59 || !valid_clock(y, mo, d, h, mi, sec))
		return -1;
	int64_t offset = ((int64_t)oh * 60 + om) * 60 * 1000000;
	*out_us = civil_to_us(y, mo, d, h, mi, sec) - (s[21] == '+' ? offset : -offset);
	return 0;
}

/* "Fri Nov 27 10:00:00[.frac] 2026", local time. */
static int ctime_time(const char *s, size_t len, int64_t latest_us, int64_t *out_us)
{
	if (len < 24 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[13] != ':' || s[16] != ':')
		return -1;
	const char *p = s + 19, *end = s + len;
	if (*p == '.')
		for (p++; p < end && is_digit(*p); p++)
			;
	if (end - p != 5 || *p != ' ' || !(s[8] == ' ' || is_digit(s[8])) || !is_digit(s[9]))
		return -1;
	int mo = month_from_name(s + 4), d = (s[8] == ' ' ? 0 : s[8] - '0') * 10 + (s[9] - '0');
	int h = read_digits(s + 11, 2), mi = read_digits(s + 14, 2), sec = read_digits(s + 17, 2);
	int y = read_digits(p + 1, 4);
	if (y < 0 || !valid_clock(y, mo, d, h, mi, sec))
		return -1;
	int64_t us = local_to_us(y, mo, d, h, mi, sec, latest_us, NULL);
	if (s[19] == '.')
		us += fraction_us(s + 19, p);
	*out_us = us;
	return 0;
}

/* "2026-11-27 10:00:00", local time. */
static int local_date_time(const char *s, size_t len, int64_t latest_us, int64_t *out_us)
{
	if (len != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':')
		return -1;
	int y = read_digits(s, 4), mo = read_digits(s + 5, 2), d = read_digits(s + 8, 2);
	int h = read_digits(s + 11, 2), mi = read_digits(s + 14, 2), sec = read_digits(s + 17, 2);
	if (y < 0 || !valid_clock(y, mo, d, h, mi, sec))
		return -1;
	*out_us = local_to_us(y, mo, d, h, mi, sec, latest_us, NULL);
	return 0;
}

int logline_text_time(const char *s, size_t len, int64_t latest_us, int64_t *out_us)
{
	if (len > 4 && s[4] == '-')
		return local_date_time(s, len, latest_us, out_us);
	if (len && is_digit(s[0]))
		return clf_time(s, len, out_us);
	return ctime_time(s, len, latest_us, out_us);
}

char *format_time_utc(int64_t time_us, char *buf, size_t len)
{
	time_t t = (time_t)(time_us / 1000000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "?");
	return buf;
}
