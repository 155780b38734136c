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
		cmocka_unit_test(test_ipv4_as_inet_pton),
		cmocka_unit_test(test_contains_as_defined),
		cmocka_unit_test(test_cidr), cmocka_unit_test(test_mask_and_loopback),
		cmocka_unit_test(test_endpoint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
