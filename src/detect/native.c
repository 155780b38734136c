/* native.c: the stock sshd patterns matched by hand (see native.h).
 * How each function stays equal to PCRE2, item by item:
 * - `[^:]*?` followed by a separator is tried at every position of the
 *   gap, shortest first, and the gap never crosses a ':' (lazy order).
 * - `(?<addr>[0-9A-Fa-f:.]+)` is always followed by a space, which the class
 *   does not hold: only its longest run can be followed by it, so no other
 *   length is tried (PCRE2 makes it possessive for the same reason).
 * - `\d{1,5}` and `\d+` are followed by a non-digit: only the longest run of
 *   digits can match, and {1,5} fails when that run is longer.
 * - `$` (no DOLLAR_ENDONLY, newline LF) matches at the end of the subject
 *   or before a '\n' that is its last byte.
 * - `(?:: (?s:.*))?$` ends the match at the subject's end whenever ": "
 *   follows; otherwise `$` must hold where the group would start.
 * An optional group that can only be followed by `$` is tried first, then
 * skipped, as PCRE2's greedy `?` does. */
#include "detect/native.h"

#include <stdbool.h>
#include <string.h>

#define NOMATCH PCRE2_ERROR_NOMATCH
#define FAIL ((size_t)-1)

static bool is_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

/* [0-9A-Fa-f:.] as a table: one load a byte (the address run is the
 * longest loop here). */
static const bool addr_chars[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, [':'] = 1, ['.'] = 1,
};

/* s[at..] starts with text[0..n). Inlined so that memcmp sees a constant n
 * and becomes a few compares (a call cost more than the rest of a match). */
static inline __attribute__((always_inline)) bool has(const char *s, size_t len, size_t at, const char *text,
						      size_t n)
{
	return at <= len && n <= len - at && memcmp(s + at, text, n) == 0;
}

#define HAS(s, len, at, lit) has(s, len, at, lit, sizeof(lit) - 1)

static bool dollar(const char *s, size_t len, size_t at)
{
	return at == len || (at + 1 == len && s[at] == '\n');
}

/* The dotted quad at s[a..], read as addr.c's parse_v4() reads one (four
 * numbers 0-255, each of 1 to 3 digits with no leading zero, three dots),
 * into *v4 in host order: where it ends, or FAIL. Needs 16 bytes from a
 * (the longest quad and the byte after it), so that no byte is checked
 * against the end. A fast path only: FAIL says nothing of the address run,
 * and a quad followed by more of the run is not the run. */
static size_t dotted_quad(const char *s, size_t a, uint32_t *v4)
{
	const unsigned char *p = (const unsigned char *)s + a;
	uint32_t out = 0;
	for (int part = 0; part < 4; part++) {
		if (part && *p++ != '.')
			return FAIL;
		unsigned v = (unsigned)*p - '0';
		if (v > 9)
			return FAIL;
		p++;
		if (v) {                      /* a leading 0 stands alone */
			unsigned d = (unsigned)*p - '0';
			if (d <= 9) {
				v = v * 10 + d;
				d = (unsigned)*++p - '0';
				if (d <= 9) {
					v = v * 10 + d;
					p++;
				}
			}
		}
		if (v > 255)
			return FAIL;
		out = out << 8 | v;
	}
	*v4 = out;
	return (size_t)(p - (const unsigned char *)s);
}

/* The address run from a: its end, with ov[NATIVE_OV_V4] set (native.h). */
static size_t addr_run(const char *s, size_t len, size_t a, PCRE2_SIZE *ov)
{
	uint32_t v4;
	size_t e = len - a >= 16 ? dotted_quad(s, a, &v4) : FAIL;
	if (e != FAIL && !addr_chars[(unsigned char)s[e]]) {
		ov[NATIVE_OV_V4] = NATIVE_V4_PARSED | v4;
		return e;
	}
	ov[NATIVE_OV_V4] = 0;
	e = a;
	while (e < len && addr_chars[(unsigned char)s[e]])
		e++;
	return e;
}

