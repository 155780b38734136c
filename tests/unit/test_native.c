/* test_native.c: the hand-written stock sshd matchers against PCRE2 itself.
 * - each hand-written regex is a pattern of the stock rules, and the stock
 *   rules' matchers use it (an edit of rules/sshd.yaml that drops one fails
 *   here, instead of silently slowing replay down);
 * - any other regex or compile option gets none;
 * - differential, with PCRE2 JIT under the matcher's MATCH_LIMIT: on
 *   crafted lines (injections, IPv6, long ports, final newlines, colons in
 *   names), on lines of the longest length built to make the lazy gaps try
 *   every position, and on 1,000,000 random mutations (one to three each)
 *   of the crafted lines, each function returns PCRE2's return code and
 *   the same ovector pairs for the whole match and every group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "common/addr.h"
#include "common/errors.h"
#include "ctl/cli.h"
#include "detect/engine.h"
#include "detect/match.h"
#include "detect/native.h"
#include "detect/rules.h"
#include "stock.h"

/* regex compiled with options through ctx (may be NULL), JIT-compiled. */
static pcre2_code *compile(const char *regex, uint32_t options, pcre2_compile_context *ctx)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, options, &err, &off, ctx);
	assert_non_null(code);
	assert_int_equal(pcre2_jit_compile(code, PCRE2_JIT_COMPLETE), 0);
	return code;
}

static void test_every_native_serves_a_stock_pattern(void **state)
{
	(void)state;
	struct ruleset *rs = stock_ruleset();
	size_t bound = 0;
	for (size_t i = 0; i < native_count(); i++) {
		bool used = false;
		for (size_t s = 0; s < rs->nscenarios; s++)
			for (size_t j = 0; j < rs->scenarios[s].npatterns; j++) {
				const struct pattern *p = &rs->scenarios[s].patterns[j];
				if (strcmp(p->regex, native_regex(i)) == 0) {
					used = true;
					assert_non_null(native_for(p->regex, p->code));
				}
			}
		if (!used)
			fail_msg("no stock pattern is %s: the hand-written matcher is dead code", native_regex(i));
	}
	for (size_t s = 0; s < rs->nscenarios; s++)
		for (size_t j = 0; j < rs->scenarios[s].npatterns; j++) {
			const struct pattern *p = &rs->scenarios[s].patterns[j];
			bound += native_for(p->regex, p->code) != NULL;
		}
	assert_int_equal(bound, native_count());
	ruleset_free(rs);
}

/* Whether regex, compiled with options through ctx, gets a matcher. */
static bool served(const char *regex, uint32_t options, pcre2_compile_context *ctx)
{
	pcre2_code *code = compile(regex, options, ctx);
	bool yes = native_for(regex, code) != NULL;
	pcre2_code_free(code);
	return yes;
}

static void test_other_regexes_get_none(void **state)
{
	(void)state;
	const char *failed = native_regex(0);
	assert_true(served(failed, PCRE2_NEVER_UTF, NULL));
	assert_false(served(failed, PCRE2_NEVER_UTF | PCRE2_CASELESS, NULL));
	assert_false(served(failed, PCRE2_NEVER_UTF | PCRE2_DOLLAR_ENDONLY, NULL));
	assert_false(served(failed, 0, NULL));
	/* What a compile context can change: the newline, extra options. */
	pcre2_compile_context *ctx = pcre2_compile_context_create(NULL);
	assert_non_null(ctx);
	pcre2_set_newline(ctx, PCRE2_NEWLINE_CRLF);
	assert_false(served(failed, PCRE2_NEVER_UTF, ctx));
	pcre2_set_newline(ctx, PCRE2_NEWLINE_LF);
	assert_true(served(failed, PCRE2_NEVER_UTF, ctx));
	pcre2_set_compile_extra_options(ctx, PCRE2_EXTRA_MATCH_LINE);
	assert_false(served(failed, PCRE2_NEVER_UTF, ctx));
	pcre2_compile_context_free(ctx);
	char edited[1024];
	snprintf(edited, sizeof(edited), "%s", failed);
	edited[strlen(edited) - 1] = '\0';              /* without its final $ */
	assert_false(served(edited, PCRE2_NEVER_UTF, NULL));
	snprintf(edited, sizeof(edited), "%s ", failed);
	assert_false(served(edited, PCRE2_NEVER_UTF, NULL));
	assert_false(served("^Failed none for ", PCRE2_NEVER_UTF, NULL));
	assert_false(served("", PCRE2_NEVER_UTF, NULL));
	assert_null(native_regex(native_count()));
}

