/* fuzz_treaty.c: treaty files (JSON, src/alliance/treaty.c: strict
 * loading with file:line: key: messages, canonical bodies, signatures),
 * read with treaty_parse, the text entry point treaty_load uses.
 * Properties: the loader never reads past its text; it loads with no error
 * or refuses with at least one error naming the file; a loaded treaty is
 * within its documented bounds and its members are sorted and unique; and
 * treaty_save then treaty_load give back the same treaty (same canonical
 * body, same signatures found valid). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alliance/treaty.h"
#include "fuzz.h"

#define NAME "fuzz.json"

static void check_members(const struct treaty *t)
{
	uint64_t total = 0;
	FUZZ_CHECK(t->nmembers <= TREATY_MAX_MEMBERS);
	for (size_t i = 0; i < t->nmembers; i++) {
		const struct treaty_member *m = &t->members[i];
		FUZZ_CHECK(treaty_id_valid(m->id));
		FUZZ_CHECK(m->weight >= 1 && m->weight <= 1000);
		FUZZ_CHECK(m->nprotect <= TREATY_MAX_PROTECT);
		FUZZ_CHECK(i == 0 || strcmp(t->members[i - 1].id, m->id) < 0);
		FUZZ_CHECK(treaty_member_by_id(t, m->id) == m);
		FUZZ_CHECK(treaty_member_by_key(t, m->key) == m);
		for (size_t j = 0; j < m->nprotect; j++)
			FUZZ_CHECK(treaty_protector(t, &m->protect[j]) != NULL);
		total += m->weight;
	}
	FUZZ_CHECK(t->quorum >= 1 && (t->nmembers == 0 || t->quorum <= total));
	FUZZ_CHECK(t->version >= 1 && t->widest_v4 >= 8 && t->widest_v4 <= 32);
	FUZZ_CHECK(t->widest_v6 >= 16 && t->widest_v6 <= 128 && t->skew_s <= 3600);
}

/* Saved and loaded again: the same treaty. */
static void check_round_trip(const struct treaty *t)
{
	char path[256], err[256];
	snprintf(path, sizeof(path), "%s/treaty.json", fuzz_tmpdir());
	if (treaty_save(t, path, err, sizeof(err)) != 0)
		fuzz_fail(__FILE__, __LINE__, err);
	struct errors errs = {0};
	struct treaty *again = treaty_load(path, &errs);
	FUZZ_CHECK(again != NULL && errs.n == 0);
	char *a, *b;
	size_t alen, blen;
	FUZZ_CHECK(treaty_canonical(t, &a, &alen) == 0 && treaty_canonical(again, &b, &blen) == 0);
	FUZZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
	FUZZ_CHECK(again->nmembers == t->nmembers);
	for (size_t i = 0; i < t->nmembers; i++)
		FUZZ_CHECK(again->members[i].signed_current == t->members[i].signed_current);
	free(a);
	free(b);
	treaty_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_copy(data, size);
	struct errors errs = {0};
	struct treaty *t = treaty_parse(NAME, text, size, &errs);
	FUZZ_CHECK((t != NULL) == (errs.n == 0));
	for (size_t i = 0; i < errs.n; i++)
		FUZZ_CHECK(strncmp(errs.msgs[i], NAME ":", strlen(NAME) + 1) == 0);
	if (t) {
		char why[512];
		check_members(t);
		(void)treaty_in_force(t, why, sizeof(why));
		check_round_trip(t);
		treaty_free(t);
	}
	errors_clear(&errs);
	free(text);
	return 0;
}
