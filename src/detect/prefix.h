/* prefix.h: the fixed texts every match of an anchored rule regex starts with.
 * Why: a PCRE2 JIT call costs ~190 instructions before it reads the first
 * byte (measured with callgrind), and most sshd lines that a candidate
 * pattern does not match differ from it within its fixed words; some
 * patterns (the `ignore` ones) are nothing but fixed words. Comparing those
 * words first skips the call (see match.c).
 * Guarantees: conservative. A regex this reader does not fully model
 * (options, verbs, \Q, comments, top-level alternation, quantified items...)
 * gets no prefix, and PCRE2 alone decides. When a prefix set is given, every
 * subject the regex matches starts with one of its texts; when `whole` is
 * set, the regex matches exactly the subjects that start with one of them,
 * and it has no capture group.
 * Never: allocates or calls PCRE2. */
#ifndef PACTO_PREFIX_H
#define PACTO_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREFIX_MAX_ALTS 8
#define PREFIX_MAX_LEN 80

struct prefix_set {
	size_t n;                          /* 0: nothing known, any subject may match */
	bool whole;                        /* the regex is exactly "^(one of these)" */
	uint8_t len[PREFIX_MAX_ALTS];
	char text[PREFIX_MAX_ALTS][PREFIX_MAX_LEN];
};

/* Reads regex (compiled by PCRE2 with compile_options, and known to compile)
 * into out. Returns the number of texts (out->n), 0 when nothing is known. */
size_t prefix_of(const char *regex, uint32_t compile_options, struct prefix_set *out);

/* Whether s starts with text[0..n): eight bytes at a time, inline (a
 * memcmp call cost as much as the PCRE2 calls it saved; measured). */
static inline bool prefix_equal(const char *s, const char *text, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t a, b;
		__builtin_memcpy(&a, s + i, 8);
		__builtin_memcpy(&b, text + i, 8);
		if (a != b)
			return false;
	}
	for (; i < n; i++)
		if (s[i] != text[i])
			return false;
	return true;
}

/* True when s[0..len) starts with one of the texts (or the set is empty). */
static inline bool prefix_allows(const struct prefix_set *p, const char *s, size_t len)
{
	if (p->n == 0)
		return true;
	for (size_t i = 0; i < p->n; i++)
		if (p->len[i] <= len && prefix_equal(s, p->text[i], p->len[i]))
			return true;
	return false;
}

#endif
