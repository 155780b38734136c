/* test_logline.c: header splitting and every timestamp form: classic syslog
 * (no year, across a year boundary), RFC 3339 with fraction and zones, bare
 * messages, and invalid dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "detect/logline.h"

/* 2026-11-27T00:00:00Z, the reference "now" of these tests. */
#define REF_US (days_from_civil(2026, 11, 27) * 86400 * 1000000LL)

static int64_t utc_us(int y, int mo, int d, int h, int mi, int s)
{
	return ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 3600 + mi * 60 + s) * 1000000LL;
}

static struct log_event split(const char *line)
{
	struct log_event ev;
	logline_split(line, strlen(line), &ev);
	return ev;
}

static void assert_field(const char *p, size_t len, const char *want)
{
	assert_int_equal(len, strlen(want));
	assert_memory_equal(p, want, len);
}

static int setup_utc(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	return 0;
}

static void test_split_classic(void **state)
{
	(void)state;
	struct log_event ev = split("Nov 26 23:01:40 web1 sshd[26202]: Failed password for root from 192.0.2.2 port 36584 ssh2");
	assert_int_equal(ev.ts_format, TS_SYSLOG);
	assert_true(ev.has_header);
	assert_field(ev.host, ev.host_len, "web1");
	assert_field(ev.prog, ev.prog_len, "sshd");
	assert_int_equal(ev.pid, 26202);
	assert_field(ev.msg, ev.msg_len, "Failed password for root from 192.0.2.2 port 36584 ssh2");
}

static void test_split_rfc3339_no_pid_slash_prog(void **state)
{
	(void)state;
	struct log_event ev = split("2026-11-27T00:13:10.807341+00:00 mx postfix/smtpd[77]: connect from x");
	assert_int_equal(ev.ts_format, TS_RFC3339);
	assert_field(ev.prog, ev.prog_len, "postfix/smtpd");
	ev = split("Nov  1 02:03:04 host kernel: [UFW BLOCK] IN=eth0");
	assert_true(ev.has_header);
	assert_int_equal(ev.pid, -1);
	assert_field(ev.prog, ev.prog_len, "kernel");
	assert_field(ev.msg, ev.msg_len, "[UFW BLOCK] IN=eth0");
}

/* The definition of "[pid]: " that logline_split_rest() reads 8 bytes at
 * a time: 1 to 10 digits, ']', then ": ". */
static bool reference_split_rest(const char *p, const char *end, int64_t *pid, const char **msg)
{
	if (*p == '[') {
		int64_t value = 0;
		const char *digits = ++p;
		while (p < end && p - digits < 10 && *p >= '0' && *p <= '9')
			value = value * 10 + (*p++ - '0');
		if (p == digits || p >= end || *p != ']')
			return false;
		*pid = value;
		p++;
	}
	if (p + 1 >= end || p[0] != ':' || p[1] != ' ')
		return false;
	*msg = p + 2;
	return true;
}

/* Bytes that matter around a pid: digits, its end, the bytes just past
 * '9' and before '0', and those whose sum with 6 carries out of a byte. */
static char pid_byte(void)
{
	static const unsigned char some[] = {']', ':', ' ', '/', ';', '<', '?', '@', '0', '9', 0xf9, 0xfa,
					     0xfb, 0xfe, 0xff, 0x36, 0xc0, 0, 'a'};
	int r = rand() % 4;
	return r < 3 ? (char)('0' + rand() % 10) : (char)some[rand() % sizeof(some)];
}