/* `(?<addr>[0-9A-Fa-f:.]+) port (?<port>\d{1,5})` at a: the end of the port
 * digits, with groups 1 and 2 in ov and what they hold (native.h), or FAIL. */
static size_t addr_port(const char *s, size_t len, size_t a, PCRE2_SIZE *ov)
{
	size_t e = addr_run(s, len, a, ov);
	if (e == a || !HAS(s, len, e, " port "))
		return FAIL;
	size_t d = e + 6, f = d;
	unsigned port = 0;
	while (f < len && is_digit(s[f]) && f - d < 6)
		port = port * 10 + (unsigned)(s[f++] - '0');
	if (f == d || f - d > 5)
		return FAIL;
	ov[2] = a;
	ov[3] = e;
	ov[4] = d;
	ov[5] = f;
	ov[NATIVE_OV_PORT] = port;
	return f;
}

/* Where a gap's scan stops: a space may start the tail, a ':' ends the gap. */
static const bool gap_stops[256] = {[' '] = 1, [':'] = 1};

/* `text$` at p (p may be FAIL): the end of the match, or FAIL. */
static inline __attribute__((always_inline)) size_t then_end(const char *s, size_t len, size_t p, const char *text,
							     size_t n)
{
	return p != FAIL && has(s, len, p, text, n) && dollar(s, len, p + n) ? p + n : FAIL;
}

#define THEN_END(s, len, p, lit) then_end(s, len, p, lit, sizeof(lit) - 1)

/* " from (?<addr>...) port (?<port>\d{1,5})" at at: the end of the port, or FAIL. */
static size_t from_addr_port(const char *s, size_t len, size_t at, PCRE2_SIZE *ov)
{
	return HAS(s, len, at, " from ") ? addr_port(s, len, at + 6, ov) : FAIL;
}

/* A tail tried after the gap: sep is at s[at] (the caller checked its first
 * byte); returns the end of the match, or FAIL. */
typedef size_t (*tail_fn)(const char *s, size_t len, size_t at, PCRE2_SIZE *ov);

/* `[^:]*?` from g, then tail: the tail at each position of the gap, from
 * the shortest gap up, where the byte is a space (every tail here starts
 * with one); the gap ends at the first ':' or the end. */
static int lazy_gap(const char *s, size_t len, size_t g, tail_fn tail, PCRE2_SIZE *ov)
{
	for (size_t i = g;; i++) {
		while (i < len && !gap_stops[(unsigned char)s[i]])
			i++;
		if (i >= len || s[i] == ':')
			return NOMATCH;
		size_t end = tail(s, len, i, ov);
		if (end != FAIL) {
			ov[0] = 0;
			ov[1] = end;
			return 3;
		}
	}
}

/* " from (?<addr>...) port (?<port>\d{1,5}) ssh2(?:: (?s:.*))?$" */
static size_t failed_auth_tail(const char *s, size_t len, size_t at, PCRE2_SIZE *ov)
{
	size_t p = from_addr_port(s, len, at, ov);
	if (p == FAIL || !HAS(s, len, p, " ssh2"))
		return FAIL;
	p += 5;
	if (HAS(s, len, p, ": "))
		return len;
	return dollar(s, len, p) ? p : FAIL;
}

/* ^Failed (?:password|publickey|keyboard-interactive/pam) for [^:]*? from
 * (?<addr>...) port (?<port>\d{1,5}) ssh2(?:: (?s:.*))?$ */
static int failed_auth(const char *s, size_t len, PCRE2_SIZE *ov)
{
	if (!HAS(s, len, 0, "Failed "))
		return NOMATCH;
	size_t p = HAS(s, len, 7, "password")			 ? 15
		   : HAS(s, len, 7, "publickey")		 ? 16
		   : HAS(s, len, 7, "keyboard-interactive/pam") ? 31
								 : FAIL;
	if (p == FAIL || !HAS(s, len, p, " for "))
		return NOMATCH;
	return lazy_gap(s, len, p + 5, failed_auth_tail, ov);
}

