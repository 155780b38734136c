/* test_emit.c: the hand-written JSON of `pacto sanctions` (ctl_emit.c)
 * against jansson and the C library: every sanction it writes parses,
 * with every field equal to what jansson would have written; valid UTF-8
 * comes back byte for byte, any other bytes still give valid JSON; times
 * are gmtime's to the second over four centuries; addresses are
 * addr_format's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl/ctl_emit.h"
#include "detect/logline.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* What emit wrote for one call, NUL-terminated (caller frees). */
static char *capture_string(const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	json_emit_string(f, s);
	fclose(f);
	return out;
}

static void assert_round_trip(const char *s)
{
	char *text = capture_string(s);
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!v)
		fail_msg("not JSON: %s (%s)", text, e.text);
	assert_true(json_is_string(v));
	assert_int_equal(json_string_length(v), strlen(s));
	assert_memory_equal(json_string_value(v), s, strlen(s));
	json_decref(v);
	free(text);
}

/* Appends the UTF-8 of code point cp. */
static size_t put_cp(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | cp >> 6);
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | cp >> 12);
		p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | cp >> 18);
	p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static void test_valid_utf8_round_trips(void **state)
{
	(void)state;
	char s[512];
	assert_round_trip("");
	assert_round_trip("plain ascii, \"quotes\" and \\backslashes\\ / slash");
	assert_round_trip("tab\tnewline\ncr\rbell\adel\x7f" "esc\x1b[31m");
	for (int i = 0; i < 20000; i++) {
		size_t n = 0, want = next() % 40;
		for (size_t k = 0; k < want; k++) {
			uint32_t cp;
			do {
				switch (next() % 4) {
				case 0: cp = (uint32_t)(next() % 0x80); break;
				case 1: cp = (uint32_t)(0x80 + next() % 0x780); break;
				case 2: cp = (uint32_t)(0x800 + next() % 0xf800); break;
				default: cp = (uint32_t)(0x10000 + next() % 0x100000); break;
				}
			} while (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff));
			n += put_cp(s + n, cp);
		}
		s[n] = '\0';
		assert_round_trip(s);
	}
}

static void test_any_bytes_give_json(void **state)
{
	(void)state;
	char s[256];
	static const char *const bad[] = {
		"\xff", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
		"abc\xe2\x82", "\xc3", "ok\xc3\xa9ok\xff",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char *text = capture_string(bad[i]);
		json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		assert_true(strstr(json_string_value(v), "\xef\xbf\xbd") != NULL);   /* U+FFFD */
		json_decref(v);
		free(text);
	}
	for (int i = 0; i < 50000; i++) {
		size_t n = next() % (sizeof(s) - 1);
		for (size_t k = 0; k < n; k++)
			s[k] = (char)(1 + next() % 255);
		s[n] = '\0';
		char *text = capture_string(s);
		json_error_t e;
		json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
		if (!v)
			fail_msg("not JSON: %s", e.text);
		/* The printable ASCII bytes come back, in order. */
		const char *got = json_string_value(v);
		for (size_t k = 0, g = 0; k < n; k++) {
			if (s[k] < 0x20 || s[k] == 0x7f || (unsigned char)s[k] >= 0x80)
				continue;
			const char *at = strchr(got + g, s[k]);
			assert_non_null(at);
			g = (size_t)(at - got) + 1;
		}
		json_decref(v);
		free(text);
	}
}

static void test_times_are_gmtimes(void **state)
{
	(void)state;
	char want[40], got[64], plain[40];
	const int64_t year = 366LL * 86400 * 1000000;
	int64_t fixed[] = {0, 1, -1, 999999, 1000000, -1000000, -1000001, 951782400LL * 1000000 /* 2000-02-29 */,
			   4107542399LL * 1000000 /* 2100-02-28T23:59:59 */, 1795737600LL * 1000000};
	for (int i = 0; i < 100010; i++) {
		int64_t t = i < 10 ? fixed[i] : (int64_t)(next() % (uint64_t)(400 * year)) - 100 * year;
		FILE *f = fmemopen(got, sizeof(got), "w");
		json_emit_time(f, t);
		fclose(f);
		snprintf(want, sizeof(want), "\"%s\"", format_time_utc(t, plain, sizeof(plain)));
		assert_string_equal(got, want);
	}
}

/* The object jansson would write for s: the daemon's description. */
static json_t *reference(const struct ledger_sanction *s, int64_t now)
{
	char a[ADDR_STRLEN], t[4][40];
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:s, s:I}", "id", (json_int_t)s->id,
			      "address", addr_format(&s->addr, a, sizeof(a)), "scenario", s->scenario, "origin",
			      s->origin, "attempts", (int)s->attempts, "offence", (int)s->offence, "first_seen",
			      format_time_utc(s->first_seen_us, t[0], 40), "last_seen",
			      format_time_utc(s->last_seen_us, t[1], 40), "created", format_time_utc(s->created_us, t[2], 40),
			      "expires", format_time_utc(s->expires_us, t[3], 40), "remaining_s",
			      (json_int_t)(s->expires_us > now && !s->lifted ? (s->expires_us - now) / 1000000 : 0));
	if (s->reason)
		json_object_set_new(o, "reason", json_string(s->reason));
	if (s->lifted)
		json_object_set_new(o, "lifted", json_pack("{s:s, s:s}", "at", format_time_utc(s->lifted_us, t[0], 40),
							   "by", s->lifted_by));
	return o;
}

static void test_sanctions_equal_jansson(void **state)
{
	(void)state;
	const int64_t now = 1795737600LL * 1000000;
	static const char *const reasons[] = {NULL, "", "brute force", "l\xc3\xa9gitime \"quoted\"\n", "tab\there"};
	for (int i = 0; i < 20000; i++) {
		struct ledger_sanction s = {
			.id = (int64_t)(next() % 10000000), .scenario = i % 2 ? "sshd" : "nginx-auth",
			.origin = i % 3 ? "local" : "ally:bravo", .reason = reasons[i % 5],
			.attempts = (unsigned)(next() % 100), .offence = 1 + (unsigned)(next() % 9),
			.first_seen_us = now - (int64_t)(next() % 1000000000), .created_us = now,
			.expires_us = now + (int64_t)(next() % 2000000000) - 1000000000, .lifted = i % 7 == 0,
			.lifted_us = now - 5, .lifted_by = "manual (uid 0)",
		};
		s.last_seen_us = s.first_seen_us + 10;
		if (i % 4 == 3) {
			s.addr.family = AF_INET6;
			s.addr.prefix = 64;
			for (int k = 0; k < 8; k++)
				s.addr.bytes[k] = (uint8_t)next();
		} else {
			s.addr.family = AF_INET;
			s.addr.prefix = i % 4 == 2 ? 24 : 32;
			for (int k = 0; k < (s.addr.prefix == 24 ? 3 : 4); k++)
				s.addr.bytes[k] = (uint8_t)next();
		}
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		json_emit_sanction(f, &s, now);
		fclose(f);
		json_t *got = json_loads(text, 0, NULL), *want = reference(&s, now);
		assert_non_null(got);
		if (!json_equal(got, want)) {
			char *w = json_dumps(want, JSON_COMPACT);
			fail_msg("emit:   %s\njansson: %s", text, w);
		}
		json_decref(got);
		json_decref(want);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_utf8_round_trips),
		cmocka_unit_test(test_any_bytes_give_json),
		cmocka_unit_test(test_times_are_gmtimes),
		cmocka_unit_test(test_sanctions_equal_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
