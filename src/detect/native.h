/* native.h: hand-written matchers for the busiest stock sshd patterns.
 * Why: PCRE2 JIT was 15% of a replay's time on sshd logs (perf, callgrind:
 * ~740 instructions a call, 190 of them before it reads the first byte),
 * and seven patterns take nearly every call. Each function here does what
 * PCRE2 does with one exact regex of rules/sshd.yaml, in one pass.
 * Guarantees: native_for() gives a function only for a compiled pattern
 * whose regex is, byte for byte, one it knows, compiled with exactly the
 * options rules.c uses, no extra options and LF as its newline (what `$`
 * depends on); any other pattern, including an edited stock one, gets NULL
 * and PCRE2 alone. A function answers what pcre2_jit_match() would under
 * MATCH_LIMIT: the same return code (number of groups + 1, or
 * PCRE2_ERROR_NOMATCH) and the same ovector pairs for the whole match and
 * every group. tests/unit/test_native.c checks that against PCRE2 on
 * crafted lines, lines of the longest length and random mutations;
 * tests/unit/test_prefix.c and the fuzz harnesses compare the whole
 * matcher's results (pattern, address, port) with PCRE2 alone.
 * Never: reads outside s[0..len), allocates, or keeps state. */
#ifndef PACTO_NATIVE_H
#define PACTO_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* The largest ovector a native matcher fills: the whole match and 2 groups. */
#define NATIVE_OVECTOR_PAIRS 3

/* Past the pairs, a matcher that captured groups 1 (the address) and 2
 * (the port) also gives what it read in them on the way, so that they are
 * not read a second time (matching and then parsing the address and port
 * was ~370 instructions a line that has them, callgrind):
 * - ov[NATIVE_OV_V4]: NATIVE_V4_PARSED | the address in host order when
 *   group 1 is a dotted quad that addr_parse() reads as exactly that IPv4
 *   address; 0 when it was not read (addr_parse() must read the text);
 * - ov[NATIVE_OV_PORT]: the value of group 2's digits (1 to 5 of them, so
 *   at most 99999: the caller still refuses what exceeds 65535).
 * Both are written together with groups 1 and 2, so they always describe
 * the groups the match returns. tests/unit/test_native.c checks them
 * against addr_parse() and the digits on every line it compares. */
#define NATIVE_OV_V4 (2 * NATIVE_OVECTOR_PAIRS)
#define NATIVE_OV_PORT (2 * NATIVE_OVECTOR_PAIRS + 1)
#define NATIVE_OV_LEN (2 * NATIVE_OVECTOR_PAIRS + 2)
#define NATIVE_V4_PARSED ((PCRE2_SIZE)1 << 32)
_Static_assert(sizeof(PCRE2_SIZE) >= 8, "NATIVE_V4_PARSED needs a 64-bit PCRE2_SIZE beside a 32-bit address");

typedef int (*native_fn)(const char *s, size_t len, PCRE2_SIZE ov[NATIVE_OV_LEN]);

/* The hand-written matcher for code, compiled from regex, or NULL. */
native_fn native_for(const char *regex, const pcre2_code *code);

/* How many regexes have a hand-written matcher (for tests). */
size_t native_count(void);

/* The i-th of them (for tests), i < native_count(). */
const char *native_regex(size_t i);

#endif
