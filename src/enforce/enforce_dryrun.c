/* enforce_dryrun.c: the enforcer's null backend: records and logs the
 * transactions it would apply, and changes nothing.
 * Why: pactod --dry-run shows what it would drop without root, and the unit
 * tests read the exact text of every transaction; failures and a deleted
 * table can be injected to test the front's recovery paths.
 * Guarantees: the transcript holds the last 4096 successful transactions
 * (resets included) in order, until enforce_dryrun_clear() or the backend
 * closes; each is logged at info level, one line per command. */
#include "enforce/enforce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* texts[0..n) are the applied transactions, oldest first. Closing forgets
 * them and fail_on; refresh survives, so a test may set it before opening. */
static struct {
	char **texts;
	size_t n, cap;
	char *fail_on;   /* a transaction containing this fails; NULL: none */
	bool present;    /* our table exists, as far as the dry run goes */
	bool refresh;    /* what the readd_refreshes probe answers */
} dry;

static void log_transaction(const char *text)
{
	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	while (*text) {
		size_t len = strcspn(text, "\n");
		log_info("enforce: dry run: %.*s", (int)len, text);
		text += len + (text[len] == '\n');
	}
}

/* A long pactod --dry-run must not grow without bound: the transcript
 * keeps the last DRY_KEEP transactions. */
#define DRY_KEEP 4096

static void forget_oldest(void)
{
	free(dry.texts[0]);
	memmove(dry.texts, dry.texts + 1, (dry.n - 1) * sizeof(*dry.texts));
	dry.n--;
}

static int record(const char *text, char *err, size_t errlen)
{
	if (dry.n == DRY_KEEP)
		forget_oldest();
	if (dry.n == dry.cap) {
		size_t cap = dry.cap ? dry.cap * 2 : 16;
		char **t = reallocarray(dry.texts, cap, sizeof(*t));
		if (!t)
			goto oom;
		dry.texts = t;
		dry.cap = cap;
	}
	if (!(dry.texts[dry.n] = strdup(text)))
		goto oom;
	dry.n++;
	log_transaction(text);
	return 0;
oom:
	snprintf(err, errlen, "enforce: dry run: recording a transaction: out of memory");
	return -1;
}

/* The failures a test asked for, worded like the kernel's. */
static int injected(const char *text, char *err, size_t errlen)
{
	if (!dry.present) {
		snprintf(err, errlen, "enforce: dry run: Error: No such file or directory (table %s)", ENFORCE_TABLE);
		return -1;
	}
	if (dry.fail_on && strstr(text, dry.fail_on)) {
		snprintf(err, errlen, "enforce: dry run: Error: injected failure on \"%s\"", dry.fail_on);
		return -1;
	}
	return 0;
}

static int dry_open(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	dry.present = false;  /* no table until the first reset */
	return 0;
}

static int dry_reset(const char *text, char *err, size_t errlen)
{
	dry.present = true;
	if (injected(text, err, errlen) != 0)
		return -1;
	return record(text, err, errlen);
}

static int dry_apply(const char *text, bool structural, char *err, size_t errlen)
{
	(void)structural;
	if (injected(text, err, errlen) != 0)
		return -1;
	return record(text, err, errlen);
}

static int dry_present(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return dry.present;
}

static int dry_readd_refreshes(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return dry.refresh;
}

void enforce_dryrun_clear(void)
{
	for (size_t i = 0; i < dry.n; i++)
		free(dry.texts[i]);
	free(dry.texts);
	dry.texts = NULL;
	dry.n = dry.cap = 0;
}

static void dry_close(void)
{
	enforce_dryrun_clear();
	enforce_dryrun_fail_on(NULL);
	dry.present = false;
}

size_t enforce_dryrun_count(void)
{
	return dry.n;
}

const char *enforce_dryrun_text(size_t i)
{
	return i < dry.n ? dry.texts[i] : NULL;
}

void enforce_dryrun_fail_on(const char *needle)
{
	free(dry.fail_on);
	dry.fail_on = needle ? strdup(needle) : NULL;
}

void enforce_dryrun_set_present(bool present)
{
	dry.present = present;
}

void enforce_dryrun_set_refresh(bool refresh)
{
	dry.refresh = refresh;
}

const struct enforce_ops enforce_dryrun_ops = {
	.name = "dryrun",
	.open = dry_open,
	.reset = dry_reset,
	.apply = dry_apply,
	.present = dry_present,
	.readd_refreshes = dry_readd_refreshes,
	.close = dry_close,
};
