/* common.c: helpers every fuzz harness links (see fuzz.h). */
#include "fuzz.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl/cli.h"
#include "detect/match.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
	abort();
}

char *fuzz_copy(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);
	FUZZ_CHECK(p != NULL);
	if (size)
		memcpy(p, data, size);
	return p;
}

char *fuzz_strdup(const uint8_t *data, size_t size)
{
	char *p = malloc(size + 1);
	FUZZ_CHECK(p != NULL);
	if (size)
		memcpy(p, data, size);
	p[size] = '\0';
	return p;
}

static char tmpdir[64];

static void remove_tmpdir(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", tmpdir);
}

const char *fuzz_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/pacto-fuzz.XXXXXX");
		FUZZ_CHECK(mkdtemp(tmpdir) != NULL);
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

/* The key file signer_load reads: the tag, then base64 of libsodium's
 * 64-byte secret key derived from the fixed seed. */
static void write_fixed_key(const char *path)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char line[160];
	FUZZ_CHECK(crypto_sign_seed_keypair(pk, sk, (const uint8_t *)FUZZ_KEY_SEED) == 0);
	int n = snprintf(line, sizeof(line), "pacto-secret-key-v1 ");
	sodium_bin2base64(line + n, sizeof(line) - (size_t)n, sk, sizeof(sk), sodium_base64_VARIANT_ORIGINAL);
	strcat(line, "\n");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(write(fd, line, strlen(line)) == (ssize_t)strlen(line));
	close(fd);
}

static struct signer *fixed_signer;

static void free_signer(void)
{
	signer_free(fixed_signer);
}

const struct signer *fuzz_signer(void)
{
	if (!fixed_signer) {
		char path[128], err[256];
		FUZZ_CHECK(signer_init() == 0);
		snprintf(path, sizeof(path), "%s/fuzz.key", fuzz_tmpdir());
		write_fixed_key(path);
		if (signer_load(path, &fixed_signer, err, sizeof(err)) != 0)
			fuzz_fail(__FILE__, __LINE__, err);
		atexit(free_signer);
	}
	return fixed_signer;
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | fuzz_u8(in);
	return v;
}

size_t fuzz_bytes(struct fuzz_in *in, char *out, size_t max)
{
	size_t hi = fuzz_u8(in);   /* two statements: the order of reads is fixed */
	size_t want = (hi << 8 | fuzz_u8(in)) % (max + 1);
	size_t n = want < in->left ? want : in->left;
	memcpy(out, in->p, n);
	out[n] = '\0';
	in->p += n;
	in->left -= n;
	return n;
}

/* ---- the engine ---- */

#define T0_US (1795737600LL * 1000000)   /* 2026-11-27T00:00:00Z */

static struct ruleset *stock;

static void free_stock(void)
{
	ruleset_free(stock);
}

const struct ruleset *fuzz_stock_rules(void)
{
	if (!stock) {
		struct errors errs = {0};
		FUZZ_CHECK(ruleset_load_texts(stock_rules, nstock_rules, &stock, &errs) == 0);
		atexit(free_stock);
	}
	return stock;
}

static struct addr allowlist[2];

static void check_addr(const struct addr *a)
{
	FUZZ_CHECK(a->family == AF_INET || a->family == AF_INET6);
	FUZZ_CHECK(a->prefix <= addr_max_prefix(a));
}

/* A sanction names a valid key outside the allowlist, for a positive time,
 * decided by at least one failure. */
static void on_sanction(void *arg, const struct sanction *s)
{
	const struct engine *e = arg;
	check_addr(&s->addr);
	FUZZ_CHECK(!engine_allowlisted(e, &s->addr));
	FUZZ_CHECK(s->duration_us > 0 && s->attempts >= 1 && s->offence >= 1);
	FUZZ_CHECK(s->first_seen_us <= s->last_seen_us);
	FUZZ_CHECK(s->scenario != NULL);
}

static void on_trace(void *arg, const struct trace *t)
{
	(void)arg;
	FUZZ_CHECK(t->scenario != NULL);
	if (t->verdict == VERDICT_COUNTED || t->verdict == VERDICT_SANCTIONED ||
	    t->verdict == VERDICT_PENDING_COUNTED) {
		check_addr(&t->source);
		check_addr(&t->key);
		FUZZ_CHECK(addr_contains(&t->key, &t->source));
		FUZZ_CHECK(t->in_window >= 1);
	}
	FUZZ_CHECK(verdict_text(t->verdict) != NULL);
}

/* The engine's callbacks get it as their argument, which exists only
 * after engine_new: they reach it through this. */
static struct engine *current;

