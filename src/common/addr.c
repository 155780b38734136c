/* addr.c: parsing, masking and formatting of binary addresses (see addr.h).
 * Why: inet_pton is strict and well tested; this file adds the mapped-IPv4
 * rule, prefixes and a hash, and reads the usual forms itself first on the
 * hot path (the dotted quad, the common IPv6 forms), leaving the rest to
 * inet_pton. */
#include "common/addr.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void addr_set_ipv4(struct addr *out, const uint8_t v4[4])
{
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	out->prefix = 32;
	memcpy(out->bytes, v4, 4);
}

/* Strict dotted quad, as inet_pton(AF_INET) accepts it: four decimal
 * numbers 0..255 without leading zeros. Hand-written because inet_pton was
 * 5% of replay's time (bench/replay); anything else falls back to it. */
static inline __attribute__((always_inline)) int parse_v4(const char *s, size_t len, uint8_t out[4])
{
	const char *p = s, *end = s + len;
	for (int part = 0; part < 4; part++) {
		if (part && (p == end || *p++ != '.'))
			return -1;
		if (p == end || (unsigned)(*p - '0') > 9)
			return -1;
		unsigned v = (unsigned)(*p++ - '0');
		/* A leading 0 stands alone: "01" leaves a digit where '.' must be.
		 * Up to two more digits, unrolled (the loop showed in the profile). */
		if (v && p < end && (unsigned)(*p - '0') <= 9) {
			v = v * 10 + (unsigned)(*p++ - '0');
			if (p < end && (unsigned)(*p - '0') <= 9)
				v = v * 10 + (unsigned)(*p++ - '0');
		}
		if (v > 255)
			return -1;
		out[part] = (uint8_t)v;
	}
	return p == end ? 0 : -1;
}