/* " from (?<addr>...) port (?<port>\d{1,5})$" */
static size_t invalid_user_tail(const char *s, size_t len, size_t at, PCRE2_SIZE *ov)
{
	return THEN_END(s, len, from_addr_port(s, len, at, ov), "");
}

/* ^Invalid user [^:]*? from (?<addr>...) port (?<port>\d{1,5})$ */
static int invalid_user(const char *s, size_t len, PCRE2_SIZE *ov)
{
	if (!HAS(s, len, 0, "Invalid user "))
		return NOMATCH;
	return lazy_gap(s, len, 13, invalid_user_tail, ov);
}

/* "(?:authenticating|invalid) user " at at: what follows it, or FAIL. */
static size_t kind_of_user(const char *s, size_t len, size_t at)
{
	size_t p = HAS(s, len, at, "authenticating") ? at + 14 : HAS(s, len, at, "invalid") ? at + 7 : FAIL;
	return p != FAIL && HAS(s, len, p, " user ") ? p + 6 : FAIL;
}

/* " (?<addr>...) port (?<port>\d{1,5}) \[preauth\]$" */
static size_t gave_up_tail(const char *s, size_t len, size_t at, PCRE2_SIZE *ov)
{
	return THEN_END(s, len, addr_port(s, len, at + 1, ov), " [preauth]");
}

/* ^(?:Connection (?:closed|reset) by|Disconnected from) (?:authenticating|invalid)
 * user [^:]*? (?<addr>...) port (?<port>\d{1,5}) \[preauth\]$ */
static int gave_up_after_user(const char *s, size_t len, PCRE2_SIZE *ov)
{
	size_t p = HAS(s, len, 0, "Connection closed by ")  ? 21
		   : HAS(s, len, 0, "Connection reset by ") ? 20
		   : HAS(s, len, 0, "Disconnected from ")   ? 18
							    : FAIL;
	if (p == FAIL || (p = kind_of_user(s, len, p)) == FAIL)
		return NOMATCH;
	return lazy_gap(s, len, p, gave_up_tail, ov);
}

/* " (?<addr>...) port (?<port>\d{1,5}): Too many authentication failures \[preauth\]$" */
static size_t too_many_tail(const char *s, size_t len, size_t at, PCRE2_SIZE *ov)
{
	return THEN_END(s, len, addr_port(s, len, at + 1, ov), ": Too many authentication failures [preauth]");
}

/* ^Disconnecting (?:authenticating|invalid) user [^:]*? (?<addr>...) port
 * (?<port>\d{1,5}): Too many authentication failures \[preauth\]$ */
static int too_many_failures(const char *s, size_t len, PCRE2_SIZE *ov)
{
	if (!HAS(s, len, 0, "Disconnecting "))
		return NOMATCH;
	size_t p = kind_of_user(s, len, 14);
	if (p == FAIL)
		return NOMATCH;
	return lazy_gap(s, len, p, too_many_tail, ov);
}

/* (?<addr>...) port (?<port>\d{1,5})(?: \[preauth\])?$ at a. */
static int addr_port_preauth(const char *s, size_t len, size_t a, PCRE2_SIZE *ov)
{
	size_t p = addr_port(s, len, a, ov);
	size_t end = THEN_END(s, len, p, " [preauth]");
	if (end == FAIL && (end = THEN_END(s, len, p, "")) == FAIL)
		return NOMATCH;
	ov[0] = 0;
	ov[1] = end;
	return 3;
}

/* ^Connection closed by (?<addr>...) port (?<port>\d{1,5})(?: \[preauth\])?$ */
static int closed(const char *s, size_t len, PCRE2_SIZE *ov)
{
	return HAS(s, len, 0, "Connection closed by ") ? addr_port_preauth(s, len, 21, ov) : NOMATCH;
}