/* ---- differential ---- */

struct compiled {
	native_fn fn;
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;     /* with the matcher's MATCH_LIMIT */
	const char *regex;
};

static struct compiled *compile_all(void)
{
	struct compiled *c = calloc(native_count(), sizeof(*c));
	assert_non_null(c);
	for (size_t i = 0; i < native_count(); i++) {
		c[i].regex = native_regex(i);
		c[i].code = compile(c[i].regex, PCRE2_NEVER_UTF, NULL);
		c[i].fn = native_for(c[i].regex, c[i].code);
		assert_non_null(c[i].fn);
		c[i].md = pcre2_match_data_create_from_pattern(c[i].code, NULL);
		c[i].mctx = pcre2_match_context_create(NULL);
		assert_non_null(c[i].mctx);
		pcre2_set_match_limit(c[i].mctx, MATCH_LIMIT);
	}
	return c;
}

static void free_all(struct compiled *c)
{
	for (size_t i = 0; i < native_count(); i++) {
		pcre2_match_data_free(c[i].md);
		pcre2_match_context_free(c[i].mctx);
		pcre2_code_free(c[i].code);
	}
	free(c);
}

/* How many matches gave group 1 already read as IPv4 (native.h). */
static size_t v4_read_by_matcher;

/* What a match says of its groups 1 and 2 past the pairs (native.h) is
 * what addr_parse() and the digits say of the same text. */
