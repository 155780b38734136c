/* match.c: first-byte dispatch over a scenario's patterns, JIT-compiled at
 * their first match (see match.h).
 * Why: a PCRE2 call costs ~20 ns even when it fails at once, and one
 * alternation of all patterns cost ~360 ns per sshd line (measured in
 * bench/replay); most lines can only be one or two of the patterns.
 * The table: for each first byte of a message, the patterns (in file order)
 * that can match a message starting with it. A pattern is filed under a
 * byte only when PCRE2 reports it anchored with a fixed first code unit
 * (filed under both cases, as caseless patterns report one) or a first-byte
 * bitmap; any other pattern is filed under every byte. So the table can add
 * candidates but never hide a match: the first pattern in file order that
 * matches still wins. A candidate with a hand-written matcher (native.h:
 * the busiest stock patterns) runs it instead of PCRE2, and skips the
 * fixed-text compare, which that matcher makes itself. */
#include "detect/match.h"

#include <ctype.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "detect/native.h"
#include "detect/prefix.h"

struct matcher {
	const struct scenario *scenario;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	uint16_t *candidates;        /* for byte b: candidates[start[b] .. start[b + 1]) */
	uint32_t start[257];
	struct prefix_set *prefixes; /* per pattern: the fixed text its matches start with */
	native_fn *natives;          /* per pattern: its hand-written matcher (native.h), or NULL */
	bool prefilter;              /* prefixes and natives before PCRE2 (off: PCRE2 alone) */
};

/* Bytes a message matched by p can start with; false when any byte can. */
static bool first_bytes(const struct pattern *p, bool out[256])
{
	uint32_t opts = 0, type = 0, unit = 0;
	const uint8_t *bitmap = NULL;
	pcre2_pattern_info(p->code, PCRE2_INFO_ALLOPTIONS, &opts);
	pcre2_pattern_info(p->code, PCRE2_INFO_FIRSTCODETYPE, &type);
	pcre2_pattern_info(p->code, PCRE2_INFO_FIRSTCODEUNIT, &unit);
	pcre2_pattern_info(p->code, PCRE2_INFO_FIRSTBITMAP, &bitmap);
	if (!(opts & PCRE2_ANCHORED))
		return false;
	for (int b = 0; b < 256; b++)
		out[b] = false;
	if (type == 1 && unit < 256) {
		out[unit] = true;
		out[tolower((int)unit)] = true;
		out[toupper((int)unit)] = true;
		return true;
	}
	if (bitmap) {
		for (int b = 0; b < 256; b++)
			out[b] = bitmap[b / 8] & (1u << (b % 8));
		return true;
	}
	return false;
}

static void build_table(struct matcher *m)
{
	const struct scenario *s = m->scenario;
	bool (*may)[256] = xcalloc(s->npatterns, sizeof(*may));
	for (size_t i = 0; i < s->npatterns; i++)
		if (!first_bytes(&s->patterns[i], may[i]))
			for (int b = 0; b < 256; b++)
				may[i][b] = true;
	m->candidates = xcalloc(256 * s->npatterns + 1, sizeof(*m->candidates));
	uint32_t n = 0;
	for (int b = 0; b < 256; b++) {
		m->start[b] = n;
		for (size_t i = 0; i < s->npatterns; i++)
			if (may[i][b])
				m->candidates[n++] = (uint16_t)i;
	}
	m->start[256] = n;
	free(may);
}

static uint32_t most_groups(const struct scenario *s)
{
	uint32_t most = 0;
	for (size_t i = 0; i < s->npatterns; i++) {
		uint32_t n = 0;
		pcre2_pattern_info(s->patterns[i].code, PCRE2_INFO_CAPTURECOUNT, &n);
		most = n > most ? n : most;
	}
	return most;
}

struct matcher *matcher_new(const struct scenario *s)
{
	struct matcher *m = xcalloc(1, sizeof(*m));
	m->scenario = s;
	m->md = pcre2_match_data_create(most_groups(s) + 1, NULL);
	m->mctx = pcre2_match_context_create(NULL);
	if (!m->md || !m->mctx)
		fatalx("out of memory creating PCRE2 match data");
	pcre2_set_match_limit(m->mctx, MATCH_LIMIT);
	/* For PCRE2's interpreter (a pattern the JIT could not compile): its
	 * backtracking memory, which the JIT's 32 KiB stack bounds for it. */
	pcre2_set_heap_limit(m->mctx, MATCH_HEAP_LIMIT_KIB);
	build_table(m);
	m->prefixes = xcalloc(s->npatterns ? s->npatterns : 1, sizeof(*m->prefixes));
	m->natives = xcalloc(s->npatterns ? s->npatterns : 1, sizeof(*m->natives));
	for (size_t i = 0; i < s->npatterns; i++) {
		uint32_t opts = 0;
		pcre2_pattern_info(s->patterns[i].code, PCRE2_INFO_ARGOPTIONS, &opts);
		prefix_of(s->patterns[i].regex, opts, &m->prefixes[i]);
		m->natives[i] = native_for(s->patterns[i].regex, s->patterns[i].code);
	}
	m->prefilter = true;
	return m;
}