static void test_split_pid_as_defined(void **state)
{
	(void)state;
	srand(7);
	char buf[40];
	for (int round = 0; round < 1000000; round++) {
		size_t ndigits = (size_t)(rand() % 13), len = 1;
		buf[0] = '[';
		for (size_t i = 0; i < ndigits; i++)
			buf[len++] = (char)('0' + rand() % 10);
		if (rand() % 8 == 0)
			buf[len++] = pid_byte();
		/* Then "]: " and any bytes: digits after the ']' too, which the
		 * 8 bytes read at once see (a byte order mistake shows there). */
		memcpy(buf + len, "]: ", 3);
		for (size_t i = len + 3; i < sizeof(buf); i++)
			buf[i] = pid_byte();
		if (rand() % 4 == 0)
			for (size_t i = 1; i < len + 3; i++)
				if (rand() % 6 == 0)
					buf[i] = pid_byte();
		/* Exactly msg_len bytes: built with AddressSanitizer (make
		 * sanitize), a read past them fails the test. */
		size_t msg_len = 1 + (size_t)rand() % (sizeof(buf) - 1);
		char *msg = malloc(msg_len);
		assert_non_null(msg);
		memcpy(msg, buf, msg_len);
		struct log_event ev = {.msg = msg, .msg_len = msg_len, .pid = -1};
		int64_t want_pid = -1;
		const char *want_msg = NULL;
		bool want = reference_split_rest(msg, msg + msg_len, &want_pid, &want_msg);
		assert_int_equal(logline_split_rest(&ev), want);
		if (want) {
			assert_int_equal(ev.pid, want_pid);
			assert_ptr_equal(ev.msg, want_msg);
			assert_int_equal(ev.msg_len, msg_len - (size_t)(want_msg - msg));
		}
		free(msg);
	}
}

static void test_split_bare_and_headerless(void **state)
{
	(void)state;
	struct log_event ev = split("Failed password for root from 192.0.2.2 port 1 ssh2");
	assert_int_equal(ev.ts_format, TS_NONE);
	assert_false(ev.has_header);
	assert_int_equal(ev.msg_len, strlen("Failed password for root from 192.0.2.2 port 1 ssh2"));
	/* A time but no "prog:": not a program's message. */
	ev = split("Nov 26 23:01:40 something without a colon");
	assert_int_equal(ev.ts_format, TS_SYSLOG);
	assert_false(ev.has_header);
	assert_int_equal(ev.prog_len, 0);
	/* Short and truncated lines never read out of bounds. */
	static const char *const shorts[] = {"", "N", "Nov 26 23:01:4", "Nov 26 23:01:40", "Nov 26 23:01:40 h",
					     "2026-11-27T00:13:10", "2026-11-27T00:13:10+00", "Nov 26 23:01:40 h p["};
	for (size_t i = 0; i < sizeof(shorts) / sizeof(*shorts); i++) {
		size_t len = strlen(shorts[i]);
		char *copy = malloc(len ? len : 1);   /* exact size: ASan catches any over-read */
		memcpy(copy, shorts[i], len);
		logline_split(copy, len, &ev);
		assert_false(ev.has_header);
		free(copy);
	}
}

static int64_t parse_time(const char *line, struct year_guess *yg)
{
	struct log_event ev = split(line);
	assert_int_equal(logline_time(&ev, yg), 0);
	return ev.time_us;
}

static void test_time_classic_and_year(void **state)
{
	(void)state;
	struct year_guess yg;
	year_guess_init(&yg, REF_US);
	assert_int_equal(parse_time("Nov 26 23:01:40 h sshd[1]: x", &yg), utc_us(2026, 11, 26, 23, 1, 40));
	/* A log that starts in December, after the reference date: last year's. */
	year_guess_init(&yg, REF_US);
	assert_int_equal(parse_time("Dec 31 23:59:59 h sshd[1]: x", &yg), utc_us(2025, 12, 31, 23, 59, 59));
	/* ...and its January lines are the next year: the boundary is crossed. */
	assert_int_equal(parse_time("Jan  1 00:00:01 h sshd[1]: x", &yg), utc_us(2026, 1, 1, 0, 0, 1));
	assert_int_equal(parse_time("Jan  1 00:00:02.250000 h sshd[1]: x", &yg), utc_us(2026, 1, 1, 0, 0, 2) + 250000);
}

/* Classic syslog in local time across the end of summer time (Paris,
 * 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:00-02:59 comes twice):
 * the first pass as summer time, lines a few seconds out of order
 * included; once time has gone past it, the second pass as winter time,
 * the same text an hour later too (the minute cache keeps none of it). */
