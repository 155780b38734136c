/* fuzz_rules.c: rule files (YAML scenarios, src/detect/rules.c), then the
 * matcher built from what loaded (src/detect/match.c, prefix.c).
 * Input: the rule file's text, optionally followed by a NUL byte and
 * messages, one per line (a NUL cannot occur in YAML text, so the split is
 * unambiguous; without messages, a few stock sshd lines are used).
 * Properties: the loader never reads past its text; it loads (and returns
 * no error) or refuses with at least one error naming the file; a loaded
 * ruleset is within its documented bounds; and the matcher's first-byte
 * table and fixed-text prefilter never change which pattern matches
 * (fuzz_check_matchers). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define NAME "fuzz.yaml"

static const char default_msgs[] =
	"Failed password for root from 203.0.113.7 port 4000 ssh2\n"
	"Invalid user admin from 2001:db8::7 port 22\n"
	"Connection closed by authenticating user root 192.0.2.1 port 4 [preauth]\n"
	"kex_exchange_identification: read: Connection reset by peer\n"
	"\n";

static void check_loaded(const struct ruleset *rs)
{
	FUZZ_CHECK(rs->nscenarios >= 1);
	for (size_t i = 0; i < rs->nscenarios; i++) {
		const struct scenario *s = &rs->scenarios[i];
		FUZZ_CHECK(s->name && s->name[0]);
		FUZZ_CHECK(s->threshold >= 1 && s->threshold <= RULES_MAX_THRESHOLD);
		FUZZ_CHECK(s->window_us > 0 && s->sanction_us > 0);
		FUZZ_CHECK(s->npatterns >= 1 && s->npatterns <= RULES_MAX_PATTERNS);
		FUZZ_CHECK(s->nflags <= RULES_MAX_FLAGS);
		for (size_t j = 0; j < s->npatterns; j++) {
			const struct pattern *p = &s->patterns[j];
			FUZZ_CHECK(p->code != NULL && p->name && p->regex);
			FUZZ_CHECK(p->when_flag >= -1 && p->when_flag < (int)s->nflags);
			FUZZ_CHECK(effect_name(p->effect) != NULL);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	char *text = fuzz_copy(data, tlen);
	struct rule_text rt = {NAME, text, tlen};
	struct ruleset *rs = NULL;
	struct errors errs = {0};
	int rc = ruleset_load_texts(&rt, 1, &rs, &errs);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK((rc == 0) == (errs.n == 0));
	for (size_t i = 0; i < errs.n; i++)
		FUZZ_CHECK(strncmp(errs.msgs[i], NAME, strlen(NAME)) == 0);
	if (rc == 0) {
		check_loaded(rs);
		if (nul)
			fuzz_check_matchers(rs, (const char *)nul + 1, size - tlen - 1);
		else
			fuzz_check_matchers(rs, default_msgs, sizeof(default_msgs) - 1);
		ruleset_free(rs);
	}
	errors_clear(&errs);
	free(text);
	return 0;
}
