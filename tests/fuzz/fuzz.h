/* fuzz.h: what every fuzz harness in tests/fuzz/ shares.
 * Why: each harness is one LLVMFuzzerTestOneInput, built two ways: with
 * clang and libFuzzer (make fuzz, scripts/fuzz) to search for crashes, and
 * with the normal compiler and replay.c (make check) to run its seed corpus
 * and every input that once crashed it, in every build.
 * Guarantees: FUZZ_CHECK ends the process (abort) with file:line and the
 * failed property, which libFuzzer reports as a crash and tests/run as a
 * failed program; a harness never exits, never leaks across inputs and
 * never writes outside its own temporary directory. */
#ifndef PACTO_FUZZ_H
#define PACTO_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alliance/signer.h"
#include "detect/engine.h"

/* The libFuzzer entry point each harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn)) void fuzz_fail(const char *file, int line, const char *what);

#define FUZZ_CHECK(cond) ((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond))

/* A heap copy of data[0..size) with nothing after it, so that a read past
 * the end is caught by AddressSanitizer. Caller frees. */
char *fuzz_copy(const uint8_t *data, size_t size);

/* The same, NUL-terminated (for parsers of C strings). Caller frees. */
char *fuzz_strdup(const uint8_t *data, size_t size);

/* A private directory made once per process and removed at exit. */
const char *fuzz_tmpdir(void);

/* The signer of a fixed key (the seed is FUZZ_KEY_SEED's 32 bytes), so
 * that signed inputs in a corpus verify in every run. Made once. */
#define FUZZ_KEY_SEED "pacto fuzz key: not a secret!!!"
const struct signer *fuzz_signer(void);

/* The stock rules (the files of rules/, built in), loaded once. */
const struct ruleset *fuzz_stock_rules(void);

/* An engine over rs with small tables (so evictions happen), an allowlist
 * of 10.0.0.0/8 and 2001:db8:a11::/48, and the settings picked by the
 * bits of mode (use_log_time, trust_bare, IPv6 prefix). Its callbacks check
 * every sanction and trace (FUZZ_CHECK). Free with fuzz_engine_free,
 * which checks the engine's counters first. */
struct engine *fuzz_engine_new(const struct ruleset *rs, uint8_t mode);
void fuzz_engine_free(struct engine *e);

/* The matcher's shortcuts never change a result: for every scenario of
 * rs and every line of msgs[0..len), matcher_run with the prefilter, without
 * it, and a plain loop over the patterns in file order calling PCRE2 agree
 * on the pattern that matches (lines where PCRE2 hits its match limit
 * aside). */
void fuzz_check_matchers(const struct ruleset *rs, const char *msgs, size_t len);

/* Reads the fuzz input as a stream of small values (structure-aware
 * harnesses): once it runs out, every value is 0. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

uint8_t fuzz_u8(struct fuzz_in *in);
uint64_t fuzz_u64(struct fuzz_in *in);
/* Up to max bytes (a length byte first), into out[max + 1], NUL-terminated. */
size_t fuzz_bytes(struct fuzz_in *in, char *out, size_t max);

#endif
