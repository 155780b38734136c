/* firewall.c: the daemon's firewall adapter over the enforcer (see
 * firewall.h and enforce/enforce.h). The enforcer is one per process. */
#include "daemon/firewall.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "enforce/enforce.h"

struct firewall {
	bool dry_run;
};

int firewall_open(bool dry_run, struct firewall **out, char *err, size_t errlen)
{
	if (enforce_open(dry_run ? "dryrun" : "nft", NULL, err, errlen) != 0)
		return -1;
	struct firewall *fw = xcalloc(1, sizeof(*fw));
	fw->dry_run = dry_run;
	*out = fw;
	return 0;
}

void firewall_close(struct firewall *fw)
{
	if (!fw)
		return;
	enforce_close();
	free(fw);
}

int firewall_reset(struct firewall *fw, char *err, size_t errlen)
{
	(void)fw;
	return enforce_reset(err, errlen);
}

int firewall_add(struct firewall *fw, const struct addr *key, int64_t seconds, char *err, size_t errlen)
{
	(void)fw;
	if (seconds < 1)
		seconds = 1;
	if (seconds > ENFORCE_MAX_DURATION_S)
		seconds = ENFORCE_MAX_DURATION_S;   /* renewed by a later sanction; the ledger keeps the end */
	if (enforce_add(key, (uint32_t)seconds) == 0)
		return 0;
	const char *why = errno == EINVAL ? enforce_check(key, NULL) : strerror(errno);
	char text[ADDR_STRLEN];
	snprintf(err, errlen, "%s refused: %s", addr_format(key, text, sizeof(text)), why ? why : "invalid");
	return -1;
}

const char *firewall_check(const struct firewall *fw, const struct addr *key)
{
	(void)fw;
	return enforce_check(key, NULL);
}

int firewall_remove(struct firewall *fw, const struct addr *key, char *err, size_t errlen)
{
	(void)fw;
	if (enforce_remove(key) == 0)
		return 0;
	char text[ADDR_STRLEN];
	snprintf(err, errlen, "%s: %s", addr_format(key, text, sizeof(text)), strerror(errno));
	return -1;
}

int firewall_commit(struct firewall *fw, char *err, size_t errlen)
{
	(void)fw;
	return enforce_commit(NULL, NULL, err, errlen);
}

bool firewall_present(struct firewall *fw)
{
	(void)fw;
	char err[ENFORCE_ERRLEN];
	int rc = enforce_table_present(err, sizeof(err));
	if (rc < 0)
		log_warnx("firewall: %s", err);
	return rc != 0;
}

int firewall_changed(struct firewall *fw)
{
	(void)fw;
	char err[ENFORCE_ERRLEN];
	int rc = enforce_table_changed(err, sizeof(err));
	if (rc < 0)
		log_warnx("firewall: %s", err);
	return rc;
}

int firewall_probe(struct firewall *fw, const struct addr *keys, size_t n, bool *present, char *err, size_t errlen)
{
	(void)fw;
	return enforce_probe(keys, n, present, err, errlen);
}

const char *firewall_backend(const struct firewall *fw)
{
	return fw->dry_run ? "dry run" : "nftables";
}