/* A hex digit's value plus one, 0 for any other byte: one load a byte. */
static const uint8_t hex_plus_one[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* The usual IPv6 forms into bin: 1 to 8 groups of 1 to 4 hex digits, one
 * "::" standing for the groups left out, and a dotted quad for the last
 * two. Returns -1 on anything else, which inet_pton then decides: this is
 * a shortcut (glibc's inet_pton was ~760 instructions an address, half of
 * an IPv6 line's cost in replay), and test_addr checks that whatever it
 * accepts, inet_pton reads alike. */
static int parse_v6(const char *s, size_t len, uint8_t bin[16])
{
	uint16_t groups[8];
	int n = 0, gap = -1;   /* gap: how many groups come before "::" */
	const char *p = s, *end = s + len;
	if (len >= 2 && p[0] == ':' && p[1] == ':') {
		gap = 0;
		p += 2;
	}
	while (p < end) {
		const char *token = p;
		unsigned v = 0, d;
		while (p < end && (d = hex_plus_one[(unsigned char)*p]) != 0) {
			v = v << 4 | (d - 1);
			p++;
		}
		if (p == token || p - token > 4) {
			if (p == token || p == end || *p != '.')
				return -1;   /* no digits, or more than 4 (but 12345.x: below) */
		}
		if (p < end && *p == '.') {   /* a dotted quad ends the text */
			uint8_t v4[4];
			if (n > 6 || parse_v4(token, (size_t)(end - token), v4) != 0)
				return -1;
			groups[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
			groups[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
			break;
		}
		if (n == 8)
			return -1;
		groups[n++] = (uint16_t)v;
		if (p == end)
			break;
		if (*p++ != ':' || p == end)
			return -1;   /* not a separator, or a ':' at the end */
		if (*p == ':') {
			if (gap >= 0)
				return -1;
			gap = n;
			p++;
		}
	}
	if (gap < 0 ? n != 8 : n > 7)
		return -1;
	memset(bin, 0, 16);
	int after = gap < 0 ? 0 : n - gap;   /* groups after "::", placed at the end */
	for (int i = 0; i < n - after; i++) {
		bin[2 * i] = (uint8_t)(groups[i] >> 8);
		bin[2 * i + 1] = (uint8_t)groups[i];
	}
	for (int i = 0; i < after; i++) {
		int at = 8 - after + i;
		bin[2 * at] = (uint8_t)(groups[n - after + i] >> 8);
		bin[2 * at + 1] = (uint8_t)groups[n - after + i];
	}
	return 0;
}

int addr_parse(const char *s, size_t len, struct addr *out)
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t bin[16];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	if (parse_v4(s, len, bin) == 0) {
		addr_set_ipv4(out, bin);
		return 0;
	}
	/* inet_pton would read such a text up to its NUL. */
	if (memchr(s, '\0', len))
		return -1;
	/* Text with a ':' can only be IPv6: skip the IPv4 try. */
	bool v6 = memchr(s, ':', len) != NULL;
	if (!v6 || parse_v6(s, len, bin) != 0) {
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (!v6 && inet_pton(AF_INET, buf, bin) == 1) {
			addr_set_ipv4(out, bin);
			return 0;
		}
		if (inet_pton(AF_INET6, buf, bin) != 1)
			return -1;
	}
	if (memcmp(bin, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
		addr_set_ipv4(out, bin + 12);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	out->family = AF_INET6;
	out->prefix = 128;
	memcpy(out->bytes, bin, 16);
	return 0;
}

unsigned addr_max_prefix(const struct addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

void addr_mask(struct addr *a, unsigned prefix)
{
	unsigned max = addr_max_prefix(a);
	if (prefix > max)
		prefix = max;
	unsigned full = prefix / 8;
	if (prefix % 8)
		a->bytes[full++] &= (uint8_t)(0xff00u >> (prefix % 8));
	memset(a->bytes + full, 0, 16 - full);
	a->prefix = (uint8_t)prefix;
}

static int parse_prefix_len(const char *s, unsigned max, unsigned *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The port after the address: ":" and 1..65535 in decimal, to the end. */
static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	if (s[0] != ':' || (unsigned)(s[1] - '0') > 9)
		return -1;
	errno = 0;
	unsigned long v = strtoul(s + 1, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int addr_parse_endpoint(const char *s, struct addr *out, uint16_t *port)
{
	const char *colon;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || addr_parse(s + 1, (size_t)(close - s - 1), out) != 0 || out->family != AF_INET6)
			return -1;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || addr_parse(s, (size_t)(colon - s), out) != 0 || out->family != AF_INET)
			return -1;
	}
	return parse_port(colon, port);
}

int addr_parse_cidr(const char *s, struct addr *out)
{
	const char *slash = strchr(s, '/');
	size_t addr_len = slash ? (size_t)(slash - s) : strlen(s);

	if (addr_parse(s, addr_len, out) != 0)
		return -1;
	if (!slash)
		return 0;
	/* "::ffff:192.0.2.0/120" names IPv4 space: shift the prefix with the address. */
	bool mapped = out->family == AF_INET && strchr(s, ':') != NULL;
	unsigned len;
	if (parse_prefix_len(slash + 1, mapped ? 128 : addr_max_prefix(out), &len) != 0)
		return -1;
	if (mapped) {
		if (len < 96)
			return -1;
		len -= 96;
	}
	struct addr masked = *out;
	addr_mask(&masked, len);
	if (memcmp(masked.bytes, out->bytes, 16) != 0)
		return -2;
	*out = masked;
	return 0;
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->bytes, b->bytes, 16) == 0;
}

/* bytes[at..at+8) as a number, the first byte the most significant. */
static uint64_t word_at(const uint8_t *bytes, size_t at)
{
	uint64_t w;
	memcpy(&w, bytes + at, 8);
	return be64toh(w);
}

/* The first `bits` bits of a 64-bit word (0..64). */
static uint64_t leading_bits(unsigned bits)
{
	return bits == 0 ? 0 : bits >= 64 ? ~0ULL : ~0ULL << (64 - bits);
}

/* a masked to net's prefix equals net, all 16 bytes (so a net with bits set
 * past its prefix contains nothing). Two words instead of a masked copy and
 * a memcmp: the allowlist check runs on every failure counted (profile). */
bool addr_contains(const struct addr *net, const struct addr *a)
{
	if (net->family != a->family || a->prefix < net->prefix)
		return false;
	unsigned bits = net->prefix < addr_max_prefix(net) ? net->prefix : addr_max_prefix(net);
	uint64_t hi = leading_bits(bits), lo = leading_bits(bits > 64 ? bits - 64 : 0);
	return ((word_at(a->bytes, 0) & hi) ^ word_at(net->bytes, 0)) == 0 &&
	       ((word_at(a->bytes, 8) & lo) ^ word_at(net->bytes, 8)) == 0;
}

bool addr_is_loopback(const struct addr *a)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};
	if (a->family == AF_INET)
		return a->bytes[0] == 127;
	return memcmp(a->bytes, v6_loopback, 16) == 0;
}

char *addr_format(const struct addr *a, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	int af = a->family == AF_INET ? AF_INET : AF_INET6;
	if (!inet_ntop(af, a->bytes, text, sizeof(text)))
		snprintf(text, sizeof(text), "?");
	if (a->prefix < addr_max_prefix(a))
		snprintf(buf, len, "%s/%u", text, a->prefix);
	else
		snprintf(buf, len, "%s", text);
	return buf;
}

/* FNV-1a over the family and bytes, mixed with a per-table seed so that an
 * attacker cannot choose addresses that all land in one probe chain. */
uint64_t addr_hash(const struct addr *a, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	h = (h ^ a->family) * 0x100000001b3ULL;
	h = (h ^ a->prefix) * 0x100000001b3ULL;
	for (int i = 0; i < 16; i++)
		h = (h ^ a->bytes[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}