/* ^Connection reset by (?<addr>...) port (?<port>\d{1,5})(?: \[preauth\])?$ */
static int reset(const char *s, size_t len, PCRE2_SIZE *ov)
{
	return HAS(s, len, 0, "Connection reset by ") ? addr_port_preauth(s, len, 20, ov) : NOMATCH;
}

/* ^PAM \d+ more authentication failures?; */
static int pam_more_failures(const char *s, size_t len, PCRE2_SIZE *ov)
{
	static const char words[] = " more authentication failure";
	if (!HAS(s, len, 0, "PAM "))
		return NOMATCH;
	size_t p = 4;
	while (p < len && is_digit(s[p]))
		p++;
	if (p == 4 || !HAS(s, len, p, words))
		return NOMATCH;
	p += sizeof(words) - 1;
	if (p < len && s[p] == 's')
		p++;
	if (p >= len || s[p] != ';')
		return NOMATCH;
	ov[0] = 0;
	ov[1] = p + 1;
	return 1;
}

/* The regexes as rules/sshd.yaml spells them (YAML single quotes keep the
 * backslashes); test_native checks that the stock rules still use each. */
static const struct {
	const char *regex;
	native_fn fn;
} known[] = {
	{"^Failed (?:password|publickey|keyboard-interactive/pam) for [^:]*? from (?<addr>[0-9A-Fa-f:.]+) "
	 "port (?<port>\\d{1,5}) ssh2(?:: (?s:.*))?$",
	 failed_auth},
	{"^Invalid user [^:]*? from (?<addr>[0-9A-Fa-f:.]+) port (?<port>\\d{1,5})$", invalid_user},
	{"^(?:Connection (?:closed|reset) by|Disconnected from) (?:authenticating|invalid) user [^:]*? "
	 "(?<addr>[0-9A-Fa-f:.]+) port (?<port>\\d{1,5}) \\[preauth\\]$",
	 gave_up_after_user},
	{"^Disconnecting (?:authenticating|invalid) user [^:]*? (?<addr>[0-9A-Fa-f:.]+) port (?<port>\\d{1,5}): "
	 "Too many authentication failures \\[preauth\\]$",
	 too_many_failures},
	{"^Connection closed by (?<addr>[0-9A-Fa-f:.]+) port (?<port>\\d{1,5})(?: \\[preauth\\])?$", closed},
	{"^Connection reset by (?<addr>[0-9A-Fa-f:.]+) port (?<port>\\d{1,5})(?: \\[preauth\\])?$", reset},
	{"^PAM \\d+ more authentication failures?;", pam_more_failures},
};

/* Whether code reads its regex as the functions assume: the options rules.c
 * passes and no others, and `$` before a final LF alone (a newline of CR,
 * CRLF or ANY, from the build or a compile context, would also stop at
 * '\r'). Character tables are PCRE2's defaults: rules.c compiles without a
 * compile context, which is the only way to give others. */
static bool read_as_assumed(const pcre2_code *code)
{
	uint32_t opts = 0, extra = 0, newline = 0;
	return pcre2_pattern_info(code, PCRE2_INFO_ARGOPTIONS, &opts) == 0 && opts == PCRE2_NEVER_UTF &&
	       pcre2_pattern_info(code, PCRE2_INFO_EXTRAOPTIONS, &extra) == 0 && extra == 0 &&
	       pcre2_pattern_info(code, PCRE2_INFO_NEWLINE, &newline) == 0 && newline == PCRE2_NEWLINE_LF;
}

native_fn native_for(const char *regex, const pcre2_code *code)
{
	if (!read_as_assumed(code))
		return NULL;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(regex, known[i].regex) == 0)
			return known[i].fn;
	return NULL;
}

size_t native_count(void)
{
	return sizeof(known) / sizeof(known[0]);
}

const char *native_regex(size_t i)
{
	return i < native_count() ? known[i].regex : NULL;
}
