/* fuzz_f2b.c: fail2ban filters turned into pacto rules (src/import/: the
 * INI reader, %(name)s interpolation, <tag> substitution, the regex
 * translation), as `pacto import-fail2ban` runs them.
 * Input: a mode byte, then the filter's text; a NUL byte, if any, ends it
 * and what follows is common.conf, which the filter may include (`before =
 * common.conf`) from the same directory.
 * Mode bits: 1 converts with --partial; 2 passes the override logtype=journal.
 * Properties: a filter converts (no error) or is refused with at least one
 * error; what converts is YAML that pacto's rule loader reads, whose only
 * possible refusal is PCRE2's on a regex it cannot compile (too large),
 * which the command reports; the work and memory of interpolation stay
 * bounded whatever the options repeat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "import/f2b.h"

static void write_file(const char *name, const uint8_t *data, size_t size)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(), name);
	FILE *f = fopen(path, "w");
	if (!f)
		fuzz_fail(__FILE__, __LINE__, "cannot write the filter");
	fwrite(data, 1, size, f);
	fclose(f);
}

/* Converted YAML loads; a refusal can only be a regex PCRE2 cannot compile. */
static void check_loads(const char *yaml)
{
	struct rule_text rt = {"converted.yaml", yaml, strlen(yaml)};
	struct ruleset *rs = NULL;
	struct errors errs = {0};
	if (ruleset_load_texts(&rt, 1, &rs, &errs) == 0) {
		FUZZ_CHECK(rs->nscenarios == 1 && rs->scenarios[0].npatterns >= 1);
		ruleset_free(rs);
	} else {
		FUZZ_CHECK(errs.n >= 1);
		for (size_t i = 0; i < errs.n; i++)
			FUZZ_CHECK(strstr(errs.msgs[i], "regex") != NULL);
	}
	errors_clear(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++, size--;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t flen = nul ? (size_t)(nul - data) : size;
	write_file("filter.conf", data, flen);
	if (nul)
		write_file("common.conf", nul + 1, size - flen - 1);
	else
		write_file("common.conf", (const uint8_t *)"", 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/filter.conf", fuzz_tmpdir());
	const char *set[] = {"logtype=journal"};
	struct f2b_options o = {.set = set, .nset = mode & 2 ? 1 : 0, .partial = mode & 1};
	struct errors warns = {0}, errs = {0};
	char *yaml = f2b_convert(path, &o, &warns, &errs);
	FUZZ_CHECK((yaml != NULL) == (errs.n == 0));
	if (yaml)
		check_loads(yaml);
	free(yaml);
	errors_clear(&warns);
	errors_clear(&errs);
	return 0;
}
