/* test_addr.c: binary addresses: every form OpenSSH prints, prefixes, and
 * what must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "common/addr.h"

static struct addr parse_ok(const char *s)
{
	struct addr a;
	assert_int_equal(addr_parse(s, strlen(s), &a), 0);
	return a;
}

static void assert_formats(const struct addr *a, const char *want)
{
	char buf[ADDR_STRLEN];
	assert_string_equal(addr_format(a, buf, sizeof(buf)), want);
}

static void test_ipv4(void **state)
{
	(void)state;
	struct addr z = parse_ok("0.0.0.0"), m = parse_ok("255.255.255.255");
	assert_formats(&z, "0.0.0.0");
	assert_formats(&m, "255.255.255.255");
	struct addr a = parse_ok("192.0.2.7");
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.prefix, 32);
	assert_formats(&a, "192.0.2.7");
}

static void test_ipv6_forms(void **state)
{
	(void)state;
	struct addr a = parse_ok("2001:db8::5");
	struct addr b = parse_ok("2001:0db8:0000:0000:0000:0000:0000:0005");
	assert_true(addr_equal(&a, &b));
	assert_int_equal(a.family, AF_INET6);
	assert_formats(&b, "2001:db8::5");
}

static void test_mapped_is_ipv4(void **state)
{
	(void)state;
	struct addr a = parse_ok("::ffff:203.0.113.9");
	struct addr b = parse_ok("203.0.113.9");
	struct addr c = parse_ok("::FFFF:cb00:7109");
	assert_true(addr_equal(&a, &b));
	assert_true(addr_equal(&c, &b));
	assert_formats(&a, "203.0.113.9");
}

static void test_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4x", "01.2.3.4",
					  "1.2.3.04", "1..2.3", "1.2.3.", ".1.2.3", "1.2.3.4444", "1.2.3.-4",
					  "host.example", "2001:db8::1%eth0", "::g", "1.2.3.4 ",
					  " 1.2.3.4", "2001:db8:::1"};
	struct addr a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(addr_parse(bad[i], strlen(bad[i]), &a), -1);
	/* Longer than any address: refused before copying. */
	char big[200];
	memset(big, '1', sizeof(big));
	assert_int_equal(addr_parse(big, sizeof(big), &a), -1);
}

/* The hand-written IPv4 parser (the hot path) accepts exactly what
 * inet_pton(AF_INET) accepts: every text built from 1-5 parts of "", 0,
 * 00, 01, 7, 10, 99, 100, 199, 255, 256, 999, 1000 and a stray byte. */
static void test_ipv4_as_inet_pton(void **state)
{
	(void)state;
	static const char *const parts[] = {"", "0", "00", "01", "7", "10", "99", "100", "199", "255",
					    "256", "999", "1000", "1a", " 1"};
	size_t np = sizeof(parts) / sizeof(*parts), checked = 0;
	for (size_t n = 1; n <= 5; n++) {
		size_t combos = 1;
		for (size_t k = 0; k < n; k++)
			combos *= np;
		for (size_t c = 0; c < combos; c += n >= 4 ? 7 : 1) {
			char text[64] = "";
			size_t rest = c;
			for (size_t k = 0; k < n; k++, rest /= np)
				snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", k ? "." : "",
					 parts[rest % np]);
			uint8_t bin[4];
			struct addr a;
			bool want = inet_pton(AF_INET, text, bin) == 1;
			bool got = addr_parse(text, strlen(text), &a) == 0;
			if (want != got || (got && (a.family != AF_INET || memcmp(a.bytes, bin, 4) != 0)))
				fail_msg("'%s': inet_pton %d, addr_parse %d", text, want, got);
			checked++;
		}
	}
	assert_true(checked > 10000);
}

/* What addr_parse read before it parsed IPv6 itself: inet_pton on the
 * text (refused when it holds a NUL, where inet_pton would stop), IPv4 for
 * a text without ':', the IPv4-mapped space as IPv4. */
static int parse_by_inet_pton(const char *s, size_t len, struct addr *out)
{
	char buf[64];
	uint8_t bin[16];
	if (len == 0 || len >= 46 || memchr(s, '\0', len))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (!memchr(s, ':', len)) {
		if (inet_pton(AF_INET, buf, bin) != 1)
			return -1;
		out->family = AF_INET;
		out->prefix = 32;
		memcpy(out->bytes, bin, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, bin) != 1)
		return -1;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	bool v4 = memcmp(bin, mapped, 12) == 0;
	out->family = v4 ? AF_INET : AF_INET6;
	out->prefix = v4 ? 32 : 128;
	memcpy(out->bytes, v4 ? bin + 12 : bin, v4 ? 4 : 16);
	return 0;
}

static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* An IPv6-like text: groups of 0-5 hex digits (any case), separators of
 * 0-3 colons, sometimes a dotted quad or a stray byte; or a real address
 * as inet_ntop writes it, in upper case at times, a group padded. */