static void test_time_repeated_hour(void **state)
{
	(void)state;
	setenv("TZ", "Europe/Paris", 1);
	tzset();
	struct year_guess yg;
	year_guess_init(&yg, REF_US);
	assert_int_equal(parse_time("Oct 25 01:30:00 h sshd[1]: x", &yg), utc_us(2026, 10, 24, 23, 30, 0));
	assert_int_equal(parse_time("Oct 25 02:10:05 h sshd[1]: x", &yg), utc_us(2026, 10, 25, 0, 10, 5));
	assert_int_equal(parse_time("Oct 25 02:10:03 h sshd[1]: x", &yg), utc_us(2026, 10, 25, 0, 10, 3));
	assert_int_equal(parse_time("Oct 25 02:59:59 h sshd[1]: x", &yg), utc_us(2026, 10, 25, 0, 59, 59));
	assert_int_equal(parse_time("Oct 25 02:00:01 h sshd[1]: x", &yg), utc_us(2026, 10, 25, 1, 0, 1));
	assert_int_equal(parse_time("Oct 25 02:10:05 h sshd[1]: x", &yg), utc_us(2026, 10, 25, 1, 10, 5));
	assert_int_equal(parse_time("Oct 25 02:10:06 h sshd[1]: x", &yg), utc_us(2026, 10, 25, 1, 10, 6));
	assert_int_equal(parse_time("Oct 25 03:00:00 h sshd[1]: x", &yg), utc_us(2026, 10, 25, 2, 0, 0));
	/* Times in servers' own files, by the latest time the engine knows. */
	int64_t t = 0, first_pass_end = utc_us(2026, 10, 25, 0, 59, 59);
	assert_int_equal(logline_text_time("2026-10-25 02:10:05", 19, LOG_TIME_UNSET, &t), 0);
	assert_int_equal(t, utc_us(2026, 10, 25, 0, 10, 5));
	assert_int_equal(logline_text_time("2026-10-25 02:10:05", 19, utc_us(2026, 10, 25, 0, 10, 9), &t), 0);
	assert_int_equal(t, utc_us(2026, 10, 25, 0, 10, 5));
	assert_int_equal(logline_text_time("2026-10-25 02:10:05", 19, first_pass_end, &t), 0);
	assert_int_equal(t, utc_us(2026, 10, 25, 1, 10, 5));
	assert_int_equal(logline_text_time("Sun Oct 25 02:10:05 2026", 24, first_pass_end, &t), 0);
	assert_int_equal(t, utc_us(2026, 10, 25, 1, 10, 5));
	setenv("TZ", "UTC", 1);
	tzset();
}

/* Every offset the zone (TZ) uses in 2026, sampled hourly: at most 8. */
static size_t zone_offsets_2026(long offsets[8])
{
	size_t n = 0;
	time_t start = (time_t)(utc_us(2025, 12, 30, 0, 0, 0) / 1000000);
	for (time_t t = start; t < start + 370 * 86400; t += 3600) {
		struct tm tm;
		localtime_r(&t, &tm);
		size_t i = 0;
		while (i < n && offsets[i] != tm.tm_gmtoff)
			i++;
		if (i == n && n < 8)
			offsets[n++] = tm.tm_gmtoff;
	}
	return n;
}

/* The instants (seconds, ascending) whose local wall clock reads
 * y-mo-d h:00:00: none in a gap, two in an hour that comes twice. */
static size_t instants_of(int y, int mo, int d, int h, const long *offsets, size_t noffsets, int64_t out[8])
{
	int64_t wall = utc_us(y, mo, d, h, 0, 0) / 1000000;
	size_t n = 0;
	for (size_t i = 0; i < noffsets; i++) {
		time_t t = (time_t)(wall - offsets[i]);
		struct tm tm;
		localtime_r(&t, &tm);
		if (tm.tm_year + 1900 != y || tm.tm_mon + 1 != mo || tm.tm_mday != d || tm.tm_hour != h ||
		    tm.tm_min != 0 || tm.tm_sec != 0)
			continue;
		size_t j = n++;
		for (; j > 0 && out[j - 1] > t; j--)
			out[j] = out[j - 1];
		out[j] = t;
	}
	return n;
}