static void on_sanction_current(void *arg, const struct sanction *s)
{
	(void)arg;
	on_sanction(current, s);
}

struct engine *fuzz_engine_new(const struct ruleset *rs, uint8_t mode)
{
	FUZZ_CHECK(addr_parse_cidr("10.0.0.0/8", &allowlist[0]) == 0);
	FUZZ_CHECK(addr_parse_cidr("2001:db8:a11::/48", &allowlist[1]) == 0);
	static const unsigned prefixes[4] = {64, 128, 48, 56};
	struct engine_config cfg = {
		.allowlist = allowlist,
		.nallowlist = 2,
		.ipv6_prefix = prefixes[(mode >> 2) & 3],
		.max_sources = 16,
		.max_connections = 16,
		.use_log_time = mode & 1,
		.trust_bare = mode & 2,
		.reference_us = T0_US,
		.seed = 1,
		.on_sanction = on_sanction_current,
		.on_trace = on_trace,
		.trace_all = true,
	};
	current = engine_new(rs, &cfg);
	FUZZ_CHECK(current != NULL);
	return current;
}

void fuzz_engine_free(struct engine *e)
{
	struct engine_stats st;
	engine_finish(e);
	engine_get_stats(e, &st);
	FUZZ_CHECK(st.memory_bytes <= st.memory_bound);
	FUZZ_CHECK(st.sanctions <= st.failures);
	FUZZ_CHECK(st.matched <= st.lines);
	engine_free(e);
	current = NULL;
}

/* ---- the matcher against plain PCRE2 ---- */

#define NAIVE_MATCH_LIMIT MATCH_LIMIT   /* the matcher's own (match.h) */

/* The first pattern in file order that PCRE2 matches: its index, -1 for
 * none, -2 when PCRE2 gave up. */
static long naive_match(const struct scenario *s, const char *msg, size_t len, pcre2_match_context *mctx)
{
	for (size_t i = 0; i < s->npatterns; i++) {
		pcre2_match_data *md = pcre2_match_data_create_from_pattern(s->patterns[i].code, NULL);
		FUZZ_CHECK(md != NULL);
		const pcre2_code *jit = pattern_jit_code(&s->patterns[i]);
		FUZZ_CHECK(jit != NULL);
		int rc = pcre2_jit_match(jit, (PCRE2_SPTR)msg, len, 0, 0, md, mctx);
		pcre2_match_data_free(md);
		if (rc >= 0)
			return (long)i;
		if (rc != PCRE2_ERROR_NOMATCH)
			return -2;
	}
	return -1;
}

static void check_line(const struct scenario *s, struct matcher *fast, struct matcher *slow,
		       pcre2_match_context *mctx, const char *msg, size_t len)
{
	struct match a, b;
	enum match_result ra = matcher_run(fast, msg, len, &a);
	enum match_result rb = matcher_run(slow, msg, len, &b);
	long naive = naive_match(s, msg, len, mctx);
	if (ra == MATCH_ERROR || rb == MATCH_ERROR || naive == -2)
		return;
	FUZZ_CHECK(ra == rb);
	FUZZ_CHECK((ra == MATCH_NONE) == (naive == -1));
	if (ra == MATCH_NONE)
		return;
	FUZZ_CHECK(a.index == b.index && (long)a.index == naive);
	FUZZ_CHECK(a.pattern == &s->patterns[a.index]);
	if (ra == MATCH_OK) {
		FUZZ_CHECK(a.has_addr == b.has_addr && a.port == b.port);
		FUZZ_CHECK(!a.has_addr || addr_equal(&a.addr, &b.addr));
		FUZZ_CHECK(a.port >= -1 && a.port <= 65535);
	}
}

void fuzz_check_matchers(const struct ruleset *rs, const char *msgs, size_t len)
{
	pcre2_match_context *mctx = pcre2_match_context_create(NULL);
	FUZZ_CHECK(mctx != NULL);
	pcre2_set_match_limit(mctx, NAIVE_MATCH_LIMIT);
	for (size_t i = 0; i < rs->nscenarios; i++) {
		const struct scenario *s = &rs->scenarios[i];
		struct matcher *fast = matcher_new(s), *slow = matcher_new(s);
		matcher_set_prefilter(slow, false);
		const char *p = msgs, *end = msgs + len;
		while (p <= end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = (size_t)((nl ? nl : end) - p);
			char *line = fuzz_copy((const uint8_t *)p, n);
			check_line(s, fast, slow, mctx, line, n);
			free(line);
			if (!nl)
				break;
			p = nl + 1;
		}
		matcher_free(fast);
		matcher_free(slow);
	}
	pcre2_match_context_free(mctx);
}