static size_t random_v6_text(uint64_t *rng, char *text, size_t room)
{
	static const char digits[] = "0123456789abcdefABCDEF";
	static const char *const quads[] = {"1.2.3.4", "255.255.255.255", "0.0.0.0", "01.2.3.4", "1.2.3", "256.1.1.1"};
	static const char strays[] = "gG.: %/-\x01\xff";
	size_t n = 0;
	if (next_random(rng) % 3 == 0) {
		uint8_t bin[16];
		for (int i = 0; i < 16; i++)
			bin[i] = (uint8_t)(next_random(rng) % 4 ? 0 : next_random(rng));
		if (next_random(rng) % 4 == 0)
			memcpy(bin, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
		inet_ntop(AF_INET6, bin, text, (socklen_t)room);
		n = strlen(text);
		for (size_t i = 0; i < n; i++)
			if (next_random(rng) % 4 == 0 && text[i] >= 'a' && text[i] <= 'f')
				text[i] = (char)(text[i] - 'a' + 'A');
		return n;
	}
	size_t parts = 1 + next_random(rng) % 10;
	for (size_t k = 0; k < parts && n + 20 < room; k++) {
		size_t colons = k == 0 ? next_random(rng) % 3 : next_random(rng) % 7 == 0 ? 2 : next_random(rng) % 9 == 0 ? 0 : 1;
		if (next_random(rng) % 31 == 0)
			colons = 3;
		for (size_t c = 0; c < colons; c++)
			text[n++] = ':';
		if (k + 1 == parts && next_random(rng) % 5 == 0) {
			const char *q = quads[next_random(rng) % 6];
			memcpy(text + n, q, strlen(q));
			n += strlen(q);
			break;
		}
		size_t nd = next_random(rng) % 6 == 0 ? next_random(rng) % 6 : 1 + next_random(rng) % 4;
		for (size_t d = 0; d < nd; d++)
			text[n++] = digits[next_random(rng) % (sizeof(digits) - 1)];
		if (next_random(rng) % 40 == 0)
			text[n++] = strays[next_random(rng) % (sizeof(strays) - 1)];
	}
	if (next_random(rng) % 8 == 0)
		text[n++] = ':';
	return n;
}

/* addr_parse reads the usual IPv6 forms itself, before inet_pton: on
 * 1,000,000 texts near and far from IPv6 it gives what inet_pton gives,
 * accepting and refusing alike, the same bytes. */
static void test_ipv6_as_inet_pton(void **state)
{
	(void)state;
	static const char *const edges[] = {
	    "::", ":", ":::", "1:", ":1", "::1:", "1::2::3", "12345::", "::12345", "1:2:3:4:5:6:7:8:9",
	    "1:2:3:4:5:6:7::8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", "0:0:0:0:0:0:0:0",
	    "A:b:C:d:E:f:0:1", "::1.2.3.4", "::ffff:1.2.3.4", "1::1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
	    "1:2:3:4:5:6:7:1.2.3.4", "::1:2:3:4:5:6:1.2.3.4", "::1:2:3:4:5:1.2.3.4", "::ffff:01.2.3.4",
	    "::1.2.3", "::1.2.3.4.5", "1234.1.1.1::", "::12345.1.1.1", "::1234.1.1.1", "::a.1.1.1",
	    "1.2.3.4::", "::1.2.3.4:1", "0000:0000:0000:0000:0000:0000:0000:0001", "00000::1", "::0:0"};
	for (size_t i = 0; i < sizeof(edges) / sizeof(*edges); i++) {
		struct addr got, want;
		size_t len = strlen(edges[i]);
		int rc_got = addr_parse(edges[i], len, &got), rc_want = parse_by_inet_pton(edges[i], len, &want);
		if (rc_got != rc_want || (rc_got == 0 && memcmp(got.bytes, want.bytes, 16) != 0))
			fail_msg("'%s': inet_pton %d, addr_parse %d", edges[i], rc_want, rc_got);
	}
	uint64_t rng = 0x2545f4914f6cdd1dULL;
	size_t accepted = 0, refused = 0;
	for (int i = 0; i < 1000000; i++) {
		char text[128];
		size_t len = random_v6_text(&rng, text, sizeof(text));
		struct addr got, want;
		memset(&got, 0x5a, sizeof(got));
		int rc_got = addr_parse(text, len, &got), rc_want = parse_by_inet_pton(text, len, &want);
		if (rc_got != rc_want || (rc_got == 0 && (got.family != want.family || got.prefix != want.prefix ||
							  memcmp(got.bytes, want.bytes, 16) != 0)))
			fail_msg("'%.*s': inet_pton %d, addr_parse %d", (int)len, text, rc_want, rc_got);
		if (rc_got == 0)
			accepted++;
		else
			refused++;
	}
	assert_true(accepted > 200000);
	assert_true(refused > 200000);
	/* A NUL inside: refused, where inet_pton would have read up to it. */
	struct addr a;
	assert_int_equal(addr_parse("::1\0:2", 6, &a), -1);
	assert_int_equal(addr_parse("1.2.3.4\0", 8, &a), -1);
}

/* addr_contains() compares words; its definition is "a masked to net's
 * prefix is net, all 16 bytes": checked on random pairs of both families,
 * every prefix length, nets with bits past their prefix, near misses. */
static bool contains_by_definition(const struct addr *net, const struct addr *a)
{
	if (net->family != a->family || a->prefix < net->prefix)
		return false;
	struct addr masked = *a;
	addr_mask(&masked, net->prefix);
	return memcmp(masked.bytes, net->bytes, 16) == 0;
}

static void test_contains_as_defined(void **state)
{
	(void)state;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	size_t yes = 0;
	for (int round = 0; round < 200000; round++) {
		struct addr net = {0}, a = {0};
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		bool v6 = rng & 1;
		unsigned max = v6 ? 128 : 32, len = v6 ? 16 : 4;
		net.family = a.family = v6 ? AF_INET6 : AF_INET;
		if ((rng >> 1) % 16 == 0)
			a.family = v6 ? AF_INET : AF_INET6;
		for (unsigned i = 0; i < len; i++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			net.bytes[i] = (uint8_t)rng;
			/* Mostly a few bits apart: pairs near the boundary. */
			a.bytes[i] = (uint8_t)((rng >> 8) % 4 ? rng : rng >> 16);
		}
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		net.prefix = (uint8_t)(rng % (max + 1));
		a.prefix = (uint8_t)((rng >> 16) % (max + 1));
		if ((rng >> 32) % 4)
			addr_mask(&net, net.prefix);     /* most nets as parsed: nothing past the prefix */
		bool want = contains_by_definition(&net, &a);
		if (addr_contains(&net, &a) != want)
			fail_msg("round %d: addr_contains differs from its definition", round);
		yes += want;
	}
	assert_true(yes > 1000);
}

static void test_cidr(void **state)
{
	(void)state;
	struct addr net, a = parse_ok("198.51.100.77");
	assert_int_equal(addr_parse_cidr("198.51.100.0/24", &net), 0);
	assert_true(addr_contains(&net, &a));
	assert_formats(&net, "198.51.100.0/24");
	assert_int_equal(addr_parse_cidr("198.51.100.1/24", &net), -2);
	assert_int_equal(addr_parse_cidr("198.51.100.0/33", &net), -1);
	assert_int_equal(addr_parse_cidr("198.51.100.0/", &net), -1);
	assert_int_equal(addr_parse_cidr("198.51.100.0/2x", &net), -1);
	assert_int_equal(addr_parse_cidr("2001:db8::/32", &net), 0);
	struct addr v6 = parse_ok("2001:db8:1:2::3");
	assert_true(addr_contains(&net, &v6));
	assert_false(addr_contains(&net, &a));
	assert_int_equal(addr_parse_cidr("::ffff:192.0.2.0/120", &net), 0);
	assert_formats(&net, "192.0.2.0/24");
}

static void test_mask_and_loopback(void **state)
{
	(void)state;
	struct addr a = parse_ok("2001:db8:0:7:1:2:3:4");
	addr_mask(&a, 64);
	assert_formats(&a, "2001:db8:0:7::/64");
	struct addr lo4 = parse_ok("127.8.9.10"), lo6 = parse_ok("::1"), mapped = parse_ok("::ffff:127.0.0.1");
	assert_true(addr_is_loopback(&lo4));
	assert_true(addr_is_loopback(&lo6));
	assert_true(addr_is_loopback(&mapped));
	struct addr other = parse_ok("::2");
	assert_false(addr_is_loopback(&other));
}

/* Listening endpoints: ADDR:PORT, [ADDR]:PORT, nothing looser. */
static void test_endpoint(void **state)
{
	(void)state;
	struct addr a;
	uint16_t port;
	assert_int_equal(addr_parse_endpoint("127.0.0.1:9467", &a, &port), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(port, 9467);
	assert_int_equal(addr_parse_endpoint("[::1]:1", &a, &port), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(port, 1);
	assert_true(addr_is_loopback(&a));
	const char *bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80",
			     "127.0.0.1:80x", "::1:80", "[::1]", "[::1]80", "[127.0.0.1]:80", "localhost:80",
			     ":80", "", "[::1]:-1", "127.0.0.1/8:80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (addr_parse_endpoint(bad[i], &a, &port) == 0)
			fail_msg("'%s' was taken as an endpoint", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4), cmocka_unit_test(test_ipv6_forms),
		cmocka_unit_test(test_mapped_is_ipv4), cmocka_unit_test(test_refused),
		cmocka_unit_test(test_ipv4_as_inet_pton), cmocka_unit_test(test_ipv6_as_inet_pton),
		cmocka_unit_test(test_contains_as_defined),
		cmocka_unit_test(test_cidr), cmocka_unit_test(test_mask_and_loopback),
		cmocka_unit_test(test_endpoint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