static void check_read_groups(const struct compiled *c, const char *s, const PCRE2_SIZE *own)
{
	struct addr want;
	const char *a = s + own[2];
	int parsed = addr_parse(a, own[3] - own[2], &want);
	if (own[NATIVE_OV_V4] & NATIVE_V4_PARSED) {
		uint32_t v = (uint32_t)own[NATIVE_OV_V4];
		const uint8_t got[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
		if (parsed != 0 || want.family != AF_INET || memcmp(want.bytes, got, 4) != 0)
			fail_msg("%s\n on '%s': read as %u.%u.%u.%u, addr_parse %d", c->regex, s, got[0], got[1],
				 got[2], got[3], parsed);
		v4_read_by_matcher++;
	}
	PCRE2_SIZE port = 0;
	for (size_t i = own[4]; i < own[5]; i++)
		port = port * 10 + (PCRE2_SIZE)(s[i] - '0');
	if (own[NATIVE_OV_PORT] != port)
		fail_msg("%s\n on '%s': port read as %zu, digits say %zu", c->regex, s, (size_t)own[NATIVE_OV_PORT],
			 (size_t)port);
}

/* Whether fn and PCRE2 agree on text; returns whether PCRE2 matched. The
 * matcher reads a copy of exactly len bytes, so that AddressSanitizer sees
 * any read past the line (its fast paths read ahead where room allows). */
static bool agree(const struct compiled *c, const char *text, size_t len)
{
	PCRE2_SIZE own[NATIVE_OV_LEN];
	char *s = malloc(len ? len : 1);
	assert_non_null(s);
	memcpy(s, text, len);
	int rn = c->fn(s, len, own);
	int rp = pcre2_jit_match(c->code, (PCRE2_SPTR)s, len, 0, 0, c->md, c->mctx);
	if (rn != rp)
		fail_msg("%s\n on '%.*s' (%zu bytes): hand-written %d, PCRE2 %d", c->regex, (int)len, s, len, rn, rp);
	if (rp < 0) {
		free(s);
		return false;
	}
	assert_true(rp <= NATIVE_OVECTOR_PAIRS);
	const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
	for (int g = 0; g < rp; g++)
		if (own[2 * g] != ov[2 * g] || own[2 * g + 1] != ov[2 * g + 1])
			fail_msg("%s\n on '%.*s': group %d at %zu-%zu, PCRE2 %zu-%zu", c->regex, (int)len, s, g,
				 (size_t)own[2 * g], (size_t)own[2 * g + 1], (size_t)ov[2 * g], (size_t)ov[2 * g + 1]);
	if (rp == 3)
		check_read_groups(c, text, own);
	free(s);
	return true;
}

/* Lines each regex should match, lines built to fool a hand-written matcher
 * (attacker text in user names and certificate IDs), and near misses. */
static const char *const crafted[] = {
	"Failed password for root from 192.0.2.1 port 22 ssh2",
	"Failed password for invalid user oracle from 2001:db8::1 port 65535 ssh2",
	"Failed publickey for git from 192.0.2.1 port 22 ssh2: ED25519 SHA256:abc",
	"Failed publickey for git from 192.0.2.1 port 22 ssh2: ID x from 6.6.6.6 port 1 ssh2 (serial 1)",
	"Failed keyboard-interactive/pam for invalid user a from ::ffff:192.0.2.1 port 1 ssh2",
	"Failed password for x from 6.6.6.6 port 1 ssh2 from 192.0.2.1 port 2 ssh2",
	"Failed password for x from 6.6.6.6 port 1 ssh2x from 192.0.2.1 port 2 ssh2",
	"Failed password for x: from 6.6.6.6 port 1 ssh2",
	"Failed password for  from 192.0.2.1 port 22 ssh2",
	"Failed password for from 192.0.2.1 port 22 ssh2",
	"Failed password for a from 192.0.2.1 port 123456 ssh2",
	"Failed password for a from 192.0.2.1 port  ssh2",
	"Failed password for a from  port 22 ssh2",
	"Failed password for a from 192.0.2.1 port 22 ssh2\n",
	"Failed password for a from 192.0.2.1 port 22 ssh2\n\n",
	"Failed password for a from 192.0.2.1 port 22 ssh2\r",
	"Failed password for a from 192.0.2.1 port 22 ssh2:",
	"Failed password for a from 192.0.2.1 port 22 ssh2: ",
	"Failed password for a from 192.0.2.1 port 22 ssh2: x\n",
	"Failed password for a\nb from 192.0.2.1 port 22 ssh2",
	"Failed password for a from 192.0.2.g port 22 ssh2",
	"Failed password for a from 192.0.2.1g port 22 ssh2",
	"Failed password for a from 192.0.2.1 port 22 ssh2 ",
	"Failed Password for a from 192.0.2.1 port 22 ssh2",
	"Failed passwordfor a from 192.0.2.1 port 22 ssh2",
	/* Addresses near the dotted quad that the matchers read on the way. */
	"Failed password for a from 255.255.255.255 port 65535 ssh2",
	"Failed password for a from 0.0.0.0 port 0 ssh2",
	"Failed password for a from 1.2.3.4.5 port 22 ssh2",
	"Failed password for a from 01.2.3.4 port 22 ssh2",
	"Failed password for a from 1.2.3.04 port 22 ssh2",
	"Failed password for a from 1.2.3.0 port 22 ssh2",
	"Failed password for a from 256.2.3.4 port 22 ssh2",
	"Failed password for a from 1.2.3.256 port 22 ssh2",
	"Failed password for a from 1.2.3.1234 port 22 ssh2",
	"Failed password for a from 1.2.3.4a port 22 ssh2",
	"Failed password for a from 1.2.3.4:22 port 22 ssh2",
	"Failed password for a from 1.2.3 port 22 ssh2",
	"Failed password for a from 1..2.3 port 22 ssh2",
	"Failed password for a from ::ffff:1.2.3.4 port 22 ssh2",
	"Invalid user a from 1.2.3.4 port 99999",
	"Invalid user a from 1.2.3.4 port 65536",
	"Connection closed by 1.2.3.4 port 2",
	"Connection closed by 10.20.30.40 port 2",
	"Connection closed by 100.200.250.199 port 2",
	"Invalid user admin from 192.0.2.1 port 22",
	"Invalid user  from 192.0.2.1 port 22",
	"Invalid user from 192.0.2.1 port 22",
	"Invalid user a from 6.6.6.6 port 1 from 192.0.2.1 port 2",
	"Invalid user a from 192.0.2.1 port 2\n",
	"Invalid user a from 192.0.2.1 port 2 ",
	"Invalid user a:b from 192.0.2.1 port 2",
	"Invalid user a from 192.0.2.1 port 022222",
	"Invalid user a from 1:2:3:4:5:6:7:8 port 2",
	"Connection closed by authenticating user root 192.0.2.1 port 22 [preauth]",
	"Connection reset by invalid user a 192.0.2.1 port 22 [preauth]",
	"Disconnected from invalid user a b 6.6.6.6 port 1 [preauth] 192.0.2.1 port 2 [preauth]",
	"Disconnected from authenticating user  192.0.2.1 port 22 [preauth]",
	"Disconnected from authenticating user 192.0.2.1 port 22 [preauth]",
	"Disconnected from user root 192.0.2.1 port 22 [preauth]",
	"Disconnected from invalid user a 192.0.2.1 port 22 [preauth]\n",
	"Disconnected from invalid user a 192.0.2.1 port 22 [preauth",
	"Disconnected from invalid user a:b 192.0.2.1 port 22 [preauth]",
	"Disconnecting authenticating user root 192.0.2.1 port 22: Too many authentication failures [preauth]",
	"Disconnecting invalid user a 6.6.6.6 port 1: Too many authentication failures [preauth] 192.0.2.1 port 2: "
	"Too many authentication failures [preauth]",
	"Disconnecting invalid user a 192.0.2.1 port 22: Too many authentication failures [preauth]\n",
	"Connection closed by 192.0.2.1 port 22",
	"Connection closed by 192.0.2.1 port 22 [preauth]",
	"Connection closed by 192.0.2.1 port 22 [preauth]\n",
	"Connection closed by 192.0.2.1 port 22\n",
	"Connection closed by 192.0.2.1 port 22 [preauth] ",
	"Connection closed by 192.0.2.1 port 22 [preauth][preauth]",
	"Connection closed by 192.0.2.1 port 22x",
	"Connection closed by 192.0.2.1 port 222222",
	"Connection closed by  port 22",
	"Connection reset by 2001:db8::2 port 22 [preauth]",
	"Connection reset by 2001:db8::2 port 22",
	"PAM 1 more authentication failure; logname= uid=0",
	"PAM 5 more authentication failures; logname= uid=0",
	"PAM 5 more authentication failuress;",
	"PAM  more authentication failures;",
	"PAM 5 more authentication failures",
	"PAM 12345678901234567890 more authentication failures;",
	"", "F", "Failed ", "Invalid user ", "PAM ", "Connection closed by ",
};

static void test_crafted_lines_as_pcre2(void **state)
{
	(void)state;
	struct compiled *c = compile_all();
	size_t matched = 0;
	for (size_t i = 0; i < native_count(); i++)
		for (size_t j = 0; j < sizeof(crafted) / sizeof(*crafted); j++)
			matched += agree(&c[i], crafted[j], strlen(crafted[j]));
	/* Most crafted lines are meant to match one regex: the comparison
	 * must have seen matches, not only refusals. */
	assert_true(matched >= 30);
	/* The matchers' own reading of the dotted quad must be in use. */
	assert_true(v4_read_by_matcher >= 20);
	free_all(c);
}

/* ---- the longest lines ---- */

/* Lines of exactly ENGINE_MAX_LINE bytes: each pattern's start, a piece
 * repeated (spaces and near-tails make lazy gaps try at every position),
 * and a tail that completes a match or just fails to. Under MATCH_LIMIT,
 * PCRE2 must neither give up nor differ (it needed ~12,200 at most on
 * such lines when measured; the limit is 200,000). */
static void test_longest_lines_as_pcre2(void **state)
{
	(void)state;
	static const char *const starts[] = {
		"Failed password for ", "Invalid user ", "Connection closed by invalid user ",
		"Disconnecting invalid user ", "Connection closed by ", "PAM ",
	};
	static const char *const pieces[] = {
		" 1", " ", "a", " from 1 port 1", " from 1.2.3.4 port 22 ssh2x", " 1.2.3.4 port 22 [preauth]x", "1",
	};
	static const char *const tails[] = {
		" from 192.0.2.1 port 22 ssh2", " from 192.0.2.1 port 22", " 192.0.2.1 port 22 [preauth]",
		" 192.0.2.1 port 22: Too many authentication failures [preauth]", " more authentication failures;",
		" from 192.0.2.1 port 22 ssh2 ", ":",
	};
	struct compiled *c = compile_all();
	static char line[ENGINE_MAX_LINE + 1];
	size_t matched = 0;
	for (size_t a = 0; a < sizeof(starts) / sizeof(*starts); a++)
		for (size_t b = 0; b < sizeof(pieces) / sizeof(*pieces); b++)
			for (size_t t = 0; t < sizeof(tails) / sizeof(*tails); t++) {
				size_t sl = strlen(starts[a]), pl = strlen(pieces[b]), tl = strlen(tails[t]);
				memcpy(line, starts[a], sl);
				size_t len = sl;
				while (len + pl + tl <= ENGINE_MAX_LINE) {
					memcpy(line + len, pieces[b], pl);
					len += pl;
				}
				memset(line + len, ' ', ENGINE_MAX_LINE - tl - len);   /* pad to the exact size */
				memcpy(line + ENGINE_MAX_LINE - tl, tails[t], tl);
				for (size_t i = 0; i < native_count(); i++)
					matched += agree(&c[i], line, ENGINE_MAX_LINE);
			}
	print_message("%zu of the longest lines matched\n", matched);
	assert_true(matched >= 5);
	free_all(c);
}

/* ---- random mutations ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t next(uint32_t below)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % below);
}

/* Pieces of the regexes' own text: mutations made of them reach the
 * matchers' decisions far more often than random bytes. */
static const char *const pieces[] = {
	" from ", " port ", " ssh2", ": ", ":", " ", "1", "12345", "123456", "192.0.2.1", "::1", "g", "\n",
	"255.255.255.255", "0.", ".0", "256", ".",
	"\r", " [preauth]", "invalid ", "authenticating ", "user ", ";", "s", "x", "Failed password for ",
	"Invalid user ", ": Too many authentication failures [preauth]", "PAM 3 more authentication failure",
};

static size_t mutate(char *buf, size_t len, size_t cap)
{
	size_t at = len ? next((uint32_t)len + 1) : 0;
	switch (next(4)) {
	case 0: {                                   /* insert a piece */
		const char *p = pieces[next(sizeof(pieces) / sizeof(*pieces))];
		size_t n = strlen(p);
		if (len + n > cap)
			return len;
		memmove(buf + at + n, buf + at, len - at);
		memcpy(buf + at, p, n);
		return len + n;
	}
	case 1: {                                   /* delete a few bytes */
		size_t n = 1 + next(8);
		if (at + n > len)
			n = len - at;
		memmove(buf + at, buf + at + n, len - at - n);
		return len - n;
	}
	case 2:                                     /* change one byte */
		if (at < len)
			buf[at] = (char)next(256);
		return len;
	default:                                    /* cut */
		return at;
	}
}

static void test_mutations_as_pcre2(void **state)
{
	(void)state;
	struct compiled *c = compile_all();
	char buf[1024];
	size_t matched = 0, tried = 0;
	for (int round = 0; round < 1000000; round++) {
		const char *seed = crafted[next(sizeof(crafted) / sizeof(*crafted))];
		size_t len = strlen(seed);
		memcpy(buf, seed, len);
		for (uint32_t k = 1 + next(3); k > 0; k--)
			len = mutate(buf, len, sizeof(buf));
		for (size_t i = 0; i < native_count(); i++) {
			matched += agree(&c[i], buf, len);
			tried++;
		}
	}
	print_message("%zu comparisons, %zu matches\n", tried, matched);
	assert_true(matched > 20000);
	free_all(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_native_serves_a_stock_pattern),
		cmocka_unit_test(test_other_regexes_get_none),
		cmocka_unit_test(test_crafted_lines_as_pcre2),
		cmocka_unit_test(test_longest_lines_as_pcre2),
		cmocka_unit_test(test_mutations_as_pcre2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
