/* addr.h: binary IPv4/IPv6 addresses and prefixes.
 * Why: pacto never stores or compares addresses as strings; every address
 * read from outside is parsed once, strictly, into this form.
 * Guarantees: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes the IPv4
 * address a.b.c.d; bits past the prefix are always zero. */
#ifndef PACTO_ADDR_H
#define PACTO_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest text addr_format() writes, with "/128" and the NUL. */
#define ADDR_STRLEN 50

struct addr {
	uint8_t family;    /* AF_INET or AF_INET6 */
	uint8_t prefix;    /* 0..32 for AF_INET, 0..128 for AF_INET6 */
	uint8_t bytes[16]; /* network order; IPv4 uses bytes[0..3], the rest is 0 */
};

/* out = the IPv4 host address v4 (network order), as addr_parse() gives it. */
void addr_set_ipv4(struct addr *out, const uint8_t v4[4]);

/* Parses one host address (no prefix) from s[0..len). Returns 0 or -1. */
int addr_parse(const char *s, size_t len, struct addr *out) __attribute__((warn_unused_result));

/* Parses "ADDR" or "ADDR/LEN". Returns 0, -1 when malformed, -2 when bits
 * past LEN are set (so "192.0.2.1/24" is refused rather than guessed). */
int addr_parse_cidr(const char *s, struct addr *out) __attribute__((warn_unused_result));

/* Parses a listening endpoint "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6),
 * PORT 1..65535, nothing else around. Returns 0 or -1. */
int addr_parse_endpoint(const char *s, struct addr *out, uint16_t *port) __attribute__((warn_unused_result));

/* Full length of the family: 32 or 128. */
unsigned addr_max_prefix(const struct addr *a);

/* Clears the bits past prefix and records it; prefix is capped at the family's length. */
void addr_mask(struct addr *a, unsigned prefix);

bool addr_equal(const struct addr *a, const struct addr *b);

/* True when a is inside the network net (same family, same leading bits). */
bool addr_contains(const struct addr *net, const struct addr *a);

bool addr_is_loopback(const struct addr *a);

/* Writes "192.0.2.1", "2001:db8::1", or with a shorter prefix "2001:db8::/64"
 * into buf (at least ADDR_STRLEN bytes). Returns buf. */
char *addr_format(const struct addr *a, char *buf, size_t len);

uint64_t addr_hash(const struct addr *a, uint64_t seed);

#endif