/* Every hour of 2026 in zones with and without summer time, and with
 * changes of one hour and of two: a local time that exists once reads as
 * that instant; one that exists twice reads as its first pass, or as its
 * second once the latest time known is past it. (Local offsets are
 * worked out without asking mktime for a DST flag away from a change, a
 * shortcut this checks against the zone's own answers.) */
static void test_local_times_every_hour(void **state)
{
	(void)state;
	/* Each zone, and how many hours of 2026 come twice in it. */
	static const struct {
		const char *name;
		size_t twice;
	} zones[] = {{"UTC", 0}, {"Europe/Paris", 1}, {"America/New_York", 1}, {"Antarctica/Troll", 2},
		     {"America/Sao_Paulo", 0}, {"Asia/Kolkata", 0}};
	for (size_t z = 0; z < sizeof(zones) / sizeof(*zones); z++) {
		setenv("TZ", zones[z].name, 1);
		tzset();
		long offsets[8];
		size_t noffsets = zone_offsets_2026(offsets);
		size_t twice = 0;
		for (int64_t day = days_from_civil(2026, 1, 1); day < days_from_civil(2027, 1, 1); day++) {
			time_t noon = (time_t)(day * 86400 + 43200);
			struct tm date;
			gmtime_r(&noon, &date);
			for (int h = 0; h < 24; h++) {
				int y = date.tm_year + 1900, mo = date.tm_mon + 1, d = date.tm_mday;
				int64_t at[8];
				size_t n = instants_of(y, mo, d, h, offsets, noffsets, at);
				if (n == 0)
					continue;      /* a gap: mktime's reading, not checked here */
				char text[64];
				snprintf(text, sizeof(text), "%04d-%02d-%02d %02d:00:00", y, mo, d, h);
				int64_t t = 0;
				assert_int_equal(logline_text_time(text, 19, LOG_TIME_UNSET, &t), 0);
				if (t != at[0] * 1000000)
					fail_msg("%s %s: read as %lld, not %lld", zones[z].name, text, (long long)t / 1000000,
						 (long long)at[0]);
				if (n < 2)
					continue;
				twice++;
				assert_int_equal(logline_text_time(text, 19, (at[n - 1] + 7200) * 1000000, &t), 0);
				if (t != at[n - 1] * 1000000)
					fail_msg("%s %s (second pass): read as %lld, not %lld", zones[z].name, text,
						 (long long)t / 1000000, (long long)at[n - 1]);
			}
		}
		assert_int_equal(twice, zones[z].twice);
	}
	setenv("TZ", "UTC", 1);
	tzset();
}

static void test_time_rfc3339_zones(void **state)
{
	(void)state;
	struct year_guess yg;
	year_guess_init(&yg, REF_US);
	int64_t want = utc_us(2026, 11, 27, 0, 13, 10) + 807341;
	assert_int_equal(parse_time("2026-11-27T00:13:10.807341+00:00 h sshd[1]: x", &yg), want);
	assert_int_equal(parse_time("2026-11-27T00:13:10.807341Z h sshd[1]: x", &yg), want);
	assert_int_equal(parse_time("2026-11-27T01:13:10.807341+0100 h sshd[1]: x", &yg), want);
	assert_int_equal(parse_time("2026-11-26T19:13:10.807341-05:00 h sshd[1]: x", &yg), want);
	assert_int_equal(parse_time("2026-11-27T00:13:10+00:00 h sshd[1]: x", &yg), want - 807341);
	/* More than six digits of fraction: truncated to microseconds. */
	assert_int_equal(parse_time("2026-11-27T00:13:10.807341999Z h sshd[1]: x", &yg), want);
}

