/* fuzz_match.c: the matcher's shortcuts against plain PCRE2, with the
 * regexes themselves fuzzed (fuzz_rules reaches them only through YAML).
 * src/detect/prefix.c reads a regex by hand to find the fixed text its
 * matches start with, and match.c files each pattern under the first bytes
 * PCRE2 says it can start with; both must only ever skip PCRE2 calls that
 * could not match.
 * Input: up to 8 regexes, one per line, then a NUL byte and messages, one
 * per line. Each regex becomes a pattern of one scenario (effect attempt
 * when it names an addr group, else ignore) in a rule file built here; a
 * regex the loader refuses ends the run.
 * Property: fuzz_check_matchers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define MAX_REGEXES 8

/* Appends regex[0..len) as a YAML single-quoted scalar (' doubled). */
static void put_quoted(FILE *f, const char *regex, size_t len)
{
	fputc('\'', f);
	for (size_t i = 0; i < len; i++) {
		if (regex[i] == '\'')
			fputc('\'', f);
		fputc(regex[i], f);
	}
	fputc('\'', f);
}

/* The rule file: one scenario whose patterns are the regex lines. */
static char *rule_text(const char *regexes, size_t len, size_t *out_len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, out_len);
	FUZZ_CHECK(f != NULL);
	fputs("scenario: fuzz\nthreshold: 2\npatterns:\n", f);
	const char *p = regexes, *end = regexes + len;
	for (int i = 0; i < MAX_REGEXES && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		bool addr = memmem(p, n, "addr", 4) != NULL;
		fprintf(f, "  - name: p%d\n    effect: %s\n    regex: ", i, addr ? "attempt" : "ignore");
		put_quoted(f, p, n);
		fputc('\n', f);
		p += n + 1;
	}
	FUZZ_CHECK(fclose(f) == 0);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	if (!nul)
		return 0;
	size_t rlen = (size_t)(nul - data), tlen;
	char *text = rule_text((const char *)data, rlen, &tlen);
	struct rule_text rt = {"fuzz.yaml", text, tlen};
	struct ruleset *rs = NULL;
	struct errors errs = {0};
	if (ruleset_load_texts(&rt, 1, &rs, &errs) == 0) {
		char *msgs = fuzz_copy(nul + 1, size - rlen - 1);
		fuzz_check_matchers(rs, msgs, size - rlen - 1);
		free(msgs);
		ruleset_free(rs);
	}
	errors_clear(&errs);
	free(text);
	return 0;
}