void matcher_free(struct matcher *m)
{
	if (!m)
		return;
	pcre2_match_data_free(m->md);
	pcre2_match_context_free(m->mctx);
	free(m->candidates);
	free(m->prefixes);
	free(m->natives);
	free(m);
}

void matcher_set_prefilter(struct matcher *m, bool on)
{
	m->prefilter = on;
}

/* A group took part in the match: numbered, below rc, and set. */
static bool group_set(const PCRE2_SIZE *ov, int rc, uint32_t group)
{
	return group && group < (uint32_t)rc && ov[2 * group] != PCRE2_UNSET;
}

/* 1 to 5 digits, at most 65535; else -1. */
static int parse_port(const char *s, size_t len)
{
	if (len == 0 || len > 5)
		return -1;
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9)
			return -1;
		v = v * 10 + (int)d;
	}
	return v <= 65535 ? v : -1;
}

/* Group 1 read as an IPv4 address by a native matcher (native.h). */
static void native_v4(PCRE2_SIZE v, struct addr *out)
{
	const uint8_t bytes[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	addr_set_ipv4(out, bytes);
}

/* natively: ov came from a native matcher, with what it read of groups 1
 * and 2 past the pairs (native.h). */
static enum match_result decode(const struct pattern *p, const char *msg, const PCRE2_SIZE *ov, int rc,
				bool natively, struct match *out)
{
	uint32_t addr = p->addr_group;
	for (uint32_t i = 1; i < p->naddr_groups && !group_set(ov, rc, addr); i++)
		addr = p->addr_groups[i];     /* (?J): the addr group that took part */
	out->has_addr = group_set(ov, rc, addr);
	out->nofail = group_set(ov, rc, p->nofail_group);
	out->port = -1;
	out->time = NULL;
	out->time_len = 0;
	if (group_set(ov, rc, p->time_group)) {
		out->time = msg + ov[2 * p->time_group];
		out->time_len = ov[2 * p->time_group + 1] - ov[2 * p->time_group];
	}
	if (out->has_addr) {
		size_t start = ov[2 * addr], end = ov[2 * addr + 1];
		if (natively && addr == 1 && (ov[NATIVE_OV_V4] & NATIVE_V4_PARSED))
			native_v4(ov[NATIVE_OV_V4], &out->addr);
		else if (addr_parse(msg + start, end - start, &out->addr) != 0)
			return MATCH_BAD_ADDR;
	}
	if (group_set(ov, rc, p->port_group)) {
		size_t start = ov[2 * p->port_group], end = ov[2 * p->port_group + 1];
		if (natively && p->port_group == 2)
			out->port = ov[NATIVE_OV_PORT] <= 65535 ? (int)ov[NATIVE_OV_PORT] : -1;
		else
			out->port = parse_port(msg + start, end - start);
	}
	return MATCH_OK;
}

enum match_result matcher_run(struct matcher *m, const char *msg, size_t len, struct match *out)
{
	const struct scenario *s = m->scenario;
	unsigned first = len ? (unsigned char)msg[0] : 0;
	for (uint32_t c = m->start[first]; c < m->start[first + 1]; c++) {
		const struct pattern *p = &s->patterns[m->candidates[c]];
		const struct prefix_set *px = &m->prefixes[m->candidates[c]];
		native_fn native = m->prefilter ? m->natives[m->candidates[c]] : NULL;
		/* A hand-written matcher reads its fixed text itself, at once. */
		if (m->prefilter && px->n && !native) {
			if (!prefix_allows(px, msg, len))
				continue;              /* PCRE2 could not match: skip the call */
			if (px->whole) {               /* the pattern is its fixed text: no call needed */
				out->pattern = p;
				out->index = m->candidates[c];
				out->has_addr = false;
				out->nofail = false;
				out->port = -1;
				out->time = NULL;
				out->time_len = 0;
				return MATCH_OK;
			}
		}
		PCRE2_SIZE own[NATIVE_OV_LEN];
		const PCRE2_SIZE *ov = own;
		int rc;
		if (native) {
			rc = native(msg, len, own);
		} else {
			const pcre2_code *jit = pattern_jit_code(p);
			rc = jit ? pcre2_jit_match(jit, (PCRE2_SPTR)msg, len, 0, 0, m->md, m->mctx)
				 : pcre2_match(p->code, (PCRE2_SPTR)msg, len, 0, 0, m->md, m->mctx);
			ov = pcre2_get_ovector_pointer(m->md);
		}
		if (rc == PCRE2_ERROR_NOMATCH)
			continue;
		if (rc < 0)
			return MATCH_ERROR;
		out->pattern = p;
		out->index = m->candidates[c];
		return decode(p, msg, ov, rc, native != NULL, out);
	}
	return MATCH_NONE;
}