static void test_time_invalid(void **state)
{
	(void)state;
	struct year_guess yg;
	year_guess_init(&yg, REF_US);
	static const char *const bad[] = {
		"2026-02-30T00:00:00Z h sshd[1]: x", "2026-13-01T00:00:00Z h sshd[1]: x",
		"2026-11-27T24:00:00Z h sshd[1]: x", "2026-11-27T00:00:00+25:00 h sshd[1]: x",
		"Feb 30 00:00:00 h sshd[1]: x", "Nov 27 25:00:00 h sshd[1]: x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct log_event ev = split(bad[i]);
		assert_int_equal(logline_time(&ev, &yg), -1);
		assert_true(ev.time_us == LOG_TIME_UNSET);
	}
	struct log_event ev = split("2024-02-29T12:00:00Z h sshd[1]: leap day");
	assert_int_equal(logline_time(&ev, &yg), 0);
	ev = split("no time here");
	assert_int_equal(logline_time(&ev, &yg), -1);
}

static void test_days_from_civil(void **state)
{
	(void)state;
	assert_int_equal(days_from_civil(1970, 1, 1), 0);
	assert_int_equal(days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(days_from_civil(1969, 12, 31), -1);
}

/* Times written inside the message by servers with their own log files. */
static void test_text_times(void **state)
{
	(void)state;
	int64_t t = 0;
	assert_int_equal(logline_text_time("27/Nov/2026:05:10:07 +0000", 26, LOG_TIME_UNSET, &t), 0);
	assert_int_equal(t, 1795756207LL * 1000000);
	assert_int_equal(logline_text_time("27/Nov/2026:07:10:07 +0200", 26, LOG_TIME_UNSET, &t), 0);
	assert_int_equal(t, 1795756207LL * 1000000);
	assert_int_equal(logline_text_time("Fri Nov 27 05:10:07 2026", 24, LOG_TIME_UNSET, &t), 0);   /* TZ=UTC */
	assert_int_equal(t, 1795756207LL * 1000000);
	assert_int_equal(logline_text_time("Fri Nov 27 05:10:07.250000 2026", 31, LOG_TIME_UNSET, &t), 0);
	assert_int_equal(t, 1795756207LL * 1000000 + 250000);
	assert_int_equal(logline_text_time("Sun Dec  6 05:10:07 2026", 24, LOG_TIME_UNSET, &t), 0);
	assert_int_equal(t, (1795756207LL + 9 * 86400) * 1000000);
	assert_int_equal(logline_text_time("2026-11-27 05:10:07", 19, LOG_TIME_UNSET, &t), 0);   /* OpenVPN, TZ=UTC */
	assert_int_equal(t, 1795756207LL * 1000000);
	assert_int_equal(logline_text_time("2028-02-29 00:00:00", 19, LOG_TIME_UNSET, &t), 0);
	assert_int_equal(t, 1835395200LL * 1000000);
	t = 7;
	const char *bad[] = {"27/Nov/2026:05:10:07 0000", "32/Nov/2026:05:10:07 +0000", "27/Now/2026:05:10:07 +0000",
			     "Fri Nov 27 25:10:07 2026", "Fri Nov 27 05:10:07 26", "Fri Nov 27 05:10:07", "",
			     "2026-11-27 05:10:0", "2026-11-27T05:10:07", "2026-11-27 05:10:07Z", "2027-02-29 00:00:00",
			     "2026-13-27 05:10:07", "2026-11-27 05:60:07", "2026-1a-27 05:10:07"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(logline_text_time(bad[i], strlen(bad[i]), LOG_TIME_UNSET, &t), -1);
	assert_int_equal(t, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_times), cmocka_unit_test(test_split_classic), cmocka_unit_test(test_split_rfc3339_no_pid_slash_prog),
		cmocka_unit_test(test_split_pid_as_defined),
		cmocka_unit_test(test_split_bare_and_headerless), cmocka_unit_test(test_time_classic_and_year),
		cmocka_unit_test(test_time_rfc3339_zones), cmocka_unit_test(test_time_invalid),
		cmocka_unit_test(test_time_repeated_hour),
		cmocka_unit_test(test_local_times_every_hour),
		cmocka_unit_test(test_days_from_civil),
	};
	return cmocka_run_group_tests(tests, setup_utc, NULL);
}
